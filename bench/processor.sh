#!/usr/bin/env bash
# bench/processor.sh - window-stats, sigma-flag and s3-put (into a local
# directory) side by side with a bare json-c parse, jq, Miller and Python, on
# generated ticks.  Never run by the tests at full size (tests/bench.bats
# runs it on a few hundred lines).  See bench/README.md, "Processor".
#
#   bench/processor.sh [-n LINES] [-r RUNS] [-k KEYS] [-c LINES]
#
#   -n LINES  ticks to generate (default 1000000, about 92 MB)
#   -r RUNS   runs of each of our commands; the one with the least CPU counts
#             (default 3; jq, Miller and Python run once: they are slow and
#             their spread does not change the ratios)
#   -k KEYS   symbols (default 16)
#   -c LINES  the callgrind sample: our commands run once more under
#             callgrind on the first LINES ticks, and once on empty input;
#             the difference over LINES is the instructions per record
#             (default 20000; 0 skips callgrind)
#
# Environment: KP_BUILD (build directory, default build), TMPDIR (where the
# ticks go; removed at exit), BENCH_RESULTS (bench/run's result rows).
#
# Every figure is for one core: CPU = user + sys of the whole job (both
# stages of a pipeline, both passes of a two-pass job), max RSS of its
# largest process.  Every job's output is checked: the same number of windows
# and of flagged trades from every implementation, every record in s3-put's
# objects; a difference is an INVALID benchmark (exit 1).

set -euo pipefail

prog=processor.sh
lines=1000000
runs=3
keys=16
cg_lines=20000
while getopts n:r:k:c: opt; do
	case $opt in
	n) lines=$OPTARG ;;
	r) runs=$OPTARG ;;
	k) keys=$OPTARG ;;
	c) cg_lines=$OPTARG ;;
	*)
		sed -n '7,17p' "$0" >&2
		exit 2
		;;
	esac
done
# shellcheck source=bench/lib/bench.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib/bench.bash"
bench_need_tools window-stats sigma-flag s3-put
[[ -x /usr/bin/time ]] || bench_die "needs /usr/bin/time (apt-get install time)"
if ((cg_lines > 0)) && ldd "$bin/window-stats" 2>/dev/null | grep -q libasan; then
	echo "$prog: $bin holds an ASan build: callgrind skipped" >&2
	cg_lines=0
fi
((cg_lines == 0)) || command -v valgrind >/dev/null ||
    bench_die "needs valgrind for -c (apt-get install valgrind; -c 0 skips it)"

work=$(mktemp -d "${TMPDIR:-/tmp}/kinpipe-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
results=$work/results
: >"$results"
invalid=0

have() { command -v "$1" >/dev/null 2>&1; }

# measure NAME N CMD: runs CMD (bash, with pipefail) N times, keeps the run
# with the least CPU: "NAME wall user sys maxrss_kb output_lines" into
# $results, the output of that run in $work/out.NAME.
measure() {
	local name=$1 n=$2 cmd=$3 i best='' e u s m cpu
	for ((i = 0; i < n; i++)); do
		if ! /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
		    bash -o pipefail -c "$cmd" >"$work/out" 2>"$work/err"; then
			echo "$prog: $name failed:" >&2
			cat "$work/err" "$work/time" >&2
			exit 1
		fi
		read -r e u s m <"$work/time"
		cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
		if [[ -z $best ]] || awk -v a="$cpu" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
			best="$cpu $name $e $u $s $m $(wc -l <"$work/out")"
			mv "$work/out" "$work/out.$name"
		fi
	done
	# shellcheck disable=SC2086
	set -- $best
	printf '%s %s %s %s %s %s\n' "$2" "$3" "$4" "$5" "$6" "$7" >>"$results"
	printf '  %-26s cpu %7.2f s  wall %7.2f s  rss %7d KB  %d lines out\n' \
	    "$2" "$1" "$3" "$6" "$7" >&2
}

echo "$prog: generating $lines ticks, $keys keys ..." >&2
T=$work/ticks.ndjson
"$python" "$root/bench/gen-ticks.py" --count "$lines" --keys "$keys" >"$T"
bytes=$(wc -c <"$T")
bench_jsonc_parse "$work/jsonc-parse"
ws="$bin/window-stats --key-field symbol --time-field timestamp --value-field price --size 1m"
$ws --emit records <"$T" >"$work/records.ndjson"
nrec=$(wc -l <"$work/records.ndjson")
s3put="rm -rf $work/s3 $work/spool && $bin/s3-put -q --spool-dir $work/spool --max-records 100000 $work/s3/ >/dev/null < $T && cat $work/s3/*/*"

echo "$prog: throughput ($runs runs of ours, best by CPU):" >&2
measure bare-json-c "$runs" "$work/jsonc-parse < $T"
measure bare-json-c-strict "$runs" "$work/jsonc-parse --strict < $T"
measure window-stats-windows "$runs" "$ws --emit windows < $T"
measure window-stats-trailing "$runs" "$ws --emit trailing < $T"
measure reference-job "$runs" "$ws --emit records < $T | $bin/sigma-flag --sigma 3"
measure bare-json-c-records "$runs" "$work/jsonc-parse < $work/records.ndjson"
measure sigma-flag-alone "$runs" "$bin/sigma-flag --sigma 3 < $work/records.ndjson"
measure s3-put-local "$runs" "$s3put"
measure python-windows 1 "$python $root/bench/py-job.py windows < $T"
measure python-reference 1 "$python $root/bench/py-job.py reference < $T"
if have jq; then
	measure jq-windows 1 "jq -n -c -f $root/bench/jq-windows.jq < $T"
	measure jq-reference 1 "jq -n -c -f $root/bench/jq-windows.jq < $T > $work/jq-windows.jsonl && jq -n -c --slurpfile w $work/jq-windows.jsonl -f $root/bench/jq-flag.jq < $T"
else
	echo "$prog: jq not installed: its rows skipped (apt-get install jq)" >&2
fi
if have mlr; then
	measure miller-windows 1 "$root/bench/mlr-job.sh windows < $T"
	measure miller-reference 1 "$root/bench/mlr-job.sh windows < $T > $work/mlr-windows.jsonl && $root/bench/mlr-job.sh flag $work/mlr-windows.jsonl < $T"
else
	echo "$prog: mlr (Miller 6) not installed: its rows skipped (apt-get install miller)" >&2
fi

# ---- checks: every implementation computed the same ------------------------

# check WHAT EXPECTED NAME...: the output line count of each NAME measured.
check() {
	local what=$1 want=$2 n got
	shift 2
	for n; do
		[[ -f $work/out.$n ]] || continue
		got=$(wc -l <"$work/out.$n")
		if [[ $got != "$want" ]]; then
			echo "$prog: INVALID: $n wrote $got $what, expected $want" >&2
			invalid=1
		fi
	done
}
check windows "$(wc -l <"$work/out.window-stats-windows")" python-windows jq-windows miller-windows
check "flagged trades" "$(wc -l <"$work/out.reference-job")" sigma-flag-alone python-reference \
    jq-reference miller-reference
check records "$lines" s3-put-local
((nrec == lines)) || { echo "$prog: INVALID: --emit records wrote $nrec of $lines" >&2; invalid=1; }
cmp -s <(sort "$T") <(sort "$work/out.s3-put-local") ||
    { echo "$prog: INVALID: s3-put's objects differ from its input" >&2; invalid=1; }

# ---- callgrind: instructions per record of our commands ---------------------

declare -A ir=()
if ((cg_lines > 0)); then
	((cg_lines <= lines)) || cg_lines=$lines
	echo "$prog: callgrind on $cg_lines lines ..." >&2
	S=$work/sample.ndjson
	head -n "$cg_lines" "$T" >"$S"
	: >"$work/empty"
	$ws --emit records <"$S" >"$work/sample-records.ndjson"
	srec=$(wc -l <"$work/sample-records.ndjson")
	# per NAME RECORDS INPUT CMD...: (instructions on INPUT - on no
	# input) / RECORDS into ir[NAME].
	per() {
		local name=$1 n=$2 in=$3 full empty
		shift 3
		full=$(bench_callgrind "$work/cg" "$@" <"$in")
		rm -rf "$work/s3" "$work/spool"
		empty=$(bench_callgrind "$work/cg" "$@" <"$work/empty")
		rm -rf "$work/s3" "$work/spool"
		ir[$name]=$(awk -v a="$full" -v b="$empty" -v n="$n" 'BEGIN { printf "%.0f", (a - b) / n }')
		printf '  %-26s %s instructions per record\n' "$name" "${ir[$name]}" >&2
	}
	# shellcheck disable=SC2086
	{
		per bare-json-c "$cg_lines" "$S" "$work/jsonc-parse"
		per bare-json-c-strict "$cg_lines" "$S" "$work/jsonc-parse" --strict
		per window-stats-windows "$cg_lines" "$S" $ws --emit windows
		per window-stats-trailing "$cg_lines" "$S" $ws --emit trailing
		per ws-records "$cg_lines" "$S" $ws --emit records
		per sigma-flag-alone "$srec" "$work/sample-records.ndjson" "$bin/sigma-flag" --sigma 3
		per bare-json-c-records "$srec" "$work/sample-records.ndjson" "$work/jsonc-parse"
		per s3-put-local "$cg_lines" "$S" "$bin/s3-put" -q --spool-dir "$work/spool" \
		    --max-records 100000 "$work/s3/"
	}
	ir[reference-job]=$((ir[ws-records] + ir[sigma-flag-alone] * srec / cg_lines))
fi

# ---- results ----------------------------------------------------------------

# label, workload and input records of each job.
declare -A label=(
	[bare-json-c]="bare json-c parse" [bare-json-c-strict]="bare json-c parse, strict"
	[window-stats-windows]="window-stats --emit windows"
	[window-stats-trailing]="window-stats --emit trailing"
	[reference-job]="window-stats --emit records | sigma-flag"
	[bare-json-c-records]="bare json-c parse" [sigma-flag-alone]="sigma-flag"
	[s3-put-local]="s3-put (local directory)"
	[python-windows]="Python (py-job.py)" [python-reference]="Python (py-job.py)"
	[jq-windows]="jq" [jq-reference]="jq, two passes"
	[miller-windows]="Miller" [miller-reference]="Miller, two passes")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1e6 }')
while read -r name wall user sys rss _; do
	n=$lines
	work_=windows
	case $name in
	*reference*) work_="reference job" ;;
	*records | sigma-flag-alone) n=$nrec; work_="records lines" ;;
	bare-json-c | bare-json-c-strict) work_="parse only" ;;
	s3-put-local) work_="objects of 100,000 records" ;;
	window-stats-trailing) work_="trailing" ;;
	esac
	bench_result "proc.$name" "${label[$name]}" "$work_, $(bench_commas "$n") ticks ($mb MB), $keys keys" "$n" \
	    "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" \
	    "$rss" "${ir[$name]:--}"
done <"$results"
bench_note "processor: $lines generated ticks, $keys keys; ours best of $runs by CPU, peers 1 run; CPU = user + sys of every process of the job; instructions/record by callgrind on the first $cg_lines ticks, less the same command on empty input"

awk -v lines="$lines" -v bytes="$bytes" -v keys="$keys" '
BEGIN {
	printf "\n%d ticks, %d keys, %.1f MB; one core; CPU = user + sys\n\n", lines, keys, bytes / 1e6
	printf "%-24s %9s %9s %12s %10s\n", "job", "cpu s", "wall s", "rec/cpu-s", "max RSS"
}
{ printf "%-24s %9.2f %9.2f %12.0f %7d KB\n", $1, $3 + $4, $2, lines / ($3 + $4 > 0 ? $3 + $4 : 0.01), $5 }' "$results"
bench_table
if ((invalid)); then
	echo "$prog: INVALID: the implementations disagree (see above)" >&2
	exit 1
fi
