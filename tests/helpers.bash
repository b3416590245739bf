# tests/helpers.bash: loaded by every tests/*.bats with `load helpers`.
#
# Load it at the top of the file (outside any function), so that setup_file,
# teardown_file and every test see it; bats sources the file again before
# each test, and this file is written to be sourced any number of times.
#
# Variables
#   KP_ROOT        repository root (absolute)
#   KP_BUILD       build directory, "build" (default) or "build-asan"; kept as
#                  given (relative to KP_ROOT unless absolute)
#   KP_BUILD_DIR   the same, absolute; PATH starts with $KP_BUILD_DIR/bin
#   KP_KINESIS     the Kinesis server behind "kinesis": kinesalite (default)
#                  or kinesis-local.  tests/run runs every tests/kinesis-*.bats
#                  once per server with KP_KINESIS set; other files run once,
#                  with kinesalite.  Run one by hand with
#                  KP_KINESIS=kinesis-local bats tests/kinesis-foo.bats
#   KP_NODE        the node binary for the servers and kp_admin (default node)
#   HOME           a temporary folder (per test; per file in setup_file)
#   AWS_*          every AWS_* variable of the caller is removed, then:
#                  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (the local stack's
#                  test credentials, see pipelines/localstack), AWS_REGION=us-east-1,
#                  AWS_EC2_METADATA_DISABLED=true, and AWS_ENDPOINT_URL=$KP_DEAD_ENDPOINT
#                  (http://127.0.0.1:9, where nothing listens) so that a tool
#                  whose service endpoint a test did not set fails at once on
#                  loopback instead of reaching AWS; unset it in a test that
#                  checks the default endpoint or a profile's endpoint_url.
#                  AWS_EC2_METADATA_SERVICE_ENDPOINT=$KP_DEAD_ENDPOINT too, so
#                  a test that re-enables IMDS without a server stays local.
#   proxies        http_proxy, https_proxy, HTTP_PROXY, HTTPS_PROXY, ALL_PROXY,
#                  all_proxy are unset; NO_PROXY=no_proxy=127.0.0.1,localhost
#
# After kp_stack_start (see below), also exported for the whole file:
#   AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_S3 (for the servers started),
#   KP_STACK_DIR (the stack's folder: env, servers, *.log), KP_KINESIS_SERVER
#   (kinesalite or kinesis-local), KP_KINESALITE_ENDPOINT,
#   KP_KINESIS_LOCAL_ENDPOINT, KP_S3RVER_ENDPOINT (those started).
#
# Functions
#   kp_stack_start [kinesis|kinesalite|kinesis-local]... [s3]
#                  in setup_file: start servers in $BATS_FILE_TMPDIR/stack and
#                  export their environment.  No argument: "kinesis s3".
#                  "kinesis" is the server named by $KP_KINESIS; "kinesalite"
#                  and "kinesis-local" name one explicitly (both may be given:
#                  AWS_ENDPOINT_URL_KINESIS is then the first); "s3" is s3rver.
#                  So `kp_stack_start s3` starts S3 alone, `kp_stack_start
#                  kinesis` Kinesis alone.
#   kp_stack_stop  in teardown_file: stop them (waits until they are gone).
#   kp_stack_pids  print the PIDs of the servers started, one a line.
#   kp_admin CMD ARG...
#                  administration against the stack (pipelines/lib/kp-admin.js):
#                  create-stream NAME SHARDS, delete-stream NAME, describe-stream
#                  NAME, list-streams, list-shards NAME, split-shard NAME SHARD
#                  [HASHKEY], merge-shards NAME SHARD ADJACENT, put-records NAME
#                  [--partition-key K | --partition-key-field F] (stdin lines),
#                  get-records NAME [--base64] (NDJSON: ShardId, SequenceNumber,
#                  PartitionKey, Data; base64 with --base64), create-bucket B, list-objects B [PREFIX],
#                  put-object B KEY [FILE], get-object B KEY (raw bytes),
#                  delete-object B KEY.  JSON on stdout; exit 1 on an API error
#                  (message on stderr), 2 on a usage error.
#   kp_unique_name PREFIX
#                  a name unique to this test run, valid as a stream and as a
#                  bucket name: lower-case PREFIX, test number, a unique tail.
#   kp_unit NAME MIN [valgrind]
#                  runs the TAP unit driver $KP_BUILD_DIR/tests/NAME_test
#                  (tests/c/NAME_test.c; under ASan+UBSan with
#                  KP_BUILD=build-asan), or with "valgrind" the driver of the
#                  normal build under valgrind, and fails unless it ran a plan
#                  of at least MIN cases, all ok, with no sanitizer or
#                  valgrind report.  TMPDIR is the test's own folder.
#
# Example
#   load helpers
#   setup_file() { kp_stack_start; }
#   teardown_file() { kp_stack_stop; }
#   @test "kin-put writes every line" {
#       s=$(kp_unique_name put)
#       kp_admin create-stream "$s" 2
#       run kin-put --stream "$s" < lines.ndjson
#       assert_success
#       run kp_admin get-records "$s"
#   }

KP_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
KP_BUILD=${KP_BUILD:-build}
case $KP_BUILD in
/*) KP_BUILD_DIR=$KP_BUILD ;;
*) KP_BUILD_DIR=$KP_ROOT/$KP_BUILD ;;
esac
export KP_ROOT KP_BUILD KP_BUILD_DIR
case ":$PATH:" in
*":$KP_BUILD_DIR/bin:"*) ;;
*) PATH=$KP_BUILD_DIR/bin:$PATH ;;
esac
export PATH

export KP_KINESIS=${KP_KINESIS:-kinesalite}
export KP_NODE=${KP_NODE:-node}
export KP_DEAD_ENDPOINT=http://127.0.0.1:9

load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

# The credentials every local server accepts (pipelines/localstack writes the
# same into the stack's env file).
_kp_reset_env() {
	local v
	for v in $(compgen -v AWS_); do
		unset "$v"
	done
	export AWS_ACCESS_KEY_ID=S3RVER
	export AWS_SECRET_ACCESS_KEY='kinpipeLocalStack/Secret+Key0123456789ab'
	export AWS_REGION=us-east-1
	export AWS_EC2_METADATA_DISABLED=true
	export AWS_ENDPOINT_URL=$KP_DEAD_ENDPOINT
	export AWS_EC2_METADATA_SERVICE_ENDPOINT=$KP_DEAD_ENDPOINT
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
	export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

	HOME=${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-${BATS_RUN_TMPDIR:-/tmp}}}/home
	mkdir -p "$HOME"
	export HOME

	# Sourced again before a test: keep the stack that setup_file started,
	# but only one of this file (never a stack of the caller's shell).
	if [[ -n ${BATS_FILE_TMPDIR:-} && -f $BATS_FILE_TMPDIR/stack/env ]]; then
		# shellcheck disable=SC1091
		source "$BATS_FILE_TMPDIR/stack/env"
	else
		unset KP_STACK_DIR KP_KINESIS_SERVER KP_KINESALITE_ENDPOINT \
		    KP_KINESIS_LOCAL_ENDPOINT KP_S3RVER_ENDPOINT
	fi
}
_kp_reset_env

kp_stack_start() {
	local dir=$BATS_FILE_TMPDIR/stack args=() a
	(($#)) || set -- kinesis s3
	for a; do
		case $a in
		kinesis) args+=(--kinesis "$KP_KINESIS") ;;
		kinesalite|kinesis-local) args+=(--kinesis "$a") ;;
		s3) args+=(--s3) ;;
		*)
			echo "kp_stack_start: unknown server '$a'" >&2
			return 2
			;;
		esac
	done
	case $KP_KINESIS in
	kinesalite|kinesis-local) ;;
	*)
		echo "kp_stack_start: KP_KINESIS must be kinesalite or kinesis-local, not '$KP_KINESIS'" >&2
		return 2
		;;
	esac
	"$KP_ROOT/pipelines/localstack" start "$dir" "${args[@]}" >/dev/null ||
	    return 1
	# tests/run stops whatever a file forgot to stop.
	if [[ -n ${KP_STACK_REGISTRY:-} ]]; then
		cat "$dir/servers" >>"$KP_STACK_REGISTRY" || true
	fi
	# shellcheck disable=SC1091
	source "$dir/env"
}

kp_stack_stop() {
	local dir=$BATS_FILE_TMPDIR/stack
	[[ -f $dir/servers ]] || return 0
	"$KP_ROOT/pipelines/localstack" stop "$dir"
}

kp_stack_pids() {
	awk '{ print $2 }' "$BATS_FILE_TMPDIR/stack/servers"
}

kp_admin() {
	"$KP_NODE" "$KP_ROOT/pipelines/lib/kp-admin.js" "$@"
}

kp_unique_name() {
	local p=${1:-t}
	p=$(printf '%s' "$p" | tr '[:upper:]' '[:lower:]' | tr '_.' '--' | tr -cd 'a-z0-9-')
	p=${p:0:24}
	[[ $p =~ ^[a-z0-9] ]] || p=t$p
	printf '%s-%s-%s%s\n' "$p" "${BATS_SUITE_TEST_NUMBER:-0}" "$BASHPID" \
	    "$((RANDOM % 1000))"
}

# _kp_tap_complete MIN: $output is a whole TAP run: a plan of at least MIN
# cases, as many ok lines as planned, no "not ok".
_kp_tap_complete() {
	local min=$1 plan oks fails
	plan=$(grep -aE '^1\.\.[0-9]+$' <<<"$output" | tail -n 1)
	plan=${plan#1..}
	oks=$(grep -acE '^ok [0-9]+( |$)' <<<"$output" || true)
	fails=$(grep -acE '^not ok [0-9]+' <<<"$output" || true)
	if [[ -z $plan ]]; then
		echo "no TAP plan in the output" >&2
		return 1
	fi
	if ((fails > 0)); then
		echo "$fails failed:" >&2
		grep -a -A3 '^not ok' <<<"$output" >&2
		return 1
	fi
	if ((plan < min)); then
		echo "only $plan cases, expected at least $min" >&2
		return 1
	fi
	if ((oks != plan)); then
		echo "$oks ok lines for a plan of $plan" >&2
		return 1
	fi
}

kp_unit() {
	local name=$1 min=$2 mode=${3:-} bin
	export TMPDIR=${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	if [[ $mode == valgrind ]]; then
		command -v valgrind >/dev/null ||
		    skip "valgrind is not installed (make deps installs it)"
		bin=$KP_ROOT/build/tests/${name}_test
	else
		bin=$KP_BUILD_DIR/tests/${name}_test
	fi
	[[ -x $bin ]] || {
		echo "missing $bin: run make (make asan for build-asan)" >&2
		return 1
	}
	if [[ $mode == valgrind ]]; then
		run --separate-stderr valgrind -q --error-exitcode=99 \
		    --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect,possible \
		    --show-leak-kinds=definite,indirect,possible "$bin"
	else
		run --separate-stderr "$bin"
	fi
	if ((status != 0)); then
		printf '%s\n' "$stderr" | head -n 60 >&2
	fi
	printf '%s\n' "$output" | tail -n 3
	_kp_tap_complete "$min" || return 1
	[[ $status -eq 0 ]] || {
		echo "$bin exited with status $status" >&2
		return 1
	}
	if [[ $stderr == *"runtime error"* || $stderr == *"AddressSanitizer"* ||
	    $stderr == *"LeakSanitizer"* || $stderr == *"definitely lost"* ]]; then
		printf '%s\n' "$stderr" | head -n 60 >&2
		return 1
	fi
}

# kp_usage_error TOOL REASON ARG...: TOOL ARG... (stdin empty) is a usage
# error: exit 2, nothing on stdout, and stderr exactly "TOOL: REASON" then
# the usage line of TOOL --help.
kp_usage_error() {
	local tool=$1 reason=$2 usage
	shift 2
	usage=$("$tool" --help | head -n 1)
	run --separate-stderr "$tool" "$@" </dev/null
	assert_failure 2
	assert_output ''
	assert_equal "$stderr" "$(printf '%s: %s\n%s' "$tool" "$reason" "$usage")"
}

# kp_wait_file FILE [PATTERN]: until FILE is non-empty (and has a line
# matching the basic regular expression PATTERN), for at most 60 s; a
# message and status 1 if it never is.
kp_wait_file() {
	local i
	for ((i = 0; i < 1200; i++)); do
		if [[ -s $1 ]] && { [[ -z ${2:-} ]] || grep -q -- "$2" "$1"; }; then
			return 0
		fi
		sleep 0.05
	done
	echo "gave up waiting for $1 ${2:-}" >&2
	return 1
}

# kp_faultproxy UPSTREAM RULES: the fault proxy (tests/lib/faultproxy.js)
# in front of UPSTREAM with the rules RULES (JSON), logging to $T/fp.log;
# sets FP_PID (kill and wait for it in teardown) and FPURL.
kp_faultproxy() {
	printf '%s\n' "$2" >"$T/rules.json"
	rm -f "$T/fp.port"
	"$KP_NODE" "$KP_ROOT/tests/lib/faultproxy.js" --upstream "$1" --rules "$T/rules.json" \
	    --port-file "$T/fp.port" --log "$T/fp.log" 2>>"$T/fp.err" 3>&- &
	FP_PID=$!
	local i
	for ((i = 0; i < 400; i++)); do
		[[ -s $T/fp.port ]] && break
		sleep 0.05
	done
	FPURL=http://127.0.0.1:$(cat "$T/fp.port")
}
