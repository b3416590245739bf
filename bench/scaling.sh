#!/usr/bin/env bash
# bench/scaling.sh - window-stats' CPU per record and peak memory as the input
# grows (1M to 10M records) and as the keys grow (1 to 10,000): both must stay
# flat.  Never run by the tests at full size (tests/bench.bats runs it on a
# few hundred lines).  See bench/README.md, "Scaling".
#
#   bench/scaling.sh [-n "N..."] [-k "K..."] [-m LINES]
#
#   -n "N..."  input lengths, 16 keys (default "1000000 3000000 10000000")
#   -k "K..."  key counts, LINES records each (default "1 10 100 1000 10000"),
#              each key trading about 50 times a minute whatever K
#              (gen-ticks.py --per-window 50): the same windows in every row
#   -m LINES   records of the key series (default 1000000)
#
# Jobs: window-stats --emit windows, and the reference job (window-stats
# --emit records | sigma-flag --sigma 3).  The ticks (bench/gen-ticks.py)
# are piped into the job, never stored: only the tools are timed
# (/usr/bin/time on each tool inside the pipe; the reference job's CPU is
# both stages', its max RSS the larger of the two).  Checked: sigma-flag
# read one record per tick (its --stats); bench/processor.sh compares the
# results with other implementations.  Records/s is not shown: the pipe runs
# at the generator's pace.
#
# Environment: KP_BUILD, PYTHON, TMPDIR, BENCH_RESULTS (bench/lib/bench.bash).

set -euo pipefail

prog=scaling.sh
sizes="1000000 3000000 10000000"
keyset="1 10 100 1000 10000"
klines=1000000
# The keys series holds the trades per key and minute at this, whatever the
# number of keys, so that every row writes about the same number of windows
# (with a fixed spacing, 10,000 keys make a window of every trade or two,
# and the series measures the cost of writing windows, not of keys).
perwin=50
while getopts n:k:m: opt; do
	case $opt in
	n) sizes=$OPTARG ;;
	k) keyset=$OPTARG ;;
	m) klines=$OPTARG ;;
	*) sed -n '7,11p' "$0" >&2; exit 2 ;;
	esac
done
# shellcheck source=bench/lib/bench.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib/bench.bash"
bench_need_tools window-stats sigma-flag
command -v jq >/dev/null || bench_die "needs jq (apt-get install jq)"
[[ -x /usr/bin/time ]] || bench_die "needs /usr/bin/time (apt-get install time)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/scaling-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
ws=("$bin/window-stats" --key-field symbol --time-field timestamp --value-field price --size 1m)
gen=("$python" "$root/bench/gen-ticks.py")

# job SERIES X LABEL N K [GEN-OPTION...]: both jobs on N generated ticks
# over K keys.
job() {
	local series=$1 x=$2 label=$3 n=$4 k=$5 u s m u2 s2 m2 lines what
	local more=("${@:6}")
	"${gen[@]}" --count "$n" --keys "$k" "${more[@]}" |
	    /usr/bin/time -f '%e %U %S %M' -o "$tmp/t1" "${ws[@]}" --emit windows |
	    wc -l >"$tmp/out1"
	read -r _ u s m <"$tmp/t1"
	printf '  %-34s windows:   cpu %6.2f s  rss %6d KB  %d windows\n' "$label" \
	    "$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')" "$m" "$(<"$tmp/out1")" >&2
	what="$(bench_commas "$n") ticks, $(bench_commas "$k") key$( ((k == 1)) || echo s), $(bench_commas "$(<"$tmp/out1")") windows"
	bench_result "scale.$series.windows.$x" "window-stats --emit windows, $label" "$what" "$n" - \
	    "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')" "$m" -
	"${gen[@]}" --count "$n" --keys "$k" "${more[@]}" |
	    /usr/bin/time -f '%e %U %S %M' -o "$tmp/t1" "${ws[@]}" --emit records |
	    /usr/bin/time -f '%e %U %S %M' -o "$tmp/t2" "$bin/sigma-flag" --sigma 3 \
	    --stats "$tmp/stats" | wc -l >"$tmp/out2"
	read -r _ u s m <"$tmp/t1"
	read -r _ u2 s2 m2 <"$tmp/t2"
	lines=$(jq .records_in "$tmp/stats")
	[[ $lines == "$n" ]] || bench_die "INVALID: sigma-flag read $lines of $n records"
	printf '  %-34s reference: cpu %6.2f s  rss %6d KB  %d flagged\n' "$label" \
	    "$(awk -v a="$u $s $u2 $s2" 'BEGIN { split(a, v); print v[1] + v[2] + v[3] + v[4] }')" \
	    "$((m > m2 ? m : m2))" "$(<"$tmp/out2")" >&2
	bench_result "scale.$series.reference.$x" "reference job, $label" "$what" "$n" - \
	    "$(awk -v a="$u $s $u2 $s2" 'BEGIN { split(a, v); printf "%.2f", v[1] + v[2] + v[3] + v[4] }')" \
	    "$((m > m2 ? m : m2))" -
}

echo "$prog: input length ($sizes ticks, 16 keys) ..." >&2
for n in $sizes; do
	job records "$n" "$(bench_commas "$n") records" "$n" 16
done
echo "$prog: keys ($keyset keys, $klines ticks) ..." >&2
for k in $keyset; do
	job keys "$k" "$(bench_commas "$k") key$( ((k == 1)) || echo s)" "$klines" "$k" \
	    --per-window "$perwin"
done
bench_note "scaling: the ticks piped from bench/gen-ticks.py, only the tools timed (/usr/bin/time on each stage); flat = CPU per record within 20 % of the series' first row and max RSS at most 10 % + 2 MiB above it; the keys series: each key about $perwin trades a minute (the same windows in every row), memory shown per key, not judged (each key holds an open window)"
bench_table
