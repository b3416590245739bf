#!/usr/bin/env bats
# The tools' main paths under AddressSanitizer + UndefinedBehaviorSanitizer
# (build-asan/bin, made by `make asan`, which `make check` runs) and under
# valgrind (build/bin): window-stats (the three --emit modes) and sigma-flag
# over the first 20,000 real trades and over a file of bad input; s3-put to
# a local directory; kin-put then kin-read through kinesalite.
#
# Each run must end with exit status 0 or 3 (3 whenever the input holds bad
# lines) and leave no report on stderr: no "runtime error" (UBSan), no
# "ERROR: AddressSanitizer", no LeakSanitizer report, no valgrind error and
# no definitely lost block (libcurl and OpenSSL keep "still reachable"
# memory at exit: that does not count).  The ASan and valgrind runs use
# their own builds whatever KP_BUILD says.
#
# The bad input (made in setup_file) holds: empty, blank and CRLF lines,
# invalid UTF-8 (a stray byte, overlong, surrogate, truncated), numbers
# beyond double (1e309, 30-digit integers, 1e-400), NaN/Infinity literals and
# strings, times out of range and of every wrong type, keys of every type,
# single quotes, trailing commas and garbage, bare values, control lines
# (good and with garbage), nesting 100,000 deep and 31 deep, lines over
# --max-line, binary garbage with NUL bytes, window objects with zero,
# negative and huge deviations, late records, and a last line without a
# newline.

bats_require_minimum_version 1.5.0

load helpers

ASAN_BIN=$KP_ROOT/build-asan/bin
PLAIN_BIN=$KP_ROOT/build/bin
# Any of these in stderr is a sanitizer or valgrind report.
REPORT_RE='runtime error|ERROR: AddressSanitizer|LeakSanitizer|SUMMARY: [A-Za-z]+Sanitizer|==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Process terminating|Argument .* of function)|definitely lost in'

setup_file() {
	local d=$BATS_FILE_TMPDIR
	kp_stack_start kinesalite
	zcat "$KP_ROOT/tests/data/market-trades.ndjson.gz" | head -n 20000 \
	    >"$d/trades.ndjson"
	python3 - >"$d/nasty.ndjson" <<'EOF'
import random, sys

out = sys.stdout.buffer
rnd = random.Random(20240808)


def rec(i):
    return ('{"timestamp":"2024-08-08T23:54:%02d.%03dZ","symbol":"S%d",'
            '"price":%d,"volume":1}' % (i % 60, i % 1000, i % 3, 61000 + i)
            ).encode()


def t(rest):
    return b'{"timestamp":"2024-08-08T23:54:16Z","symbol":"S0",' + rest + b'}'


w = b'"timestamp":"2024-08-08T23:54:18Z","symbol":"S2",'
lines = [rec(i) for i in range(5)]
lines += [
    b'', b'   ', b'\t', b'\r', rec(5) + b'\r',
    t(b'"price":1,"s":"\xff\xfe"'), t(b'"price":1,"s":"\xc0\xaf"'),
    t(b'"price":1,"s":"\xed\xa0\x80"'), t(b'"price":1,"s":"\xe2\x82"'),
    b'\xff\xfe\xfd',
    t(b'"price":1e308'), t(b'"price":-1e308'), t(b'"price":1e309'),
    t(b'"price":-1e999'), t(b'"price":1e-400'), t(b'"price":4.9e-324'),
    t(b'"price":123456789012345678901234567890'),
    t(b'"price":-9223372036854775809'), t(b'"price":-0'),
    t(b'"price":"NaN"'), t(b'"price":NaN'), t(b'"price":Infinity'),
    t(b'"price":-Infinity'), t(b'"price":"1e999"'), t(b'"price":"61000"'),
    t(b'"price":null'), t(b'"price":true'), t(b'"price":[1]'), t(b'"p":1'),
    b'{"timestamp":1e300,"symbol":"S0","price":1}',
    b'{"timestamp":-1e20,"symbol":"S0","price":1}',
    b'{"timestamp":9223372036854775807,"symbol":"S0","price":1}',
    b'{"timestamp":-9223372036854775808,"symbol":"S0","price":1}',
    b'{"timestamp":"9999-12-31T23:59:59.999Z","symbol":"S9","price":1}',
    b'{"timestamp":"0000-01-01T00:00:00Z","symbol":"S9","price":1}',
    b'{"timestamp":"0000-01-01T00:00:00+01:00","symbol":"S9","price":1}',
    b'{"timestamp":"9999-12-31T23:59:59-01:00","symbol":"S9","price":1}',
    b'{"timestamp":253402300799999,"symbol":"S9","price":1}',
    b'{"timestamp":"2024-02-30T00:00:00Z","symbol":"S0","price":1}',
    b'{"timestamp":"2024-08-08T23:54:16","symbol":"S0","price":1}',
    b'{"timestamp":true,"symbol":"S0","price":1}',
    b'{"timestamp":{"a":1},"symbol":"S0","price":1}',
    b'{"timestamp":"2024-08-08T23:54:17Z","symbol":123,"price":1}',
    b'{"timestamp":"2024-08-08T23:54:17Z","symbol":{"a":[1,2]},"price":1}',
    b'{"timestamp":"2024-08-08T23:54:17Z","symbol":null,"price":1}',
    b'{"timestamp":"2024-08-08T23:54:17Z","symbol":"a\\u0000b","price":1}',
    b'{"timestamp":"2024-08-08T23:54:17Z","symbol":"\\ud800","price":1}',
    b'{"timestamp":"2024-08-08T23:54:17Z","symbol":"' + b'K' * 3000 +
    b'","price":1}',
    b"{'timestamp':'2024-08-08T23:54:17Z','price':1}",
    b'{"timestamp":"2024-08-08T23:54:17Z","price":1,}',
    b'{"timestamp":"2024-08-08T23:54:17Z","price":1',
    b'{"timestamp":"2024-08-08T23:54:17Z","price":1}}',
    b'{"timestamp":"2024-08-08T23:54:17Z","price":1} trailing',
    b'{"timestamp":"2024-08-08T23:54:17Z","price":1,"price":2,"symbol":"S1"}',
    b'{"timestamp":"2024-08-08T23:54:17Z","price":1,"symbol":"S1","s":"a\tb"}',
    b'[1,2,3]', b'"just a string"', b'42', b'null', b'true', b'{}',
    b'{"__kinpipe":{"checkpoint":1}}', b'{"__kinpipe":1}garbage',
    b'{"__kinpipe":1,"price":1}',
    b'{"a":' + b'[' * 100000 + b']' * 100000 + b'}',
    b'{"a":' + b'{"b":' * 31 + b'1' + b'}' * 31 +
    b',"timestamp":"2024-08-08T23:54:18Z","price":2,"symbol":"S2"}',
    b'{' + w + b'"price":3,"pad":"' + b'p' * 10000 + b'"}',
    b'x' * 100000,
    b'{' + w + b'"price":61000,"window":{"mean":61000,"stddev":2,"count":10}}',
    b'{' + w + b'"price":99999,"window":{"mean":61000,"stddev":0,"count":10}}',
    b'{' + w + b'"price":-1e308,"window":{"mean":1e308,"stddev":1e-308,'
    b'"count":10}}',
    b'{' + w + b'"price":1,"window":{"mean":"x","stddev":-1,"count":-5}}',
    b'{' + w + b'"price":1,"window":{"mean":1,"stddev":NaN,"count":1}}',
    b'{' + w + b'"price":1,"window":[1,2]}',
    b'{' + w + b'"price":1,"window":{"mean":1,"stddev":1,"count":1e30}}',
    b'{' + w + b'"price":1,"window":{"mean":1,"stddev":1e-320,"count":3}}',
    b'{' + w + b'"price":1,"volume":"heavy"}',
    b'{' + w + b'"price":1,"volume":-1e308}',
    b'{"timestamp":"2024-08-08T23:50:00Z","symbol":"S0","price":1}',
    b'{"timestamp":"2024-08-08T23:59:00Z","symbol":"S0","price":1}',
]
for k in range(4):
    lines.append(bytes(rnd.randrange(256)
                       for _ in range(rnd.randrange(10, 3000))))
lines += [rec(i) for i in range(100, 110)]
out.write(b'\n'.join(lines))
out.write(b'\n{"timestamp":"2024-08-08T23:59:59Z","symbol":"S1","price":7}')
EOF
	# sigma-flag's input: window-stats --emit records of the trades
	"$PLAIN_BIN/window-stats" --key-field symbol --emit records \
	    <"$d/trades.ndjson" >"$d/records.ndjson"
	# kin-put's input: 300 trades and bad lines between them
	{
		head -n 100 "$d/trades.ndjson"
		printf '\n{"price":1\n[1,2]\n\xff\xfe\n'
		sed -n 101,200p "$d/trades.ndjson"
		printf '%05000d\n' 0
		printf '{"symbol":"BTCUSDT","note":"%s"}\n' "$(head -c 6000 /dev/zero | tr '\0' 'n')"
		sed -n 201,300p "$d/trades.ndjson"
	} >"$d/kin.ndjson"
	head -n 300 "$d/trades.ndjson" >"$d/kin-good.ndjson"
}

teardown_file() {
	kp_stack_stop
}

setup() {
	T=$BATS_TEST_TMPDIR
	D=$BATS_FILE_TMPDIR
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
}

# asan TOOL ARG...: $ASAN_BIN/TOOL on the caller's stdin; stdout in $T/out,
# stderr in $T/err, exit status in $status.
asan() {
	local tool=$1
	shift
	if [[ ! -x $ASAN_BIN/$tool ]]; then
		echo "missing $ASAN_BIN/$tool: run make asan" >&2
		return 1
	fi
	status=0
	"$ASAN_BIN/$tool" "$@" >"$T/out" 2>"$T/err" || status=$?
}

# vg TOOL ARG...: the same with valgrind and $PLAIN_BIN/TOOL.
vg() {
	local tool=$1
	shift
	if [[ ! -x $PLAIN_BIN/$tool ]]; then
		echo "missing $PLAIN_BIN/$tool: run make" >&2
		return 1
	fi
	status=0
	valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	    "$PLAIN_BIN/$tool" "$@" >"$T/out" 2>"$T/err" || status=$?
}

need_valgrind() {
	command -v valgrind >/dev/null ||
	    skip "valgrind is not installed (make deps installs it)"
}

# clean STATUS...: $status is one of STATUS, and $T/err holds no report.
clean() {
	local s ok=0
	for s; do
		[[ $status == "$s" ]] && ok=1
	done
	if ((ok)) && ! grep -qaE "$REPORT_RE" "$T/err"; then
		return 0
	fi
	echo "exit status $status (expected $*); stderr:" >&2
	cut -c1-300 "$T/err" | grep -aE -m 80 -B2 -A20 "$REPORT_RE" >&2 ||
	    cut -c1-300 "$T/err" | tail -n 40 >&2
	return 1
}

# lines FILE: its number of lines.
lines() {
	wc -l <"$1" | tr -d ' '
}

# ---- window-stats ----

@test "ASan: window-stats --emit windows over 20,000 real trades" {
	asan window-stats --key-field symbol --emit windows <"$D/trades.ndjson"
	clean 0 3
	(($(lines "$T/out") > 0))
}

@test "ASan: window-stats --emit records over 20,000 real trades" {
	asan window-stats --key-field symbol --emit records <"$D/trades.ndjson"
	clean 0 3
	[[ $(lines "$T/out") -eq 20000 ]]
}

@test "ASan: window-stats --emit trailing over 20,000 real trades" {
	asan window-stats --key-field symbol --emit trailing --trailing 3 \
	    <"$D/trades.ndjson"
	clean 0 3
	[[ $(lines "$T/out") -eq 20000 ]]
}

@test "ASan: window-stats sliding, weighted, late output, per-key limits" {
	asan window-stats --key-field symbol --size 1m --slide 10s --offset -5s \
	    --weight-field volume --out-of-orderness 2s --allowed-lateness 5s \
	    --late-output "$T/late" --watermark global --max-keys 4 \
	    <"$D/trades.ndjson"
	clean 0 3
	(($(lines "$T/out") > 0))
}

@test "ASan: window-stats over bad input, every --emit mode" {
	local m
	for m in windows records trailing; do
		asan window-stats --key-field symbol --emit "$m" --max-line 4096 \
		    --weight-field volume --dead-letter "$T/dead.$m" <"$D/nasty.ndjson"
		clean 3
		[[ -s $T/dead.$m ]]
		grep -q '^window-stats: <stdin>:[0-9]*: ' "$T/err"
	done
	asan window-stats --strict --key-field symbol <"$D/nasty.ndjson"
	clean 3
	asan window-stats --size 10s --slide 3s --late-output "$T/late" \
	    --allowed-lateness 1m --key-field symbol <"$D/nasty.ndjson"
	clean 3
}

@test "valgrind: window-stats, every --emit mode, over 20,000 real trades" {
	need_valgrind
	local m
	for m in windows records trailing; do
		vg window-stats --key-field symbol --emit "$m" <"$D/trades.ndjson"
		clean 0 3
		(($(lines "$T/out") > 0))
	done
}

@test "valgrind: window-stats over bad input, every --emit mode" {
	need_valgrind
	local m
	for m in windows records trailing; do
		vg window-stats --key-field symbol --emit "$m" --max-line 4096 \
		    --dead-letter "$T/dead" <"$D/nasty.ndjson"
		clean 3
	done
}

# ---- sigma-flag ----

@test "ASan: sigma-flag over window-stats records of the real trades" {
	asan sigma-flag <"$D/records.ndjson"
	clean 0 3
	asan sigma-flag --all --sigma 2 --min-count 5 --direction up \
	    <"$D/records.ndjson"
	clean 0 3
	[[ $(lines "$T/out") -eq 20000 ]]
}

@test "ASan: sigma-flag over bad input" {
	asan sigma-flag --all --max-line 4096 --dead-letter "$T/dead" \
	    <"$D/nasty.ndjson"
	clean 3
	[[ -s $T/dead ]]
	asan sigma-flag --min-count 3 --direction down <"$D/nasty.ndjson"
	clean 3
	asan sigma-flag --strict <"$D/nasty.ndjson"
	clean 3
}

@test "valgrind: sigma-flag over real records and over bad input" {
	need_valgrind
	vg sigma-flag --all <"$D/records.ndjson"
	clean 0 3
	[[ $(lines "$T/out") -eq 20000 ]]
	vg sigma-flag --all --max-line 4096 <"$D/nasty.ndjson"
	clean 3
}

# ---- s3-put ----

@test "ASan: s3-put to a local directory, real trades and bad input" {
	asan s3-put --spool-dir "$T/spool" --max-records 7000 "$T/dir/" \
	    <"$D/trades.ndjson"
	clean 0
	[[ $(find "$T/dir" -type f | wc -l) -eq 3 ]]
	[[ $(cat "$T"/dir/*/* | wc -l) -eq 20000 ]]
	asan s3-put --gzip --max-line 4096 --spool-dir "$T/spool2" \
	    --dead-letter "$T/dead" "file://$T/gz/" \
	    < <(cat "$D/trades.ndjson" "$D/nasty.ndjson")
	clean 3
	[[ -s $T/dead ]]
	(($(find "$T/gz" -name '*.gz' | wc -l) > 0))
}

@test "valgrind: s3-put to a local directory, real trades and bad input" {
	need_valgrind
	vg s3-put --gzip --max-line 4096 --spool-dir "$T/spool" "$T/dir/" \
	    < <(cat "$D/trades.ndjson" "$D/nasty.ndjson")
	clean 3
	(($(find "$T/dir" -type f | wc -l) > 0))
}

# ---- kin-put, kin-read ----

# kin_round_trip RUNNER: kin-put then kin-read through a new 2-shard stream
# with RUNNER (asan or vg).
kin_round_trip() {
	local runner=$1 s
	s=$(kp_unique_name san)
	kp_admin create-stream "$s" 2 >/dev/null
	"$runner" kin-put --stream "$s" --partition-key-field symbol \
	    --max-line 4096 --dead-letter "$T/dead" <"$D/kin.ndjson"
	clean 3
	grep -q '^kin-put: <stdin>:[0-9]*: ' "$T/err"
	[[ $(lines "$T/dead") -eq 6 ]]
	"$runner" kin-read --stream "$s" </dev/null
	clean 0
	diff <(sort "$D/kin-good.ndjson") <(sort "$T/out")
	"$runner" kin-read --stream "$s" --envelope --count 150 </dev/null
	clean 0
	[[ $(lines "$T/out") -eq 150 ]]
}

@test "ASan: kin-put then kin-read through kinesalite, with bad lines" {
	kin_round_trip asan
}

@test "valgrind: kin-put then kin-read through kinesalite, with bad lines" {
	need_valgrind
	kin_round_trip vg
}
