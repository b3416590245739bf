# bench/lib/bench.bash - what the bench/ scripts share: paths, the local
# stack, process CPU, the bare json-c parse, callgrind counts, and the result
# rows that bench/table.py turns into `make bench`'s table.
#
# Source it from a bench/ script after setting prog (the script's name for
# messages):
#
#   prog=kinesis.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/bench.bash"
#
# It sets root (the repository), build (absolute; $KP_BUILD, default build),
# bin ($build/bin) and python ($PYTHON, default python3).
#
# Functions
#   bench_die MSG...            "prog: MSG" on stderr, exit 1
#   bench_need_tools TOOL...    exit 1 unless $bin/TOOL exists for each
#   bench_need_modules NAME...  exit 1 unless node_modules/NAME is installed
#   bench_stack_start DIR ARG...
#                               pipelines/localstack start DIR ARG... (the
#                               servers on 127.0.0.1), then the environment of
#                               every client: the stack's env sourced, no
#                               profile, token or general endpoint of the
#                               caller, the test credentials, HOME=DIR/home,
#                               AWS_EC2_METADATA_DISABLED=true; exit 1 if an
#                               endpoint is not on loopback
#   bench_stack_stop DIR        stop the servers of DIR (quiet, never fails)
#   bench_stack_pid DIR NAME    the process id of server NAME
#   bench_cpu_of PID            CPU seconds of a live process (utime + stime)
#   bench_jsonc_parse OUT       compile bench/jsonc-parse.c into OUT
#   bench_callgrind OUT CMD...  run CMD under callgrind (stdin inherited,
#                               stdout to OUT.stdout); print the instructions
#                               it executed
#   bench_result ID LABEL WORKLOAD RECORDS WALL CPU RSS_KB IR_PER_RECORD
#                               one measurement for the table ('-' where there
#                               is none), appended to $BENCH_RESULTS
#   bench_note TEXT             a line printed under the table
#   bench_median                the median of the numbers on stdin, one a line
#   bench_commas N              N with thousands separators (1,000,000)
#   bench_table                 at the end of a script run on its own (no
#                               BENCH_RESULTS from bench/run): print the table
#                               of its own rows
#
# BENCH_RESULTS is a TSV file; bench/run gives every script the same one.  A
# script run on its own writes into a file of its own (set by this library).

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${KP_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/bin
python=${PYTHON:-python3}
if [[ -z ${BENCH_RESULTS:-} ]]; then
	bench_own_results=$(mktemp "${TMPDIR:-/tmp}/bench-results.XXXXXX")
	BENCH_RESULTS=$bench_own_results
fi

bench_die() {
	echo "${prog:-bench}: $*" >&2
	exit 1
}

bench_need_tools() {
	local t
	for t; do
		[[ -x $bin/$t ]] || bench_die "no $bin/$t: run make"
	done
}

bench_need_modules() {
	local m
	for m; do
		[[ -f $root/node_modules/$m/package.json ]] ||
		    bench_die "no $m in node_modules: run 'make deps' (or 'npm ci')"
	done
}

bench_stack_start() {
	local dir=$1
	shift
	"$root/pipelines/localstack" start "$dir" "$@" >/dev/null
	# Only what the stack says: no profile, token or general endpoint of
	# the caller's environment may leak in.
	unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL \
	    AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_CA_BUNDLE
	# shellcheck disable=SC1091
	source "$dir/env"
	[[ ${AWS_ENDPOINT_URL_KINESIS:-http://127.0.0.1:} == http://127.0.0.1:* &&
	    ${AWS_ENDPOINT_URL_S3:-http://127.0.0.1:} == http://127.0.0.1:* ]] ||
	    bench_die "the stack's endpoints are not on loopback"
	export AWS_ACCESS_KEY_ID=S3RVER
	export AWS_SECRET_ACCESS_KEY='kinpipeLocalStack/Secret+Key0123456789ab'
	export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
	export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=''
	export HOME=$dir/home
	mkdir -p "$HOME"
}

bench_stack_stop() {
	"$root/pipelines/localstack" stop "$1" >/dev/null 2>&1 || true
}

bench_stack_pid() {
	awk -v s="$2" '$1 == s { print $2 }' "$1/servers" | tail -n 1
}

bench_cpu_of() {
	local stat
	stat=$(<"/proc/$1/stat")
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	awk -v u="${12}" -v s="${13}" -v hz="$(getconf CLK_TCK)" \
	    'BEGIN { printf "%.2f", (u + s) / hz }'
}

bench_jsonc_parse() {
	# shellcheck disable=SC2046
	cc -O2 -o "$1" "$root/bench/jsonc-parse.c" $(pkg-config --cflags --libs json-c)
}

bench_callgrind() {
	local out=$1
	shift
	valgrind --tool=callgrind --callgrind-out-file="$out" "$@" \
	    >"$out.stdout" 2>"$out.err" ||
	    { echo "${prog:-bench}: callgrind $*: failed" >&2; cat "$out.err" >&2; return 1; }
	awk '/^(summary|totals):/ { n = $2 } END { print n + 0 }' "$out"
}

bench_result() {
	(($# == 8)) || bench_die "bench_result: 8 fields, got $#: $*"
	local IFS=$'\t'
	printf '%s\n' "$*" >>"$BENCH_RESULTS"
}

bench_note() {
	printf '#\t%s\n' "$*" >>"$BENCH_RESULTS"
}

bench_median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

bench_commas() {
	echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'
}

bench_table() {
	[[ -n ${bench_own_results:-} ]] || return 0
	echo
	"$python" "$root/bench/table.py" "$bench_own_results"
	rm -f "$bench_own_results"
}
