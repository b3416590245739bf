#!/usr/bin/env bash
# bench/kinesis_cli.sh - the AWS CLI clients that bench/kinesis.sh measures
# kin-put and kin-read against: the shell loops a user would write.
#
#   kinesis_cli.sh put STREAM FIELD <NDJSON    put-records, 500 lines a call
#   kinesis_cli.sh read STREAM >NDJSON         get-records loop, then stop
#
# FIELD is the top-level field whose value is the partition key.  Endpoint,
# region and credentials come from the environment (AWS_ENDPOINT_URL_KINESIS
# and AWS_DEFAULT_REGION for the AWS CLI v1; v2 also reads AWS_REGION).
# Needs jq.
#
# put: each batch of 500 lines becomes a --records file with jq (each line
# verbatim as Data, the key from the line), is sent with `aws kinesis
# put-records` (CLI v2: --cli-binary-format raw-in-base64-out, so Data is
# the raw line; v1 does that by default), and the entries that failed are
# sent again (up to 10 attempts, backoff) before the next batch.  Exit 3 if
# some were never accepted.
#
# read: list-shards, then for each shard get-shard-iterator TRIM_HORIZON and
# get-records (10,000 a call) until a call returns no record and
# MillisBehindLatest is 0 (the stop rule of kin-read), each record's data
# decoded with jq's @base64d and written as one line.

set -euo pipefail

aws=${AWS:-aws}
# Older CLIs (Debian 12's 2.9) ignore AWS_ENDPOINT_URL_KINESIS: name the
# endpoint on the command line so nothing ever leaves the local stack.
endpoint=()
[[ -z ${AWS_ENDPOINT_URL_KINESIS:-} ]] ||
    endpoint=(--endpoint-url "$AWS_ENDPOINT_URL_KINESIS")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kinesis-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

binfmt=()
case $("$aws" --version 2>&1) in
aws-cli/1.*) ;;
*) binfmt=(--cli-binary-format raw-in-base64-out) ;;
esac

put() {
	local stream=$1 field=$2 batch attempt failed total=0 calls=0 retried=0 lost=0
	split -l 500 -a 6 - "$tmp/in."
	for batch in "$tmp"/in.*; do
		jq -Rn --arg f "$field" \
		    '[inputs | {Data: ., PartitionKey: (fromjson[$f] | tostring)}]' \
		    <"$batch" >"$tmp/records.json"
		total=$((total + $(jq length "$tmp/records.json")))
		for attempt in 1 2 3 4 5 6 7 8 9 10; do
			"$aws" "${endpoint[@]}" kinesis put-records --stream-name "$stream" \
			    --records "file://$tmp/records.json" "${binfmt[@]}" \
			    --output json >"$tmp/out.json"
			calls=$((calls + 1))
			failed=$(jq .FailedRecordCount "$tmp/out.json")
			((failed > 0)) || break
			retried=$((retried + failed))
			jq --slurpfile r "$tmp/out.json" \
			    '[. as $b | range(length) | select($r[0].Records[.].ErrorCode) | $b[.]]' \
			    "$tmp/records.json" >"$tmp/retry.json"
			mv "$tmp/retry.json" "$tmp/records.json"
			sleep "$(echo "0.1 * 2 ^ ($attempt - 1)" | bc -l)"
		done
		((failed == 0)) || lost=$((lost + failed))
		rm -f "$batch"
	done
	echo "cli put: $total records, $calls calls, $retried entries retried, $lost undeliverable" >&2
	((lost == 0)) || return 3
}

read_stream() {
	local stream=$1 shard it n total=0 calls=0 mbl
	for shard in $("$aws" "${endpoint[@]}" kinesis list-shards --stream-name "$stream" \
	    --query 'Shards[].ShardId' --output text); do
		it=$("$aws" "${endpoint[@]}" kinesis get-shard-iterator --stream-name "$stream" \
		    --shard-id "$shard" --shard-iterator-type TRIM_HORIZON \
		    --query ShardIterator --output text)
		while [[ -n $it && $it != None ]]; do
			"$aws" "${endpoint[@]}" kinesis get-records --shard-iterator "$it" --limit 10000 \
			    --output json >"$tmp/out.json"
			calls=$((calls + 1))
			jq -r '.Records[].Data | @base64d' "$tmp/out.json"
			# $(...) and not < <(...): the shell waits for it, so its
			# CPU time counts in the caller's rusage.
			read -r n mbl it <<<"$(jq -r \
			    '"\(.Records | length) \(.MillisBehindLatest // 0) \(.NextShardIterator // "None")"' \
			    "$tmp/out.json")"
			total=$((total + n))
			((n > 0 || mbl > 0)) || break
		done
	done
	echo "cli read: $total records, $calls get-records calls" >&2
}

usage() {
	sed -n '4,5s/^# //p' "$0" >&2
	exit 2
}

case ${1:-} in
put) (($# == 3)) || usage; put "$2" "$3" ;;
read) (($# == 2)) || usage; read_stream "$2" ;;
*) usage ;;
esac
