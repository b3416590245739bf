#!/usr/bin/env bash
# bench/window-keys.sh - window-stats under --watermark global with many
# keys: the time and peak memory of 25,000, 50,000 and 100,000 one-record
# keys, and of 200,000 records over 10,000 keys against the same records
# under one key.  Never run by the tests.  See bench/README.md, "Many keys".
#
#   bench/window-keys.sh [-r RUNS] [BINDIR...]
#
#   -r RUNS  runs of every case; each figure is the median (default 3)
#   BINDIR   directories holding a window-stats to measure, side by side
#            (default: $KP_BUILD/bin, KP_BUILD defaulting to build)
#
# One-record keys: record i has event time i minutes and key "k<i>", so
# each record fires the window of the record before it: without a timer
# queue each record scanned every key held.  Spread records: ten a second,
# key i % 10,000, so that each key has about one record in 17 windows.
# Needs /usr/bin/time.
set -euo pipefail

runs=3
while getopts r: opt; do
	case $opt in
	r) runs=$OPTARG ;;
	*) echo "usage: bench/window-keys.sh [-r RUNS] [BINDIR...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
	set -- "$root/${KP_BUILD:-build}/bin"
fi
[ -x /usr/bin/time ] || { echo "window-keys.sh: needs /usr/bin/time" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# keys N: N records, each of its own key, a minute apart.
keys() {
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
	    printf "{\"timestamp\":%d,\"k\":\"k%d\",\"price\":%d}\n", i * 60, i, i % 97 }'
}

# spread N K: N records over K keys, ten a second.
spread() {
	awk -v n="$1" -v k="$2" 'BEGIN { for (i = 0; i < n; i++)
	    printf "{\"timestamp\":%.1f,\"k\":\"k%d\",\"price\":%d}\n", i / 10, i % k, i % 97 }'
}

keys 25000 >"$tmp/25k"
keys 50000 >"$tmp/50k"
keys 100000 >"$tmp/100k"
spread 200000 10000 >"$tmp/spread"
spread 200000 1 >"$tmp/one"

# measure BIN INPUT: "WALL CPU RSS_KIB" (seconds, CPU user + system), each
# the median of the runs.
measure() {
	local i mid=$(((runs + 1) / 2))
	for ((i = 0; i < runs; i++)); do
		/usr/bin/time -f '%e %U %S %M' -o "$tmp/t" "$1/window-stats" \
		    --key-field k --watermark global <"$2" >/dev/null
		awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$tmp/t"
	done >"$tmp/runs"
	printf '%s %s %s\n' "$(cut -d' ' -f1 "$tmp/runs" | sort -n | sed -n "${mid}p")" \
	    "$(cut -d' ' -f2 "$tmp/runs" | sort -n | sed -n "${mid}p")" \
	    "$(cut -d' ' -f3 "$tmp/runs" | sort -n | sed -n "${mid}p")"
}

printf '%-32s %-30s %7s %7s %9s\n' "window-stats" "input (--watermark global)" "wall s" "CPU s" "max RSS"
for bin in "$@"; do
	for c in 25k:"25,000 one-record keys" 50k:"50,000 one-record keys" \
	    100k:"100,000 one-record keys" spread:"200,000 records, 10,000 keys" \
	    one:"200,000 records, 1 key"; do
		read -r sec cpu kb < <(measure "$bin" "$tmp/${c%%:*}")
		printf '%-32s %-30s %7s %7s %5s MiB\n' "$bin" "${c#*:}" "$sec" "$cpu" \
		    "$((kb / 1024))"
	done
done
