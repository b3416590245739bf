#!/usr/bin/env bash
# bench/processor.sh - window-stats and sigma-flag side by side with a bare
# json-c parse, jq, Miller and Python, on generated ticks.  Never run by the
# tests.  See bench/README.md, "Processor".
#
#   bench/processor.sh [-n LINES] [-r RUNS] [-k KEYS]
#
#   -n LINES  ticks to generate (default 1000000, about 92 MB)
#   -r RUNS   runs of each of our commands; the one with the least CPU counts
#             (default 3; jq, Miller and Python run once: they are slow and
#             their spread does not change the ratios)
#   -k KEYS   symbols (default 16)
#
# Environment: KP_BUILD (build directory, default build), TMPDIR (where the
# ticks go; removed at exit).
#
# Every figure is for one core: CPU = user + sys of the whole job (both
# stages of a pipeline, both passes of a two-pass job), and rates are
# records per CPU second, which a busy machine disturbs far less than wall
# time.  Wall time is shown too.

set -euo pipefail

lines=1000000
runs=3
keys=16
while getopts n:r:k: opt; do
	case $opt in
	n) lines=$OPTARG ;;
	r) runs=$OPTARG ;;
	k) keys=$OPTARG ;;
	*)
		sed -n '2,12p' "$0" >&2
		exit 2
		;;
	esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${KP_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/bin
for t in window-stats sigma-flag; do
	[[ -x $bin/$t ]] || { echo "processor.sh: $bin/$t missing: run make" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "processor.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kinpipe-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
results=$work/results
: >"$results"

have() { command -v "$1" >/dev/null 2>&1; }

# measure NAME N CMD: runs CMD (bash, with pipefail) N times, keeps the run
# with the least CPU: "NAME wall user sys maxrss_kb output_lines".
measure() {
	local name=$1 n=$2 cmd=$3 i best='' e u s m cpu out
	for ((i = 0; i < n; i++)); do
		if ! /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
		    bash -o pipefail -c "$cmd" >"$work/out" 2>"$work/err"; then
			echo "processor.sh: $name failed:" >&2
			cat "$work/err" "$work/time" >&2
			return 1
		fi
		read -r e u s m <"$work/time"
		cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
		if [[ -z $best ]] || awk -v a="$cpu" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
			out=$(wc -l <"$work/out")
			best="$cpu $name $e $u $s $m $out"
		fi
	done
	# shellcheck disable=SC2086
	set -- $best
	printf '%s %s %s %s %s %s\n' "$2" "$3" "$4" "$5" "$6" "$7" >>"$results"
	printf '  %-34s cpu %7.2f s  wall %7.2f s  rss %7d KB  %d lines out\n' \
	    "$2" "$1" "$3" "$6" "$7" >&2
}

echo "generating $lines ticks, $keys keys ..." >&2
T=$work/ticks.ndjson
python3 "$root/bench/gen-ticks.py" --count "$lines" --keys "$keys" >"$T"
bytes=$(wc -c <"$T")
echo "  $T: $bytes bytes" >&2
cc -O2 -o "$work/jsonc-parse" "$root/bench/jsonc-parse.c" \
    $(pkg-config --cflags --libs json-c)

# jq: the windows job streams with foreach, closing a symbol's window when
# that symbol reaches a later minute (the ticks are in order); the reference
# job is two passes (windows, then each trade against its window).  Naive
# sum-of-squares variance: cheaper than Welford, in jq's favour.
cat >"$work/windows.jq" <<'EOF'
def stats($k): (.[2] / .[1]) as $m
  | {key: $k, window_start: .[0], count: .[1], mean: $m,
     stddev: ((.[3] / .[1] - $m * $m) | if . < 0 then 0 else . end | sqrt),
     min: .[4], max: .[5], first: .[6], last: .[7], sum: .[2]};
foreach (inputs, null) as $r ({};
  if $r == null then
    .[""] = [to_entries[] | select(.key != "" and .value != null)
             | .key as $k | .value | stats($k)]
  else $r.price as $p | $r.symbol as $k
    | ($r.timestamp[0:16] + ":00.000Z") as $ws | .[$k] as $w
    | if $w == null or $w[0] != $ws then
        .[""] = (if $w == null then null else [$w | stats($k)] end)
        | .[$k] = [$ws, 1, $p, $p * $p, $p, $p, $p, $p]
      else
        .[""] = null
        | .[$k] = [$ws, $w[1] + 1, $w[2] + $p, $w[3] + $p * $p,
                   (if $p < $w[4] then $p else $w[4] end),
                   (if $p > $w[5] then $p else $w[5] end), $w[6], $p]
      end
  end;
  .[""] // empty | .[])
EOF
cat >"$work/flag.jq" <<'EOF'
($w | map({key: (.key + .window_start), value: .}) | from_entries) as $idx
| inputs
| $idx[.symbol + .timestamp[0:16] + ":00.000Z"] as $s
| select($s.stddev > 0 and ((.price - $s.mean) | fabs) > 3 * $s.stddev)
| . + {window: $s, zscore: ((.price - $s.mean) / $s.stddev), sigma: 3}
EOF
mlr_win="mlr --ijsonl --ojsonl put -S '\$window_start = substr0(\$timestamp, 0, 15) . \":00.000Z\"' then stats1 -a count,mean,var,min,max,sum -f price -g symbol,window_start then put '\$price_stddev = sqrt(\$price_var * (\$price_count - 1) / \$price_count)'"
mlr_flag="mlr --ijsonl --ojsonl put -S '\$window_start = substr0(\$timestamp, 0, 15) . \":00.000Z\"' then join -j symbol,window_start -f $work/mlr-windows.jsonl then filter '\$price_stddev > 0 && abs(\$price - \$price_mean) > 3 * \$price_stddev' then put '\$zscore = (\$price - \$price_mean) / \$price_stddev; \$sigma = 3'"
ws="$bin/window-stats --key-field symbol --time-field timestamp --value-field price --size 1m"

echo "throughput ($runs runs of ours, best by CPU):" >&2
measure bare-json-c "$runs" "$work/jsonc-parse < $T"
measure bare-json-c-strict "$runs" "$work/jsonc-parse --strict < $T"
measure window-stats-windows "$runs" "$ws --emit windows < $T"
measure window-stats-trailing "$runs" "$ws --emit trailing < $T"
measure reference-job "$runs" "$ws --emit records < $T | $bin/sigma-flag --sigma 3"
$ws --emit records <"$T" >"$work/records.ndjson"
measure sigma-flag-alone "$runs" "$bin/sigma-flag --sigma 3 < $work/records.ndjson"
rm -f "$work/records.ndjson"
measure python-windows 1 "python3 $root/bench/py-job.py windows < $T"
measure python-reference 1 "python3 $root/bench/py-job.py reference < $T"
if have jq; then
	measure jq-windows 1 "jq -n -c -f $work/windows.jq < $T"
	measure jq-reference 1 "jq -n -c -f $work/windows.jq < $T > $work/jq-windows.jsonl && jq -n -c --slurpfile w $work/jq-windows.jsonl -f $work/flag.jq < $T"
else
	echo "  jq not installed: skipped" >&2
fi
if have mlr; then
	measure miller-windows 1 "$mlr_win < $T"
	measure miller-reference 1 "$mlr_win < $T > $work/mlr-windows.jsonl && $mlr_flag < $T"
else
	echo "  mlr not installed: skipped" >&2
fi

echo "memory (max RSS) against input length:" >&2
T2=$work/ticks2.ndjson
python3 "$root/bench/gen-ticks.py" --count "$((lines * 2))" --keys "$keys" >"$T2"
for mode in windows trailing; do
	measure "rss-$mode-1x" 1 "$ws --emit $mode < $T"
	measure "rss-$mode-2x" 1 "$ws --emit $mode < $T2"
done
rm -f "$T2"

# ---- report ----
awk -v lines="$lines" -v bytes="$bytes" -v keys="$keys" '
{ name[NR] = $1; wall[$1] = $2; cpu[$1] = $3 + $4; rss[$1] = $5; out[$1] = $6; order[NR] = $1 }
END {
	printf "\n%d ticks, %d keys, %.1f MB; one core; CPU = user + sys\n\n", lines, keys, bytes / 1e6
	printf "%-24s %9s %9s %12s %12s %10s %9s\n", "job", "cpu s", "wall s", "rec/cpu-s", "rec/wall-s", "max RSS", "vs ours"
	for (i = 1; i <= NR; i++) {
		n = order[i]
		if (n ~ /^rss-/) continue
		ref = n ~ /reference/ ? "reference-job" : "window-stats-windows"
		ours = n ~ /^(window-stats|sigma-flag|reference-job)/
		ratio = (ours || !(ref in cpu)) ? "" : sprintf("%.2fx", cpu[n] / cpu[ref])
		printf "%-24s %9.2f %9.2f %12.0f %12.0f %8d KB %9s\n", n, cpu[n], wall[n],
		    lines / (cpu[n] > 0 ? cpu[n] : 0.01), lines / (wall[n] > 0 ? wall[n] : 0.01), rss[n], ratio
	}
	printf "\n(\"vs ours\": CPU of the row / CPU of window-stats --emit windows, or of the\n"
	printf "reference job for the reference rows; above 1 means ours is cheaper.)\n"
	printf "\nmax RSS by input length (flat memory for windows and trailing):\n"
	for (i = 1; i <= NR; i++) {
		n = order[i]
		if (n !~ /^rss-.*-1x$/) continue
		m = n; sub(/^rss-/, "", m); sub(/-1x$/, "", m)
		printf "  --emit %-9s %d lines: %7d KB   %d lines: %7d KB\n", m, lines, rss[n], 2 * lines, rss["rss-" m "-2x"]
	}
	printf "\ntargets (issue 3):\n"
	r = cpu["bare-json-c"] / cpu["window-stats-windows"]
	printf "  %-4s window-stats --emit windows at %.2fx the bare json-c parse (target >= 0.80x)\n", (r >= 0.8 ? "ok" : "MISS"), r
	r = cpu["bare-json-c-strict"] / cpu["window-stats-windows"]
	printf "       (%.2fx the bare parse with the tools'"'"' strict, UTF-8-checking tokener)\n", r
	if ("jq-reference" in cpu) {
		r = cpu["reference-job"] / cpu["jq-reference"]
		printf "  %-4s reference job CPU = %.3f of jq'"'"'s (target <= 0.25)\n", (r <= 0.25 ? "ok" : "MISS"), r
	}
	if ("miller-reference" in cpu) {
		r = cpu["reference-job"] / cpu["miller-reference"]
		printf "  %-4s reference job CPU = %.3f of Miller'"'"'s (target <= 0.25)\n", (r <= 0.25 ? "ok" : "MISS"), r
	}
	r = cpu["reference-job"] / cpu["python-reference"]
	printf "  %-4s reference job CPU = %.3f of Python'"'"'s (target < 1)\n", (r < 1 ? "ok" : "MISS"), r
	for (i = 1; i <= NR; i++) {
		n = order[i]
		if (n !~ /^rss-.*-1x$/) continue
		m = n; sub(/-1x$/, "", m)
		a = rss[n]; b = rss[m "-2x"]
		sub(/^rss-/, "", m)
		printf "  %-4s --emit %s memory flat: %d KB at 2x the input vs %d KB (target: within 10%% + 1 MB)\n", ((b <= a * 1.1 + 1024) ? "ok" : "MISS"), m, b, a
	}
}' "$results"
