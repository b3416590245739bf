#!/usr/bin/env bats
# make bench's smoke run (bench/run, BENCH_SIZE=smoke): every benchmark runs
# at a few hundred records, checks its outputs (the same windows and flagged
# trades from every implementation, every record read back from Kinesis and
# S3, the same objects with and without checkpoints) and the one table comes
# out.  Nothing here looks at a time: only that the benchmarks still run, so
# that they never rot.  Missing peers (boto3, the AWS CLI, Miller) skip their
# rows.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	export BENCH_OUT=$BATS_FILE_TMPDIR/bench
	# One smoke run for the whole file (about 20 s): the tests read what it
	# left.  Its servers are its own (bench/lib/bench.bash), stopped at its
	# exit.
	BENCH_SIZE=smoke "$KP_ROOT/bench/run" >"$BATS_FILE_TMPDIR/run.out" \
	    2>"$BATS_FILE_TMPDIR/run.err" </dev/null && echo 0 >"$BATS_FILE_TMPDIR/run.status" ||
	    echo $? >"$BATS_FILE_TMPDIR/run.status"
}

# rows PREFIX: the result rows whose id starts with PREFIX.
rows() {
	awk -F'\t' -v p="$1" 'index($1, p) == 1' "$BENCH_OUT/results.tsv"
}

@test "bench: the smoke run of every benchmark succeeds and verifies its outputs" {
	status=$(<"$BATS_FILE_TMPDIR/run.status")
	if [[ $status != 0 ]]; then
		cat "$BATS_FILE_TMPDIR/run.err" "$BENCH_OUT"/*.log >&2
		fail "bench/run exited with status $status"
	fi
	run ! grep -l INVALID "$BENCH_OUT"/*.log
	for b in processor scaling s3-put kinesis checkpoint aggregate; do
		[[ -s $BENCH_OUT/$b.log ]] || fail "no log of $b"
	done
}

@test "bench: one table, with a row from every benchmark" {
	run -0 cat "$BENCH_OUT/latest.md"
	assert_line --regexp '^make bench \(BENCH_SIZE=smoke\), '
	assert_line --regexp '^machine: [0-9]+ cores, '
	assert_line --partial 'commands: `bench/processor.sh -n 300'
	assert_line '| tool | peer | workload | records/s | CPU µs/record | instr/record | max RSS | ratio to peer | target | met |'
	for p in proc.reference-job proc.window-stats-windows proc.sigma-flag-alone \
	    proc.s3-put-local proc.python-reference scale.records.windows. \
	    scale.keys.reference. s3.large.s3-put s3.small.s3-put kin.kin-put \
	    kin.kin-read ck.a.none ck.a.10s ck.b.none ck.b.10s agg.kin-put \
	    agg.kin-put-aggregate; do
		[[ -n $(rows "$p") ]] || fail "no result row $p"
	done
	# The TSV copy: ten columns on every line.
	run -0 awk -F'\t' 'NF != 10 { print NR ": " NF }' "$BENCH_OUT/latest.tsv"
	assert_output ''
	# callgrind's instructions per record next to the CPU of our
	# processor rows (not under ASan: valgrind cannot run those builds).
	if ! ldd "$KP_BUILD_DIR/bin/window-stats" | grep -q libasan; then
		run -0 rows proc.window-stats-windows
		[[ $(cut -f8 <<<"$output") =~ ^[0-9]+$ ]] || fail "no instructions: $output"
	fi
}

@test "bench: every target of issue 10 has its row" {
	for t in '<= 1/3' '<= 1/15' '>= 1.5x' '>= 2x' '<= 1/5' 'records/s >= 1x' \
	    '<= 1 (CPU/MiB)' '<= 1/5 (CPU/MiB)' 'wall < 1.05 (cost < 5 %)' \
	    'CPU < 1.05 (cost < 5 %)' 'flat: CPU/rec'; do
		run -0 awk -F'\t' -v t="$t" 'index($9, t) == 1 { n++ } END { print n + 0 }' \
		    "$BENCH_OUT/latest.tsv"
		((output > 0)) || fail "no row with the target '$t'"
	done
	run -0 awk -F'\t' 'NR > 1 && $10 != "yes" && $10 != "**NO**" && $10 != "-" { print }' \
	    "$BENCH_OUT/latest.tsv"
	assert_output ''
}

@test "bench: table.py computes the ratios and marks the targets" {
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
	    proc.reference-job ours w 1000000 1.0 1.00 3000 2000 \
	    proc.python-reference py w 1000000 2.0 4.00 9000 - \
	    proc.jq-reference jq w 1000000 9.0 9.00 3000 - \
	    proc.window-stats-windows ws w 1000000 1.0 0.50 3000 1000 \
	    proc.bare-json-c bare w 1000000 1.0 0.60 3000 2000 \
	    scale.keys.windows.1 k1 w 1000000 - 1.00 8000 - \
	    scale.keys.windows.10000 k10000 w 1000000 - 1.30 18000 - \
	    scale.records.windows.1000000 n1 w 1000000 - 1.00 8000 - \
	    scale.records.windows.10000000 n10 w 10000000 - 10.50 11000 - >"$BATS_TEST_TMPDIR/r.tsv"
	printf '#\ta note\n' >>"$BATS_TEST_TMPDIR/r.tsv"
	run -0 "$KP_ROOT/bench/table.py" "$BATS_TEST_TMPDIR/r.tsv" --tsv "$BATS_TEST_TMPDIR/t.tsv"
	assert_line --regexp '^\| ours \| py \| w \| 1,000,000 \| 1\.00 \| 2,000 \| 2\.9 MiB \| 1/4\.0 \| <= 1/3 \| yes \|$'
	assert_line --regexp '^\| ours \| jq \| .* \| 1/9\.0 \| <= 1/15 \| \*\*NO\*\* \|$'
	assert_line --regexp '^\| ours \| \(not measured\) \| .* \| <= 1/15 \| - \|$'
	assert_line --regexp '^\| ws \| bare \| .* \| 1\.20x \(instr 2\.00x\) \| >= 1\.5x \| \*\*NO\*\* \|$'
	# The keys series: memory per key shown, CPU judged.
	assert_line --regexp '^\| k10000 \| k1 \| .* \| CPU/rec 1\.30x, RSS \+1\.00 KiB/key \| flat: CPU/rec \+-20 % \| \*\*NO\*\* \|$'
	# The records series: CPU flat (1.05x), RSS +2.9 MiB over 10 % + 2 MiB.
	assert_line --regexp '^\| n10 \| n1 \| .* \| CPU/rec 1\.05x, RSS \+2\.9 MiB \| flat: .* \| \*\*NO\*\* \|$'
	assert_line '- a note'
	run -0 awk -F'\t' 'END { print NR }' "$BATS_TEST_TMPDIR/t.tsv"
	assert_output 12
}

@test "bench: a missing peer is skipped with a message, not failed" {
	export BENCH_RESULTS=$BATS_TEST_TMPDIR/r.tsv
	: >"$BENCH_RESULTS"
	run -0 --separate-stderr env AWS=/nonexistent/aws "$KP_ROOT/bench/s3-put.sh" \
	    -n 200 -c 1 -m 100 -r 1
	[[ $stderr == *"no AWS CLI (/nonexistent/aws): its rows skipped (Debian: apt-get install awscli)"* ]] ||
	    fail "stderr: $stderr"
	run -0 cut -f1 "$BENCH_RESULTS"
	assert_line s3.large.s3-put
	assert_line s3.small.s3-put
	refute_line s3.large.aws
}

@test "bench: bench/run refuses an unknown size or benchmark" {
	run -2 env BENCH_SIZE=huge "$KP_ROOT/bench/run"
	assert_output --partial "BENCH_SIZE: smoke, default or full, not 'huge'"
	run -2 env BENCH_ONLY=nosuch "$KP_ROOT/bench/run"
	assert_output --partial "BENCH_ONLY: no benchmark 'nosuch'"
}
