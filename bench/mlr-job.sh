#!/bin/sh
# bench/mlr-job.sh - the processor's jobs in Miller 6, for bench/processor.sh:
#
#   mlr-job.sh windows < ticks.ndjson               one line per (symbol, minute)
#   mlr-job.sh flag WINDOWS.jsonl < ticks.ndjson    each trade against its window
#
# The reference job is the two passes: windows into a file, then flag.  Miller
# has no first/last in stats1 (skipped) and uses the sample variance, turned
# into the population standard deviation.  Kept fixed so that the baseline
# cannot drift: change it only with a note in bench/README.md.
# The Miller programs are in single quotes: $field is Miller's, not the shell's.
# shellcheck disable=SC2016,SC1010
set -eu
case ${1:-} in
windows)
	exec mlr --ijsonl --ojsonl \
	    put -S '$window_start = substr0($timestamp, 0, 15) . ":00.000Z"' \
	    then stats1 -a count,mean,var,min,max,sum -f price -g symbol,window_start \
	    then put '$price_stddev = sqrt($price_var * ($price_count - 1) / $price_count)'
	;;
flag)
	[ $# -eq 2 ] || { echo "usage: mlr-job.sh flag WINDOWS.jsonl" >&2; exit 2; }
	exec mlr --ijsonl --ojsonl \
	    put -S '$window_start = substr0($timestamp, 0, 15) . ":00.000Z"' \
	    then join -j symbol,window_start -f "$2" \
	    then filter '$price_stddev > 0 && abs($price - $price_mean) > 3 * $price_stddev' \
	    then put '$zscore = ($price - $price_mean) / $price_stddev; $sigma = 3'
	;;
*)
	echo "usage: mlr-job.sh windows|flag WINDOWS.jsonl" >&2
	exit 2
	;;
esac
