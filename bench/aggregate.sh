#!/usr/bin/env bash
# bench/aggregate.sh - kin-put with and without --aggregate against shards
# that enforce Kinesis' write limits: records per shard-second, and the
# ratio.  tests/bench.bats runs it at a smoke size.  See bench/README.md,
# "aggregate".
#
#   bench/aggregate.sh [--records N] [--shards S] [--runs R]
#
#   --records N   the bundled real trades (78,638 lines), truncated or
#                 repeated to N lines (default 30000: about 40 s without
#                 --aggregate, at 1,000 records a second)
#   --shards S    shards of each stream (default 1)
#   --runs R      runs of each, interleaved; the median is reported
#                 (default 1)
#
# Environment: KP_BUILD (build directory, default build), PYTHON (default
# python3), TMPDIR (scratch, removed at exit).
#
# A real shard takes at most 1,000 records and 1 MiB a second; kinesalite
# enforces neither, so kin-put writes through tests/lib/faultproxy.js with
# its shard_limits rule (tests/lib/faultproxy.md), which refuses the entries
# past a shard's limits with ProvisionedThroughputExceededException, as
# Kinesis does, and kin-put retries them.  Both runs use the symbol as
# partition key and --max-attempts 1000 (throttling is the point here, not
# a failure); each stream is read back with kin-read and compared with the
# input (same lines, same order per key), or the benchmark is invalid
# (exit 1).

set -euo pipefail

prog=aggregate.sh
records=30000
shards=1
runs=1

usage() {
	sed -n '7p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

posint() {
	[[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "$prog: $1: expected a positive number, got '$2'" >&2; usage; }
}

while (($#)); do
	case $1 in
	--records) posint "$1" "${2:-}"; records=$2; shift 2 ;;
	--shards) posint "$1" "${2:-}"; shards=$2; shift 2 ;;
	--runs) posint "$1" "${2:-}"; runs=$2; shift 2 ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "$prog: unknown option '$1'" >&2; usage ;;
	esac
done

# shellcheck source=bench/lib/bench.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib/bench.bash"
bench_need_tools kin-put kin-read
bench_need_modules kinesalite
util=$root/bench/kinesis_util.py

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aggregate-bench.XXXXXX")
stack=$tmp/stack
fp_pid=
cleanup() {
	[[ -z $fp_pid ]] || { kill "$fp_pid" 2>/dev/null; wait "$fp_pid" 2>/dev/null; } || true
	bench_stack_stop "$stack"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

zcat "$root/tests/data/market-trades.ndjson.gz" >"$tmp/all.ndjson"
awk -v n="$records" '{ a[NR] = $0 } END { for (i = 0; i < n; i++) print a[i % NR + 1] }' \
    "$tmp/all.ndjson" >"$tmp/data.ndjson"
bytes=$(wc -c <"$tmp/data.ndjson")

echo "$prog: starting kinesalite and the fault proxy (shard_limits) on 127.0.0.1 ..." >&2
bench_stack_start "$stack" --kinesis kinesalite
printf '%s\n' '[{"match":{"target":"PutRecords"},"action":{"shard_limits":{}}}]' >"$tmp/rules.json"
node "$root/tests/lib/faultproxy.js" --upstream "$AWS_ENDPOINT_URL_KINESIS" \
    --rules "$tmp/rules.json" --port-file "$tmp/fp.port" --log "$tmp/fp.log" \
    2>"$tmp/fp.err" &
fp_pid=$!
for ((i = 0; i < 200; i++)); do
	[[ -s $tmp/fp.port ]] && break
	sleep 0.05
done
[[ -s $tmp/fp.port ]] || bench_die "the fault proxy did not start: $(cat "$tmp/fp.err")"
proxy=http://127.0.0.1:$(cat "$tmp/fp.port")

invalid=0
declare -A res=() status=()

# one MODE RUN OPTION...: kin-put through the proxy into a new stream,
# timed; then the stream read back directly and checked.
one() {
	local mode=$1 r=$2 s code=0 v wall user sys rss
	shift 2
	s=$mode-$r
	"$root/pipelines/localstack" create-stream "$s" "$shards" >/dev/null
	"$python" "$util" time "$tmp/time" "$bin/kin-put" -q --stream "$s" \
	    --endpoint-url "$proxy" --partition-key-field symbol --max-attempts 1000 \
	    --stats "$tmp/$s.stats" "$@" <"$tmp/data.ndjson" 2>"$tmp/err" || code=$?
	read -r wall user sys _ rss <"$tmp/time"
	if ((code != 0)); then
		echo "$prog: kin-put ($mode) exited with status $code:" >&2
		tail -n 5 "$tmp/err" | sed 's/^/  /' >&2
		status[$mode]="exit $code"
		invalid=1
	fi
	"$bin/kin-read" -q --stream "$s" >"$tmp/readback.ndjson"
	v=$("$python" "$util" verify symbol "$tmp/data.ndjson" "$tmp/readback.ndjson") || {
		status[$mode]="INVALID: $v"
		invalid=1
	}
	[[ -n ${status[$mode]:-} ]] || status[$mode]=ok
	res[$mode]+="$wall $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.6f", u + s }') $rss $(jq .kinesis_records "$tmp/$s.stats") $(jq .retried "$tmp/$s.stats")"$'\n'
	printf '  %-10s wall %7.2f s  %s\n' "$mode" "$wall" "${status[$mode]}" >&2
}

echo "$prog: $records records, $shards shard(s), $runs run(s) ..." >&2
for ((r = 1; r <= runs; r++)); do
	one plain "$r"
	one aggregate "$r" --aggregate
done

# median MODE FIELD: 1 wall, 2 cpu, 3 max RSS KB, 4 Kinesis records,
# 5 records retried.
median() {
	printf '%s' "${res[$1]}" | awk -v f="$2" 'NF { print $f }' | bench_median
}

per_shard() {
	awk -v n="$records" -v w="$(median "$1" 1)" -v s="$shards" 'BEGIN { printf "%.0f", n / w / s }'
}

echo
echo "aggregate benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "data: $records trades ($bytes bytes), $shards-shard kinesalite streams, partition key = symbol,"
echo "      through the fault proxy at 1,000 records and 1 MiB a second per shard"
printf '%-22s %8s %9s %12s %10s %9s  %s\n' kin-put wall_s rec/s rec/shard-s kinesis_rec retried verified
for mode in plain aggregate; do
	printf '%-22s %8.2f %9.0f %12s %10s %9s  %s\n' \
	    "$([[ $mode == plain ]] && echo kin-put || echo 'kin-put --aggregate')" \
	    "$(median "$mode" 1)" "$(awk -v n="$records" -v w="$(median "$mode" 1)" 'BEGIN { print n / w }')" \
	    "$(per_shard "$mode")" "$(median "$mode" 4)" "$(median "$mode" 5)" "${status[$mode]}"
done
ratio=$(awk -v a="$(median plain 1)" -v b="$(median aggregate 1)" 'BEGIN { printf "%.2f", a / b }')
echo "ratio: --aggregate stores ${ratio}x the records per shard-second"

what="put $(bench_commas "$records") trades into $shards shard(s) at 1,000 rec/s + 1 MiB/s per shard (fault proxy)"
bench_result agg.kin-put kin-put "$what" "$records" "$(median plain 1)" "$(median plain 2)" \
    "$(median plain 3)" -
bench_result agg.kin-put-aggregate "kin-put --aggregate" "$what" "$records" \
    "$(median aggregate 1)" "$(median aggregate 2)" "$(median aggregate 3)" -
bench_note "aggregate: records per shard-second, kin-put $(per_shard plain), kin-put --aggregate $(per_shard aggregate) (${ratio}x; $(median aggregate 4) Kinesis records for $records trades); $shards shard(s), median of $runs run(s)"
bench_table
((invalid == 0)) || bench_die "INVALID: a run lost, invented or reordered records (see above)"
