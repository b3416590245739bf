#!/usr/bin/env bash
# bench/checkpoint.sh - the cost of exactly-once: the reference job's
# throughput with checkpoints every 10 s and every 1 s against none, side by
# side in one run.  tests/bench.bats runs it at a smoke size.  See
# bench/README.md, "The cost of exactly-once", "Throughput".
#
#   bench/checkpoint.sh [-n RECORDS] [-m RECORDS] [-r RUNS]
#
#   -n RECORDS  trades in the Kinesis stream of measurement (a) (default
#               500000)
#   -m RECORDS  trades in the file of measurement (b) (default 2000000)
#   -r RUNS     runs of every configuration, interleaved; each figure is the
#               median of its runs (default 5)
#
# Environment: KP_BUILD (build directory, default build), PYTHON (default
# python3), TMPDIR (scratch and checkpoint directories, removed at exit: its
# file system is the one whose fsync is measured).
#
# (a) End to end: kin-read | window-stats | sigma-flag | s3-put from a
#     4-shard kinesalite stream filled beforehand into s3rver, bounded read
#     (kin-read stops at the tip), with no checkpoints, with
#     --checkpoint-interval 10s and 1s, and with --checkpoint-records K, K the
#     records the first run without checkpoints read in one second.  Wall
#     time of the whole job, CPU of each stage and of the two servers.
# (b) The processing stages alone: window-stats | sigma-flag | s3-put into a
#     local directory, from a file into which barrier lines (as kin-read
#     writes them) are put every K records, K the records the stages process
#     in 10 s, 1 s, 100 ms and 10 ms (measured on a first, untimed run
#     without checkpoints), and a final barrier at the end; s3-put commits
#     each one.  Without Kinesis in the way this is the checkpoints' own cost;
#     the dense rows give the cost of one barrier, which the 10 s and 1 s rows
#     are too short to show.
# The data: the bundled six-market trades, repeated with each copy an hour
# later (bench/gen-trades.py), then one trade per market an hour later still,
# so that every window of the data fires in every configuration and all of
# them do the same work.  Barriers and commits are counted from each tool's
# --stats file, and the content written to S3 (or the directory) must be the
# same in every run, or the run is marked INVALID (exit 1).
#
# The servers are started with pipelines/localstack on 127.0.0.1 and stopped
# at exit; credentials are the stack's, HOME is a temporary folder,
# AWS_EC2_METADATA_DISABLED=true.

set -euo pipefail

prog=checkpoint.sh
records_a=500000
records_b=2000000
runs=5

usage() {
	sed -n '7,7s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

while getopts n:m:r:h opt; do
	case $opt in
	n) records_a=$OPTARG ;;
	m) records_b=$OPTARG ;;
	r) runs=$OPTARG ;;
	h) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
(($# == 0)) || usage
for v in "$records_a" "$records_b" "$runs"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "$prog: '$v': expected a positive number" >&2; usage; }
done

# shellcheck source=bench/lib/bench.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib/bench.bash"

die() {
	bench_die "$@"
}

bench_need_tools kin-put kin-read window-stats sigma-flag s3-put
command -v "$python" >/dev/null || die "no $python: apt-get install python3"
command -v jq >/dev/null || die "no jq: apt-get install jq"
[[ -x /usr/bin/time ]] || die "no /usr/bin/time: apt-get install time"
bench_need_modules kinesalite s3rver

tmp=$(mktemp -d "${TMPDIR:-/tmp}/checkpoint-bench.XXXXXX")
stack=$tmp/stack
cleanup() {
	bench_stack_stop "$stack"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "$prog: starting kinesalite and s3rver on 127.0.0.1 ..." >&2
bench_stack_start "$stack" --kinesis kinesalite --s3
kin_pid=$(bench_stack_pid "$stack" kinesalite)
s3_pid=$(bench_stack_pid "$stack" s3rver)

# cpu_of PID: CPU seconds of a process so far.
cpu_of() {
	bench_cpu_of "$1"
}

# now: seconds since the epoch, microseconds.
now() {
	echo "${EPOCHREALTIME/,/.}"
}

# cpu_file FILE: user + sys of a /usr/bin/time -f '%U %S %M' file.
cpu_file() {
	awk '{ printf "%.2f", $1 + $2 }' "$1"
}

bucket=ckbench
"$root/pipelines/localstack" create-bucket "$bucket" >/dev/null

echo "$prog: data: $records_a and $records_b trades ..." >&2
zcat "$root/tests/data/market-trades.ndjson.gz" >"$tmp/trades.ndjson"
"$python" "$root/bench/gen-trades.py" --records "$records_a" --close \
    "$tmp/trades.ndjson" >"$tmp/a.ndjson"
"$python" "$root/bench/gen-trades.py" --records "$records_b" --close \
    "$tmp/trades.ndjson" >"$tmp/b.ndjson"
rm "$tmp/trades.ndjson"
job=(--key-field symbol --time-field timestamp --value-field price --size 1m
    --emit records)
invalid=0

# ---- (a) end to end --------------------------------------------------------

echo "$prog: (a) filling a 4-shard stream with $records_a trades ..." >&2
"$root/pipelines/localstack" create-stream trades 4 >/dev/null
t0=$(now)
"$bin/kin-put" -q --stream trades --partition-key-field symbol <"$tmp/a.ndjson"
fill_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')

# run_a CONFIG RUN KIN-READ-OPTIONS...: one run of the job; its figures in
# $tmp/a/CONFIG/RUN/fig.
run_a() {
	local cfg=$1 run=$2 d=$tmp/a/$1/$2 ck=() sink=() t0 t1 k0 k1 s0 s1
	shift 2
	mkdir -p "$d"
	if (($#)); then
		ck=(--checkpoint-dir "$d/ck")
		sink=("${ck[@]}")
	else
		sink=(--spool-dir "$d/spool")
	fi
	k0=$(cpu_of "$kin_pid")
	s0=$(cpu_of "$s3_pid")
	t0=$(now)
	/usr/bin/time -f '%U %S %M' -o "$d/t.kin-read" \
	    "$bin/kin-read" -q --stream trades "${ck[@]}" "$@" \
	    --stats "$d/kin-read.json" |
	    /usr/bin/time -f '%U %S %M' -o "$d/t.window-stats" \
	    "$bin/window-stats" -q "${job[@]}" "${ck[@]}" \
	    --stats "$d/window-stats.json" |
	    /usr/bin/time -f '%U %S %M' -o "$d/t.sigma-flag" \
	    "$bin/sigma-flag" -q --sigma 3 --stats "$d/sigma-flag.json" |
	    /usr/bin/time -f '%U %S %M' -o "$d/t.s3-put" \
	    "$bin/s3-put" -q "${sink[@]}" --stats "$d/s3-put.json" \
	    "s3://$bucket/a/$cfg/$run/" >/dev/null 2>"$d/err" ||
	    { echo "$prog: (a) $cfg run $run failed: $(tail -n 3 "$d/err")" >&2; invalid=1; }
	t1=$(now)
	k1=$(cpu_of "$kin_pid")
	s1=$(cpu_of "$s3_pid")
	figures "$d" "$t0" "$t1" "$k0" "$k1" "$s0" "$s1" \
	    "$(node "$root/bench/s3-objects.js" dump "$bucket" "a/$cfg/$run/" |
	    sort | sha256sum | cut -c1-16)"
}

# figures DIR T0 T1 K0 K1 S0 S1 DIGEST: one line into DIR/fig:
# wall cpu(all stages) cpu(each of the 4 stages, '-' if absent) kinesalite
# s3rver barriers(kin-read) checkpoints(window-stats) control(sigma-flag)
# commits(s3-put) objects flagged state-bytes digest max-rss-kb(of the stages).
figures() {
	local d=$1 st cpus=() total state=0 f size rss
	rss=$(cat "$d"/t.* | awk '$3 > m { m = $3 } END { print m + 0 }')
	for st in kin-read window-stats sigma-flag s3-put; do
		if [[ -f $d/t.$st ]]; then cpus+=("$(cpu_file "$d/t.$st")"); else cpus+=(-); fi
	done
	total=$(printf '%s\n' "${cpus[@]}" | awk '$1 != "-" { s += $1 } END { printf "%.2f", s }')
	# The snapshots kept: the last ones of the run.
	for f in "$d"/ck/window-stats.*.state; do
		[[ -f $f ]] || continue
		size=$(wc -c <"$f")
		((size <= state)) || state=$size
	done
	printf '%s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s\n' \
	    "$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.3f", b - a }')" "$total" "${cpus[@]}" \
	    "$(awk -v a="$4" -v b="$5" 'BEGIN { printf "%.2f", b - a }')" \
	    "$(awk -v a="$6" -v b="$7" 'BEGIN { printf "%.2f", b - a }')" \
	    "$(jq '.barrier // "-"' "$d/kin-read.json" 2>/dev/null || echo -)" \
	    "$(jq .checkpoints "$d/window-stats.json")" \
	    "$(jq .control "$d/sigma-flag.json")" \
	    "$(jq .committed "$d/s3-put.json")" \
	    "$(jq .objects "$d/s3-put.json")" \
	    "$(jq .flagged "$d/sigma-flag.json")" "$state" "$8" "$rss" >"$d/fig"
}

# Warm-up, untimed: kinesalite's JIT, the page cache.
echo "$prog: (a) warm-up run ..." >&2
run_a warmup 0
# The records a second of the first measured run without checkpoints give
# the record-count interval.
configs_a=(none 10s 1s records)
for ((r = 1; r <= runs; r++)); do
	for cfg in "${configs_a[@]}"; do
		case $cfg in
		none) run_a none "$r" ;;
		records) run_a records "$r" --checkpoint-interval 24h --checkpoint-records "$k_rec" ;;
		*) run_a "$cfg" "$r" --checkpoint-interval "$cfg" ;;
		esac
		if [[ $cfg == none && $r == 1 ]]; then
			k_rec=$(awk -v n="$records_a" '{ printf "%d", n / $1 }' "$tmp/a/none/1/fig")
		fi
		printf '%s: (a) %-8s run %d: %s\n' "$prog" "$cfg" "$r" "$(cut -d' ' -f1-2,9-12 "$tmp/a/$cfg/$r/fig")" >&2
	done
done

# ---- (b) the processing stages alone ---------------------------------------

# inject K FILE: FILE with a barrier line after every K records (none if K
# is 0) and a final one at the end, as kin-read writes them (ids from 1,
# four shards, 56-digit sequence numbers).
inject() {
	awk -v k="$1" '
	function barrier(final,   s) {
		printf "{\"__kinpipe\":{\"barrier\":%d,\"version\":1,\"job\":\"bench\",\"stream\":\"bench\",\"final\":%s,\"positions\":{", ++id, final
		for (s = 0; s < 4; s++)
			printf "%s\"shardId-%012d\":{\"seq\":\"49680587889%045d\"}", s ? "," : "", s, NR * 4 + s
		printf "}}}\n"
	}
	{ print }
	k > 0 && NR % k == 0 { barrier("false") }
	END { barrier("true") }' "$2"
}

# run_b CONFIG RUN INPUT [ck]: one run of the stages; figures in
# $tmp/b/CONFIG/RUN/fig.
run_b() {
	local cfg=$1 run=$2 in=$3 d=$tmp/b/$1/$2 ck=() sink=() t0 t1
	mkdir -p "$d/out"
	if [[ ${4:-} == ck ]]; then
		ck=(--checkpoint-dir "$d/ck")
		sink=("${ck[@]}" --job bench)
	else
		sink=(--spool-dir "$d/spool")
	fi
	t0=$(now)
	/usr/bin/time -f '%U %S %M' -o "$d/t.window-stats" \
	    "$bin/window-stats" -q "${job[@]}" "${ck[@]}" \
	    --stats "$d/window-stats.json" <"$in" |
	    /usr/bin/time -f '%U %S %M' -o "$d/t.sigma-flag" \
	    "$bin/sigma-flag" -q --sigma 3 --stats "$d/sigma-flag.json" |
	    /usr/bin/time -f '%U %S %M' -o "$d/t.s3-put" \
	    "$bin/s3-put" -q "${sink[@]}" --stats "$d/s3-put.json" \
	    "$d/out/" >/dev/null 2>"$d/err" ||
	    { echo "$prog: (b) $cfg run $run failed: $(tail -n 3 "$d/err")" >&2; invalid=1; }
	t1=$(now)
	figures "$d" "$t0" "$t1" 0 0 0 0 \
	    "$(find "$d/out" -type f -exec cat {} + | sort | sha256sum | cut -c1-16)"
	rm -rf "$d/out"
}

echo "$prog: (b) warm-up run, to size the barrier intervals ..." >&2
run_b warmup 0 "$tmp/b.ndjson"
rate_b=$(awk -v n="$records_b" '{ printf "%d", n / $1 }' "$tmp/b/warmup/0/fig")
configs_b=(none 10s 1s 100ms 10ms)
declare -A k_b=([none]=0 [10s]=$((rate_b * 10)) [1s]=$rate_b
    [100ms]=$((rate_b / 10)) [10ms]=$((rate_b / 100)))
for cfg in "${configs_b[@]}"; do
	if [[ $cfg == none ]]; then
		ln -s b.ndjson "$tmp/b-none.ndjson"
	else
		inject "${k_b[$cfg]}" "$tmp/b.ndjson" >"$tmp/b-$cfg.ndjson"
	fi
done
for ((r = 1; r <= runs; r++)); do
	for cfg in "${configs_b[@]}"; do
		if [[ $cfg == none ]]; then
			run_b none "$r" "$tmp/b-none.ndjson"
		else
			run_b "$cfg" "$r" "$tmp/b-$cfg.ndjson" ck
		fi
		printf '%s: (b) %-8s run %d: %s\n' "$prog" "$cfg" "$r" "$(cut -d' ' -f1-2,10-12 "$tmp/b/$cfg/$r/fig")" >&2
	done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----------------------------------------------------------------

# median PART CONFIG FIELD: the median of a figure over the runs.
median() {
	local r
	for ((r = 1; r <= runs; r++)); do
		awk -v f="$3" '{ print $f }' "$tmp/$1/$2/$r/fig"
	done | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# spread PART CONFIG FIELD: "MIN-MAX" of a figure over the runs.
spread() {
	local r
	for ((r = 1; r <= runs; r++)); do
		awk -v f="$3" '{ print $f }' "$tmp/$1/$2/$r/fig"
	done | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { print a "-" b }'
}

# per_s PART CONFIG: the median over the runs of the periodic barriers (all
# commits but the final one) per second of wall time.
per_s() {
	local r
	for ((r = 1; r <= runs; r++)); do
		awk '{ printf "%.2f\n", ($12 > 0 ? ($12 - 1) / $1 : 0) }' "$tmp/$1/$2/$r/fig"
	done | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# same PART CONFIG FIELD: the figure if every run has the same, else "a..b".
same() {
	local r
	for ((r = 1; r <= runs; r++)); do
		awk -v f="$3" '{ print $f }' "$tmp/$1/$2/$r/fig"
	done | sort -gu | awk '{ v[NR] = $1 } END { print (NR == 1 ? v[1] : v[1] ".." v[NR]) }'
}

# verified PART CONFIG: "ok" if every run wrote what the first run without
# checkpoints wrote.
verified() {
	local want r
	want=$(awk '{ print $16 }' "$tmp/$1/none/1/fig")
	for ((r = 1; r <= runs; r++)); do
		[[ $(awk '{ print $16 }' "$tmp/$1/$2/$r/fig") == "$want" ]] || { invalid=1; echo INVALID; return; }
	done
	echo ok
}

# f DIGITS X: X with DIGITS decimals.
f() {
	awk -v d="$1" -v x="$2" 'BEGIN { printf "%.*f", d, x }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'
}

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "checkpoint benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, ${cpu_model:-unknown CPU}, load average $load_start at start, $load_end at end"
echo "versions: $("$bin/kin-read" --version 2>&1 | head -n 1); node $(node --version); $(jq -r '"\(.name) \(.version)"' "$root/node_modules/kinesalite/package.json"); $(jq -r '"\(.name) \(.version)"' "$root/node_modules/s3rver/package.json")"
echo "checkpoint directories on $(df --output=fstype "$tmp" | tail -n 1) ($tmp)"
echo "figures: median of $runs runs (wall range: the fastest and slowest), configurations interleaved;"
echo "CPU = user + sys of the stages (/usr/bin/time, 10 ms resolution); servers' CPU from /proc"
echo
echo "(a) end to end: kin-read | window-stats | sigma-flag | s3-put, $records_a trades (+6 closing) from a 4-shard kinesalite stream into s3rver"
echo "    stream filled by kin-put in $fill_s s; --checkpoint-records $k_rec = the trades the first run without checkpoints read in 1 s"
fmt_a='%-32s %17s %6s %7s %13s %6s %6s %6s %6s %19s %8s %8s  %s\n'
# shellcheck disable=SC2059
printf "$fmt_a" config "barriers r/w/f/s3" "per s" wall_s "wall range" rec/s wall_x cpu_s cpu_x "cpu r/w/f/s3" kinesa_s s3rver_s verified
for cfg in "${configs_a[@]}"; do
	case $cfg in
	none) label=none ;;
	records) label="--checkpoint-records $k_rec" ;;
	*) label="--checkpoint-interval $cfg" ;;
	esac
	w=$(f 3 "$(median a "$cfg" 1)")
	c=$(f 2 "$(median a "$cfg" 2)")
	# shellcheck disable=SC2059
	printf "$fmt_a" "$label" \
	    "$(same a "$cfg" 9)/$(same a "$cfg" 10)/$(same a "$cfg" 11)/$(same a "$cfg" 12)" \
	    "$(per_s a "$cfg")" \
	    "$w" "$(spread a "$cfg" 1)" \
	    "$(awk -v n="$records_a" -v w="$w" 'BEGIN { printf "%.0f", n / w }')" \
	    "$(ratio "$(median a "$cfg" 1)" "$(median a none 1)")" "$c" \
	    "$(ratio "$(median a "$cfg" 2)" "$(median a none 2)")" \
	    "$(f 2 "$(median a "$cfg" 3)")/$(f 2 "$(median a "$cfg" 4)")/$(f 2 "$(median a "$cfg" 5)")/$(f 2 "$(median a "$cfg" 6)")" \
	    "$(f 2 "$(median a "$cfg" 7)")" "$(f 2 "$(median a "$cfg" 8)")" "$(verified a "$cfg")"
	[[ $(verified a "$cfg") == ok ]] || invalid=1
	[[ $cfg != none ]] || label="no checkpoints"
	bench_result "ck.a.$cfg" "reference job end to end, ${label/--checkpoint-/checkpoint }" \
	    "kin-read | window-stats | sigma-flag | s3-put, $(bench_commas "$records_a") trades, kinesalite to s3rver" \
	    "$records_a" "$w" "$c" "$(median a "$cfg" 17)" -
done
echo "    barriers: kin-read's barrier count / window-stats' checkpoints / barriers through sigma-flag / s3-put's commits"
echo "    (the last barrier is the final one at the end of the read); per s: periodic barriers (commits but the"
echo "    final one) per second of wall time; _x = against none"
echo
echo "(b) window-stats | sigma-flag | s3-put into a local directory, $records_b trades (+6) from a file with barriers"
echo "    every K trades, K = the trades the stages processed in the interval on a first run without checkpoints ($rate_b/s)"
fmt_b='%-6s %9s %15s %7s %13s %8s %6s %6s %6s %16s %7s  %s\n'
# shellcheck disable=SC2059
printf "$fmt_b" config K "barriers w/f/s3" wall_s "wall range" rec/s wall_x cpu_s cpu_x "cpu w/f/s3" snap_kB verified
for cfg in "${configs_b[@]}"; do
	w=$(f 3 "$(median b "$cfg" 1)")
	c=$(f 2 "$(median b "$cfg" 2)")
	# shellcheck disable=SC2059
	printf "$fmt_b" "$cfg" "${k_b[$cfg]}" \
	    "$(same b "$cfg" 10)/$(same b "$cfg" 11)/$(same b "$cfg" 12)" \
	    "$w" "$(spread b "$cfg" 1)" \
	    "$(awk -v n="$records_b" -v w="$w" 'BEGIN { printf "%.0f", n / w }')" \
	    "$(ratio "$(median b "$cfg" 1)" "$(median b none 1)")" "$c" \
	    "$(ratio "$(median b "$cfg" 2)" "$(median b none 2)")" \
	    "$(f 2 "$(median b "$cfg" 4)")/$(f 2 "$(median b "$cfg" 5)")/$(f 2 "$(median b "$cfg" 6)")" \
	    "$(awk -v s="$(median b "$cfg" 15)" 'BEGIN { printf "%.0f", s / 1024 }')" \
	    "$(verified b "$cfg")"
	[[ $(verified b "$cfg") == ok ]] || invalid=1
	case $cfg in
	none) label="no checkpoints" ;;
	*) label="a barrier every $cfg ($(bench_commas "${k_b[$cfg]}") trades)" ;;
	esac
	bench_result "ck.b.$cfg" "window-stats | sigma-flag | s3-put, $label" \
	    "the stages alone, $(bench_commas "$records_b") trades from a file into a local directory" \
	    "$records_b" "$w" "$c" "$(median b "$cfg" 17)" -
done
# The cost of one barrier: least squares of wall time and CPU against the
# number of barriers over every run of (b) (none counts as 0 barriers); the
# runs without checkpoints give the CPU the stages spend per second.
fit=$(for cfg in "${configs_b[@]}"; do
	for ((r = 1; r <= runs; r++)); do
		awk -v c="$cfg" '{ print (c == "none" ? 0 : $12), $1, $2, $4, $6 }' "$tmp/b/$cfg/$r/fig"
	done
done | awk '
	{ n++; x += $1; xx += $1 * $1; for (i = 2; i <= 5; i++) { y[i] += $i; xy[i] += $1 * $i } }
	$1 == 0 { w0 += $2; c0 += $3; n0++ }
	END {
		d = n * xx - x * x
		if (d == 0 || n0 == 0) { print "    (no barriers: no per-barrier cost)"; exit }
		for (i = 2; i <= 5; i++) b[i] = (n * xy[i] - x * y[i]) / d * 1000
		load = c0 / w0	# CPU seconds per second at full speed, no checkpoints
		printf "    one barrier: %.2f ms of CPU (window-stats %.2f, s3-put %.2f) and %.2f ms of wall time, least squares over\n", b[3], b[4], b[5], b[2]
		printf "    all runs; at full speed the stages spend %.2f CPU-s a second, so checkpoints every 10 s cost %.3f%% of\n", load, b[3] / 10000 / load * 100
		printf "    the CPU and every 1 s %.2f%%; of the wall time at most %.3f%% and %.2f%% (the wall time grows only once\n", b[3] / 1000 / load * 100, b[2] / 10000 * 100, b[2] / 1000 * 100
		printf "    window-stats, which writes the snapshots, becomes the slowest stage, as in the 10ms row)\n"
		if (load > 0) printf "NOTE checkpoints: one barrier costs %.2f ms of CPU and %.2f ms of wall time (least squares over the runs of (b)): every 10 s %.3f %% of the CPU of the stages at full speed, every 1 s %.2f %%\n", b[3], b[2], b[3] / 10000 / load * 100, b[3] / 1000 / load * 100
	}')
grep -v '^NOTE ' <<<"$fit"
note=$(sed -n 's/^NOTE //p' <<<"$fit")
[[ -z $note ]] || bench_note "$note"
echo "    snap_kB: the largest of the snapshots window-stats kept (its last three; the final one holds only the"
echo "    closing trades' windows, so with a single barrier it is tiny)"

bench_note "checkpoints: medians of $runs runs, configurations interleaved; load average $load_start at start, $load_end at end"
bench_table
if ((invalid)); then
	echo "$prog: INVALID: a run failed or wrote other records than the run without checkpoints" >&2
	exit 1
fi
