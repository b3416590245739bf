#!/usr/bin/env bats
# sigma-flag: every option with exact outputs, bad input, usage errors, and
# --help against the man page.

bats_require_minimum_version 1.5.0

setup() {
	if [ -f "$BATS_TEST_DIRNAME/helpers.bash" ]; then
		load helpers
	else
		KP_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
		KP_BUILD=${KP_BUILD:-$KP_ROOT/build}
		case $KP_BUILD in /*) ;; *) KP_BUILD=$KP_ROOT/$KP_BUILD ;; esac
		PATH=$KP_BUILD/bin:$PATH
		load /usr/lib/bats/bats-support/load
		load /usr/lib/bats/bats-assert/load
	fi
	KP_ROOT=${KP_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
	MAN="$KP_ROOT/man/man1/sigma-flag.1"
	T=$BATS_TEST_TMPDIR
}

# A small window-stats-like stream: mean 100, stddev 2 (so 3 sigma = 6).
stream() {
	cat <<'EOF'
{"price":100,"window":{"count":20,"mean":100,"stddev":2}}
{"price":106,"window":{"count":20,"mean":100,"stddev":2}}
{"price":107,"window":{"count":20,"mean":100,"stddev":2}}
{"price":94,"window":{"count":20,"mean":100,"stddev":2}}
{"price":93,"window":{"count":20,"mean":100,"stddev":2}}
{"price":200,"window":{"count":5,"mean":100,"stddev":2}}
{"price":5,"window":{"count":20,"mean":1,"stddev":0}}
{"price":5,"window":null}
EOF
}

@test "default: anomalies only, zscore and sigma spliced, strict inequality" {
	run --separate-stderr sigma-flag < <(stream)
	assert_success
	assert_equal "$stderr" ""
	assert_output - <<'EOF'
{"price":107,"window":{"count":20,"mean":100,"stddev":2},"zscore":3.5,"sigma":3}
{"price":93,"window":{"count":20,"mean":100,"stddev":2},"zscore":-3.5,"sigma":3}
{"price":200,"window":{"count":5,"mean":100,"stddev":2},"zscore":50,"sigma":3}
EOF
}

@test "--all: every record, anomaly true|false, zscore null without a stddev" {
	run --separate-stderr sigma-flag --all < <(stream)
	assert_success
	assert_output - <<'EOF'
{"price":100,"window":{"count":20,"mean":100,"stddev":2},"zscore":0,"sigma":3,"anomaly":false}
{"price":106,"window":{"count":20,"mean":100,"stddev":2},"zscore":3,"sigma":3,"anomaly":false}
{"price":107,"window":{"count":20,"mean":100,"stddev":2},"zscore":3.5,"sigma":3,"anomaly":true}
{"price":94,"window":{"count":20,"mean":100,"stddev":2},"zscore":-3,"sigma":3,"anomaly":false}
{"price":93,"window":{"count":20,"mean":100,"stddev":2},"zscore":-3.5,"sigma":3,"anomaly":true}
{"price":200,"window":{"count":5,"mean":100,"stddev":2},"zscore":50,"sigma":3,"anomaly":true}
{"price":5,"window":{"count":20,"mean":1,"stddev":0},"zscore":null,"sigma":3,"anomaly":false}
{"price":5,"window":null,"zscore":null,"sigma":3,"anomaly":false}
EOF
}

@test "--sigma K: threshold and its shortest form in the output" {
	run --separate-stderr sigma-flag --sigma 2.5 < <(stream)
	assert_success
	assert_output - <<'EOF'
{"price":106,"window":{"count":20,"mean":100,"stddev":2},"zscore":3,"sigma":2.5}
{"price":107,"window":{"count":20,"mean":100,"stddev":2},"zscore":3.5,"sigma":2.5}
{"price":94,"window":{"count":20,"mean":100,"stddev":2},"zscore":-3,"sigma":2.5}
{"price":93,"window":{"count":20,"mean":100,"stddev":2},"zscore":-3.5,"sigma":2.5}
{"price":200,"window":{"count":5,"mean":100,"stddev":2},"zscore":50,"sigma":2.5}
EOF
	run sigma-flag --sigma 3.0e0 < <(stream)
	assert_success
	assert_line --index 0 '{"price":107,"window":{"count":20,"mean":100,"stddev":2},"zscore":3.5,"sigma":3}'
	run sigma-flag --sigma 0.1 <<<'{"price":1,"window":{"mean":0.5,"stddev":0.25}}'
	assert_output '{"price":1,"window":{"mean":0.5,"stddev":0.25},"zscore":2,"sigma":0.1}'
	run sigma-flag --sigma 24.9 < <(stream)
	assert_output '{"price":200,"window":{"count":5,"mean":100,"stddev":2},"zscore":50,"sigma":24.9}'
	run sigma-flag --sigma 50 < <(stream)
	assert_success
	assert_output ''
}

@test "--direction up|down|both" {
	run sigma-flag --direction up < <(stream)
	assert_success
	assert_output - <<'EOF'
{"price":107,"window":{"count":20,"mean":100,"stddev":2},"zscore":3.5,"sigma":3}
{"price":200,"window":{"count":5,"mean":100,"stddev":2},"zscore":50,"sigma":3}
EOF
	run sigma-flag --direction down < <(stream)
	assert_success
	assert_output '{"price":93,"window":{"count":20,"mean":100,"stddev":2},"zscore":-3.5,"sigma":3}'
	run sigma-flag --direction both < <(stream)
	assert_success
	assert_equal "${#lines[@]}" 3
	run sigma-flag --all --direction down < <(stream)
	assert_line --index 2 '{"price":107,"window":{"count":20,"mean":100,"stddev":2},"zscore":3.5,"sigma":3,"anomaly":false}'
	assert_line --index 4 '{"price":93,"window":{"count":20,"mean":100,"stddev":2},"zscore":-3.5,"sigma":3,"anomaly":true}'
}

@test "--min-count: smaller windows are never flagged; count read only then" {
	run --separate-stderr sigma-flag --min-count 6 < <(stream)
	assert_success
	assert_output - <<'EOF'
{"price":107,"window":{"count":20,"mean":100,"stddev":2},"zscore":3.5,"sigma":3}
{"price":93,"window":{"count":20,"mean":100,"stddev":2},"zscore":-3.5,"sigma":3}
EOF
	run sigma-flag --min-count 5 < <(stream)
	assert_equal "${#lines[@]}" 3
	# zscore stays defined when --min-count keeps a record from being flagged.
	run sigma-flag --all --min-count 21 < <(stream)
	assert_success
	assert_line --index 2 '{"price":107,"window":{"count":20,"mean":100,"stddev":2},"zscore":3.5,"sigma":3,"anomaly":false}'
	assert_line --index 5 '{"price":200,"window":{"count":5,"mean":100,"stddev":2},"zscore":50,"sigma":3,"anomaly":false}'
	refute_output --partial '"anomaly":true'
	# Without --min-count the count may be absent; with it, that is bad input.
	run --separate-stderr sigma-flag <<<'{"price":9,"window":{"mean":1,"stddev":1}}'
	assert_success
	assert_output '{"price":9,"window":{"mean":1,"stddev":1},"zscore":8,"sigma":3}'
	run --separate-stderr sigma-flag --min-count 1 <<<'{"price":9,"window":{"mean":1,"stddev":1}}'
	assert_failure 3
	assert_output ''
	assert_equal "$stderr" 'sigma-flag: <stdin>:1: window.count: missing'
	# A null count is "no statistics", not bad input.
	run --separate-stderr sigma-flag --min-count 1 --all <<<'{"price":9,"window":{"mean":1,"stddev":1,"count":null}}'
	assert_success
	assert_output '{"price":9,"window":{"mean":1,"stddev":1,"count":null},"zscore":8,"sigma":3,"anomaly":false}'
}

@test "--value-field, --mean-field, --stddev-field, --count-field" {
	input='{"t":{"v":7.5},"avg":5,"s":{"d":{"x":0.5}},"n":[1],"k":{"n":40}}'
	run --separate-stderr sigma-flag --value-field t.v --mean-field avg \
	    --stddev-field s.d.x --count-field k.n --min-count 40 <<<"$input"
	assert_success
	assert_output "${input%\}},\"zscore\":5,\"sigma\":3}"
	run --separate-stderr sigma-flag --value-field t.v --mean-field avg \
	    --stddev-field s.d.x --count-field k.n --min-count 41 <<<"$input"
	assert_success
	assert_output ''
	# The sample standard deviation of window-stats, null for one record.
	run sigma-flag --stddev-field window.sample_stddev --all <<'EOF'
{"price":10,"window":{"count":1,"mean":10,"stddev":0,"sample_stddev":null}}
{"price":10,"window":{"count":2,"mean":8,"stddev":2,"sample_stddev":0.5}}
EOF
	assert_success
	assert_output - <<'EOF'
{"price":10,"window":{"count":1,"mean":10,"stddev":0,"sample_stddev":null},"zscore":null,"sigma":3,"anomaly":false}
{"price":10,"window":{"count":2,"mean":8,"stddev":2,"sample_stddev":0.5},"zscore":4,"sigma":3,"anomaly":true}
EOF
}

@test "zero stddev never flags; null window (trailing, no history) is skipped, not rejected" {
	run --separate-stderr sigma-flag -v <<'EOF'
{"price":1e9,"window":{"count":3,"mean":1,"stddev":0}}
{"price":5,"window":null}
{"price":5,"window":{"count":1,"mean":null,"stddev":null}}
EOF
	assert_success
	assert_output ''
	assert_equal "$stderr" 'sigma-flag: 3 records, 0 flagged, 3 not judged, 0 control lines, 0 rejected'
}

@test "control lines pass through in order, with and without --all" {
	cat >"$T/in" <<'EOF'
{"__kinpipe":{"barrier":{"id":1}}}
{"price":107,"window":{"count":20,"mean":100,"stddev":2}}
{"price":100,"window":{"count":20,"mean":100,"stddev":2}}
  {"__kinpipe" : {"barrier":{"id":2}}}
{"price":93,"window":{"count":20,"mean":100,"stddev":2}}
{"__kinpipe":{"watermark":"2024-08-09T00:00:00.000Z"}}
EOF
	run --separate-stderr sigma-flag < "$T/in"
	assert_success
	assert_output - <<'EOF'
{"__kinpipe":{"barrier":{"id":1}}}
{"price":107,"window":{"count":20,"mean":100,"stddev":2},"zscore":3.5,"sigma":3}
  {"__kinpipe" : {"barrier":{"id":2}}}
{"price":93,"window":{"count":20,"mean":100,"stddev":2},"zscore":-3.5,"sigma":3}
{"__kinpipe":{"watermark":"2024-08-09T00:00:00.000Z"}}
EOF
	run sigma-flag --all < "$T/in"
	assert_success
	assert_equal "${#lines[@]}" 6
	assert_line --index 3 '  {"__kinpipe" : {"barrier":{"id":2}}}'
	# A "__kinpipe" member next to others is a record, not a control line.
	run --separate-stderr sigma-flag <<<'{"__kinpipe":{},"price":1}'
	assert_failure 3
	assert_equal "$stderr" 'sigma-flag: <stdin>:1: window.mean: missing'
}

@test "original bytes are kept: spacing, member order, escapes, duplicate-free splice" {
	cat >"$T/in" <<'EOF'
{ "b" : "x\u00e9\"}" , "price" : 1.50e2 , "window" : { "stddev" : 1 , "mean" : 100 }   }  
{"price":150,"window":{"mean":100,"stddev":1},"note":"caf\u00e9 ☕"}
EOF
	run sigma-flag < "$T/in"
	assert_success
	assert_output - <<'EOF'
{ "b" : "x\u00e9\"}" , "price" : 1.50e2 , "window" : { "stddev" : 1 , "mean" : 100 }   ,"zscore":50,"sigma":3}
{"price":150,"window":{"mean":100,"stddev":1},"note":"caf\u00e9 ☕","zscore":50,"sigma":3}
EOF
}

@test "CRLF input and a last line without newline" {
	printf '{"price":9,"window":{"mean":1,"stddev":1}}\r\n{"price":-9,"window":{"mean":1,"stddev":1}}' >"$T/in"
	run sigma-flag < "$T/in"
	assert_success
	assert_output - <<'EOF'
{"price":9,"window":{"mean":1,"stddev":1},"zscore":8,"sigma":3}
{"price":-9,"window":{"mean":1,"stddev":1},"zscore":-10,"sigma":3}
EOF
	run sigma-flag < /dev/null
	assert_success
	assert_output ''
}

@test "extreme numbers: no overflow in the test; an unrepresentable zscore is null" {
	run sigma-flag --all <<'EOF'
{"price":1e308,"window":{"mean":-1e308,"stddev":1e308}}
{"price":1e308,"window":{"mean":-1e308,"stddev":1e-300}}
{"price":9007199254740993,"window":{"mean":9007199254740992,"stddev":0.25}}
EOF
	assert_success
	assert_output - <<'EOF'
{"price":1e308,"window":{"mean":-1e308,"stddev":1e308},"zscore":2,"sigma":3,"anomaly":false}
{"price":1e308,"window":{"mean":-1e308,"stddev":1e-300},"zscore":null,"sigma":3,"anomaly":true}
{"price":9007199254740993,"window":{"mean":9007199254740992,"stddev":0.25},"zscore":0,"sigma":3,"anomaly":false}
EOF
}

@test "integers beyond 64 bits are read at full range, never clamped" {
	# 2^64 was read as 9223372036854775807: a false anomaly of 9.2e18.
	run sigma-flag --all <<'EOF'
{"price":18446744073709551616,"window":{"mean":18446744073709551616,"stddev":1}}
{"price":123456789012345678901234567890,"window":{"mean":1.2345678901234568e29,"stddev":1e12}}
{"price":-18446744073709551616,"window":{"mean":0,"stddev":1e18}}
EOF
	assert_success
	assert_output - <<'EOF'
{"price":18446744073709551616,"window":{"mean":18446744073709551616,"stddev":1},"zscore":0,"sigma":3,"anomaly":false}
{"price":123456789012345678901234567890,"window":{"mean":1.2345678901234568e29,"stddev":1e12},"zscore":0,"sigma":3,"anomaly":false}
{"price":-18446744073709551616,"window":{"mean":0,"stddev":1e18},"zscore":-18.446744073709553,"sigma":3,"anomaly":true}
EOF
}

@test "--progress: a progress line on stderr; --no-progress: none" {
	zcat "$KP_ROOT/tests/data/btc-trades.ndjson.gz" | head -n 2000 |
	    window-stats --emit records >"$T/in"
	run --separate-stderr sigma-flag --progress < "$T/in"
	assert_success
	[[ $stderr == *$'\r'"sigma-flag: 2000 records, "*" flagged, "*"/s"* ]]
	run --separate-stderr sigma-flag --progress --no-progress < "$T/in"
	assert_success
	assert_equal "$stderr" ''
}

@test "JSON corner cases read as json-c reads them (fast scanner or not)" {
	cat >"$T/in" <<'EOF'
{"price":1,"price":9,"window":{"mean":1,"stddev":1}}
{"price":9,"window":{"mean":1,"stddev":1},"window":{"mean":9,"stddev":1}}
{"price":9,"window":{"mean":1,"stddev":1},"window":null}
{"pr\u0069ce":9,"window":{"mean":1,"stddev":1}}
{"price":9,"note":"caf\u00e9 ☕ \"}\\","window":{"mean":1,"stddev":1}}
{"price":-0,"window":{"mean":-0.0,"stddev":1e-400}}
{"price":123456789012345678,"window":{"mean":0,"stddev":1}}
{"price":1234567890123456789,"window":{"mean":0,"stddev":1}}
{"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"price":9,"window":{"mean":1,"stddev":1}}
	{ "price" : 9 , "window" : { "mean" : 1 , "stddev" : 1 } }	
{"price":9,"window":{"mean":1,"stddev":1,"x":{"price":100}},"a":[{"window":null}]}
{"price":9.0e0,"window":{"mean":1E0,"stddev":0.5e+0}}
{"window":{"stddev":1,"mean":1},"price":9}
EOF
	run --separate-stderr sigma-flag --all < "$T/in"
	assert_failure 3
	assert_equal "$stderr" 'sigma-flag: <stdin>:9: invalid JSON: nesting too deep'
	assert_output - <<'EOF'
{"price":1,"price":9,"window":{"mean":1,"stddev":1},"zscore":8,"sigma":3,"anomaly":true}
{"price":9,"window":{"mean":1,"stddev":1},"window":{"mean":9,"stddev":1},"zscore":0,"sigma":3,"anomaly":false}
{"price":9,"window":{"mean":1,"stddev":1},"window":null,"zscore":null,"sigma":3,"anomaly":false}
{"pr\u0069ce":9,"window":{"mean":1,"stddev":1},"zscore":8,"sigma":3,"anomaly":true}
{"price":9,"note":"caf\u00e9 ☕ \"}\\","window":{"mean":1,"stddev":1},"zscore":8,"sigma":3,"anomaly":true}
{"price":-0,"window":{"mean":-0.0,"stddev":1e-400},"zscore":null,"sigma":3,"anomaly":false}
{"price":123456789012345678,"window":{"mean":0,"stddev":1},"zscore":1.2345678901234568e+17,"sigma":3,"anomaly":true}
{"price":1234567890123456789,"window":{"mean":0,"stddev":1},"zscore":1.2345678901234568e+18,"sigma":3,"anomaly":true}
	{ "price" : 9 , "window" : { "mean" : 1 , "stddev" : 1 } ,"zscore":8,"sigma":3,"anomaly":true}
{"price":9,"window":{"mean":1,"stddev":1,"x":{"price":100}},"a":[{"window":null}],"zscore":8,"sigma":3,"anomaly":true}
{"price":9.0e0,"window":{"mean":1E0,"stddev":0.5e+0},"zscore":16,"sigma":3,"anomaly":true}
{"window":{"stddev":1,"mean":1},"price":9,"zscore":8,"sigma":3,"anomaly":true}
EOF
}

# bad_case INPUT REASON [OPTIONS...]: the line is rejected with REASON, is
# not written, and the line after it is still judged.
bad_case() {
	local input=$1 reason=$2
	shift 2
	printf '%s\n%s\n' "$input" '{"price":9,"window":{"mean":1,"stddev":1,"count":20}}' >"$T/bad"
	run --separate-stderr sigma-flag "$@" < "$T/bad"
	assert_failure 3
	assert_output '{"price":9,"window":{"mean":1,"stddev":1,"count":20},"zscore":8,"sigma":3}'
	assert_equal "$stderr" "sigma-flag: <stdin>:1: $reason"
}

@test "bad input: not JSON, not an object, empty, trailing garbage, invalid UTF-8" {
	bad_case 'not json' 'invalid JSON: null expected'
	bad_case 'xyz' 'invalid JSON: unexpected character'
	bad_case '{price:1}' 'invalid JSON: quoted object property name expected'
	bad_case '{"price" 1}' "invalid JSON: object property name separator ':' expected"
	bad_case '{"price":01}' 'invalid JSON: number expected'
	bad_case '{"price":1,}' 'invalid JSON: unexpected character'
	bad_case '[1,2]' 'not a JSON object'
	bad_case '"price"' 'not a JSON object'
	bad_case '' 'empty line'
	bad_case '{"price":1,' 'invalid JSON: unexpected end of line'
	bad_case '{"price":1} {"price":2}' 'invalid JSON: unexpected character'
	bad_case "$(printf '{"price":1,"s":"\xff"}')" 'invalid JSON: invalid utf-8 string'
}

@test "bad input: value missing, not a number, NaN and Infinity" {
	bad_case '{"window":{"mean":1,"stddev":1}}' 'price: missing'
	bad_case '{"price":"61000.5","window":{"mean":1,"stddev":1}}' 'price: not a number'
	bad_case '{"price":"NaN","window":{"mean":1,"stddev":1}}' 'price: not a number'
	bad_case '{"price":null,"window":{"mean":1,"stddev":1}}' 'price: null'
	bad_case '{"price":NaN,"window":{"mean":1,"stddev":1}}' 'invalid JSON: NaN and Infinity are not JSON numbers'
	bad_case '{"price":Infinity,"window":{"mean":1,"stddev":1}}' 'invalid JSON: NaN and Infinity are not JSON numbers'
	bad_case '{"price":-Infinity,"window":{"mean":1,"stddev":1}}' 'invalid JSON: NaN and Infinity are not JSON numbers'
	bad_case '{"price":1e999,"window":{"mean":1,"stddev":1}}' 'price: not a finite number'
	bad_case '{"price":true,"window":{"mean":1,"stddev":1}}' 'price: not a number'
}

@test "bad input: mean, stddev, count missing, wrong type or negative" {
	bad_case '{"price":1}' 'window.mean: missing'
	bad_case '{"price":1,"window":5}' 'window.mean: missing'
	bad_case '{"price":1,"window":{"stddev":1}}' 'window.mean: missing'
	bad_case '{"price":1,"window":{"mean":"1","stddev":1}}' 'window.mean: not a number'
	bad_case '{"price":1,"window":{"mean":1}}' 'window.stddev: missing'
	bad_case '{"price":1,"window":{"mean":1,"stddev":[1]}}' 'window.stddev: not a number'
	bad_case '{"price":1,"window":{"mean":1,"stddev":-0.5}}' 'window.stddev: negative'
	bad_case '{"price":1,"window":{"mean":1,"stddev":1,"count":"3"}}' 'window.count: not a number' --min-count 1
	bad_case '{"price":1,"window":{"mean":1,"stddev":1,"count":-3}}' 'window.count: negative' --min-count 1
}

@test "bad input: members sigma-flag adds are never overwritten" {
	bad_case '{"price":9,"zscore":1,"window":{"mean":1,"stddev":1}}' 'field "zscore" already present'
	bad_case '{"price":9,"sigma":null,"window":{"mean":1,"stddev":1}}' 'field "sigma" already present'
	# "anomaly" is only added (so only checked) with --all.
	printf '%s\n' '{"price":9,"anomaly":1,"window":{"mean":1,"stddev":1}}' >"$T/in"
	run --separate-stderr sigma-flag < "$T/in"
	assert_success
	assert_output '{"price":9,"anomaly":1,"window":{"mean":1,"stddev":1},"zscore":8,"sigma":3}'
	run --separate-stderr sigma-flag --all < "$T/in"
	assert_failure 3
	assert_output ''
	assert_equal "$stderr" 'sigma-flag: <stdin>:1: field "anomaly" already present'
}

@test "--max-line: longer lines are bad input, kept whole in --dead-letter" {
	long='{"price":9,"window":{"mean":1,"stddev":1},"pad":"'$(printf '%0200d' 0)'"}'
	printf '%s\n' "$long" '{"price":9,"window":{"mean":1,"stddev":1}}' >"$T/in"
	run --separate-stderr sigma-flag --max-line 100 --dead-letter "$T/dead" < "$T/in"
	assert_failure 3
	assert_output '{"price":9,"window":{"mean":1,"stddev":1},"zscore":8,"sigma":3}'
	assert_equal "$stderr" 'sigma-flag: <stdin>:1: line longer than 100 bytes'
	assert_equal "$(cat "$T/dead")" "$long"
	run sigma-flag --max-line 1KiB < "$T/in"
	assert_success
	assert_equal "${#lines[@]}" 2
}

@test "--dead-letter keeps every rejected line verbatim, appending" {
	printf '%s\n' 'nope' '{"price":9,"window":{"mean":1,"stddev":1}}' '{"price":"x"}' >"$T/in"
	echo 'earlier' >"$T/dead"
	run --separate-stderr sigma-flag --dead-letter "$T/dead" < "$T/in"
	assert_failure 3
	assert_output '{"price":9,"window":{"mean":1,"stddev":1},"zscore":8,"sigma":3}'
	assert_equal "$(cat "$T/dead")" "$(printf 'earlier\nnope\n{"price":"x"}')"
	# A file that cannot be opened is a configuration error: the reason
	# alone, no usage line, exit 2.
	run --separate-stderr sigma-flag --dead-letter "$T/no/such/dir/dead" < "$T/in"
	assert_failure 2
	assert_output ''
	assert_equal "$stderr" "sigma-flag: $T/no/such/dir/dead: No such file or directory"
}

@test "a flood of bad lines: the first 10 of each reason in full, then a count; -v shows all; every line dead-lettered" {
	{
		for i in $(seq 25); do echo "x$i"; done
		for i in $(seq 12); do echo '{"price":"y"}'; done
		echo '{"price":9,"window":{"mean":1,"stddev":1}}'
		printf '%0120d\n' 0
	} >"$T/in"
	run --separate-stderr sigma-flag --max-line 100 --dead-letter "$T/dead" < "$T/in"
	assert_failure 3
	assert_output '{"price":9,"window":{"mean":1,"stddev":1},"zscore":8,"sigma":3}'
	expected=$(
		for i in $(seq 10); do echo "sigma-flag: <stdin>:$i: invalid JSON: unexpected character"; done
		echo 'sigma-flag: more lines rejected for this reason are counted, not shown (-v shows each): invalid JSON: unexpected character'
		for i in $(seq 26 35); do echo "sigma-flag: <stdin>:$i: price: not a number"; done
		echo 'sigma-flag: more lines rejected for this reason are counted, not shown (-v shows each): price: not a number'
		echo 'sigma-flag: <stdin>:39: line longer than 100 bytes'
		echo 'sigma-flag: 15 more lines rejected: invalid JSON: unexpected character'
		echo 'sigma-flag: 2 more lines rejected: price: not a number'
	)
	assert_equal "$stderr" "$expected"
	assert_equal "$(wc -l <"$T/dead")" 38
	run --separate-stderr sigma-flag -v --max-line 100 < "$T/in"
	assert_failure 3
	assert_equal "$(grep -c '<stdin>:' <<<"$stderr")" 38
	[[ $stderr != *'more lines rejected'* ]]
}

@test "--dead-letter /dev/null or a pipe: no fsync error, at the end or at a barrier" {
	printf '%s\n' 'x' '{"__kinpipe":{"barrier":1,"version":1}}' 'y' >"$T/in"
	run --separate-stderr sigma-flag --dead-letter /dev/null < "$T/in"
	assert_failure 3
	assert_output '{"__kinpipe":{"barrier":1,"version":1}}'
	assert_equal "$stderr" "$(printf '%s\n' 'sigma-flag: <stdin>:1: invalid JSON: unexpected character' \
	    'sigma-flag: <stdin>:3: invalid JSON: unexpected character')"
	run --separate-stderr sigma-flag --dead-letter >(cat >"$T/dead") < "$T/in"
	assert_failure 3
	assert_output '{"__kinpipe":{"barrier":1,"version":1}}'
	[[ $stderr != *Invalid* ]]
	for _ in $(seq 50); do [ "$(wc -l <"$T/dead")" = 2 ] && break; sleep 0.1; done
	assert_equal "$(cat "$T/dead")" "$(printf 'x\ny')"
}

@test "--strict stops at the first bad line; output before it is written" {
	printf '%s\n' '{"price":9,"window":{"mean":1,"stddev":1}}' '{"price":1}' '{"price":-9,"window":{"mean":1,"stddev":1}}' >"$T/in"
	run --separate-stderr sigma-flag --strict --dead-letter "$T/dead" < "$T/in"
	assert_failure 3
	assert_output '{"price":9,"window":{"mean":1,"stddev":1},"zscore":8,"sigma":3}'
	assert_equal "$stderr" 'sigma-flag: <stdin>:2: window.mean: missing'
	assert_equal "$(cat "$T/dead")" '{"price":1}'
	# --strict with an over-long line.
	run --separate-stderr sigma-flag --strict --max-line 20 < "$T/in"
	assert_failure 3
	assert_output ''
}

@test "-q: rejected lines counted but not reported; -v: summary" {
	printf '%s\n' 'x' '{"price":9,"window":{"mean":1,"stddev":1}}' '{"__kinpipe":{}}' '{"price":1,"window":null}' >"$T/in"
	run --separate-stderr sigma-flag -q < "$T/in"
	assert_failure 3
	assert_equal "$stderr" ''
	assert_equal "${#lines[@]}" 2
	run --separate-stderr sigma-flag -v < "$T/in"
	assert_failure 3
	assert_equal "$stderr" "$(printf '%s\n' 'sigma-flag: <stdin>:1: invalid JSON: unexpected character' \
	    'sigma-flag: 2 records, 1 flagged, 1 not judged, 1 control lines, 1 rejected')"
	run --separate-stderr sigma-flag --verbose --quiet < "$T/in"
	assert_equal "$stderr" ''
}

@test "EPIPE: downstream stops reading, sigma-flag stops quietly with 0" {
	for ((i = 0; i < 20000; i++)); do
		echo '{"price":9,"window":{"mean":1,"stddev":1}}'
	done >"$T/in"
	run bash -c 'sigma-flag --all < "$1" 2>"$2" | head -n 1; echo "${PIPESTATUS[0]}"' _ "$T/in" "$T/err"
	assert_output - <<'EOF'
{"price":9,"window":{"mean":1,"stddev":1},"zscore":8,"sigma":3,"anomaly":true}
0
EOF
	assert_equal "$(cat "$T/err")" ''
}

@test "SIGTERM: what was read is flushed, exit 0" {
	mkfifo "$T/fifo"
	sigma-flag <"$T/fifo" >"$T/out" 2>"$T/err" &
	pid=$!
	exec 5>"$T/fifo"
	echo '{"price":9,"window":{"mean":1,"stddev":1}}' >&5
	for ((i = 0; i < 200; i++)); do
		[ -s "$T/out" ] && break
		sleep 0.05
	done
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	exec 5>&-
	assert_equal "$rc" 0
	assert_equal "$(cat "$T/out")" '{"price":9,"window":{"mean":1,"stddev":1},"zscore":8,"sigma":3}'
	assert_equal "$(cat "$T/err")" ''
}

@test "usage errors exit 2 with the reason and the usage line" {
	usage=$(sigma-flag --help | head -n 1)
	check() {
		local reason=$1
		shift
		run --separate-stderr sigma-flag "$@" </dev/null
		assert_failure 2
		assert_output ''
		assert_equal "$stderr" "$(printf 'sigma-flag: %s\n%s' "$reason" "$usage")"
	}
	check '--sigma: not a positive number: 0' --sigma 0
	check '--sigma: not a positive number: -1' --sigma -1
	check '--sigma: not a positive number: abc' --sigma abc
	check '--sigma: not a positive number: 3x' --sigma 3x
	check '--sigma: not a positive number: inf' --sigma inf
	check '--sigma: not a positive number: nan' --sigma nan
	check '--sigma: not a positive number: ' --sigma ''
	check '--min-count: not a whole number: -1' --min-count -1
	check '--min-count: not a whole number: 2.5' --min-count 2.5
	check '--direction: expected up, down or both: sideways' --direction sideways
	check '--max-line: not a size between 1 and 1GiB: 0' --max-line 0
	check '--max-line: not a size between 1 and 1GiB: 3GiB' --max-line 3GiB
	check '--value-field: bad path: a..b' --value-field a..b
	check '--mean-field: bad path: ' --mean-field ''
	check '--stddev-field: bad path: .x' --stddev-field .x
	check '--count-field: bad path: x.' --count-field x.
	check 'unknown option: --bogus' --bogus
	check 'unknown option: -x' -x
	check 'option takes no argument: --all=1' --all=1
	check 'option needs an argument: --sigma' --sigma
	check 'unexpected argument: file.ndjson' file.ndjson
}

@test "--stats: the counters as JSON, written while input is quiet, and at exit" {
	mkfifo "$T/in"
	sigma-flag --stats "$T/st.json" <"$T/in" >"$T/out" &
	local pid=$! i
	exec 7>"$T/in"
	{ stream; echo '{"__kinpipe":{"x":1}}'; } >&7
	# Input stays open and quiet: the file is written all the same.
	for ((i = 0; i < 200; i++)); do
		[[ -s $T/st.json ]] && jq -e '.records_in == 8' "$T/st.json" >/dev/null && break
		sleep 0.05
	done
	jq -e '.tool == "sigma-flag" and .running == true and .records_in == 8' "$T/st.json"
	exec 7>&-
	wait "$pid"
	run jq -c 'del(.pid, .time, .elapsed_ms)' "$T/st.json"
	assert_output '{"tool":"sigma-flag","running":false,"records_in":8,"records_out":3,"flagged":3,"not_judged":2,"control":1,"rejected":0}'
}
