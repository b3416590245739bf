#!/usr/bin/env bats
# kin-put and kin-read against a real Kinesis server on loopback.
# tests/run runs this file once against kinesalite and once against
# kinesis-local (KP_KINESIS).  One test also reads a moto_server stream (pip's
# moto[server]) and skips where moto_server is not installed.

bats_require_minimum_version 1.5.0

load helpers
load lib/kinesis

DATA="$KP_ROOT/tests/data"

setup_file() {
	kp_stack_start kinesis
	# The six-market file, shared by several tests.
	zcat "$DATA/market-trades.ndjson.gz" >"$BATS_FILE_TMPDIR/market.ndjson"
	head -n 3000 "$BATS_FILE_TMPDIR/market.ndjson" >"$BATS_FILE_TMPDIR/m3k.ndjson"
}

teardown_file() {
	kp_stack_stop
}

setup() {
	T=$BATS_TEST_TMPDIR
	S=$(kp_unique_name kin)
	M3K=$BATS_FILE_TMPDIR/m3k.ndjson
	FP_PID=
	MOTO_PID=
	HS_PID=
}

teardown() {
	local pid
	for pid in $FP_PID $MOTO_PID $HS_PID; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# kinesis-local (kinesis-mock compiled to JavaScript) stores a few hundred
# records a second on this machine's two cores, so against it the round trip
# takes the first 10,000 trades (all six markets are in them); kinesalite
# gets all 78,638.
@test "round trip: the real trades of six markets through a 4-shard stream" {
	local in=$BATS_FILE_TMPDIR/market.ndjson
	if [[ $KP_KINESIS_SERVER == kinesis-local ]]; then
		head -n 10000 "$in" >"$T/in.ndjson"
		in=$T/in.ndjson
	fi
	[ "$(jq -r .symbol "$in" | sort -u | wc -l)" -eq 6 ]
	kp_admin create-stream "$S" 4 >/dev/null
	run kin-put --stream "$S" --partition-key-field symbol <"$in"
	assert_success
	kin-read --stream "$S" >"$T/out.ndjson"
	[ "$(wc -l <"$T/out.ndjson")" -eq "$(wc -l <"$in")" ]
	same_per_key "$in" "$T/out.ndjson"
}

@test "kin-read output is byte-identical to the compact input lines" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 50 "$M3K" | kin-put --stream "$S" --partition-key p
	kin-read --stream "$S" >"$T/out"
	diff <(head -n 50 "$M3K") "$T/out"
}

@test "--receipts: one line per record with line, shard and sequence number" {
	kp_admin create-stream "$S" 2 >/dev/null
	head -n 200 "$M3K" | kin-put --stream "$S" --partition-key-field symbol --receipts >"$T/r"
	[ "$(wc -l <"$T/r")" -eq 200 ]
	[ "$(jq -r .line "$T/r" | sort -n | uniq | wc -l)" -eq 200 ]
	[ "$(jq -r .line "$T/r" | sort -n | tail -n 1)" -eq 200 ]
	jq -e 'select((.shard | startswith("shardId-")) and (.seq | test("^[0-9]+$"))) ' "$T/r" >/dev/null
	[ "$(jq -r .seq "$T/r" | sort -u | wc -l)" -eq 200 ]
}

@test "--partition-key puts everything on one shard in order" {
	kp_admin create-stream "$S" 4 >/dev/null
	head -n 300 "$M3K" | kin-put --stream "$S" --partition-key same --receipts >"$T/r"
	[ "$(jq -r .shard "$T/r" | sort -u | wc -l)" -eq 1 ]
	kin-read --stream "$S" >"$T/out"
	diff <(head -n 300 "$M3K") "$T/out"
}

@test "numeric partition keys are their own text: long numbers stay distinct" {
	kp_admin create-stream "$S" 1 >/dev/null
	# Both were read as doubles by earlier releases, and became one key.
	printf '%s\n' '{"k":123456789012345678901234567890}' '{"k":99999999999999999999}' |
	    kin-put --stream "$S" --partition-key-field k --receipts >"$T/r"
	[ "$(wc -l <"$T/r")" -eq 2 ]
	kin-read --stream "$S" --envelope >"$T/env"
	[ "$(jq -r .pk "$T/env" | paste -sd' ')" = '123456789012345678901234567890 99999999999999999999' ]
}

@test "an escaped partition key survives an escaped --pace-field time" {
	kp_admin create-stream "$S" 1 >/dev/null
	# Both strings are decoded; the time's decoding once overwrote the key.
	printf '%s\n' '{"k":"a\u0062","t":"2024-01-01T00:00:00\u005A"}' |
	    kin-put --stream "$S" --partition-key-field k --pace-field t
	[ "$(kin-read --stream "$S" --envelope | jq -r .pk)" = ab ]
}

@test "default random partition keys spread records over the shards" {
	kp_admin create-stream "$S" 4 >/dev/null
	head -n 400 "$M3K" | kin-put --stream "$S" --receipts >"$T/r"
	[ "$(jq -r .shard "$T/r" | sort -u | wc -l)" -eq 4 ]
}

@test "--explicit-hash-key-field routes by hash key" {
	kp_admin create-stream "$S" 2 >/dev/null
	# Two shards split the hash space at 2^127.
	printf '%s\n' '{"h":"0","v":1}' '{"h":"340282366920938463463374607431768211455","v":2}' |
	    kin-put --stream "$S" --partition-key k --explicit-hash-key-field h --receipts >"$T/r"
	[ "$(jq -r .shard "$T/r" | sort -u | wc -l)" -eq 2 ]
	run kin-put --stream "$S" --partition-key k --explicit-hash-key-field h <<<'{"h":"12x"}'
	assert_failure 3
	assert_output --partial '<stdin>:1: explicit hash key field h: not a decimal 128-bit number'
}

@test "bad input: reported with line numbers, counted, dead-lettered verbatim, exit 3" {
	kp_admin create-stream "$S" 1 >/dev/null
	printf '%s\n' '{"symbol":"A","v":1}' 'not json' '[1,2]' '{"v":2}' '{"symbol":"B","v":3}' \
	    '{"symbol":{"x":1}}' >"$T/in"
	run kin-put --stream "$S" --partition-key-field symbol --dead-letter "$T/dead" <"$T/in"
	assert_failure 3
	assert_output --partial 'kin-put: <stdin>:2: invalid JSON'
	assert_output --partial 'kin-put: <stdin>:3: not a JSON object'
	assert_output --partial 'kin-put: <stdin>:4: partition key field symbol: missing'
	assert_output --partial 'kin-put: <stdin>:6: partition key field symbol: not a string or number'
	diff "$T/dead" <(sed -n '2p;3p;4p;6p' "$T/in")
	kin-read --stream "$S" >"$T/out"
	diff "$T/out" <(sed -n '1p;5p' "$T/in")
}

@test "--strict stops at the first bad line" {
	kp_admin create-stream "$S" 1 >/dev/null
	printf '%s\n' '{"v":1}' 'oops' '{"v":3}' >"$T/in"
	run kin-put --stream "$S" --partition-key k --strict <"$T/in"
	assert_failure 3
	assert_output --partial '<stdin>:2:'
	kin-read --stream "$S" >"$T/out"
	[ "$(wc -l <"$T/out")" -le 1 ]
	! grep -q '"v":3' "$T/out"
}

@test "--raw sends any line; kin-read rejects non-JSON data unless --envelope" {
	kp_admin create-stream "$S" 1 >/dev/null
	printf '%s\n' 'plain text' '{"ok":1}' | kin-put --stream "$S" --partition-key k --raw
	run --separate-stderr kin-read --stream "$S" --dead-letter "$T/dead"
	assert_failure 3
	assert_output '{"ok":1}'
	[[ $stderr =~ kin-read:\ shardId-[0-9]+:[0-9]+:\ invalid\ JSON ]]
	[ "$(cat "$T/dead")" = 'plain text' ]
	kin-read --stream "$S" --envelope >"$T/env"
	jq -e --arg s "$S" 'select(.stream == $s and (.shard | startswith("shardId-")) and .pk == "k"
	    and (.arrival | test("^[0-9-]+T[0-9:.]+Z$")) and (.seq | length) > 0)' "$T/env" >/dev/null
	[ "$(jq -r 'select(.encoding == "base64") | .data' "$T/env" | base64 -d)" = 'plain text' ]
	[ "$(jq -c 'select(.encoding == null) | .data' "$T/env")" = '{"ok":1}' ]
}

@test "oversize records are rejected with their line number; limits are configurable" {
	kp_admin create-stream "$S" 1 >/dev/null
	printf '{"pad":"%s"}\n' "$(head -c 2000 /dev/zero | tr '\0' x)" >"$T/big"
	printf '%s\n' '{"small":1}' >>"$T/big"
	run kin-put --stream "$S" --partition-key k --max-record-bytes 1000 <"$T/big"
	assert_failure 3
	assert_output --partial '<stdin>:1: record larger than 1000 bytes'
	run kin-put --stream "$S" --partition-key k --max-line 100 <"$T/big"
	assert_failure 3
	assert_output --partial '<stdin>:1: line longer than 100 bytes'
}

@test "batching limits: --max-batch-records and --max-batch-bytes bound each request" {
	kp_admin create-stream "$S" 1 >/dev/null
	fp_start '[]'
	head -n 1000 "$M3K" | kin-put --stream "$S" --endpoint-url "$FPURL" --max-batch-records 100 --linger 10s
	[ "$(jq -s '[.[] | select(.target == "PutRecords")] | length' "$T/fp.log")" -ge 10 ]
	[ "$(jq -s '[.[] | select(.target == "PutRecords") | .records] | max' "$T/fp.log")" -le 100 ]
	: >"$T/fp.log"
	head -n 1000 "$M3K" | kin-put --stream "$S" --endpoint-url "$FPURL" --max-batch-bytes 10KiB --linger 10s
	[ "$(jq -s '[.[] | select(.target == "PutRecords") | .records] | max' "$T/fp.log")" -le 160 ]
	[ "$(kin-read --stream "$S" | wc -l)" -eq 2000 ]
}

@test "partial failures: only failed entries are retried; nothing lost, nothing twice" {
	kp_admin create-stream "$S" 2 >/dev/null
	fp_start '[{"match":{"target":"PutRecords","times":6},"action":{"partial_putrecords":{"fail_every":3}}}]'
	run kin-put --stream "$S" --endpoint-url "$FPURL" --partition-key-field symbol <"$M3K"
	assert_success
	assert_output --partial 'records failed (ProvisionedThroughputExceededException'
	kin-read --stream "$S" >"$T/out"
	[ "$(wc -l <"$T/out")" -eq 3000 ]
	diff <(sort "$M3K") <(sort "$T/out")
}

@test "per-key order holds across retried entries (one record per request)" {
	kp_admin create-stream "$S" 2 >/dev/null
	fp_start '[{"match":{"target":"PutRecords"},"action":{"partial_putrecords":{"fail_every":2}}}]'
	head -n 300 "$M3K" >"$T/in"
	run kin-put --stream "$S" --endpoint-url "$FPURL" --partition-key-field symbol \
	    --max-batch-records 1 --max-in-flight 8 <"$T/in"
	assert_success
	kin-read --stream "$S" >"$T/out"
	same_per_key "$T/in" "$T/out"
}

@test "throttling, 5xx and dropped connections are retried without loss or duplicates" {
	kp_admin create-stream "$S" 2 >/dev/null
	fp_start '[{"match":{"target":"PutRecords","nth":1},"action":{"preset":"throttle"}},
	    {"match":{"target":"PutRecords","nth":2},"action":{"preset":"internal"}},
	    {"match":{"target":"PutRecords","nth":3},"action":{"preset":"unavailable","retry_after":1}},
	    {"match":{"target":"PutRecords","nth":4},"action":{"drop":"before"}}]'
	run kin-put --stream "$S" --endpoint-url "$FPURL" --partition-key-field symbol \
	    --max-batch-records 200 <"$M3K"
	assert_success
	assert_output --partial 'ProvisionedThroughputExceededException'
	assert_output --partial 'InternalFailure'
	kin-read --stream "$S" >"$T/out"
	same_per_key "$M3K" "$T/out"
}

@test "a response lost after the server stored the batch may duplicate it, never lose it" {
	kp_admin create-stream "$S" 1 >/dev/null
	fp_start '[{"match":{"target":"PutRecords","nth":2},"action":{"drop":"after"}}]'
	run kin-put --stream "$S" --endpoint-url "$FPURL" --partition-key k --max-batch-records 100 \
	    --max-in-flight 1 --linger 10s <"$M3K"
	assert_success
	kin-read --stream "$S" >"$T/out"
	# Every line arrives (the multiset of the input is contained in the
	# output); the batch whose answer was lost arrives twice.
	[ -z "$(comm -23 <(sort "$M3K") <(sort "$T/out"))" ]
	[ "$(comm -13 <(sort "$M3K") <(sort "$T/out") | wc -l)" -eq 100 ]
	[ "$(wc -l <"$T/out")" -eq "$(jq -s 'map(.stored // 0) | add' "$T/fp.log")" ]
	# ... and kin-put says how many may have been stored twice.
	assert_output --partial '100 records were sent again after a request whose answer was lost'
}

@test "a request that times out is retried" {
	kp_admin create-stream "$S" 1 >/dev/null
	fp_start '[{"match":{"target":"PutRecords","nth":1},"action":{"delay_ms":4000}}]'
	run kin-put --stream "$S" --endpoint-url "$FPURL" --partition-key k --timeout 1s <<<'{"a":1}'
	assert_success
	assert_output --partial 'retrying'
	sleep 4
	run kin-read --stream "$S"
	assert_line '{"a":1}'
}

@test "retry budget spent: records go to the dead-letter file, exit 3" {
	kp_admin create-stream "$S" 1 >/dev/null
	fp_start '[{"match":{"target":"PutRecords"},"action":{"preset":"internal"}}]'
	head -n 20 "$M3K" >"$T/in"
	run kin-put --stream "$S" --endpoint-url "$FPURL" --partition-key k --max-attempts 2 \
	    --dead-letter "$T/dead" <"$T/in"
	assert_failure 3
	assert_output --partial 'undeliverable after 2 attempts: InternalFailure'
	diff <(sort "$T/in") <(sort "$T/dead")
}

@test "a permanent error (no such stream) exits 1 and keeps the records" {
	run kin-put --stream no-such-stream-here --partition-key k --dead-letter "$T/dead" <<<'{"a":1}'
	assert_failure 1
	assert_output --partial 'ResourceNotFoundException'
	[ "$(cat "$T/dead")" = '{"a":1}' ]
	run kin-read --stream no-such-stream-here
	assert_failure 1
	assert_output --partial 'ResourceNotFoundException'
}

@test "kin-read: expired iterators and throttled GetRecords lose nothing" {
	kp_admin create-stream "$S" 1 >/dev/null
	kin-put --stream "$S" --partition-key k --max-batch-records 100 <"$M3K"
	fp_start '[{"match":{"target":"GetRecords","nth":2},"action":{"preset":"expired-iterator"}},
	    {"match":{"target":"GetRecords","nth":3},"action":{"preset":"throttle"}}]'
	kin-read --stream "$S" --endpoint-url "$FPURL" --limit 500 >"$T/out"
	diff "$M3K" "$T/out"
	[ "$(jq -s '[.[] | select(.target == "GetShardIterator")] | length' "$T/fp.log")" -ge 2 ]
}

@test "an error answer whose __type is null is an error, not a crash" {
	# kin-read used to dereference the null code (exit 139).
	kp_admin create-stream "$S" 1 >/dev/null
	fp_start '[{"match":{"target":"GetShardIterator"},"action":{"status":400,"body":{"__type":null,"message":"odd"}}}]'
	run --separate-stderr kin-read --stream "$S" --endpoint-url "$FPURL"
	assert_failure 1
	[[ $stderr == *"GetShardIterator"*"HTTP 400"*odd* ]]
	kill "$FP_PID" && wait "$FP_PID" 2>/dev/null || true
	fp_start '[{"match":{"target":"PutRecords"},"action":{"status":400,"body":{"__type":null,"code":null,"message":null}}}]'
	run --separate-stderr kin-put --stream "$S" --endpoint-url "$FPURL" <<<'{"a":1}'
	assert_failure 1
	[[ $stderr == *"PutRecords: HTTP 400"* ]]
}

@test "kin-read --from latest, at-timestamp and after-sequence" {
	kp_admin create-stream "$S" 1 >/dev/null
	printf '%s\n' '{"n":1}' '{"n":2}' | kin-put --stream "$S" --partition-key k --receipts >"$T/r"
	seq1=$(jq -r 'select(.line == 1) | .seq' "$T/r")
	shard=$(jq -r 'select(.line == 1) | .shard' "$T/r")
	run kin-read --stream "$S" --from "after-sequence:$shard=$seq1"
	assert_output '{"n":2}'
	run kin-read --stream "$S" --from latest
	assert_success
	assert_output ''
	run kin-read --stream "$S" --from at-timestamp:2000-01-01T00:00:00Z
	assert_output $'{"n":1}\n{"n":2}'
	run kin-read --stream "$S" --from sideways
	assert_failure 2
}

@test "kin-read --count and --until stop early" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 100 "$M3K" | kin-put --stream "$S" --partition-key k
	run kin-read --stream "$S" --count 7
	assert_success
	[ "${#lines[@]}" -eq 7 ]
	run kin-read --stream "$S" --until 2000-01-01T00:00:00Z
	assert_success
	assert_output ''
	run kin-read --stream "$S" --until 2999-01-01T00:00:00Z
	[ "${#lines[@]}" -eq 100 ]
}

@test "kin-read --shards reads a subset; the subsets of all shards make the whole" {
	kp_admin create-stream "$S" 4 >/dev/null
	kin-put --stream "$S" --partition-key-field symbol <"$M3K"
	kp_admin list-shards "$S" | jq -r '.Shards[].ShardId' >"$T/ids"
	[ "$(wc -l <"$T/ids")" -eq 4 ]
	: >"$T/all"
	while read -r id; do
		kin-read --stream "$S" --shards "$id" >>"$T/all"
	done <"$T/ids"
	same_per_key "$M3K" "$T/all"
	run kin-read --stream "$S" --shards shardId-999999999999
	assert_failure 2
}

@test "resharding during writes: split and merge lose nothing and keep per-key order" {
	kp_admin create-stream "$S" 2 >/dev/null
	split -n l/3 "$M3K" "$T/part."
	kin-put --stream "$S" --partition-key-field symbol <"$T/part.aa"
	first=$(kp_admin list-shards "$S" | jq -r '.Shards[0].ShardId')
	kp_admin split-shard "$S" "$first" >/dev/null
	kin-put --stream "$S" --partition-key-field symbol <"$T/part.ab"
	# Merge the two children of the split.
	mapfile -t kids < <(kp_admin list-shards "$S" | jq -r --arg p "$first" \
	    '.Shards[] | select(.ParentShardId == $p) | .ShardId')
	[ "${#kids[@]}" -eq 2 ]
	kp_admin merge-shards "$S" "${kids[0]}" "${kids[1]}" >/dev/null
	kin-put --stream "$S" --partition-key-field symbol <"$T/part.ac"
	kin-read --stream "$S" >"$T/out"
	same_per_key "$M3K" "$T/out"
}

@test "resharding during a follow: new child shards are discovered and read after their parent" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 1000 "$M3K" >"$T/a"
	sed -n '1001,2000p' "$M3K" >"$T/b"
	kin-put --stream "$S" --partition-key-field symbol <"$T/a"
	kin-read --stream "$S" --follow --list-interval 200ms --poll-interval 100ms >"$T/out" &
	reader=$!
	first=$(kp_admin list-shards "$S" | jq -r '.Shards[0].ShardId')
	kp_admin split-shard "$S" "$first" >/dev/null
	kin-put --stream "$S" --partition-key-field symbol <"$T/b"
	for ((i = 0; i < 200; i++)); do
		[ "$(wc -l <"$T/out")" -ge 2000 ] && break
		sleep 0.1
	done
	kill -TERM "$reader"
	wait "$reader" || true
	same_per_key <(cat "$T/a" "$T/b") "$T/out"
}

@test "KPL aggregated records are de-aggregated" {
	kp_admin create-stream "$S" 1 >/dev/null
	blob=$("$KP_BUILD_DIR/tests/kpl_test" encode 'k1={"i":1}' 'k2={"i":2}' 'k3={"i":3}')
	jq -n --arg s "$S" --arg d "$blob" '{StreamName: $s, Records: [{Data: $d, PartitionKey: "agg"}]}' >"$T/req"
	curl -sS -f -X POST "$AWS_ENDPOINT_URL_KINESIS/" -H 'Content-Type: application/x-amz-json-1.1' \
	    -H 'X-Amz-Target: Kinesis_20131202.PutRecords' -H 'X-Amz-Date: 20150830T123600Z' \
	    -H "Authorization: AWS4-HMAC-SHA256 Credential=$AWS_ACCESS_KEY_ID/20150830/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00" \
	    --data-binary @"$T/req" >/dev/null
	run kin-read --stream "$S"
	assert_success
	assert_output $'{"i":1}\n{"i":2}\n{"i":3}'
	kin-read --stream "$S" --envelope >"$T/env"
	[ "$(jq -c '[.pk, .subseq]' "$T/env" | paste -sd' ')" = '["k1",0] ["k2",1] ["k3",2]' ]
}

@test "kin-read --follow stops on SIGTERM and flushes what it read" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 10 "$M3K" | kin-put --stream "$S" --partition-key k
	kin-read --stream "$S" --follow --poll-interval 100ms >"$T/out" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -l <"$T/out")" -ge 10 ] && break
		sleep 0.1
	done
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	diff <(head -n 10 "$M3K") "$T/out"
}

# Waits (up to 30 s) until file $1 has a line matching $2.
wait_for_line() {
	local i
	for ((i = 0; i < 300; i++)); do
		grep -qs -- "$2" "$1" && return 0
		sleep 0.1
	done
	return 1
}

# Waits for process $1 to end (a guard against a hang, not a timing
# assertion); kills it and fails after 60 s.
wait_or_kill() {
	local i
	for ((i = 0; i < 600; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -KILL "$1"
		echo "process $1 still running after 60 s" >&2
		return 1
	fi
	wait "$1" || return $?
}

# kin-put of N records to URL in the background (pid), once file $3 has a
# line matching $4.
kin_put_bg() {
	seq 1 "$1" | sed 's/.*/{"n":&}/' >"$T/in"
	kin-put --stream "$S" --partition-key k --endpoint-url "$2" \
	    --retry-budget 10m --dead-letter "$T/dl" <"$T/in" >"$T/out" 2>"$T/err" 3>&- &
	pid=$!
	wait_for_line "$3" "$4"
}

# kin-put against a closed loopback port: every attempt fails at once.
kin_put_unreachable() {
	kin_put_bg "$1" http://127.0.0.1:1 "$T/err" 'retrying them'
}

@test "kin-put against an unreachable server: the first SIGTERM drains, the second stops the retries; every record dead-lettered, status 3, a count instead of a flood" {
	kin_put_unreachable 2000
	kill -TERM "$pid"
	sleep 0.5
	kill -TERM "$pid"
	rc=0
	wait_or_kill "$pid" || rc=$?
	[ "$rc" -eq 3 ]
	grep -q '^kin-put: second signal: the records not yet delivered are undeliverable$' "$T/err"
	grep -q '^kin-put: <stdin>:[0-9]*: undeliverable after [0-9]* attempts: stopped by a second signal$' "$T/err"
	# Not one line per record: the first 10 of the reason, then a count.
	[ "$(grep -c 'undeliverable after' "$T/err")" -le 10 ]
	grep -q '^kin-put: [0-9]* more lines undeliverable: stopped by a second signal$' "$T/err"
	diff <(sort "$T/in") <(sort "$T/dl")
}

# SIGINT and SIGTERM to $pid at once (stopped, it gets both when it
# continues, before its loop runs again: the kernel would merge two of the
# same signal); then rc is its exit status.
signals_together() {
	kill -STOP "$pid"
	kill -INT "$pid"
	kill -TERM "$pid"
	kill -CONT "$pid"
	rc=0
	wait_or_kill "$pid" || rc=$?
}

@test "kin-put: two signals that arrive together are two (SIGINT and SIGTERM while stopped): the retries stop, status 3" {
	kin_put_unreachable 50
	signals_together
	[ "$rc" -eq 3 ]
	grep -q '^kin-put: second signal: the records not yet delivered are undeliverable$' "$T/err"
	diff <(sort "$T/in") <(sort "$T/dl")
}

# Once file $1 has a line matching $2: SIGTERM to $pid, then rc is its
# exit status.
term_when() {
	wait_for_line "$1" "$2"
	kill -TERM "$pid"
	rc=0
	wait_or_kill "$pid" || rc=$?
}

@test "kin-read stops promptly on SIGTERM while it retries an unreachable server" {
	kin-read --stream "$S" --follow --endpoint-url http://127.0.0.1:1 --retry-budget 10m \
	    >"$T/out" 2>"$T/err" 3>&- &
	pid=$!
	term_when "$T/err" 'retry 2 in'
	[ "$rc" -eq 1 ]
	# Each retry is named by its operation, not "POST /".
	grep -q '^kin-read: ListShards: .*; retry 2 in [0-9]* ms$' "$T/err"
	grep -q '^kin-read: ListShards: interrupted while retrying$' "$T/err"
}

# A server on loopback that takes requests and never answers: HS_PORT;
# each request it reads appends a line to $T/hs.got.
hung_server() {
	python3 -c '
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    if c.recv(65536):
        with open(sys.argv[2], "a") as f:
            f.write("request\n")
' "$T/hs.port" "$T/hs.got" >/dev/null 2>&1 3>&- &
	HS_PID=$!
	wait_for_line "$T/hs.port" '[0-9]'
	HS_PORT=$(cat "$T/hs.port")
}

@test "kin-put: the second signal abandons the request in flight (a server that never answers): every record dead-lettered, status 3" {
	hung_server
	kin_put_bg 20 "http://127.0.0.1:$HS_PORT" "$T/hs.got" request
	signals_together
	[ "$rc" -eq 3 ]
	grep -q '^kin-put: <stdin>:[0-9]*: undeliverable after [0-9]* attempts: stopped by a second signal$' "$T/err"
	diff <(sort "$T/in") <(sort "$T/dl")
}

@test "kin-read stops promptly on SIGTERM while its request hangs (a server that never answers)" {
	hung_server
	kin-read --stream "$S" --follow --endpoint-url "http://127.0.0.1:$HS_PORT" \
	    >"$T/out" 2>"$T/err" 3>&- &
	pid=$!
	term_when "$T/hs.got" request
	[ "$rc" -eq 1 ]
	grep -q '^kin-read: ListShards: interrupted$' "$T/err"
}

@test "kin-read: SIGTERM while GetRecords is retried stops the read as any signal does: what was read and the final barrier, exit 0" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 10 "$M3K" | kin-put --stream "$S" --partition-key k
	fp_start '[{"match":{"target":"GetRecords","from":2},"action":{"preset":"internal"}}]'
	kin-read --stream "$S" --follow --poll-interval 100ms --endpoint-url "$FPURL" \
	    --max-attempts 1000 --retry-budget 10m --checkpoint-dir "$T/ck" \
	    >"$T/out" 2>"$T/err" 3>&- &
	pid=$!
	term_when "$T/err" 'retry 2 in'
	[ "$rc" -eq 0 ]
	diff <(head -n 10 "$M3K") <(grep -v __kinpipe "$T/out")
	# The final barrier, after the last record.
	tail -n 1 "$T/out" | jq -e '.__kinpipe.barrier' >/dev/null
	! grep -q interrupted "$T/err"
}

@test "--pace-field replays at the pace of event time" {
	kp_admin create-stream "$S" 1 >/dev/null
	printf '%s\n' '{"t":"2024-01-01T00:00:00Z"}' '{"t":"2024-01-01T00:00:01Z"}' '{"t":"2024-01-01T00:00:02Z"}' |
	    kin-put --stream "$S" --partition-key k --pace-field t --speed 20
	[ "$(kin-read --stream "$S" | wc -l)" -eq 3 ]
	run kin-put --stream "$S" --partition-key k --pace-field t <<<'{"t":"yesterday"}'
	assert_failure 3
	assert_output --partial '<stdin>:1: pace field t: not an RFC 3339 time'
	run kin-put --stream "$S" --pace-field t --speed 0 </dev/null
	assert_failure 2
}

@test "--progress writes a progress line; -v a summary; -q silences warnings" {
	kp_admin create-stream "$S" 1 >/dev/null
	run kin-put --stream "$S" --partition-key k --progress <"$M3K"
	assert_success
	assert_output --partial 'records sent'
	run kin-put --stream "$S" --partition-key k --no-progress -v <"$M3K"
	assert_output --partial '3000 records delivered'
	run kin-put --stream "$S" --partition-key k -q <<<'nope'
	assert_failure 3
	assert_output ''
	run kin-read --stream "$S" -v --count 1
	assert_output --partial 'records written'
}

@test "kin-read --progress: records written, rate, and how far behind the tip" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 100 "$M3K" | kin-put --stream "$S" --partition-key k
	# The first GetRecords says the shard is 90 s behind and hands out an
	# iterator that the second finds expired: the read then starts again.
	fp_start '[{"match":{"target":"GetRecords","nth":1},"action":{"status":200,
	    "body":{"Records":[],"MillisBehindLatest":90000,"NextShardIterator":"stale"}}},
	    {"match":{"target":"GetRecords","nth":2},"action":{"preset":"expired-iterator"}}]'
	run --separate-stderr kin-read --stream "$S" --endpoint-url "$FPURL" --progress \
	    --poll-interval 1500ms
	assert_success
	[ "${#lines[@]}" -eq 100 ]
	[[ $stderr == *"kin-read: 0 records written, 0/s, 1m30s behind the tip"* ]]
	[[ $stderr == *"kin-read: 100 records written, "*"/s, at the tip"* ]]
	run --separate-stderr kin-read --stream "$S" --no-progress
	assert_success
	[ -z "$stderr" ]
}

@test "kin-read reads a moto stream, whose shard iterators end in a newline" {
	[[ $KP_KINESIS == kinesalite ]] || skip "moto: run once, in the kinesalite pass"
	command -v moto_server >/dev/null ||
	    skip "moto_server is not installed (pip install 'moto[server]')"
	moto_server -H 127.0.0.1 -p 0 >"$T/moto.log" 2>&1 3>&- &
	MOTO_PID=$!
	local url= i
	for ((i = 0; i < 300; i++)); do
		url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$T/moto.log" | head -n 1)
		[[ -n $url ]] && break
		sleep 0.1
	done
	[[ -n $url ]]
	export AWS_ENDPOINT_URL_KINESIS=$url
	kp_admin create-stream "$S" 2 >/dev/null
	head -n 50 "$M3K" >"$T/in"
	kin-put --stream "$S" --partition-key-field symbol <"$T/in"
	kin-read --stream "$S" >"$T/out"
	same_per_key "$T/in" "$T/out"
	# What makes moto the test of the GetRecords body: its iterators end in
	# a newline (base64 with a line end), which the body must escape.
	jq -n --arg s "$S" '{StreamName: $s, ShardId: "shardId-000000000000",
	    ShardIteratorType: "TRIM_HORIZON"}' >"$T/req"
	curl -sS -f -X POST "$url/" -H 'Content-Type: application/x-amz-json-1.1' \
	    -H 'X-Amz-Target: Kinesis_20131202.GetShardIterator' -H 'X-Amz-Date: 20150830T123600Z' \
	    -H "Authorization: AWS4-HMAC-SHA256 Credential=$AWS_ACCESS_KEY_ID/20150830/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00" \
	    --data-binary @"$T/req" >"$T/it"
	jq -e '.ShardIterator | endswith("\n")' "$T/it" >/dev/null
}

@test "secrets never appear in any output" {
	kp_admin create-stream "$S" 1 >/dev/null
	fp_start '[{"match":{"target":"PutRecords","nth":1},"action":{"preset":"internal"}}]'
	run kin-put --stream "$S" --endpoint-url "$FPURL" --partition-key k -v -v -v --progress <<<'{"a":1}'
	assert_success
	refute_output --partial "$AWS_SECRET_ACCESS_KEY"
	run kin-read --stream "$S" -v -v -v
	refute_output --partial "$AWS_SECRET_ACCESS_KEY"
}

@test "usage errors exit 2 with the reason named" {
	run kin-put
	assert_failure 2
	assert_output --partial 'usage: kin-put'
	run kin-put --stream s --partition-key a --partition-key-field b
	assert_failure 2
	run kin-put --stream s --max-batch-records 501
	assert_failure 2
	run kin-put --stream s --raw --partition-key-field x
	assert_failure 2
	run kin-read --stream s --limit 0
	assert_failure 2
	run kin-read --stream s extra
	assert_failure 2
	run kin-put --stream s --max-in-flight 0
	assert_failure 2
	assert_output --partial 'kin-put: --max-in-flight: not a whole number between 1 and 64: 0'
	run kin-read --stream s --bogus
	assert_failure 2
	assert_output --partial 'kin-read: unknown option: --bogus'
}

@test "no region or no credentials is a configuration error (exit 2)" {
	unset AWS_REGION
	run kin-put --stream s <<<'{}'
	assert_failure 2
	assert_output --partial 'region'
	export AWS_REGION=us-east-1
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	run kin-read --stream s
	assert_failure 2
	assert_output --partial 'credentials'
}

@test "kin-read: a closed downstream ends the read quietly with exit 0" {
	kp_admin create-stream "$S" 1 >/dev/null
	kin-put --stream "$S" --partition-key k <"$M3K"
	run bash -c 'set -o pipefail; kin-read --stream "$1" | head -n 1 >/dev/null' _ "$S"
	assert_success
	assert_output ''
}

@test "kin-read --strict stops at the first non-JSON record with exit 3" {
	kp_admin create-stream "$S" 1 >/dev/null
	printf '%s\n' '{"a":1}' 'bad' '{"a":2}' | kin-put --stream "$S" --partition-key k --raw
	run --separate-stderr kin-read --stream "$S" --strict
	assert_failure 3
	assert_output '{"a":1}'
}

@test "kin-read --follow --until ends once every shard passed the time" {
	kp_admin create-stream "$S" 2 >/dev/null
	head -n 20 "$M3K" | kin-put --stream "$S" --partition-key-field symbol
	sleep 1
	cut=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
	sleep 1
	head -n 5 "$M3K" | kin-put --stream "$S" --partition-key-field symbol
	run timeout 30 kin-read --stream "$S" --follow --until "$cut" --poll-interval 100ms
	assert_success
	[ "${#lines[@]}" -eq 20 ]
}

@test "kin-read --from latest on a resharded stream reads only new records" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 50 "$M3K" | kin-put --stream "$S" --partition-key-field symbol
	first=$(kp_admin list-shards "$S" | jq -r '.Shards[0].ShardId')
	kp_admin split-shard "$S" "$first" >/dev/null
	head -n 50 "$M3K" | kin-put --stream "$S" --partition-key-field symbol
	kin-read --stream "$S" --from latest --follow --poll-interval 100ms >"$T/out" &
	pid=$!
	sleep 2
	printf '%s\n' '{"symbol":"NEW","n":1}' | kin-put --stream "$S" --partition-key-field symbol
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/out" ] && break
		sleep 0.1
	done
	sleep 0.5
	kill -TERM "$pid"
	wait "$pid" || true
	[ "$(cat "$T/out")" = '{"symbol":"NEW","n":1}' ]
}

@test "kin-put skips control lines: they are not data for the stream" {
	kp_admin create-stream "$S" 1 >/dev/null
	printf '%s\n' '{"a":1}' '{"__kinpipe":{"barrier":1}}' '{"a":2}' |
	    kin-put --stream "$S" --partition-key k
	run kin-read --stream "$S"
	assert_output $'{"a":1}\n{"a":2}'
}

@test "expired credentials are refreshed once and the request retried" {
	kp_admin create-stream "$S" 1 >/dev/null
	# credential_process counts its runs; the first request says the token expired.
	cat >"$T/proc.sh" <<-SH
	#!/bin/sh
	echo run >>"$T/runs"
	printf '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"%s","SessionToken":"tok"}\n' \
	    "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
	SH
	chmod +x "$T/proc.sh"
	mkdir -p "$HOME/.aws"
	printf '[default]\ncredential_process = %s\n' "$T/proc.sh" >"$HOME/.aws/config"
	fp_start '[{"match":{"target":"PutRecords","nth":1},"action":{"preset":"expired-token"}}]'
	run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
	    kin-put --stream "$S" --endpoint-url "$FPURL" --partition-key k <<<'{"a":1}'
	assert_success
	[ "$(wc -l <"$T/runs")" -eq 2 ]
	run kin-read --stream "$S"
	assert_output '{"a":1}'
}

@test "kin-read --self-commit resumes after its own commit, and is refused where a sink commits" {
	kp_admin create-stream "$S" 1 >/dev/null
	printf '%s\n' '{"a":1}' '{"a":2}' | kin-put --stream "$S" --partition-key k
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit >"$T/out1"
	[ "$(jq -r .committer "$T/ck/commit.json")" = kin-read ]
	grep -vF '"__kinpipe"' "$T/out1" >"$T/rec1"
	assert_equal "$(cat "$T/rec1")" $'{"a":1}\n{"a":2}'
	printf '%s\n' '{"a":3}' | kin-put --stream "$S" --partition-key k
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit >"$T/out2"
	assert_equal "$(grep -vF '"__kinpipe"' "$T/out2")" '{"a":3}'
	# The options that shape the output are those of the commit.
	assert_equal "$(cat "$T/ck/kin-read.json")" '{"envelope":false,"shards":null}'
	run --separate-stderr kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit --envelope
	assert_failure 2
	[[ $stderr == *"committed with other --envelope or --shards options"* ]]
	# A commit written by s3-put holds what the sink needs to recover:
	# kin-read must not replace it.
	jq -c '.committer = "s3-put"' "$T/ck/commit.json" >"$T/c" && mv "$T/c" "$T/ck/commit.json"
	run --separate-stderr kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit
	assert_failure 2
	[[ $stderr == *"the last commit is s3-put's"* ]]
}

# run_with_token TOOL TOKEN: kin-put or kin-read through the proxy, with
# TOKEN as the session token.
run_with_token() {
	if [ "$1" = kin-put ]; then
		AWS_SESSION_TOKEN=$2 run --separate-stderr kin-put --endpoint-url "$FPURL" --stream "$S" --partition-key k <<<'{"a":1}'
	else
		AWS_SESSION_TOKEN=$2 run --separate-stderr kin-read --endpoint-url "$FPURL" --stream "$S"
	fi
}

@test "a server's error text reaches stderr without credentials or control characters" {
	local tok=FQoGZXIvYXdzEXAMPLESESSIONTOKENkinpipe0123456789 t
	fp_start '[{"action":{"status":400,"body":{"__type":"ValidationException","message":"bad X-Amz-Security-Token: '"$tok"' Signature=0123abcdef token '"$tok"' \u001b[31mred\n\rkin-put: all good"}}}]'
	for t in kin-put kin-read; do
		run_with_token "$t" "$tok"
		assert_failure 1
		[[ $stderr == *"ValidationException: bad X-Amz-Security-Token: [redacted] Signature=[redacted] token [redacted] \\x1b[31mred\\n\\rkin-put: all good"* ]] || { echo "$t: $stderr" >&2; false; }
		[[ $stderr != *"$tok"* && $stderr != *0123abcdef* && $stderr != *$'\e'* ]]
		! grep -q '^kin-put: all good' <<<"$stderr"
	done
}

@test "a credential far into a long error text is not shown in part, whatever cuts the text" {
	# The token again and again: wherever a buffer cuts the text, it cuts
	# a token.
	local tok=FQoGZXIvYXdzEXAMPLESESSIONTOKEN$(printf 'k%.0s' {1..80}) pad t
	pad=$(for i in {1..40}; do printf '%s ' "$tok"; done)
	fp_start '[{"action":{"status":400,"body":{"__type":"ValidationException","message":"x-amz-security-token:other-token-value \"SessionToken\": \"another-one\" '"$pad"'"}}}]'
	for t in kin-put kin-read; do
		run_with_token "$t" "$tok"
		assert_failure 1
		[[ $stderr == *'ValidationException: x-amz-security-token:[redacted] "SessionToken": "[redacted]" [redacted] [redacted] [redacted]'* ]] || { echo "$t: $stderr" >&2; false; }
		[[ $stderr != *"${tok:0:8}"* && $stderr != *other-token* && $stderr != *another-one* ]] || { echo "$t: $stderr" >&2; false; }
	done
}
