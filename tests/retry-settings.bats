#!/usr/bin/env bats
#
# Retry settings from the environment and the config file, as the AWS SDKs
# name them: --max-attempts > $AWS_MAX_ATTEMPTS > the profile's
# max_attempts > kinpipe's 10; $AWS_RETRY_MODE > the profile's retry_mode
# (standard, legacy, adaptive).  The attempts are counted by the fault
# proxy (tests/lib/faultproxy.js) answering every request 503 with
# Retry-After: 0, so a retry follows at once; no upstream is needed for
# those (the proxy never forwards).  Adaptive mode is checked against the
# real local servers through a proxy that throttles: the tool says it
# slowed down, waits for send capacity, and still delivers everything.
# Nothing here measures time.

bats_require_minimum_version 1.5.0

load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	FP_PID=
	mkdir -p "$HOME/.aws"
	# --profile ops makes the tools ignore the keys in the environment
	# (as the AWS CLI does): the same keys, for that profile.
	printf '[ops]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	    "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$HOME/.aws/credentials"
}

teardown() {
	if [[ -n $FP_PID ]]; then
		kill "$FP_PID" 2>/dev/null || true
		wait "$FP_PID" 2>/dev/null || true
	fi
}

# fp_down: stops the proxy of the last attempts() and forgets its log.
fp_down() {
	kill "$FP_PID"
	wait "$FP_PID" || true
	FP_PID=
	rm -f "$T/fp.log"
}

# down SERVICE: a proxy that answers every request "unavailable" at once.
down() {
	local preset=unavailable
	[[ $1 == s3 ]] && preset=s3-unavailable
	kp_faultproxy "$KP_DEAD_ENDPOINT" "[{\"action\":{\"preset\":\"$preset\",\"retry_after\":0}}]"
	if [[ $1 == s3 ]]; then
		export AWS_ENDPOINT_URL_S3=$FPURL
	else
		export AWS_ENDPOINT_URL_KINESIS=$FPURL
	fi
}

# each_tool N [ARGS...]: attempts() of kin-put, kin-read and s3-put, each
# of which must make N requests.
each_tool() {
	local n=$1 t
	shift
	for t in kin-put kin-read s3-put; do
		attempts "$t" "$@"
		[ "$output" = "$n" ] || { echo "$t: $output requests" >&2; return 1; }
		fp_down
	done
}

requests() {
	wc -l <"$T/fp.log" | tr -d ' '
}

# attempts TOOL [ARGS...]: runs TOOL against a Kinesis or S3 that is down;
# $output is the number of requests the proxy saw.
attempts() {
	local tool=$1
	shift
	case $tool in
	kin-put)
		down kinesis
		run -3 kin-put --stream s --partition-key p --retry-budget 1m "$@" <<<'{"a":1}'
		;;
	kin-read)
		down kinesis
		run -1 kin-read --stream s --retry-budget 1m "$@"
		;;
	s3-put)
		down s3
		run -3 s3-put --bucket-by processing-time --retry-budget 1m "$@" s3://bkt/p/ <<<'{"a":1}'
		;;
	esac
	run requests
}

@test "no setting: kinpipe's 10 attempts (kin-put, kin-read, s3-put)" {
	each_tool 10
}

@test "AWS_MAX_ATTEMPTS sets the attempts (kin-put, kin-read, s3-put)" {
	export AWS_MAX_ATTEMPTS=3
	each_tool 3
}

@test "the profile's max_attempts sets them, AWS_MAX_ATTEMPTS wins over it" {
	printf '[default]\nmax_attempts = 2\n[profile ops]\nmax_attempts = 4\n' >"$HOME/.aws/config"
	each_tool 2
	attempts kin-put --profile ops
	[ "$output" = 4 ]
	fp_down
	AWS_PROFILE=ops attempts s3-put
	[ "$output" = 4 ]
	fp_down
	AWS_MAX_ATTEMPTS=3 attempts kin-read
	[ "$output" = 3 ]
}

@test "--max-attempts wins over AWS_MAX_ATTEMPTS and the profile" {
	printf '[default]\nmax_attempts = 2\n' >"$HOME/.aws/config"
	export AWS_MAX_ATTEMPTS=3
	each_tool 5 --max-attempts 5
}

@test "an empty AWS_MAX_ATTEMPTS counts as unset, as in the AWS CLI" {
	printf '[default]\nmax_attempts = 2\n' >"$HOME/.aws/config"
	AWS_MAX_ATTEMPTS= attempts kin-read
	[ "$output" = 2 ]
}

@test "retry modes standard and legacy keep the policy: same attempts" {
	local m
	for m in standard legacy; do
		AWS_MAX_ATTEMPTS=3 AWS_RETRY_MODE=$m attempts kin-put
		[ "$output" = 3 ] || { echo "$m: $output requests" >&2; false; }
		fp_down
	done
	printf '[default]\nretry_mode = legacy\nmax_attempts = 2\n' >"$HOME/.aws/config"
	attempts s3-put
	[ "$output" = 2 ]
}

@test "a bad AWS_MAX_ATTEMPTS is a configuration error naming it (exit 2)" {
	local v t
	export AWS_ENDPOINT_URL_KINESIS=$KP_DEAD_ENDPOINT AWS_ENDPOINT_URL_S3=$KP_DEAD_ENDPOINT
	for v in 0 -1 abc 3x 1.5 1001 99999999999999999999; do
		for t in kin-put kin-read s3-put; do
			case $t in
			kin-put) AWS_MAX_ATTEMPTS=$v run -2 --separate-stderr kin-put --stream s --partition-key p </dev/null ;;
			kin-read) AWS_MAX_ATTEMPTS=$v run -2 --separate-stderr kin-read --stream s ;;
			s3-put) AWS_MAX_ATTEMPTS=$v run -2 --separate-stderr s3-put s3://bkt/p/ </dev/null ;;
			esac
			[[ ${stderr_lines[0]} == "$t: AWS_MAX_ATTEMPTS: expected a whole number of attempts from 1 to 1000: $v" ]] ||
			    { echo "$t $v: $stderr" >&2; false; }
		done
	done
}

@test "a bad max_attempts or retry_mode in the profile is a configuration error naming the file" {
	export AWS_ENDPOINT_URL_KINESIS=$KP_DEAD_ENDPOINT
	printf '[profile ops]\nmax_attempts = ten\n' >"$HOME/.aws/config"
	run -2 --separate-stderr kin-read --stream s --profile ops
	[ "$stderr" = "kin-read: max_attempts in profile \"ops\" ($HOME/.aws/config): expected a whole number of attempts from 1 to 1000: ten" ]
	# The option wins: the profile's value is not read at all.
	run -1 kin-read --stream s --profile ops --max-attempts 1
	printf '[default]\nretry_mode = fast\n' >"$HOME/.aws/config"
	run -2 --separate-stderr kin-put --stream s --partition-key p </dev/null
	[ "$stderr" = "kin-put: retry_mode in profile \"default\" ($HOME/.aws/config): expected standard, adaptive or legacy: fast" ]
}

@test "a bad AWS_RETRY_MODE is a configuration error naming it (exit 2)" {
	local v
	export AWS_ENDPOINT_URL_S3=$KP_DEAD_ENDPOINT
	for v in Standard adaptive2 none; do
		AWS_RETRY_MODE=$v run -2 --separate-stderr s3-put s3://bkt/p/ </dev/null
		[ "${stderr_lines[0]}" = "s3-put: AWS_RETRY_MODE: expected standard, adaptive or legacy: $v" ]
	done
}

# ---- adaptive mode, against the real local servers ----

# stack: kinesalite and s3rver, started once for the tests that need them.
stack() {
	if [[ ! -f $BATS_FILE_TMPDIR/stack/env ]]; then
		kp_stack_start kinesalite s3
	fi
	# shellcheck disable=SC1091
	source "$BATS_FILE_TMPDIR/stack/env"
}

teardown_file() {
	kp_stack_stop
}

# put_throttled MODE: 12 records through kin-put in the retry mode MODE
# ("": unset), its first PutRecords throttled; every record must be stored
# once; $stderr is kin-put's (-vv).
put_throttled() {
	stack
	S=$(kp_unique_name "put-$1")
	kp_admin create-stream "$S" 1 >/dev/null
	kp_faultproxy "$AWS_ENDPOINT_URL_KINESIS" \
	    '[{"match":{"target":"PutRecords","times":1},"action":{"preset":"throttle"}}]'
	seq 1 12 | sed 's/.*/{"n":&}/' >"$T/in"
	AWS_RETRY_MODE=$1 AWS_ENDPOINT_URL_KINESIS=$FPURL \
	    run -0 --separate-stderr kin-put -vv --stream "$S" --partition-key p \
	    --max-batch-records 4 --max-in-flight 1 <"$T/in"
	[ "$(jq -s 'map(.stored // 0) | add' "$T/fp.log")" = 12 ]
	[ "$(jq -s '.[0].status' "$T/fp.log")" = 400 ]
}

@test "adaptive mode: kin-put slows down after a throttle and delivers everything" {
	put_throttled adaptive
	# The throttle cut the client-side rate, and later requests waited
	# for send capacity before they went out.
	grep -q 'adaptive retry mode: throttled (ProvisionedThroughputExceededException); client-side send rate now [0-9.]* requests/s' <<<"$stderr"
	grep -q 'adaptive retry mode: waiting [0-9]* ms to send' <<<"$stderr"
}

@test "standard mode under the same throttle: no client-side rate limit" {
	put_throttled ""
	! grep -q 'adaptive retry mode' <<<"$stderr"
	fp_down
	put_throttled standard
	! grep -q 'adaptive retry mode' <<<"$stderr"
}

@test "adaptive mode from the profile: s3-put waits after SlowDown and delivers the object" {
	stack
	kp_admin create-bucket adaptive >/dev/null
	printf '[default]\nretry_mode = adaptive\n' >"$HOME/.aws/config"
	kp_faultproxy "$AWS_ENDPOINT_URL_S3" \
	    '[{"match":{"method":"PUT"},"action":{"preset":"s3-slowdown"},"count":1}]'
	seq 1 5 | sed 's/.*/{"n":&}/' >"$T/in"
	AWS_ENDPOINT_URL_S3=$FPURL run -0 --separate-stderr s3-put -vv \
	    --bucket-by processing-time s3://adaptive/p/ <"$T/in"
	grep -q 'adaptive retry mode: throttled (SlowDown)' <<<"$stderr"
	grep -q 'adaptive retry mode: waiting [0-9]* ms to send' <<<"$stderr"
	# The throttled PUT, then the same PUT again, stored.
	[ "$(jq -s 'map(select(.method == "PUT")) | map(.status) | join(",")' "$T/fp.log")" = '"503,200"' ]
	[ "$(jq -s '[.[] | select(.method == "PUT")] | .[0].path == .[1].path' "$T/fp.log")" = true ]
}

@test "adaptive mode: kin-read slows down after a throttled GetRecords and reads everything" {
	stack
	S=$(kp_unique_name adaptread)
	kp_admin create-stream "$S" 1 >/dev/null
	seq 1 10 | sed 's/.*/{"n":&}/' | kin-put --stream "$S" --partition-key p
	kp_faultproxy "$AWS_ENDPOINT_URL_KINESIS" \
	    '[{"match":{"target":"GetRecords","times":1},"action":{"preset":"throttle"}}]'
	AWS_RETRY_MODE=adaptive AWS_ENDPOINT_URL_KINESIS=$FPURL \
	    run -0 --separate-stderr kin-read -vv --stream "$S" --count 10
	[ "${#lines[@]}" = 10 ]
	grep -q 'adaptive retry mode: throttled (ProvisionedThroughputExceededException)' <<<"$stderr"
	grep -q 'adaptive retry mode: waiting [0-9]* ms to send' <<<"$stderr"
	# The throttled GetRecords was asked again, after the wait.
	[ "$(jq -s '[.[] | select(.target == "GetRecords")] | .[0].status' "$T/fp.log")" = 400 ]
}
