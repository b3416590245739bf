# tests/lib/faults.bash - what tests/faults.bats and tests/faults-restart.bats
# share: the numbered input, the peak-memory bound, the barriers of a
# checkpointed run and the figures for the README.
# shellcheck shell=bash

# faults_input N FILE: N of the bundled trades (repeated), numbered so that
# every line is unique.
faults_input() {
	python3 "$KP_ROOT/tests/lib/trades-repeat.py" "$1" \
	    "$KP_ROOT/tests/data/market-trades.ndjson.gz" |
	    awk '{ sub(/}$/, ",\"i\":" NR "}"); print }' >"$2"
}

# rss_under MIB: the peak RSS in $T/rss (/usr/bin/time -f %M), also set
# in RSS_KB, is under MIB MiB (four times that under ASan, whose shadow
# memory and quarantine the tool does not control).
rss_under() {
	local mib=$1
	RSS_KB=$(tail -n 1 "$T/rss")
	echo "peak RSS: $RSS_KB KiB"
	[[ $KP_BUILD == *asan* ]] && mib=$((mib * 4))
	((RSS_KB < mib * 1024))
}

# with_barriers FILE: FILE's lines with a barrier after every 2,000 and
# after the last (final), as kin-read would write them.
with_barriers() {
	awk -v n="$(wc -l <"$1")" '{ print } NR % 2000 == 0 || NR == n {
	    printf "{\"__kinpipe\":{\"barrier\":%d,\"version\":1,\"job\":\"j\",\"stream\":\"s\",\"final\":%s,\"positions\":{}}}\n", ++b, NR == n ? "true" : "false" }' \
	    "$1"
}

# report FIGURES...: one line of figures for the README table, into
# $FAULTS_REPORT when set (make faults).
report() {
	[[ -n ${FAULTS_REPORT:-} ]] || return 0
	printf '%s\n' "$*" >>"$FAULTS_REPORT"
}
