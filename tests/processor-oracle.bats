#!/usr/bin/env bats
# window-stats and sigma-flag against tests/lib/oracle.py, an independent
# model in Python's standard library with exact (Fraction) statistics: the
# real BTC trades, the six real markets keyed by symbol, and generated ticks
# with out-of-order, late, duplicate and window-boundary events, single-record
# windows and keys that appear and vanish.  Exact on keys, windows,
# membership, counts, late records and order; 1e-9 relative on statistics.

bats_require_minimum_version 1.5.0

load helpers

ORACLE="$KP_ROOT/tests/lib/oracle.py"

setup_file() {
	local d=$BATS_FILE_TMPDIR
	zcat "$KP_ROOT/tests/data/btc-trades.ndjson.gz" >"$d/btc.ndjson"
	zcat "$KP_ROOT/tests/data/market-trades.ndjson.gz" >"$d/market.ndjson"
	python3 "$KP_ROOT/tests/lib/oracle.py" gen --seed 20240809 --count 30000 >"$d/gen.ndjson"
	python3 "$KP_ROOT/tests/lib/oracle.py" gen --seed 7 --count 4000 >"$d/gen-small.ndjson"
}

# ws_check INPUT WINDOW-STATS-OPTIONS...: window-stats runs to the end with
# exit 0; its output and --late-output agree with the oracle.
ws_check() {
	local in=$BATS_FILE_TMPDIR/$1
	shift
	local rc=0
	rm -f "$BATS_TEST_TMPDIR/late"
	window-stats "$@" --late-output "$BATS_TEST_TMPDIR/late" <"$in" \
	    >"$BATS_TEST_TMPDIR/got" 2>"$BATS_TEST_TMPDIR/err" || rc=$?
	assert_equal "$rc" 0
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" ''
	run python3 "$ORACLE" check "$@" "$in" "$BATS_TEST_TMPDIR/got" --late "$BATS_TEST_TMPDIR/late"
	assert_success
	assert_output --partial 'oracle: agree'
}

# flag_check INPUT WINDOW-STATS-OPTIONS... -- SIGMA-FLAG-OPTIONS...
flag_check() {
	local in=$BATS_FILE_TMPDIR/$1 ws=() sf=()
	shift
	while (($#)) && [ "$1" != -- ]; do
		ws+=("$1")
		shift
	done
	shift
	sf=("$@")
	window-stats "${ws[@]}" --late-output "$BATS_TEST_TMPDIR/late" <"$in" |
	    sigma-flag "${sf[@]}" >"$BATS_TEST_TMPDIR/got"
	assert_equal "${PIPESTATUS[*]}" "0 0"
	run python3 "$ORACLE" check "${ws[@]}" "${sf[@]}" "$in" "$BATS_TEST_TMPDIR/got"
	assert_success
	assert_output --partial 'oracle: agree'
}

@test "oracle self-test: it notices a wrong count, statistic, order, membership or late set" {
	local d=$BATS_TEST_TMPDIR in=$BATS_FILE_TMPDIR/gen-small.ndjson
	python3 "$ORACLE" expect --key-field symbol --size 10s "$in" >"$d/exp"
	run python3 "$ORACLE" check --key-field symbol --size 10s "$in" "$d/exp"
	assert_success
	sed '3s/"count":\([0-9]*\)/"count":1\1/' "$d/exp" >"$d/m"
	run python3 "$ORACLE" check --key-field symbol --size 10s "$in" "$d/m"
	assert_failure 1
	assert_output --partial 'count = 1'
	python3 - "$d/exp" "$d/m" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
o = json.loads(lines[4])
o["stddev"] *= 1 + 3e-9
lines[4] = json.dumps(o, separators=(",", ":"))
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
EOF
	run python3 "$ORACLE" check --key-field symbol --size 10s "$in" "$d/m"
	assert_failure 1
	assert_output --partial 'stddev ='
	awk 'NR==5{h=$0;next} NR==6{print;print h;next} {print}' "$d/exp" >"$d/m"
	run python3 "$ORACLE" check --key-field symbol --size 10s "$in" "$d/m"
	assert_failure 1
	sed 7d "$d/exp" >"$d/m"
	run python3 "$ORACLE" check --key-field symbol --size 10s "$in" "$d/m"
	assert_failure 1
	python3 "$ORACLE" expect --key-field symbol --emit records "$in" >"$d/exp"
	sed '10s/"price":/"price":1/' "$d/exp" >"$d/m"
	run python3 "$ORACLE" check --key-field symbol --emit records "$in" "$d/m"
	assert_failure 1
	run python3 "$ORACLE" check --key-field symbol --emit records "$in" "$d/exp" --late /dev/null
	assert_failure 1
	assert_output --partial 'late records: 0 written'
}

@test "real BTC trades, one global key: windows, records, trailing" {
	ws_check btc.ndjson --size 1m
	ws_check btc.ndjson --size 10s --emit records
	ws_check btc.ndjson --size 5s --emit trailing --trailing 3
}

@test "real BTC trades: sliding and offset windows, weights" {
	ws_check btc.ndjson --size 1m --slide 15s --weight-field volume
	ws_check btc.ndjson --size 30s --offset 7s --weight-field volume
}

@test "six real markets keyed by symbol: windows and records" {
	ws_check market.ndjson --key-field symbol --size 1m
	ws_check market.ndjson --key-field symbol --size 1m --emit records
	ws_check market.ndjson --key-field symbol --size 20s --watermark global --weight-field volume
}

@test "six real markets: trailing, per-key and global watermark" {
	ws_check market.ndjson --key-field symbol --size 1m --emit trailing
	ws_check market.ndjson --key-field symbol --size 10s --emit trailing --trailing 4 --watermark global
}

@test "generated: out-of-order and late events, per-key watermark" {
	ws_check gen.ndjson --key-field symbol
	ws_check gen.ndjson --key-field symbol --emit records --out-of-orderness 5s
	ws_check gen.ndjson --key-field symbol --size 10s --out-of-orderness 2s --weight-field volume
}

@test "generated: global watermark" {
	ws_check gen.ndjson --key-field symbol --watermark global
	ws_check gen.ndjson --key-field symbol --emit records --out-of-orderness 5s --watermark global
	ws_check gen.ndjson --size 30s --watermark global
}

@test "generated: allowed lateness re-fires windows" {
	ws_check gen.ndjson --key-field symbol --size 10s --allowed-lateness 30s
	ws_check gen.ndjson --key-field symbol --size 10s --allowed-lateness 30s --emit records
	ws_check gen.ndjson --key-field symbol --size 10s --allowed-lateness 1m --watermark global
}

@test "generated: sliding and offset windows" {
	ws_check gen.ndjson --key-field symbol --size 1m --slide 20s --out-of-orderness 3s
	ws_check gen.ndjson --key-field symbol --size 1m --offset 15s
	ws_check gen.ndjson --key-field symbol --size 1m --offset=-20s --slide 30s
}

@test "generated: trailing windows" {
	ws_check gen.ndjson --key-field symbol --emit trailing
	ws_check gen.ndjson --key-field symbol --emit trailing --trailing 3 --size 20s --out-of-orderness 1s
	ws_check gen.ndjson --emit trailing --trailing 2 --weight-field volume --watermark global
}

@test "reference job on the six real markets: window-stats --emit records | sigma-flag --sigma 3" {
	flag_check market.ndjson --key-field symbol --time-field timestamp --value-field price --size 1m --emit records -- --sigma 3
	flag_check market.ndjson --key-field symbol --size 1m --emit records -- --sigma 2 --all
}

@test "sigma-flag on the real BTC trades and on generated ticks" {
	flag_check btc.ndjson --size 1m --emit records -- --sigma 3
	flag_check gen.ndjson --key-field symbol --emit records --out-of-orderness 2s -- --sigma 3
	flag_check gen.ndjson --key-field symbol --emit records -- --sigma 2.5 --direction up --min-count 50
	flag_check gen.ndjson --key-field symbol --size 10s --emit records -- --sigma 1.5 --direction down --all
}

@test "sigma-flag on trailing output: null windows, merged history" {
	flag_check gen.ndjson --key-field symbol --emit trailing --trailing 2 -- --sigma 3 --all
	flag_check gen.ndjson --key-field symbol --emit trailing -- --sigma 1 --direction down
	flag_check market.ndjson --key-field symbol --emit trailing --trailing 5 -- --sigma 3 --min-count 30
}

@test "the same input gives byte-identical output" {
	local in=$BATS_FILE_TMPDIR/gen.ndjson d=$BATS_TEST_TMPDIR
	window-stats --key-field symbol --emit records --out-of-orderness 3s --late-output "$d/l1" <"$in" |
	    sigma-flag --all >"$d/a"
	window-stats --key-field symbol --emit records --out-of-orderness 3s --late-output "$d/l2" <"$in" |
	    sigma-flag --all >"$d/b"
	cmp "$d/a" "$d/b"
	cmp "$d/l1" "$d/l2"
}

@test "golden: the reference job on the six real markets, byte for byte" {
	local golden=$KP_ROOT/tests/golden/reference-job.ndjson
	zcat "$KP_ROOT/tests/data/market-trades.ndjson.gz" |
	    window-stats --key-field symbol --time-field timestamp --value-field price --size 1m --emit records |
	    sigma-flag --sigma 3 >"$BATS_TEST_TMPDIR/got"
	assert_equal "${PIPESTATUS[*]}" "0 0 0"
	cmp "$golden" "$BATS_TEST_TMPDIR/got"
	run python3 "$ORACLE" check --key-field symbol --size 1m --emit records --sigma 3 \
	    "$BATS_FILE_TMPDIR/market.ndjson" "$golden"
	assert_success
	assert_output 'oracle: agree: 78638 records, 23 lines, 0 late, 0 bad'
}
