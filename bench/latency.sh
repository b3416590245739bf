#!/usr/bin/env bash
# bench/latency.sh - end-to-end latency of the reference job, from kin-put
# storing a trade to the trade, flagged, being readable in S3, with
# checkpoints every 1 s and 10 s and without.  Never run by the tests.  See
# bench/README.md, "The cost of exactly-once", "Latency".
#
#   bench/latency.sh [-c COPIES] [-s SPEED] [-R ROLL] [-i INTERVALS] [-P MS]
#                    [-k DIR]
#
#   -c COPIES     copies of the bundled trades sent, each 12 minutes of event
#                 time after the previous (default 10; 23 flagged trades a
#                 copy)
#   -s SPEED      kin-put --speed: times real time (default 60: a copy's 10 min
#                 50 s of trades in 11 s, 7,000 records/s on average)
#   -R ROLL       s3-put --rollover and --inactivity (default 1s)
#   -i INTERVALS  checkpoint intervals, "none" for a run without checkpoints
#                 (default "none 1s 10s")
#   -P MS         how often the watcher lists the bucket (default 100)
#   -k DIR        keep each run's logs and results in DIR/run-INTERVAL
#
# Environment: KP_BUILD (build directory, default build), PYTHON (default
# python3), TMPDIR (scratch, removed at exit).
#
# One run per interval, one after the other, each with a fresh 4-shard stream,
# checkpoint directory and S3 prefix: the processor (kin-read --follow |
# window-stats | sigma-flag | s3-put) is started first, then kin-put replays
# the trades at SPEED times their pace (--pace-field timestamp) with
# --receipts, and a watcher lists and reads the prefix every MS.  The run ends
# once every trade the job flags (the same job run over the same file) has
# been read back, or after a time-out; then kin-read gets SIGTERM (a final
# checkpoint) and the pipeline drains.  Every time is the wall clock of this
# machine, noted by bench/stamp.py (kin-put's receipts, sigma-flag's and
# s3-put's output) and bench/s3-objects.js (the watcher); bench/latency.py
# matches flagged trades by a line number added to every record ("n").
#
# The servers are started with pipelines/localstack on 127.0.0.1 and stopped
# at exit; credentials are the stack's, HOME is a temporary folder,
# AWS_EC2_METADATA_DISABLED=true.

set -euo pipefail

prog=latency.sh
copies=10
speed=60
roll=1s
intervals='none 1s 10s'
poll=100
keep=

usage() {
	sed -n '7,8s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

while getopts c:s:R:i:P:k:h opt; do
	case $opt in
	c) copies=$OPTARG ;;
	s) speed=$OPTARG ;;
	R) roll=$OPTARG ;;
	i) intervals=$OPTARG ;;
	P) poll=$OPTARG ;;
	k) keep=$OPTARG ;;
	h) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
(($# == 0)) || usage

die() {
	echo "$prog: $*" >&2
	exit 1
}

# ms DURATION: a duration of the tools' form (500ms, 1s, 2m) in ms.
ms() {
	case $1 in
	*ms) [[ ${1%ms} =~ ^[0-9]+$ ]] && echo $((10#${1%ms})) ;;
	*s) [[ ${1%s} =~ ^[0-9]+$ ]] && echo $((10#${1%s} * 1000)) ;;
	*m) [[ ${1%m} =~ ^[0-9]+$ ]] && echo $((10#${1%m} * 60000)) ;;
	*) false ;;
	esac
}

[[ $copies =~ ^[1-9][0-9]*$ ]] || { echo "$prog: -c: a positive number, not '$copies'" >&2; usage; }
[[ $speed =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "$prog: -s: a number, not '$speed'" >&2; usage; }
[[ $poll =~ ^[1-9][0-9]*$ ]] || { echo "$prog: -P: milliseconds, not '$poll'" >&2; usage; }
roll_ms=$(ms "$roll") || { echo "$prog: -R: a duration (500ms, 1s, 2m), not '$roll'" >&2; usage; }
for i in $intervals; do
	[[ $i == none ]] || ms "$i" >/dev/null ||
	    { echo "$prog: -i: 'none' or durations (500ms, 1s, 2m), not '$i'" >&2; usage; }
done

# shellcheck source=bench/lib/bench.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib/bench.bash"
bench_need_tools kin-put kin-read window-stats sigma-flag s3-put
command -v "$python" >/dev/null || die "no $python: apt-get install python3"
command -v jq >/dev/null || die "no jq: apt-get install jq"
bench_need_modules kinesalite s3rver

tmp=$(mktemp -d "${TMPDIR:-/tmp}/latency-bench.XXXXXX")
stack=$tmp/stack
pids=$tmp/pids
mkdir -p "$pids"

# Processes of ours still running, by the ids they wrote: the pipeline's
# stages stop on SIGTERM, the watcher too.
stop_ours() {
	local f
	for f in "$pids"/*; do
		[[ -f $f ]] || continue
		kill -TERM "$(<"$f")" 2>/dev/null || true
		rm -f "$f"
	done
}
cleanup() {
	stop_ours
	wait 2>/dev/null || true
	bench_stack_stop "$stack"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# spawn PIDFILE CMD...: CMD, after writing its process id to PIDFILE.
spawn() {
	sh -c 'echo "$$" >"$0" && exec "$@"' "$@"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "$prog: starting kinesalite and s3rver on 127.0.0.1 ..." >&2
bench_stack_start "$stack" --kinesis kinesalite --s3
bucket=latency
"$root/pipelines/localstack" create-bucket "$bucket" >/dev/null

echo "$prog: data: $copies copies of the trades ..." >&2
zcat "$root/tests/data/market-trades.ndjson.gz" >"$tmp/trades.ndjson"
"$python" "$root/bench/gen-trades.py" --copies "$copies" --shift 12 --close \
    --number n "$tmp/trades.ndjson" >"$tmp/data.ndjson"
records=$(wc -l <"$tmp/data.ndjson")
job=(--key-field symbol --time-field timestamp --value-field price --size 1m
    --emit records)
"$bin/window-stats" -q "${job[@]}" <"$tmp/data.ndjson" |
    "$bin/sigma-flag" -q --sigma 3 | jq -r .n >"$tmp/expected"
nexpected=$(wc -l <"$tmp/expected")
((nexpected > 0)) || die "the job flags nothing in the data"
span=$(awk -v c="$copies" -v s="$speed" 'BEGIN { printf "%.0f", c * 720 / s }')

# Warm-up, untimed: kinesalite's JIT and the page cache, whichever run is
# first.
echo "$prog: warm-up ..." >&2
"$root/pipelines/localstack" create-stream warmup 4 >/dev/null
head -n 20000 "$tmp/data.ndjson" |
    "$bin/kin-put" -q --stream warmup --partition-key-field symbol
"$bin/kin-read" -q --stream warmup >/dev/null

# run INTERVAL: one measured run; its logs in $tmp/run-INTERVAL.
run() {
	local iv=$1 dir=$tmp/run-$1 stream=lat-$1 ck=() src=() sink=() seen
	local deadline t_ms
	mkdir -p "$dir"
	if [[ $iv == none ]]; then
		sink=(--spool-dir "$dir/spool")
		t_ms=0
	else
		ck=(--checkpoint-dir "$dir/ck")
		src=("${ck[@]}" --checkpoint-interval "$iv")
		sink=("${ck[@]}")
		t_ms=$(ms "$iv")
	fi
	"$root/pipelines/localstack" create-stream "$stream" 4 >/dev/null
	spawn "$pids/watch" node "$root/bench/s3-objects.js" watch "$bucket" \
	    "$iv/" n "$poll" >"$dir/watch.log" &
	{
		spawn "$pids/kin-read" "$bin/kin-read" -q --stream "$stream" \
		    --follow "${src[@]}" \
		    --stats "$dir/kin-read.json" |
		    spawn "$pids/window-stats" "$bin/window-stats" -q "${job[@]}" \
		    "${ck[@]}" --stats "$dir/window-stats.json" |
		    spawn "$pids/sigma-flag" "$bin/sigma-flag" -q --sigma 3 \
		    --stats "$dir/sigma-flag.json" |
		    spawn "$pids/stamp-flag" "$python" "$root/bench/stamp.py" \
		    "$dir/flag.log" |
		    spawn "$pids/s3-put" "$bin/s3-put" -q "${sink[@]}" \
		    --rollover "$roll" --inactivity "$roll" \
		    --stats "$dir/s3-put.json" "s3://$bucket/$iv/" |
		    spawn "$pids/stamp-s3" "$python" "$root/bench/stamp.py" \
		    "$dir/s3.log" >/dev/null
	} 2>"$dir/pipeline.err" &
	local pp=$!
	sleep 1	# kin-read at the (empty) tip
	echo "$prog: checkpoints $iv: sending $records records at ${speed}x (about ${span} s) ..." >&2
	"$bin/kin-put" -q --stream "$stream" --partition-key-field symbol \
	    --pace-field timestamp --speed "$speed" --receipts \
	    --stats "$dir/kin-put.json" <"$tmp/data.ndjson" |
	    "$python" "$root/bench/stamp.py" "$dir/rc.log" >/dev/null
	deadline=$((SECONDS + 2 * (t_ms + roll_ms) / 1000 + 60))
	while :; do
		seen=$(awk '{ print $3 }' "$dir/watch.log" | sort -u | wc -l)
		((seen < nexpected && SECONDS < deadline)) || break
		sleep 0.5
	done
	((seen >= nexpected)) ||
	    echo "$prog: checkpoints $iv: only $seen of $nexpected flagged records in S3 after the time-out" >&2
	kill -TERM "$(<"$pids/kin-read")"
	wait "$pp" || echo "$prog: checkpoints $iv: the pipeline exited with status $?:" \
	    "$(tail -n 3 "$dir/pipeline.err")" >&2
	kill -TERM "$(<"$pids/watch")"
	wait
	rm -f "$pids"/*
	"$python" "$root/bench/latency.py" "$tmp/data.ndjson" "$tmp/expected" \
	    "$dir" "$roll_ms" >"$dir/result.json"
	jq -c --arg iv "$iv" '{interval: $iv, seen, expected, objects, commits,
	    total: .stages.total}' "$dir/result.json" >&2
}

for iv in $intervals; do
	run "$iv"
	if [[ -n $keep ]]; then
		mkdir -p "$keep"
		rm -rf "${keep:?}/run-$iv"
		cp -r "$tmp/run-$iv" "$keep/"
	fi
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----------------------------------------------------------------

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "latency benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, ${cpu_model:-unknown CPU}, load average $load_start at start, $load_end at end"
echo "versions: $("$bin/kin-read" --version 2>&1 | head -n 1); node $(node --version); $(jq -r '"\(.name) \(.version)"' "$root/node_modules/kinesalite/package.json"); $(jq -r '"\(.name) \(.version)"' "$root/node_modules/s3rver/package.json")"
echo "data: $copies copies of the bundled trades, 12 min apart, + 6 closing trades = $records records, sent at ${speed}x real time; the job flags $nexpected of them"
echo "job: window-stats --size 1m --emit records | sigma-flag --sigma 3 | s3-put --rollover $roll --inactivity $roll (kin-read: --poll-interval 1s, its default); watcher lists every $poll ms"
echo "checkpoint directories on $(df --output=fstype "$tmp" | tail -n 1) ($tmp)"
echo
echo "latency, ms, from kin-put's receipt to the record read back from S3 (p50 / p99 / max over the flagged records):"
fmt='%-8s %8s %7s %7s %7s %17s %14s %8s %9s %15s %15s %8s\n'
# shellcheck disable=SC2059
printf "$fmt" interval flagged objects commits spacing "total p50/p99/max" "window p50/p99" "read p50" "roll mean" "barrier mean/p99" "deliver mean/p99" "poll p50"
for iv in $intervals; do
	jq -r --arg iv "$iv" --arg fmt "$fmt" '
	  def s(x): if x == null then "-" else (x | tostring) end;
	  [$iv, "\(.seen)/\(.expected)", s(.objects), s(.commits),
	   (if .barrier_spacing.n > 0 then s(.barrier_spacing.mean) else "-" end),
	   "\(s(.stages.total.p50))/\(s(.stages.total.p99))/\(s(.stages.total.max))",
	   "\(s(.stages.window.p50))/\(s(.stages.window.p99))",
	   s(.stages.read.p50), s(.stages.roll.mean),
	   "\(s(.stages.barrier.mean))/\(s(.stages.barrier.p99))",
	   "\(s(.stages.deliver.mean))/\(s(.stages.deliver.p99))",
	   s(.stages.poll.p50)] | @tsv' "$tmp/run-$iv/result.json" |
	    while IFS=$'\t' read -r -a f; do
		# shellcheck disable=SC2059
		printf "$fmt" "${f[@]}"
	    done
done
echo
echo "stages: window = until the record that closes the trade's window is stored (event time: up to 60 s / SPEED);"
echo "read = from that receipt to the flagged trade leaving sigma-flag (kin-read's polling, the pipe);"
echo "roll = until its part rolls (--rollover after the part's first record); barrier = from the roll to the next"
echo "barrier committed (s3-put forwards it); deliver = from that commit (or, without checkpoints, the roll) to s3-put"
echo "reporting the object written; poll = until the watcher read it back.  spacing = mean ms between barriers at"
echo "s3-put's output.  Expected: barrier mean ~ spacing / 2, deliver ~ one PUT."
echo
echo "barriers (from --stats): kin-read / window-stats / sigma-flag / s3-put commits"
for iv in $intervals; do
	d=$tmp/run-$iv
	printf '  %-8s %s / %s / %s / %s\n' "$iv" "$(jq .barrier "$d/kin-read.json")" \
	    "$(jq .checkpoints "$d/window-stats.json")" "$(jq .control "$d/sigma-flag.json")" \
	    "$(jq .committed "$d/s3-put.json")"
done
