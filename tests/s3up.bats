#!/usr/bin/env bats
# The upload engine (common/s3up.c, driven by tests/c/s3up_test.c) against
# real S3-compatible servers on loopback: s3rver for what it implements
# (PutObject, HeadObject, GetObject, multipart create, parts and complete),
# moto for the rest too (AbortMultipartUpload, ListMultipartUploads,
# If-None-Match).  Most of all the staged path of the exactly-once commit:
# an upload staged (created, every part sent, nothing visible), completed
# by its id and parts from a new engine as after a restart, or aborted.
# The driver prints TAP; each run must reach its plan, all ok.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	kp_stack_start s3
	MOTO_PID=
	if command -v moto_server >/dev/null; then
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		moto_server -H 127.0.0.1 -p "$port" >"$BATS_FILE_TMPDIR/moto.log" 2>&1 3>&- &
		MOTO_PID=$!
		echo "$MOTO_PID" >"$BATS_FILE_TMPDIR/moto.pid"
		echo "http://127.0.0.1:$port" >"$BATS_FILE_TMPDIR/moto.url"
		for ((i = 0; i < 600; i++)); do
			curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
			sleep 0.05
		done
	fi
}

teardown_file() {
	if [[ -s $BATS_FILE_TMPDIR/moto.pid ]]; then
		kill "$(cat "$BATS_FILE_TMPDIR/moto.pid")" 2>/dev/null || true
	fi
	kp_stack_stop
}

# driver BUCKET [full]: runs the engine's driver of $KP_BUILD against
# $AWS_ENDPOINT_URL_S3; it must run at least MIN cases, all ok.
driver() {
	local min=$1
	shift
	export TMPDIR=$BATS_TEST_TMPDIR
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	run --separate-stderr "$KP_BUILD_DIR/tests/s3up_test" "$@"
	printf '%s\n' "$output" | grep -v '^ok ' | tail -n 20
	_kp_tap_complete "$min"
	[[ $status -eq 0 ]]
	[[ $stderr != *"runtime error"* && $stderr != *"AddressSanitizer"* &&
	    $stderr != *"LeakSanitizer"* ]]
}

@test "engine against s3rver: stage, complete by id after a restart, ordering, gzip, a directory" {
	export AWS_ENDPOINT_URL_S3=$KP_S3RVER_ENDPOINT
	driver 24 "$(kp_unique_name s3up)"
}

@test "engine against moto: also abort by id, If-None-Match and the HEAD comparison of ETags" {
	[[ -s $BATS_FILE_TMPDIR/moto.url ]] || skip "moto_server is not installed"
	export AWS_ENDPOINT_URL_S3=$(cat "$BATS_FILE_TMPDIR/moto.url")
	driver 45 "$(kp_unique_name s3up)" full
}
