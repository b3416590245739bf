# tests/lib/kinesis.bash - what tests/kinesis-tools.bats and
# tests/kinesis-aggregate.bats share: the per-key order check of the trades
# and a fault proxy in front of the Kinesis server.  Uses $T (the test's
# folder) and sets FP_PID, which the test's teardown stops.
# shellcheck shell=bash

# per_key FILE KEY: the lines of one symbol, in order.
per_key() {
	grep -F "\"symbol\":\"$2\"" "$1"
}

# same_per_key A B: same multiset, and every symbol's lines in the same order.
same_per_key() {
	local s
	diff <(sort "$1") <(sort "$2") >/dev/null || {
		echo "multisets differ: $(wc -l <"$1") vs $(wc -l <"$2") lines" >&2
		return 1
	}
	for s in $(jq -r .symbol "$1" | sort -u); do
		diff <(per_key "$1" "$s") <(per_key "$2" "$s") >/dev/null || {
			echo "order of $s differs" >&2
			return 1
		}
	done
}

# fp_start RULES: a fault proxy in front of the Kinesis server; sets FPURL.
fp_start() {
	kp_faultproxy "$AWS_ENDPOINT_URL_KINESIS" "$1"
}
