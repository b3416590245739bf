#!/usr/bin/env bats
# kin-put --aggregate: user records packed per partition key into the KPL's
# aggregated records, against a real Kinesis server on loopback (tests/run
# runs this file against kinesalite and against kinesis-local).  Read back
# by kin-read, and by npm's aws-kinesis-agg (AWS's own de-aggregation
# library, package.json; the test that needs it skips where it is not
# installed).  The encoder's byte-by-byte vectors are in
# tests/c/putagg_test.c.

bats_require_minimum_version 1.5.0

load helpers
load lib/kinesis

DATA="$KP_ROOT/tests/data"

setup_file() {
	kp_stack_start kinesis
	zcat "$DATA/market-trades.ndjson.gz" | head -n 3000 >"$BATS_FILE_TMPDIR/m3k.ndjson"
}

teardown_file() {
	kp_stack_stop
}

setup() {
	T=$BATS_TEST_TMPDIR
	S=$(kp_unique_name agg)
	M3K=$BATS_FILE_TMPDIR/m3k.ndjson
	FP_PID=
}

teardown() {
	if [[ -n $FP_PID ]]; then
		kill "$FP_PID" 2>/dev/null || true
		wait "$FP_PID" 2>/dev/null || true
	fi
}

# The raw Kinesis records of the stream: {ShardId, PartitionKey, Data (base64)}.
raw_records() {
	kp_admin get-records "$S" --base64
}

@test "round trip: every record back once, in order per key, in a few Kinesis records" {
	kp_admin create-stream "$S" 4 >/dev/null
	run kin-put --stream "$S" --aggregate --partition-key-field symbol --stats "$T/stats" <"$M3K"
	assert_success
	kin-read --stream "$S" >"$T/out"
	[ "$(wc -l <"$T/out")" -eq 3000 ]
	same_per_key "$M3K" "$T/out"
	# 3,000 user records, six keys: a handful of aggregates of at most
	# 50 KiB each.
	jq -e '.records_in == 3000 and .records_out == 3000 and .kinesis_records < 20' "$T/stats"
	[ "$(raw_records | wc -l)" -eq "$(jq .kinesis_records "$T/stats")" ]
	# Each aggregate is stored under the key of its records.
	[ "$(raw_records | jq -r .PartitionKey | sort -u | paste -sd' ')" = \
	    "$(jq -r .symbol "$M3K" | sort -u | paste -sd' ')" ]
	kin-read --stream "$S" --envelope >"$T/env"
	jq -e 'select(.pk != (.data.symbol))' "$T/env" && false
	jq -e 'select(.subseq == null)' "$T/env" && false
	true
}

@test "without --aggregate nothing changes: one Kinesis record per line" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 50 "$M3K" | kin-put --stream "$S" --partition-key-field symbol --stats "$T/stats"
	jq -e '.records_out == 50 and .kinesis_records == 50' "$T/stats"
	[ "$(raw_records | wc -l)" -eq 50 ]
}

@test "AWS's aws-kinesis-agg de-aggregates what kin-put wrote, checksums verified" {
	(cd "$KP_ROOT" && "$KP_NODE" -e "require.resolve('aws-kinesis-agg')" 2>/dev/null) ||
	    skip "npm's aws-kinesis-agg is not installed (pipelines/deps installs package.json)"
	kp_admin create-stream "$S" 2 >/dev/null
	kin-put --stream "$S" --aggregate --partition-key-field symbol <"$M3K"
	raw_records >"$T/raw"
	(cd "$KP_ROOT" && "$KP_NODE" tests/lib/kpl-deagg.js) <"$T/raw" >"$T/user"
	[ "$(wc -l <"$T/user")" -eq 3000 ]
	# Every user record carries its own key, and comes from an aggregate.
	jq -e 'select(.pk != (.data | fromjson | .symbol) or .agg != true)' "$T/user" && false
	jq -r .data "$T/user" >"$T/data"
	same_per_key "$M3K" "$T/data"
}

@test "a key with one record is sent as a plain record: raw consumers see the line" {
	kp_admin create-stream "$S" 1 >/dev/null
	printf '%s\n' '{"symbol":"A","i":1}' '{"symbol":"B","i":2}' '{"symbol":"A","i":3}' >"$T/in"
	kin-put --stream "$S" --aggregate --partition-key-field symbol --linger 10s <"$T/in"
	raw_records >"$T/raw"
	[ "$(wc -l <"$T/raw")" -eq 2 ]
	[ "$(jq -r 'select(.PartitionKey == "B") | .Data | @base64d' "$T/raw")" = '{"symbol":"B","i":2}' ]
	# A's two: an aggregate, whose magic F3 89 9A C2 is "84ma..." in base64.
	[ "$(jq -r 'select(.PartitionKey == "A") | .Data[0:4]' "$T/raw")" = 84ma ]
	run kin-read --stream "$S"
	assert_output $'{"symbol":"A","i":1}\n{"symbol":"A","i":3}\n{"symbol":"B","i":2}'
}

@test "the 1 MiB limit: aggregates stay within --aggregate-max-bytes; a large record goes alone" {
	kp_admin create-stream "$S" 1 >/dev/null
	local pad
	pad=$(head -c 300000 /dev/zero | tr '\0' x)
	for i in 1 2 3 4 5 6 7; do
		printf '{"i":%d,"pad":"%s"}\n' "$i" "$pad"
	done >"$T/in"
	# A record of 1 MiB with its key ("k"), then small ones.
	printf '{"i":8,"pad":"%s"}\n' "$(head -c $((1048576 - 17)) /dev/zero | tr '\0' y)" >>"$T/in"
	[ "$(tail -n 1 "$T/in" | wc -c)" -eq 1048576 ]
	printf '{"i":%d}\n' 9 10 11 >>"$T/in"
	run kin-put --stream "$S" --aggregate --partition-key k --aggregate-max-bytes 1MiB \
	    --stats "$T/stats" --linger 10s <"$T/in"
	assert_success
	kin-read --stream "$S" >"$T/out"
	diff "$T/in" "$T/out"
	# Three 300 kB records per aggregate at most (1 MiB), the 1 MiB one
	# alone and plain, the three small ones together.
	# Data plus key ("k") of each Kinesis record: at most 1 MiB.
	raw_records | jq -r '(.Data | length / 4 * 3) - (.Data | if endswith("==") then 2
	    elif endswith("=") then 1 else 0 end) + 1' >"$T/sizes"
	[ "$(sort -n "$T/sizes" | tail -n 1)" -eq 1048576 ]
	[ "$(awk '$1 > 900000' "$T/sizes" | wc -l)" -eq 3 ]
	jq -e '.records_out == 11 and .kinesis_records == 5' "$T/stats"
	# The default (the KPL's 50 KiB) sends every 300 kB record alone.
	kp_admin create-stream "$S-b" 1 >/dev/null
	kin-put --stream "$S-b" --aggregate --partition-key k --stats "$T/stats" --linger 10s <"$T/in"
	jq -e '.records_out == 11 and .kinesis_records == 9' "$T/stats"
}

@test "a failed aggregate: each of its user records retried, then dead-lettered with its line number" {
	kp_admin create-stream "$S" 1 >/dev/null
	fp_start '[{"match":{"target":"PutRecords"},"action":{"preset":"internal"}}]'
	head -n 20 "$M3K" >"$T/in"
	run kin-put --stream "$S" --endpoint-url "$FPURL" --aggregate --partition-key-field symbol \
	    --max-attempts 2 --dead-letter "$T/dead" -v --stats "$T/stats" <"$T/in"
	assert_failure 3
	for i in $(seq 1 20); do
		assert_output --partial "<stdin>:$i: undeliverable after 2 attempts: InternalFailure"
	done
	diff <(sort "$T/in") <(sort "$T/dead")
	jq -e '.undeliverable == 20 and .records_out == 0 and .kinesis_records == 0' "$T/stats"
}

@test "failed entries: only their user records are retried; nothing lost, nothing twice, order per key kept" {
	kp_admin create-stream "$S" 2 >/dev/null
	fp_start '[{"match":{"target":"PutRecords","times":6},"action":{"partial_putrecords":{"fail_every":2}}}]'
	# One Kinesis record per key in a request, so no later aggregate of a
	# key can pass a failed one.
	run kin-put --stream "$S" --endpoint-url "$FPURL" --aggregate \
	    --partition-key-field symbol --max-batch-records 4 --stats "$T/stats" <"$M3K"
	assert_success
	assert_output --partial 'records failed (ProvisionedThroughputExceededException'
	refute_output --partial 'reordered'
	kin-read --stream "$S" >"$T/out"
	[ "$(wc -l <"$T/out")" -eq 3000 ]
	same_per_key "$M3K" "$T/out"
	jq -e '.records_out == 3000 and .retried > 0' "$T/stats"
	[ "$(jq -s 'map(.stored // 0) | add' "$T/fp.log")" -eq "$(jq .kinesis_records "$T/stats")" ]
}

@test "through shards at their limits (the fault proxy's shard_limits): order per key kept, nothing lost" {
	# One shard taking 4,000 bytes a second, aggregates of 1 KiB: the
	# first request, an aggregate for each of the six symbols, is already
	# over the limit, however fast the server is.
	kp_admin create-stream "$S" 1 >/dev/null
	fp_start '[{"match":{"target":"PutRecords"},"action":{"shard_limits":{"bytes_per_second":4000}}}]'
	head -n 300 "$M3K" >"$T/in"
	run kin-put --stream "$S" --endpoint-url "$FPURL" --aggregate --aggregate-max-bytes 1KiB \
	    --partition-key-field symbol --max-attempts 100 --stats "$T/stats" <"$T/in"
	assert_success
	assert_output --partial 'Rate exceeded for shard'
	refute_output --partial 'reordered'
	kin-read --stream "$S" >"$T/out"
	same_per_key "$T/in" "$T/out"
	jq -e '.records_out == 300 and .retried > 0' "$T/stats"
}

@test "--receipts: one per user record; the records of an aggregate share its sequence number" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 100 "$M3K" | kin-put --stream "$S" --aggregate --partition-key-field symbol \
	    --receipts --linger 10s >"$T/r"
	[ "$(wc -l <"$T/r")" -eq 100 ]
	[ "$(jq -r .line "$T/r" | sort -n | uniq | wc -l)" -eq 100 ]
	[ "$(jq -r .seq "$T/r" | sort -u | wc -l)" -eq "$(head -n 100 "$M3K" | jq -r .symbol | sort -u | wc -l)" ]
}

@test "--raw, a fixed key and explicit hash keys aggregate too" {
	kp_admin create-stream "$S" 2 >/dev/null
	printf 'line %d\n' $(seq 1 100) >"$T/in"
	kin-put --stream "$S" --aggregate --raw --partition-key host1 --stats "$T/stats" <"$T/in"
	jq -e '.kinesis_records == 1' "$T/stats"
	run kin-read --stream "$S" --envelope
	[ "$(printf '%s\n' "$output" | jq -r '.data | @base64d')" = "$(cat "$T/in")" ]
	kp_admin create-stream "$S-e" 2 >/dev/null
	# Two keys, each with its hash key, one per shard: an aggregate per
	# key, on its hash key's shard.
	for i in $(seq 1 40); do
		k=a h=1
		((i % 2)) || k=b h=340282366920938463463374607431768211455
		printf '{"i":%d,"k":"%s","h":"%s"}\n' "$i" "$k" "$h"
	done >"$T/ehk"
	kin-put --stream "$S-e" --aggregate --partition-key-field k --explicit-hash-key-field h \
	    --stats "$T/stats" --linger 10s <"$T/ehk"
	jq -e '.kinesis_records == 2' "$T/stats"
	[ "$(kp_admin get-records "$S-e" --base64 | jq -r .ShardId | sort -u | wc -l)" -eq 2 ]
	kin-read --stream "$S-e" | sort >"$T/out"
	diff <(sort "$T/ehk") "$T/out"
}

@test "--aggregate options: usage errors" {
	run kin-put --stream s --aggregate-max-bytes 1MiB
	assert_failure 2
	assert_output --partial 'need --aggregate'
	run kin-put --stream s --aggregate --aggregate-max-bytes 63
	assert_failure 2
	run kin-put --stream s --aggregate --aggregate-max-bytes 2MiB
	assert_failure 2
	assert_output --partial '--aggregate-max-bytes exceeds --max-record-bytes'
	run kin-put --stream s --aggregate --aggregate-max-records 0
	assert_failure 2
}

@test "--aggregate with random keys packs nothing, and says so" {
	kp_admin create-stream "$S" 1 >/dev/null
	run kin-put --stream "$S" --aggregate --stats "$T/stats" < <(head -n 20 "$M3K")
	assert_success
	assert_output --partial 'packs nothing: every record has a random key of its own'
	jq -e '.records_out == 20 and .kinesis_records == 20' "$T/stats"
}
