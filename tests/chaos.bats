#!/usr/bin/env bats
# Chaos: the checkpointed reference job (kin-read | window-stats --emit
# records | sigma-flag --all | s3-put, every record in S3 with its window's
# statistics) is killed with SIGKILL, a random stage or all of them at a
# random moment, and started again, over and over while a producer puts the
# six-market trades, repeated an hour apart, into a 4-shard stream; then it
# runs to the end.  S3 must then hold exactly what one uninterrupted run
# writes: no record lost, none twice, no object of another name, nothing
# left in the spool.  Once as the long-running job (kin-read --follow, the
# last run stopped by SIGTERM when drained), once as cron batches.
#
# make check runs the short version (CHAOS_RECORDS=60000, CHAOS_KILLS=5
# per mode); `make chaos` the long one (300,000 records, 20 kills per mode)
# and prints the seed.  CHAOS_SEED replays the same choices (victims,
# delays, epoch cuts; the timing is the machine's).  Diagnostics, the seed
# first, are in $KP_BUILD/chaos/<mode>.log and shown when a test fails;
# the files of the last run of each mode stay in $KP_BUILD/chaos/<mode>/.
#
# The last test runs s3-put against moto (s3rver lists no multipart
# uploads and ignores If-None-Match): no upload left after kills, and no
# name written twice.

bats_require_minimum_version 1.5.0

load helpers
load lib/ckpipe
load lib/chaos

setup_file() {
	kp_stack_start kinesalite s3
	local d=$BATS_FILE_TMPDIR
	python3 "$KP_ROOT/tests/lib/trades-repeat.py" "${CHAOS_RECORDS:-60000}" \
	    "$KP_ROOT/tests/data/market-trades.ndjson.gz" >"$d/in.ndjson"
	# What every run must end with, computed without Kinesis or a crash:
	# the end of a checkpointed input keeps the open windows.
	mkdir -p "$d/offline"
	window-stats --checkpoint-dir "$d/offline" --key-field symbol --size 1m \
	    --emit records <"$d/in.ndjson" | sigma-flag --all |
	    LC_ALL=C sort >"$d/expected"
}

teardown_file() {
	kp_stack_stop
}

setup() {
	T=$BATS_TEST_TMPDIR
	MOTO_PID=
}

teardown() {
	if [[ -n $MOTO_PID ]]; then
		kill "$MOTO_PID" 2>/dev/null || true
		wait "$MOTO_PID" 2>/dev/null || true
	fi
	if [[ -n ${CKP_PIDS:-} ]] && ckp_running; then
		ckp_kill_all || true
	fi
	if [[ -z ${BATS_TEST_COMPLETED:-} && -s ${CKP_LOG:-/nonexistent} ]]; then
		echo "--- $CKP_LOG"
		tail -n 300 "$CKP_LOG"
	fi
}

# chaos MODE: the whole run and its checks.
chaos() {
	local mode=$1 w=$KP_BUILD_DIR/chaos/$1
	# Kept after the run: the checkpoint directory, each run's stderr and
	# stats, what S3 held.
	rm -rf "$w"
	mkdir -p "$w"
	CKP_LOG=$KP_BUILD_DIR/chaos/$mode.log
	: >"$CKP_LOG"
	echo "# chaos $mode: diagnostics in $CKP_LOG, files in $w" >&3
	chaos_run "$mode" "$BATS_FILE_TMPDIR/in.ndjson" "$w"
	echo "# chaos $mode: seed $CHAOS_SEED" >&3
	chaos_check "$w" "chaos-$CHAOS_STREAM/" "$CHAOS_STREAM" "$BATS_FILE_TMPDIR/expected"
}

@test "chaos, long-running: SIGKILLs of any stage while records arrive; S3 ends exactly as one uninterrupted run" {
	chaos follow
}

@test "chaos, cron: SIGKILLs of bounded runs while records arrive; S3 ends exactly as one uninterrupted run" {
	chaos cron
}
