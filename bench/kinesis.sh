#!/usr/bin/env bash
# bench/kinesis.sh - kin-put and kin-read side by side with boto3 and the AWS
# CLI against the same local Kinesis server, in one run: wall time,
# records/s, client CPU and server CPU, and the ratios the targets are about.
# tests/bench.bats runs it at a smoke size.  See bench/README.md, "kinesis".
#
#   bench/kinesis.sh [--records N] [--server kinesalite|kinesis-local]
#                    [--runs R] [--seed-records N] [--cli-records N]
#
#   --records N       records per producer and in the stream the readers read:
#                     the bundled real trades (78,638 lines), truncated or
#                     repeated to N lines (default 50000)
#   --server S        kinesalite (default) or kinesis-local
#   --runs R          runs of kin-put, boto3 put_records, kin-read and the
#                     boto3 reader, interleaved; the median of each figure
#                     is reported (default 3)
#   --seed-records N  records for boto3 put_record, one call each (default
#                     10000: about 1 ms of client CPU a record, and the
#                     figures per record do not depend on N); 0 skips it
#   --cli-records N   records for the AWS CLI producer (default 5000: each
#                     call of the CLI starts a Python interpreter); 0 skips
#                     both CLI columns
#
# Environment: KP_BUILD (build directory, default build), PYTHON (default
# python3), AWS (the AWS CLI, default aws), TMPDIR (scratch, removed at exit).
#
# The script starts its own server on 127.0.0.1 in a temporary folder with
# pipelines/localstack and stops it at exit; credentials come from the
# stack's env, HOME is a temporary folder, AWS_EC2_METADATA_DISABLED=true,
# and every client is given the loopback endpoint explicitly.  Each producer
# run writes into a fresh 4-shard stream with the symbol as partition key;
# every stream is then read back (untimed, with kin-read) and compared with
# the input: same lines, same order per key.  The readers read the first
# kin-put stream and their output is compared the same way.  A run that
# loses or invents a record makes the benchmark invalid (exit 1).
#
# Client CPU is user + system time of the client process and what it waited
# for (wait4), start-up included, as a user would run it; server CPU is the
# server process's utime + stime from /proc across the run.  A short
# warm-up (untimed) runs every client once first, so that the server's JIT
# is warm for whichever client comes first.

set -euo pipefail

prog=kinesis.sh
records=50000
server=kinesalite
runs=3
seed_records=10000
cli_records=5000

usage() {
	sed -n '7,8s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

posint() {
	[[ $2 =~ ^[0-9]+$ ]] || { echo "$prog: $1: expected a number, got '$2'" >&2; usage; }
}

while (($#)); do
	case $1 in
	--records) posint "$1" "${2:-}"; records=$2; shift 2 ;;
	--server) server=${2:-}; shift 2 ;;
	--runs) posint "$1" "${2:-}"; runs=$2; shift 2 ;;
	--seed-records) posint "$1" "${2:-}"; seed_records=$2; shift 2 ;;
	--cli-records) posint "$1" "${2:-}"; cli_records=$2; shift 2 ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "$prog: unknown option '$1'" >&2; usage ;;
	esac
done
[[ $server == kinesalite || $server == kinesis-local ]] ||
    { echo "$prog: --server: kinesalite or kinesis-local, not '$server'" >&2; usage; }
((records > 0 && runs > 0)) || { echo "$prog: --records and --runs must be positive" >&2; usage; }
((seed_records <= records)) || seed_records=$records
((cli_records <= records)) || cli_records=$records

# shellcheck source=bench/lib/bench.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib/bench.bash"
kinput=$build/bin/kin-put
kinread=$build/bin/kin-read
aws=${AWS:-aws}
util=$root/bench/kinesis_util.py
b3=$root/bench/kinesis_boto3.py
cli=$root/bench/kinesis_cli.sh

die() {
	bench_die "$@"
}

[[ -x $kinput && -x $kinread ]] || die "no $kinput or $kinread: run make"
command -v "$python" >/dev/null ||
    die "no $python (needed to measure): apt-get install python3"
command -v jq >/dev/null || die "no jq: apt-get install jq"
[[ -f $root/node_modules/$server/package.json ]] ||
    die "no $server in node_modules: run 'make deps' (or 'npm ci')"

have_boto3=1
if ! "$python" -c 'import boto3' 2>/dev/null; then
	have_boto3=0
	echo "$prog: $python cannot import boto3: boto3 columns skipped" \
	    "(Debian: apt-get install python3-boto3; else pip install boto3)" >&2
fi
have_cli=1
if ((cli_records == 0)); then
	have_cli=0
elif ! command -v "$aws" >/dev/null; then
	have_cli=0
	echo "$prog: no AWS CLI ($aws): CLI columns skipped" \
	    "(Debian: apt-get install awscli; else pip install awscli)" >&2
fi
((seed_records > 0)) || have_seed=0
have_seed=${have_seed:-$have_boto3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kinesis-bench.XXXXXX")
stack=$tmp/stack
cleanup() {
	bench_stack_stop "$stack"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$tmp"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "$prog: starting $server on 127.0.0.1 ..." >&2
bench_stack_start "$stack" --kinesis "$server"
server_pid=$(bench_stack_pid "$stack" "$server")
[[ -r /proc/$server_pid/stat ]] || die "no server process $server_pid"

# Server CPU seconds so far.
server_cpu() {
	bench_cpu_of "$server_pid"
}

create() {
	"$root/pipelines/localstack" create-stream "$1" 4 >/dev/null
}

# The data: the real trades, truncated or repeated to N lines.
zcat "$root/tests/data/market-trades.ndjson.gz" >"$tmp/all.ndjson"
awk -v n="$records" '{ a[NR] = $0 } END { for (i = 0; i < n; i++) print a[i % NR + 1] }' \
    "$tmp/all.ndjson" >"$tmp/data.ndjson"
head -n "$seed_records" "$tmp/data.ndjson" >"$tmp/seed.ndjson"
head -n "$cli_records" "$tmp/data.ndjson" >"$tmp/cli.ndjson"
warm=$((records < 5000 ? records : 5000))
head -n "$warm" "$tmp/data.ndjson" >"$tmp/warm.ndjson"

invalid=0
# Results: res[TOOL] holds lines "wall cpu server maxrss"; status[TOOL] the
# verification (ok, or what went wrong).
declare -A res=() status=()

# timed TOOL IN OUT CMD...: one measured run of CMD, stdin IN, stdout OUT.
timed() {
	local tool=$1 in=$2 out=$3 s0 s1 wall user sys code srv rss
	shift 3
	s0=$(server_cpu)
	code=0
	"$python" "$util" time "$tmp/time" "$@" <"$in" >"$out" 2>"$tmp/err" || code=$?
	s1=$(server_cpu)
	read -r wall user sys _ rss <"$tmp/time"
	if ((code != 0)); then
		echo "$prog: $tool exited with status $code:" >&2
		tail -n 5 "$tmp/err" | sed 's/^/  /' >&2
		status[$tool]="exit $code"
		invalid=1
	fi
	srv=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')
	res[$tool]+="$wall $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.6f", u + s }') $srv $rss"$'\n'
	printf '  %-22s wall %7.2f s  client cpu %7.3f s  server cpu %6.2f s\n' \
	    "$tool" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$srv" >&2
}

# check TOOL EXPECTED ACTUAL: verify a run's records; the worst result of a
# tool's runs is kept.
check() {
	local tool=$1 r code=0
	r=$("$python" "$util" verify symbol "$2" "$3") || code=$?
	case $code in
	0) [[ -n ${status[$tool]:-} ]] || status[$tool]=ok ;;
	1) [[ ${status[$tool]:-ok} != ok ]] || status[$tool]="order: $r" ;;
	*) status[$tool]="INVALID: $r"; invalid=1 ;;
	esac
	[[ $code == 0 ]] || echo "$prog: $tool: $r" >&2
}

# readback STREAM: the stream's records, read untimed with kin-read.
readback() {
	"$kinread" -q --stream "$1" >"$tmp/readback.ndjson"
}

echo "$prog: warm-up ($warm records, untimed) ..." >&2
create warmup
"$kinput" -q --stream warmup --partition-key-field symbol <"$tmp/warm.ndjson"
"$kinread" -q --stream warmup >/dev/null
if ((have_boto3)); then
	create warmup-b3
	"$python" "$b3" put-records warmup-b3 symbol <"$tmp/warm.ndjson" 2>/dev/null
	"$python" "$b3" read warmup-b3 >/dev/null 2>&1
fi

# Fixed cost of each client: producers on empty input, readers on an empty
# 4-shard stream.
echo "$prog: fixed costs (empty input, empty stream), $runs runs ..." >&2
create empty
: >"$tmp/empty.ndjson"
for ((r = 1; r <= runs; r++)); do
	timed kin-put/0 "$tmp/empty.ndjson" /dev/null "$kinput" -q --stream empty --partition-key-field symbol
	timed kin-read/0 /dev/null /dev/null "$kinread" -q --stream empty
	if ((have_boto3)); then
		timed b3-batch/0 "$tmp/empty.ndjson" /dev/null "$python" "$b3" put-records empty symbol
		timed b3-read/0 /dev/null /dev/null "$python" "$b3" read empty
	fi
done

echo "$prog: producers, $records records, $runs runs ..." >&2
for ((r = 1; r <= runs; r++)); do
	create "kin-put-$r"
	timed kin-put "$tmp/data.ndjson" /dev/null \
	    "$kinput" -q --stream "kin-put-$r" --partition-key-field symbol
	readback "kin-put-$r"
	check kin-put "$tmp/data.ndjson" "$tmp/readback.ndjson"
	if ((have_boto3)); then
		create "b3-batch-$r"
		timed b3-batch "$tmp/data.ndjson" /dev/null \
		    "$python" "$b3" put-records "b3-batch-$r" symbol
		readback "b3-batch-$r"
		check b3-batch "$tmp/data.ndjson" "$tmp/readback.ndjson"
	fi
done
if ((have_seed)); then
	echo "$prog: boto3 put_record, $seed_records records ..." >&2
	create b3-seed
	timed b3-seed "$tmp/seed.ndjson" /dev/null "$python" "$b3" put-record b3-seed symbol
	readback b3-seed
	check b3-seed "$tmp/seed.ndjson" "$tmp/readback.ndjson"
fi
if ((have_cli)); then
	echo "$prog: aws kinesis put-records, $cli_records records ..." >&2
	create cli-put
	timed cli-put "$tmp/cli.ndjson" /dev/null "$cli" put cli-put symbol
	readback cli-put
	check cli-put "$tmp/cli.ndjson" "$tmp/readback.ndjson"
fi

echo "$prog: readers, stream kin-put-1, $runs runs ..." >&2
for ((r = 1; r <= runs; r++)); do
	timed kin-read /dev/null "$tmp/out.ndjson" "$kinread" -q --stream kin-put-1
	check kin-read "$tmp/data.ndjson" "$tmp/out.ndjson"
	if ((have_boto3)); then
		timed b3-read /dev/null "$tmp/out.ndjson" "$python" "$b3" read kin-put-1
		check b3-read "$tmp/data.ndjson" "$tmp/out.ndjson"
	fi
done
if ((have_cli)); then
	echo "$prog: aws kinesis get-records loop ..." >&2
	timed cli-read /dev/null "$tmp/out.ndjson" "$cli" read kin-put-1
	check cli-read "$tmp/data.ndjson" "$tmp/out.ndjson"
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# median TOOL FIELD: the median of a figure over a tool's runs (field 1 wall,
# 2 client cpu, 3 server cpu, 4 client max RSS KB).
median() {
	printf '%s' "${res[$1]}" | awk -v f="$2" 'NF { print $f }' | bench_median
}

# ---- report ----------------------------------------------------------------

ver_kin=$("$kinput" --version 2>&1 | head -n 1)
ver_py=$("$python" --version 2>&1)
ver_b3=none
((have_boto3)) && ver_b3=$("$python" -c 'import boto3, botocore; print(f"boto3 {boto3.__version__} (botocore {botocore.__version__})")')
ver_cli=none
((have_cli)) && ver_cli=$("$aws" --version 2>&1 | cut -d' ' -f1)
ver_srv=$(jq -r '"\(.name) \(.version)"' "$root/node_modules/$server/package.json")
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

echo
echo "kinesis benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, ${cpu_model:-unknown CPU}, load average $load_start at start, $load_end at end"
echo "versions: $ver_kin; $ver_py; $ver_b3; $ver_cli; node $(node --version); server $ver_srv on 127.0.0.1"
echo "data: $records records (real trades, $(wc -l <"$tmp/all.ndjson") lines, $( ((records > $(wc -l <"$tmp/all.ndjson"))) && echo repeated || echo truncated)), 4-shard streams, partition key = symbol"
echo "figures: median of $runs run(s) for kin-put, boto3 put_records, kin-read, boto3 reader; 1 run for the others"
echo "cpu = client process user+sys, start-up included; net = (cpu - fixed cost) per record, fixed cost = the same client on empty input / an empty stream"
echo

row_fmt='%-30s %7s %7s %8s %8s %7s %7s %7s %6s  %s\n'
# shellcheck disable=SC2059
printf "$row_fmt" client records wall_s rec/s cpu_s us/rec net_us srv_s srv% verified

# row TOOL LABEL RECORDS [FIXED-TOOL]: prints a row and sets the globals
# w_TOOL, c_TOOL (per-record CPU µs) for the ratios.
declare -A W=() C=() N=() RATE=()
row() {
	local tool=$1 label=$2 n=$3 fixed=${4:-} wall cpu srv fc net what
	if [[ -z ${res[$tool]:-} ]]; then
		# shellcheck disable=SC2059
		printf "$row_fmt" "$label" - - - - - - - - skipped
		return
	fi
	wall=$(median "$tool" 1)
	cpu=$(median "$tool" 2)
	srv=$(median "$tool" 3)
	net=-
	if [[ -n $fixed && -n ${res[$fixed]:-} ]]; then
		fc=$(median "$fixed" 2)
		net=$(awk -v c="$cpu" -v f="$fc" -v n="$n" 'BEGIN { printf "%.1f", (c - f) * 1e6 / n }')
	fi
	W[$tool]=$wall
	C[$tool]=$(awk -v c="$cpu" -v n="$n" 'BEGIN { printf "%.2f", c * 1e6 / n }')
	N[$tool]=$net
	RATE[$tool]=$(awk -v w="$wall" -v n="$n" 'BEGIN { printf "%.0f", n / w }')
	# shellcheck disable=SC2059
	printf "$row_fmt" "$label" "$n" \
	    "$(awk -v w="$wall" 'BEGIN { printf "%.2f", w }')" "${RATE[$tool]}" \
	    "$(awk -v c="$cpu" 'BEGIN { printf "%.3f", c }')" \
	    "$(awk -v c="${C[$tool]}" 'BEGIN { printf "%.1f", c }')" "$net" \
	    "$srv" "$(awk -v s="$srv" -v w="$wall" 'BEGIN { printf "%.0f", 100 * s / w }')" \
	    "${status[$tool]:-?}"
	case $tool in
	*read) what="read $(bench_commas "$n") records from a 4-shard $server stream" ;;
	*) what="put $(bench_commas "$n") records into a 4-shard $server stream" ;;
	esac
	bench_result "kin.$tool" "$label" "$what" "$n" "$wall" "$cpu" "$(median "$tool" 4)" -
}

echo "producers"
row kin-put "kin-put" "$records" kin-put/0
row b3-batch "boto3 put_records x500" "$records" b3-batch/0
row b3-seed "boto3 put_record (seed)" "$seed_records" b3-batch/0
row cli-put "aws kinesis put-records x500" "$cli_records"
echo "readers (stream kin-put-1)"
row kin-read "kin-read" "$records" kin-read/0
row b3-read "boto3 get_records" "$records" b3-read/0
row cli-read "aws kinesis get-records loop" "$records"
echo "fixed costs (no record)"
for t in kin-put/0 b3-batch/0 kin-read/0 b3-read/0; do
	[[ -n ${res[$t]:-} ]] || continue
	printf '  %-28s cpu %.3f s, wall %.2f s\n' "$t" "$(median "$t" 2)" "$(median "$t" 1)"
done
echo "  (srv% = server CPU / wall: near 100 means the single-threaded server is the bottleneck)"
echo

# ratio A B TARGET-TPUT TARGET-CPU: kin tool A against tool B.
ratio() {
	local a=$1 b=$2 tp cpu net
	[[ -n ${W[$a]:-} && -n ${W[$b]:-} ]] || { echo "$a vs $b: not measured"; return; }
	tp=$(awk -v a="${RATE[$a]}" -v b="${RATE[$b]}" 'BEGIN { printf "%.2f", a / b }')
	cpu=$(awk -v a="${C[$a]}" -v b="${C[$b]}" 'BEGIN { printf "%.1f", b / a }')
	net=-
	[[ ${N[$a]} == - || ${N[$b]} == - ]] ||
	    net=$(awk -v a="${N[$a]}" -v b="${N[$b]}" 'BEGIN { printf "%.1f", (a > 0 ? b / a : 0) }')
	printf '%s vs %s: throughput %sx (target >= 1: %s); client CPU per record 1/%s of %s (target <= 1/5: %s); without fixed costs 1/%s\n' \
	    "$a" "$b" "$tp" "$(awk -v x="$tp" 'BEGIN { print (x >= 1 ? "met" : "NOT met") }')" \
	    "$cpu" "$b" "$(awk -v x="$cpu" 'BEGIN { print (x >= 5 ? "met" : "NOT met") }')" "$net"
}
echo "ratios"
ratio kin-put b3-batch
[[ -z ${W[b3-seed]:-} || -z ${W[kin-put]:-} ]] ||
    printf 'kin-put vs b3-seed: throughput %sx; client CPU per record 1/%s\n' \
	"$(awk -v a="${RATE[kin-put]}" -v b="${RATE[b3-seed]}" 'BEGIN { printf "%.1f", a / b }')" \
	"$(awk -v a="${C[kin-put]}" -v b="${C[b3-seed]}" 'BEGIN { printf "%.0f", b / a }')"
[[ -z ${W[cli-put]:-} || -z ${W[kin-put]:-} ]] ||
    printf 'kin-put vs cli-put: throughput %sx; client CPU per record 1/%s\n' \
	"$(awk -v a="${RATE[kin-put]}" -v b="${RATE[cli-put]}" 'BEGIN { printf "%.1f", a / b }')" \
	"$(awk -v a="${C[kin-put]}" -v b="${C[cli-put]}" 'BEGIN { printf "%.0f", b / a }')"
ratio kin-read b3-read
[[ -z ${W[cli-read]:-} || -z ${W[kin-read]:-} ]] ||
    printf 'kin-read vs cli-read: throughput %sx; client CPU per record 1/%s\n' \
	"$(awk -v a="${RATE[kin-read]}" -v b="${RATE[cli-read]}" 'BEGIN { printf "%.1f", a / b }')" \
	"$(awk -v a="${C[kin-read]}" -v b="${C[cli-read]}" 'BEGIN { printf "%.0f", b / a }')"

bench_note "kinesis: client CPU = user + sys of the client and what it waited for, start-up included; median of $runs runs (1 for the seed and the CLI); load average $load_start at start, $load_end at end; $ver_kin, $ver_b3, $ver_cli, $ver_srv"
bench_table
if ((invalid)); then
	echo "$prog: INVALID: some run lost, invented or failed records (see 'verified')" >&2
	exit 1
fi
