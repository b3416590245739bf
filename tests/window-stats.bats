#!/usr/bin/env bats
# window-stats: windows, watermarks, lateness and emission modes with exact
# outputs; keys; bad input; control lines; stopping; usage errors; the
# bundled real trades.  (manpages.bats checks --help and the usage line
# against the man page.)

bats_require_minimum_version 1.5.0

if [ -f "$BATS_TEST_DIRNAME/helpers.bash" ]; then
	load helpers
else
	KP_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	KP_BUILD=${KP_BUILD:-build}
	case $KP_BUILD in /*) ;; *) KP_BUILD=$KP_ROOT/$KP_BUILD ;; esac
	PATH=$KP_BUILD/bin:$PATH
	load /usr/lib/bats/bats-support/load
	load /usr/lib/bats/bats-assert/load
fi

setup() {
	T=$BATS_TEST_TMPDIR
	MARKET=$KP_ROOT/tests/data/market-trades.ndjson.gz
	BTC=$KP_ROOT/tests/data/btc-trades.ndjson.gz
}

# t SECONDS: the RFC 3339 form of an epoch second on 1970-01-01.
t() {
	printf '1970-01-01T%02d:%02d:%02d.000Z' $(($1 / 3600)) $(($1 / 60 % 60)) $(($1 % 60))
}

# one V: the statistics of a window holding the single value V.
one() {
	printf '"count":1,"mean":%s,"stddev":0,"sample_stddev":null,"min":%s,"max":%s,"first":%s,"last":%s,"sum":%s' \
	    "$1" "$1" "$1" "$1" "$1" "$1"
}

# The statistics of a window holding 1 then 3.
S13='"count":2,"mean":2,"stddev":1,"sample_stddev":1.4142135623730951,"min":1,"max":3,"first":1,"last":3,"sum":4'

# win KEY START END STATS [EXTRA]: one --emit windows line.
win() {
	printf '{"key":%s,"window_start":"%s","window_end":"%s",%s%s}\n' \
	    "$1" "$(t "$2")" "$(t "$3")" "$4" "${5:-}"
}

# wobj START END STATS [EXTRA]: the object --emit records adds.
wobj() {
	printf '{"start":"%s","end":"%s",%s%s}' "$(t "$1")" "$(t "$2")" "$3" "${4:-}"
}

basic() {
	printf '%s\n' '{"timestamp":70,"price":1}' '{"timestamp":80,"price":3}' \
	    '{"timestamp":120,"price":5}' '{"timestamp":190,"price":7}'
}

# Two keys interleaved: B's record is ahead of A's in event time.
twokeys() {
	printf '%s\n' '{"timestamp":70,"k":"A","price":1}' \
	    '{"timestamp":130,"k":"B","price":2}' \
	    '{"timestamp":80,"k":"A","price":3}' \
	    '{"timestamp":125,"k":"A","price":4}'
}

@test "tumbling 1m windows, epoch aligned, fired in order, the rest at end of input" {
	run --separate-stderr window-stats < <(basic)
	assert_success
	assert_equal "$stderr" ""
	assert_output - <<EOF
$(win null 60 120 "$S13")
$(win null 120 180 "$(one 5)")
$(win null 180 240 "$(one 7)")
EOF
}

@test "a window [s,e) fires once W >= e, not before; end is exclusive; control lines keep their place" {
	printf '%s\n' '{"timestamp":70,"price":1}' '{"timestamp":119.999,"price":3}' \
	    '{"__kinpipe":{"barrier":1}}' '{"timestamp":120,"price":5}' \
	    '{"__kinpipe":{"barrier":2}}' > "$T/in"
	run --separate-stderr window-stats < "$T/in"
	assert_success
	assert_output - <<EOF
{"__kinpipe":{"barrier":1}}
$(win null 60 120 "$S13")
{"__kinpipe":{"barrier":2}}
$(win null 120 180 "$(one 5)")
EOF
}

@test "event time: RFC 3339 with offsets and fractions, epoch seconds and milliseconds, dotted paths" {
	printf '%s\n' '{"t":{"at":"1970-01-01T01:01:10.5+01:00"},"p":{"v":2}}' \
	    '{"t":{"at":"1970-01-01T00:01:59.9999999Z"},"p":{"v":4}}' \
	    '{"t":{"at":1723161255342},"p":{"v":6}}' > "$T/in"
	run --separate-stderr window-stats --time-field t.at --value-field p.v < "$T/in"
	assert_success
	assert_output - <<EOF
$(win null 60 120 '"count":2,"mean":3,"stddev":1,"sample_stddev":1.4142135623730951,"min":2,"max":4,"first":2,"last":4,"sum":6')
{"key":null,"window_start":"2024-08-08T23:54:00.000Z","window_end":"2024-08-08T23:55:00.000Z",$(one 6)}
EOF
}

@test "--size and --slide: sliding windows, a record in each window that contains it" {
	run --separate-stderr window-stats --size 1m --slide 30s < <(basic)
	assert_success
	assert_output - <<EOF
$(win null 30 90 "$S13")
$(win null 60 120 "$S13")
$(win null 90 150 "$(one 5)")
$(win null 120 180 "$(one 5)")
$(win null 150 210 "$(one 7)")
$(win null 180 240 "$(one 7)")
EOF
	run window-stats --size 2m < <(basic)
	assert_output - <<EOF
$(win null 0 120 "$S13")
$(win null 120 240 '"count":2,"mean":6,"stddev":1,"sample_stddev":1.4142135623730951,"min":5,"max":7,"first":5,"last":7,"sum":12')
EOF
}

@test "--offset shifts the alignment, positive or negative (floor semantics)" {
	run --separate-stderr window-stats --offset 15s < <(basic)
	assert_success
	assert_output - <<EOF
$(win null 15 75 "$(one 1)")
$(win null 75 135 '"count":2,"mean":4,"stddev":1,"sample_stddev":1.4142135623730951,"min":3,"max":5,"first":3,"last":5,"sum":8')
$(win null 135 195 "$(one 7)")
EOF
	run --separate-stderr window-stats --offset -15s < <(basic)
	assert_success
	assert_output - <<EOF
$(win null 45 105 "$S13")
$(win null 105 165 "$(one 5)")
$(win null 165 225 "$(one 7)")
EOF
	# Before 1970: -30s lies in [-60s, 0).
	run window-stats <<<'{"timestamp":-30,"price":1}'
	assert_output "{\"key\":null,\"window_start\":\"1969-12-31T23:59:00.000Z\",\"window_end\":\"1970-01-01T00:00:00.000Z\",$(one 1)}"
}

@test "per-key watermark: another key's later record fires nothing" {
	run --separate-stderr window-stats --key-field k < <(twokeys)
	assert_success
	assert_equal "$stderr" ""
	assert_output - <<EOF
$(win '"A"' 60 120 "$S13")
$(win '"A"' 120 180 "$(one 4)")
$(win '"B"' 120 180 "$(one 2)")
EOF
}

@test "--watermark global: one watermark over all keys, late records rejected by default" {
	run --separate-stderr window-stats --key-field k --watermark global < <(twokeys)
	assert_failure 3
	# A's only window fired at 130 and A, holding nothing, was forgotten:
	# back at 125 it is a new key, after B in first-seen order.
	assert_output - <<EOF
$(win '"A"' 60 120 "$(one 1)")
$(win '"B"' 120 180 "$(one 2)")
$(win '"A"' 120 180 "$(one 4)")
EOF
	assert_equal "$stderr" "window-stats: <stdin>:3: late record: event time 1970-01-01T00:01:20.000Z, watermark 1970-01-01T00:02:10.000Z: its windows have closed
window-stats: 1 late records rejected (no --late-output)"
}

@test "global watermark fires windows of every key in end, start, first-seen key order" {
	printf '%s\n' '{"timestamp":70,"k":"B","price":1}' '{"timestamp":10,"k":"A","price":2}' \
	    '{"timestamp":75,"k":"A","price":3}' '{"timestamp":200,"k":"C","price":4}' > "$T/in"
	run --separate-stderr window-stats --key-field k --watermark global --out-of-orderness 1m < "$T/in"
	assert_success
	assert_output - <<EOF
$(win '"A"' 0 60 "$(one 2)")
$(win '"B"' 60 120 "$(one 1)")
$(win '"A"' 60 120 "$(one 3)")
$(win '"C"' 180 240 "$(one 4)")
EOF
}

@test "--out-of-orderness: the watermark lags, so an earlier record still counts" {
	run --separate-stderr window-stats --key-field k --watermark global --out-of-orderness 15s < <(twokeys)
	assert_success
	assert_output - <<EOF
$(win '"A"' 60 120 "$S13")
$(win '"A"' 120 180 "$(one 4)")
$(win '"B"' 120 180 "$(one 2)")
EOF
	run --separate-stderr window-stats --key-field k --watermark global --out-of-orderness 10s < <(twokeys)
	assert_failure 3
}

@test "first and last by event time, ties in input order" {
	printf '%s\n' '{"timestamp":80,"price":1}' '{"timestamp":70,"price":2}' \
	    '{"timestamp":90,"price":3}' '{"timestamp":70,"price":4}' \
	    '{"timestamp":90,"price":5}' > "$T/in"
	run --separate-stderr window-stats --out-of-orderness 1m < "$T/in"
	assert_success
	assert_output "$(win null 60 120 '"count":5,"mean":3,"stddev":1.4142135623730951,"sample_stddev":1.5811388300841898,"min":1,"max":5,"first":2,"last":5,"sum":15')"
}

@test "--late-output: late records verbatim, counted, not rejected" {
	run --separate-stderr window-stats -v --key-field k --watermark global --late-output "$T/late" < <(twokeys)
	assert_success
	assert_line --index 0 "$(win '"A"' 60 120 "$(one 1)")"
	assert_equal "$(cat "$T/late")" '{"timestamp":80,"k":"A","price":3}'
	# Keys held at exit: under a global watermark none once all fired.
	assert_equal "$stderr" "window-stats: 3 records, 0 keys, 3 windows fired (0 re-fired), 1 late, 0 control lines, 0 rejected"
	# Appends, like --dead-letter.
	window-stats --key-field k --watermark global --late-output "$T/late" < <(twokeys) >/dev/null
	assert_equal "$(wc -l < "$T/late")" 2
}

@test "--late-output and --dead-letter /dev/null or a pipe: no fsync error, at the end or at a barrier" {
	{ twokeys; echo '{"__kinpipe":{"barrier":1,"version":1}}'; echo 'bad'; } >"$T/in"
	run --separate-stderr window-stats --key-field k --watermark global --late-output /dev/null --dead-letter /dev/null < "$T/in"
	assert_failure 3
	assert_equal "$stderr" 'window-stats: <stdin>:6: invalid JSON: unexpected character'
	assert_line '{"__kinpipe":{"barrier":1,"version":1}}'
	run --separate-stderr window-stats --key-field k --watermark global --late-output >(cat >"$T/late") --dead-letter >(cat >"$T/dl") < "$T/in"
	assert_failure 3
	assert_equal "$stderr" 'window-stats: <stdin>:6: invalid JSON: unexpected character'
	for _ in $(seq 50); do [ -s "$T/late" ] && [ -s "$T/dl" ] && break; sleep 0.1; done
	assert_equal "$(cat "$T/late")" '{"timestamp":80,"k":"A","price":3}'
	assert_equal "$(cat "$T/dl")" 'bad'
}

@test "late records without --late-output: rejected, dead-lettered, stopped by --strict" {
	run --separate-stderr window-stats --key-field k --watermark global --dead-letter "$T/dl" < <(twokeys)
	assert_failure 3
	assert_equal "$(cat "$T/dl")" '{"timestamp":80,"k":"A","price":3}'
	run --separate-stderr window-stats --key-field k --watermark global --strict < <(twokeys)
	assert_failure 3
	assert_output "$(win '"A"' 60 120 "$(one 1)")"
}

@test "a flood of late records: one reason whatever their times, the first 10 shown, then a count" {
	{
		echo '{"timestamp":1000,"k":"A","price":1}'
		for i in $(seq 13); do echo "{\"timestamp\":$i,\"k\":\"A\",\"price\":1}"; done
	} >"$T/in"
	run --separate-stderr window-stats --key-field k --dead-letter "$T/dl" < "$T/in"
	assert_failure 3
	assert_equal "$(grep -c ': late record: event time' <<<"$stderr")" 10
	assert_equal "$(wc -l <"$T/dl")" 13
	assert_equal "$(tail -n 2 <<<"$stderr" | head -n 1)" 'window-stats: 3 more lines rejected: late record: its windows have closed'
	run --separate-stderr window-stats -v --key-field k < "$T/in"
	assert_equal "$(grep -c ': late record: event time' <<<"$stderr")" 13
}

@test "--allowed-lateness, windows: a late record re-fires its window with \"update\"" {
	run --separate-stderr window-stats --key-field k --watermark global --allowed-lateness 11s < <(twokeys)
	assert_success
	assert_output - <<EOF
$(win '"A"' 60 120 "$(one 1)")
$(win '"A"' 60 120 "$S13" ',"update":1')
$(win '"A"' 120 180 "$(one 4)")
$(win '"B"' 120 180 "$(one 2)")
EOF
	# The window is dropped once W >= end + lateness: 130 >= 120 + 10.
	run --separate-stderr window-stats --key-field k --watermark global --allowed-lateness 10s < <(twokeys)
	assert_failure 3
	# A was forgotten with its window: back, it comes after B.
	assert_output - <<EOF
$(win '"A"' 60 120 "$(one 1)")
$(win '"B"' 120 180 "$(one 2)")
$(win '"A"' 120 180 "$(one 4)")
EOF
}

@test "--allowed-lateness: repeated re-firings count up; a new late window fires at once" {
	printf '%s\n' '{"timestamp":70,"price":1}' '{"timestamp":150,"price":9}' \
	    '{"timestamp":80,"price":3}' '{"timestamp":90,"price":5}' \
	    '{"timestamp":10,"price":7}' > "$T/in"
	run --separate-stderr window-stats --allowed-lateness 2m < "$T/in"
	assert_success
	assert_output - <<EOF
$(win null 60 120 "$(one 1)")
$(win null 60 120 "$S13" ',"update":1')
$(win null 60 120 '"count":3,"mean":3,"stddev":1.632993161855452,"sample_stddev":2,"min":1,"max":5,"first":1,"last":5,"sum":9' ',"update":2')
$(win null 0 60 "$(one 7)")
$(win null 120 180 "$(one 9)")
EOF
}

@test "--allowed-lateness, records: only the late record is written again" {
	run --separate-stderr window-stats --key-field k --watermark global --allowed-lateness 11s --emit records < <(twokeys)
	assert_success
	assert_output - <<EOF
{"timestamp":70,"k":"A","price":1,"window":$(wobj 60 120 "$(one 1)")}
{"timestamp":80,"k":"A","price":3,"window":$(wobj 60 120 "$S13" ',"update":1')}
{"timestamp":125,"k":"A","price":4,"window":$(wobj 120 180 "$(one 4)")}
{"timestamp":130,"k":"B","price":2,"window":$(wobj 120 180 "$(one 2)")}
EOF
}

@test "--emit records: original bytes kept, statistics spliced, written when the window fires" {
	printf '%s\n' '{ "timestamp" : 70, "price":1, "note":"é\u00e9 \"x\"" }  ' \
	    '{"__kinpipe":{"barrier":7}}' \
	    '{"price":3,"timestamp":"1970-01-01T00:01:20Z"}' \
	    '{"timestamp":120,"price":5,"window2":{}}' > "$T/in"
	run --separate-stderr window-stats --emit records < "$T/in"
	assert_success
	assert_output - <<EOF
{"__kinpipe":{"barrier":7}}
{ "timestamp" : 70, "price":1, "note":"é\u00e9 \"x\"" ,"window":$(wobj 60 120 "$S13")}  
{"price":3,"timestamp":"1970-01-01T00:01:20Z","window":$(wobj 60 120 "$S13")}
{"timestamp":120,"price":5,"window2":{},"window":$(wobj 120 180 "$(one 5)")}
EOF
}

@test "--emit records with sliding windows: a record once per window" {
	run --separate-stderr window-stats --emit records --size 1m --slide 30s < <(basic)
	assert_success
	assert_equal "${#lines[@]}" 8
	assert_line --index 0 "{\"timestamp\":70,\"price\":1,\"window\":$(wobj 30 90 "$S13")}"
	assert_line --index 2 "{\"timestamp\":70,\"price\":1,\"window\":$(wobj 60 120 "$S13")}"
	assert_line --index 7 "{\"timestamp\":190,\"price\":7,\"window\":$(wobj 180 240 "$(one 7)")}"
}

@test "--window-field names the member; a record that has it already is bad input" {
	run --separate-stderr window-stats --emit records --window-field stats <<<'{"timestamp":70,"price":1}'
	assert_success
	assert_output "{\"timestamp\":70,\"price\":1,\"stats\":$(wobj 60 120 "$(one 1)")}"
	printf '%s\n' '{"timestamp":70,"price":1,"window":null}' '{"timestamp":70,"price":2}' > "$T/in"
	run --separate-stderr window-stats --emit records --dead-letter "$T/dl" < "$T/in"
	assert_failure 3
	assert_output "{\"timestamp\":70,\"price\":2,\"window\":$(wobj 60 120 "$(one 2)")}"
	assert_equal "$stderr" 'window-stats: <stdin>:1: field "window" already present'
	assert_equal "$(cat "$T/dl")" '{"timestamp":70,"price":1,"window":null}'
	# Windows mode adds no member, so it does not care.
	run window-stats < "$T/in"
	assert_success
}

@test "--emit trailing: every record at once, with its key's last closed window" {
	printf '%s\n' '{"timestamp":70,"k":"A","price":1}' '{"timestamp":80,"k":"A","price":3}' \
	    '{"timestamp":90,"k":"B","price":8}' '{"timestamp":120,"k":"A","price":5}' \
	    '{"timestamp":190,"k":"A","price":7}' '{"timestamp":195,"k":"B","price":6}' > "$T/in"
	run --separate-stderr window-stats --key-field k --emit trailing < "$T/in"
	assert_success
	assert_output - <<EOF
{"timestamp":70,"k":"A","price":1,"window":null}
{"timestamp":80,"k":"A","price":3,"window":null}
{"timestamp":90,"k":"B","price":8,"window":null}
{"timestamp":120,"k":"A","price":5,"window":$(wobj 60 120 "$S13" | sed 's/,"count"/,"windows":1,"count"/')}
{"timestamp":190,"k":"A","price":7,"window":$(wobj 120 180 "$(one 5)" | sed 's/,"count"/,"windows":1,"count"/')}
{"timestamp":195,"k":"B","price":6,"window":$(wobj 60 120 "$(one 8)" | sed 's/,"count"/,"windows":1,"count"/')}
EOF
}

@test "--trailing N merges the last N closed windows; fewer early on" {
	printf '%s\n' '{"timestamp":70,"price":1}' '{"timestamp":80,"price":3}' \
	    '{"timestamp":120,"price":5}' '{"timestamp":190,"price":7}' \
	    '{"timestamp":250,"price":9}' > "$T/in"
	run --separate-stderr window-stats --emit trailing --trailing 2 --window-field w < "$T/in"
	assert_success
	assert_output - <<EOF
{"timestamp":70,"price":1,"w":null}
{"timestamp":80,"price":3,"w":null}
{"timestamp":120,"price":5,"w":{"start":"$(t 60)","end":"$(t 120)","windows":1,$S13}}
{"timestamp":190,"price":7,"w":{"start":"$(t 60)","end":"$(t 180)","windows":2,"count":3,"mean":3,"stddev":1.632993161855452,"sample_stddev":2,"min":1,"max":5,"first":1,"last":5,"sum":9}}
{"timestamp":250,"price":9,"w":{"start":"$(t 120)","end":"$(t 240)","windows":2,"count":2,"mean":6,"stddev":1,"sample_stddev":1.4142135623730951,"min":5,"max":7,"first":5,"last":7,"sum":12}}
EOF
}

@test "--emit trailing: late records go to --late-output, not to the output" {
	run --separate-stderr window-stats --key-field k --watermark global --emit trailing --late-output "$T/late" < <(twokeys)
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_equal "$(cat "$T/late")" '{"timestamp":80,"k":"A","price":3}'
}

@test "--weight-field: weight_sum and weighted_mean (null for zero weight)" {
	printf '%s\n' '{"timestamp":70,"price":1,"v":1}' '{"timestamp":80,"price":3,"v":3}' \
	    '{"timestamp":130,"price":3,"v":0}' > "$T/in"
	run --separate-stderr window-stats --weight-field v < "$T/in"
	assert_success
	assert_output - <<EOF
$(win null 60 120 "$S13" ',"weight_sum":4,"weighted_mean":2.5')
$(win null 120 180 "$(one 3)" ',"weight_sum":0,"weighted_mean":null')
EOF
	run --separate-stderr window-stats --weight-field v --emit records <<<'{"timestamp":70,"price":2,"v":0.5}'
	assert_output "{\"timestamp\":70,\"price\":2,\"v\":0.5,\"window\":$(wobj 60 120 "$(one 2)" ',"weight_sum":0.5,"weighted_mean":2')}"
	run --separate-stderr window-stats --weight-field v <<<'{"timestamp":70,"price":2}'
	assert_failure 3
	assert_equal "$stderr" "window-stats: <stdin>:1: v: missing"
}

@test "keys are JSON values: strings escaped, numbers and objects by their text" {
	printf '%s\n' '{"timestamp":70,"price":1,"k":"a\"b\u0001"}' '{"timestamp":70,"price":2,"k":1}' \
	    '{"timestamp":70,"price":3,"k":1.0}' '{"timestamp":70,"price":4,"k":{"x":[1,"/"]}}' \
	    '{"timestamp":70,"price":5,"k":1}' '{"timestamp":70,"price":6,"k":null}' > "$T/in"
	run --separate-stderr window-stats --key-field k < "$T/in"
	assert_failure 3
	assert_output - <<EOF
$(win '"a\"b\u0001"' 60 120 "$(one 1)")
$(win 1 60 120 '"count":2,"mean":3.5,"stddev":1.5,"sample_stddev":2.1213203435596424,"min":2,"max":5,"first":2,"last":5,"sum":7')
$(win 1.0 60 120 "$(one 3)")
$(win '{"x":[1,"/"]}' 60 120 "$(one 4)")
EOF
	assert_equal "$stderr" "window-stats: <stdin>:6: k: null"
}

@test "keys that are not strings compare by their JSON text: every digit of a number, no blanks" {
	printf '%s\n' '{"timestamp":70,"price":1,"k":123456789012345678901234567890}' \
	    '{"timestamp":70,"price":2,"k":99999999999999999999}' \
	    '{"timestamp":70,"price":3,"k":123456789012345678901234567890}' \
	    '{"timestamp":70,"price":4,"k":123456789012345678901234567891}' \
	    '{"timestamp":70,"price":5,"k": {"a": [1, "b c"]} }' \
	    '{"timestamp":70,"price":6,"k":{"a":[1,"b c"]}}' > "$T/in"
	run --separate-stderr window-stats --key-field k < "$T/in"
	assert_success
	assert_equal "$stderr" ""
	assert_output - <<EOF
$(win 123456789012345678901234567890 60 120 "$S13")
$(win 99999999999999999999 60 120 "$(one 2)")
$(win 123456789012345678901234567891 60 120 "$(one 4)")
$(win '{"a":[1,"b c"]}' 60 120 '"count":2,"mean":5.5,"stddev":0.5,"sample_stddev":0.7071067811865476,"min":5,"max":6,"first":5,"last":6,"sum":11')
EOF
}

@test "--max-keys: records of further keys are rejected, earlier keys go on" {
	printf '%s\n' '{"timestamp":70,"price":1,"k":"a"}' '{"timestamp":70,"price":2,"k":"b"}' \
	    '{"timestamp":80,"price":3,"k":"a"}' '{"timestamp":80,"price":4,"k":"c"}' > "$T/in"
	run --separate-stderr window-stats --key-field k --max-keys 1 --dead-letter "$T/dl" < "$T/in"
	assert_failure 3
	assert_output "$(win '"a"' 60 120 "$S13")"
	assert_equal "$stderr" "window-stats: <stdin>:2: more keys than --max-keys 1
window-stats: <stdin>:4: more keys than --max-keys 1"
	assert_equal "$(cat "$T/dl")" '{"timestamp":70,"price":2,"k":"b"}
{"timestamp":80,"price":4,"k":"c"}'
}

@test "--max-keys counts keys holding windows: a key whose windows all fired makes room" {
	printf '%s\n' '{"timestamp":10,"price":1,"k":"a"}' '{"timestamp":70,"price":2,"k":"b"}' \
	    '{"timestamp":80,"price":3,"k":"c"}' '{"timestamp":90,"price":4,"k":"d"}' \
	    '{"timestamp":130,"price":5,"k":"b"}' '{"timestamp":131,"price":6,"k":"d"}' > "$T/in"
	run --separate-stderr window-stats --key-field k --watermark global --max-keys 2 < "$T/in"
	assert_failure 3
	# a fired at 70 and holds nothing: c fits; d at 90 is a third live key;
	# at 130 the windows of b and c fire, c goes, and d fits.
	assert_output - <<EOF
$(win '"a"' 0 60 "$(one 1)")
$(win '"b"' 60 120 "$(one 2)")
$(win '"c"' 60 120 "$(one 3)")
$(win '"b"' 120 180 "$(one 5)")
$(win '"d"' 120 180 "$(one 6)")
EOF
	assert_equal "$stderr" "window-stats: <stdin>:4: more keys than --max-keys 2"
}

ttl_input() {
	printf '%s\n' '{"timestamp":70,"k":"A","price":1}' '{"timestamp":80,"k":"B","price":2}' \
	    '{"timestamp":300,"k":"B","price":3}' '{"timestamp":301,"k":"C","price":4}' \
	    '{"timestamp":90,"k":"A","price":5}'
}

@test "--key-ttl: a quiet key's open windows fire and it is forgotten; its later records open new windows" {
	# Without it A's window waits for A's next record: 70 and 90 together.
	run --separate-stderr window-stats --key-field k < <(ttl_input)
	assert_success
	assert_line --index 1 "$(win '"A"' 60 120 '"count":2,"mean":3,"stddev":2,"sample_stddev":2.8284271247461903,"min":1,"max":5,"first":1,"last":5,"sum":6')"
	# With 100s: when C comes (event time 300), A, last seen at 70, is
	# past it.
	run --separate-stderr window-stats --key-field k --key-ttl 100s < <(ttl_input)
	assert_success
	assert_output - <<EOF
$(win '"B"' 60 120 "$(one 2)")
$(win '"A"' 60 120 "$(one 1)")
$(win '"A"' 60 120 "$(one 5)")
$(win '"B"' 300 360 "$(one 3)")
$(win '"C"' 300 360 "$(one 4)")
EOF
	# A TTL longer than the quiet time changes nothing.
	run --separate-stderr window-stats --key-field k --key-ttl 1h < <(ttl_input)
	assert_output "$(window-stats --key-field k < <(ttl_input))"
}

@test "memory: 300,000 rotating one-record keys stay bounded once their windows fire (global) or expire (--key-ttl)" {
	[ -x /usr/bin/time ] || skip "no /usr/bin/time"
	awk 'BEGIN { for (i = 0; i < 300000; i++) printf "{\"timestamp\":%d,\"k\":\"key%d\",\"price\":1}\n", i, i }' > "$T/in"
	# Each key cost about 1 KB before (over 300 MB here).  A bound on
	# memory, never on time; ASan's shadow memory needs more.
	local limit=65536 kb
	# Under ASan freed blocks wait in its quarantine (256 MB by default),
	# which would measure ASan rather than window-stats: keep it small.
	case $KP_BUILD in *asan*)
		limit=$((limit * 4))
		export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16 ;;
	esac
	/usr/bin/time -f %M -o "$T/rss" window-stats --key-field k --watermark global < "$T/in" > "$T/out"
	assert_equal "$(wc -l < "$T/out")" 300000
	kb=$(cat "$T/rss")
	[ "$kb" -lt "$limit" ] || fail "global: peak RSS $kb KiB, over $limit"
	/usr/bin/time -f %M -o "$T/rss" window-stats --key-field k --key-ttl 2m < "$T/in" > "$T/out"
	assert_equal "$(wc -l < "$T/out")" 300000
	kb=$(cat "$T/rss")
	[ "$kb" -lt "$limit" ] || fail "--key-ttl: peak RSS $kb KiB, over $limit"
}

@test "bad input: each case reported with its line number, counted, dead-lettered verbatim" {
	cat > "$T/in" <<'EOF'
{"timestamp":70,"price":1}
not json
[1,2]
{"price":2}
{"timestamp":"yesterday","price":2}
{"timestamp":true,"price":2}
{"timestamp":70,"price":"2"}
{"timestamp":70}
{"timestamp":70,"price":NaN}
{"timestamp":70,"price":-Infinity}
{"timestamp":70,"price":1e999}
{"timestamp":70,"price":"NaN"}
{"timestamp":70,"price":null}

{"timestamp":70,"price":1} junk
{"timestamp":1e300,"price":1}
{"timestamp":80,"price":3}
EOF
	run --separate-stderr window-stats --dead-letter "$T/dl" < "$T/in"
	assert_failure 3
	assert_output "$(win null 60 120 "$S13")"
	assert_equal "$stderr" 'window-stats: <stdin>:2: invalid JSON: null expected
window-stats: <stdin>:3: not a JSON object
window-stats: <stdin>:4: timestamp: missing
window-stats: <stdin>:5: timestamp: not an RFC 3339 time
window-stats: <stdin>:6: timestamp: neither an RFC 3339 string nor an epoch number
window-stats: <stdin>:7: price: not a number
window-stats: <stdin>:8: price: missing
window-stats: <stdin>:9: invalid JSON: NaN and Infinity are not JSON numbers
window-stats: <stdin>:10: invalid JSON: NaN and Infinity are not JSON numbers
window-stats: <stdin>:11: price: not a finite number
window-stats: <stdin>:12: price: not a number
window-stats: <stdin>:13: price: null
window-stats: <stdin>:14: empty line
window-stats: <stdin>:15: invalid JSON: unexpected character
window-stats: <stdin>:16: timestamp: epoch time out of range'
	sed -n '2,16p' "$T/in" > "$T/expected"
	cmp "$T/dl" "$T/expected"
	# -q: the same status and dead letters, no messages.
	rm "$T/dl"
	run --separate-stderr window-stats -q --dead-letter "$T/dl" < "$T/in"
	assert_failure 3
	assert_equal "$stderr" ""
	cmp "$T/dl" "$T/expected"
}

@test "--max-line: longer lines are rejected and dead-lettered whole" {
	printf '%s\n' '{"timestamp":70,"price":1}' \
	    '{"timestamp":70,"price":2,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}' \
	    '{"timestamp":80,"price":3}' > "$T/in"
	run --separate-stderr window-stats --max-line 40 --dead-letter "$T/dl" < "$T/in"
	assert_failure 3
	assert_output "$(win null 60 120 "$S13")"
	assert_equal "$stderr" "window-stats: <stdin>:2: line longer than 40 bytes"
	assert_equal "$(cat "$T/dl")" '{"timestamp":70,"price":2,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'
	run --separate-stderr window-stats --max-line 40 --strict < "$T/in"
	assert_failure 3
	assert_output ""
}

@test "--strict: stops at the first bad line, keeps what fired, fires nothing more" {
	printf '%s\n' '{"timestamp":70,"price":1}' '{"timestamp":130,"price":3}' \
	    'oops' '{"timestamp":140,"price":5}' > "$T/in"
	run --separate-stderr window-stats --strict --dead-letter "$T/dl" < "$T/in"
	assert_failure 3
	assert_output "$(win null 60 120 "$(one 1)")"
	assert_equal "$stderr" "window-stats: <stdin>:3: invalid JSON: unexpected character"
	assert_equal "$(cat "$T/dl")" "oops"
}

@test "control lines pass through in order in every mode" {
	printf '%s\n' '{"__kinpipe":{"barrier":1}}' '{"timestamp":70,"price":1}' \
	    '{"__kinpipe":{"barrier":2}}' '{"timestamp":130,"price":3}' \
	    '{"__kinpipe":{"barrier":3}}' > "$T/in"
	run --separate-stderr window-stats --emit records < "$T/in"
	assert_success
	assert_output - <<EOF
{"__kinpipe":{"barrier":1}}
{"__kinpipe":{"barrier":2}}
{"timestamp":70,"price":1,"window":$(wobj 60 120 "$(one 1)")}
{"__kinpipe":{"barrier":3}}
{"timestamp":130,"price":3,"window":$(wobj 120 180 "$(one 3)")}
EOF
	run --separate-stderr window-stats --emit trailing < "$T/in"
	assert_success
	assert_line --index 0 '{"__kinpipe":{"barrier":1}}'
	assert_line --index 1 '{"timestamp":70,"price":1,"window":null}'
	assert_line --index 2 '{"__kinpipe":{"barrier":2}}'
	assert_line --index 4 '{"__kinpipe":{"barrier":3}}'
	# A line with __kinpipe and other members is a record (here: bad input).
	run --separate-stderr window-stats <<<'{"__kinpipe":{},"x":1}'
	assert_failure 3
	assert_equal "$stderr" "window-stats: <stdin>:1: timestamp: missing"
}

@test "--idle-timeout: the open window fires while input is still open" {
	mkfifo "$T/in"
	window-stats --idle-timeout 100ms --late-output "$T/late" < "$T/in" > "$T/out" &
	pid=$!
	exec {wfd}>"$T/in"
	echo '{"timestamp":70,"price":1}' >&"$wfd"
	for _ in $(seq 300); do
		[ -s "$T/out" ] && break
		sleep 0.1
	done
	cp "$T/out" "$T/mid"
	# Now late: the idle timeout moved the watermark to the window's end.
	echo '{"timestamp":75,"price":2}' >&"$wfd"
	echo '{"timestamp":130,"price":3}' >&"$wfd"
	exec {wfd}>&-
	wait "$pid"
	assert_equal "$(cat "$T/mid")" "$(win null 60 120 "$(one 1)")"
	assert_equal "$(cat "$T/out")" "$(win null 60 120 "$(one 1)")
$(win null 120 180 "$(one 3)")"
	assert_equal "$(cat "$T/late")" '{"timestamp":75,"price":2}'
}

@test "SIGTERM drains: every open window fires, exit 0" {
	mkfifo "$T/in"
	window-stats < "$T/in" > "$T/out" &
	pid=$!
	exec {wfd}>"$T/in"
	printf '%s\n' '{"timestamp":70,"price":1}' '{"__kinpipe":{"barrier":1}}' >&"$wfd"
	for _ in $(seq 300); do
		grep -q __kinpipe "$T/out" && break
		sleep 0.1
	done
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	exec {wfd}>&-
	assert_equal "$status" 0
	assert_equal "$(cat "$T/out")" "{\"__kinpipe\":{\"barrier\":1}}
$(win null 60 120 "$(one 1)")"
}

@test "EPIPE: a closed downstream stops window-stats quietly with status 0" {
	run bash -c 'zcat "$1" | window-stats --key-field symbol --emit records 2>"$2" | head -n 1 >/dev/null; echo "${PIPESTATUS[1]}"' _ "$MARKET" "$T/err"
	assert_output 0
	assert_equal "$(cat "$T/err")" ""
}

@test "write error on stdout: exit 1 with a message" {
	[ -w /dev/full ] || skip "no /dev/full"
	basic > "$T/in"
	run --separate-stderr bash -c 'window-stats < "$1" > /dev/full' _ "$T/in"
	assert_failure 1
	assert_equal "$stderr" "window-stats: write error: No space left on device"
}

@test "--late-output or --dead-letter that cannot be opened: a configuration error, exit 2" {
	run --separate-stderr window-stats --late-output "$T/no/such/dir" < <(basic)
	assert_failure 2
	assert_equal "$stderr" "window-stats: $T/no/such/dir: No such file or directory"
	run --separate-stderr window-stats --dead-letter "$T/no/such/dir" < <(basic)
	assert_failure 2
}

@test "the same input twice gives byte-identical output, in every mode" {
	for mode in windows records trailing; do
		zcat "$MARKET" | window-stats --key-field symbol --emit "$mode" > "$T/a"
		zcat "$MARKET" | window-stats --key-field symbol --emit "$mode" > "$T/b"
		cmp "$T/a" "$T/b"
	done
}

@test "per-key watermark: windows do not depend on how keys are interleaved" {
	zcat "$MARKET" > "$T/in"
	mkdir "$T/by"
	# Regroup: all records of each symbol together, each symbol's order kept.
	awk -v d="$T/by" '{ s = $0; sub(/.*"symbol":"/, "", s); sub(/".*/, "", s); print > (d "/" s) }' "$T/in"
	cat "$T/by"/* > "$T/regrouped"
	window-stats --key-field symbol < "$T/in" | sort > "$T/a"
	window-stats --key-field symbol < "$T/regrouped" | sort > "$T/b"
	cmp "$T/a" "$T/b"
	run window-stats --key-field symbol --watermark global < "$T/regrouped"
	assert_failure 3
}

@test "real trades: every record in exactly one window; six markets, 1m windows" {
	run --separate-stderr bash -c 'zcat "$1" | window-stats -v --key-field symbol' _ "$MARKET"
	assert_success
	assert_equal "${#lines[@]}" 61
	assert_equal "$(jq -s 'map(.count) | add' <<<"$output")" 78638
	assert_equal "$(jq -r '.key' <<<"$output" | sort -u | wc -l)" 6
	assert_equal "$stderr" "window-stats: 78638 records, 6 keys, 61 windows fired (0 re-fired), 0 late, 0 control lines, 0 rejected"
	run --separate-stderr bash -c 'zcat "$1" | window-stats --key-field symbol --emit records | wc -l' _ "$MARKET"
	assert_output 78638
}

@test "real BTC trades: statistics agree with an exact rational computation to 1e-9" {
	zcat "$BTC" > "$T/in"
	window-stats --weight-field volume < "$T/in" > "$T/out"
	run python3 - "$T/in" "$T/out" <<'EOF'
import json, math, sys
from fractions import Fraction as F
from datetime import datetime, timezone

def ms(s):
    d = datetime.strptime(s[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return round(d.timestamp() * 1000)

win = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    t = ms(r["timestamp"])
    win.setdefault(t - t % 60000, []).append((t, r["price"], r["volume"]))
out = [json.loads(l) for l in open(sys.argv[2])]
assert len(out) == len(win), (len(out), len(win))
for o in out:
    recs = win[ms(o["window_start"])]
    xs = [F(x) for _, x, _ in recs]
    ws = [F(w) for _, _, w in recs]
    n = len(xs)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / n
    want = {
        "count": n, "mean": mean, "stddev": math.sqrt(var),
        "sample_stddev": math.sqrt(var * n / (n - 1)), "sum": sum(xs),
        "min": min(xs), "max": max(xs),
        "first": F(min(recs, key=lambda r: r[0])[1]),
        "last": F(max(reversed(recs), key=lambda r: r[0])[1]),
        "weight_sum": sum(ws),
        "weighted_mean": sum(w * x for w, x in zip(ws, xs)) / sum(ws),
    }
    for k, v in want.items():
        got = o[k]
        assert abs(got - float(v)) <= 1e-9 * abs(float(v)), (o["window_start"], k, got, float(v))
print("ok", len(out))
EOF
	assert_success
	assert_output "ok 12"
}

@test "usage errors: reason and usage line on stderr, exit 2" {
	for args in "--bogus" "-x" "--size" "--size 0" "--size 1y" "--slide 2m" \
	    "--slide 0" "--size 1h --slide 1ms" "--offset 1m" "--offset -1m" \
	    "--watermark local" "--emit lines" "--trailing 2" \
	    "--emit trailing --trailing 0" "--emit trailing --trailing 2 --slide 30s" \
	    "--window-field x" "--emit records --window-field=" "--max-keys 0" \
	    "--max-line 0" "--idle-timeout 0" "--out-of-orderness -1s" \
	    "--allowed-lateness x" "--key-field a..b" "--time-field=" "--strict=1" "extra"; do
		# shellcheck disable=SC2086
		run --separate-stderr window-stats $args
		assert_failure 2
		assert_equal "$output" ""
		assert_equal "$(sed -n 2p <<<"$stderr")" "usage: $(window-stats --help | head -n 1 | sed 's/^usage: //')"
	done
	run --separate-stderr window-stats --slide 2m
	assert_equal "$(head -n 1 <<<"$stderr")" "window-stats: --slide: must be from 1ms to --size"
	run --separate-stderr window-stats --size
	assert_equal "$(head -n 1 <<<"$stderr")" "window-stats: option needs an argument: --size"
}

@test "--checkpoint-dir: a commit of kin-read --self-commit is refused (no state was saved for it)" {
	mkdir -p "$BATS_TEST_TMPDIR/ck"
	printf '%s\n' '{"kinpipe":"commit","version":1,"id":3,"job":"j","stream":"j","committer":"kin-read","time":"2024-01-01T00:00:00.000Z","positions":{}}' \
	    >"$BATS_TEST_TMPDIR/ck/commit.json"
	run --separate-stderr window-stats --checkpoint-dir "$BATS_TEST_TMPDIR/ck" </dev/null
	assert_failure 2
	[[ $stderr == *"written by kin-read --self-commit"* ]]
}

@test "--stats: written while input is quiet; after a resume the counters are this run's" {
	local ck=$BATS_TEST_TMPDIR/ck i pid
	local b1='{"__kinpipe":{"barrier":1,"version":1,"job":"j","stream":"j","final":true,"positions":{}}}'
	printf '%s\n' '{"timestamp":1,"price":1}' '{"timestamp":2,"price":3}' "$b1" |
	    window-stats --checkpoint-dir "$ck" --stats "$BATS_TEST_TMPDIR/s1.json" >/dev/null
	jq -e '.records_in == 2 and .records_out == 0 and .windows_open == 1 and .checkpoints == 1' \
	    "$BATS_TEST_TMPDIR/s1.json"
	# What s3-put would write on committing barrier 1.
	printf '%s\n' '{"kinpipe":"commit","version":1,"id":1,"job":"j","stream":"j","committer":"s3-put","time":"2024-01-01T00:00:00.000Z","positions":{}}' \
	    >"$ck/commit.json"
	mkfifo "$BATS_TEST_TMPDIR/in"
	window-stats --checkpoint-dir "$ck" --stats "$BATS_TEST_TMPDIR/s2.json" \
	    <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" &
	pid=$!
	exec 7>"$BATS_TEST_TMPDIR/in"
	printf '%s\n' '{"timestamp":61,"price":5}' >&7
	for ((i = 0; i < 200; i++)); do
		[[ -s $BATS_TEST_TMPDIR/s2.json ]] &&
		    jq -e '.records_in == 1' "$BATS_TEST_TMPDIR/s2.json" >/dev/null && break
		sleep 0.05
	done
	# The first window fired on the new record: one line out, the counters
	# of this run alone.
	jq -e '.running == true and .records_in == 1 and .records_out == 1 and .windows_fired == 1' \
	    "$BATS_TEST_TMPDIR/s2.json"
	exec 7>&-
	wait "$pid"
	jq -e '.running == false and .records_in == 1 and .records_out == 1' "$BATS_TEST_TMPDIR/s2.json"
	run jq -c '[.count, .mean]' "$BATS_TEST_TMPDIR/out"
	assert_output '[2,2]'
}
