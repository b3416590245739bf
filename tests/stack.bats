#!/usr/bin/env bats
# The local stack itself (pipelines/localstack, pipelines/lib/kp-admin.js):
# both Kinesis servers and s3rver start on loopback only, answer the calls the
# tools and tests rely on, and are gone after a stop.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	kp_stack_start kinesalite kinesis-local s3
}

teardown_file() {
	kp_stack_stop
}

# A test that starts a stack of its own stops it even when it fails midway.
teardown() {
	if [[ -f $BATS_TEST_TMPDIR/again/servers ]]; then
		"$KP_ROOT/pipelines/localstack" stop "$BATS_TEST_TMPDIR/again"
	fi
}

# gone PID...: none of the processes runs any more (a zombie counts as gone).
gone() {
	local pid
	for pid; do
		if [[ -e /proc/$pid ]]; then
			[[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) == Z ]] ||
			    fail "pid $pid still running"
		fi
	done
}

# on SERVER CMD...: run CMD with the Kinesis endpoint of SERVER.
on() {
	local server=$1
	shift
	case $server in
	kinesalite) AWS_ENDPOINT_URL_KINESIS=$KP_KINESALITE_ENDPOINT "$@" ;;
	kinesis-local) AWS_ENDPOINT_URL_KINESIS=$KP_KINESIS_LOCAL_ENDPOINT "$@" ;;
	esac
}

@test "stack: env file exports endpoints and test credentials" {
	run -0 cat "$KP_STACK_DIR/env"
	assert_line --regexp '^export AWS_ENDPOINT_URL_KINESIS=http://127\.0\.0\.1:[0-9]+$'
	assert_line --regexp '^export AWS_ENDPOINT_URL_S3=http://127\.0\.0\.1:[0-9]+$'
	assert_line "export AWS_ACCESS_KEY_ID=S3RVER"
	assert_line --regexp "^export AWS_SECRET_ACCESS_KEY='.+'$"
	assert_line "export AWS_REGION=us-east-1"
	assert_line "export AWS_EC2_METADATA_DISABLED=true"
	assert_equal "$AWS_ENDPOINT_URL_KINESIS" "$KP_KINESALITE_ENDPOINT"
	assert_equal "$KP_KINESIS_SERVER" kinesalite
	[[ $KP_KINESIS_LOCAL_ENDPOINT == http://127.0.0.1:* ]]
	[[ $AWS_ENDPOINT_URL_S3 == "$KP_S3RVER_ENDPOINT" ]]
	[[ $HOME == "$BATS_TEST_TMPDIR"/* ]]
}

@test "stack: every listening socket of every server is on 127.0.0.1" {
	local pids pid n=0
	pids=$(kp_stack_pids | paste -sd '|')
	[ "$(kp_stack_pids | wc -l)" -eq 3 ]
	run -0 ss -Hltnp
	local sockets
	sockets=$(grep -E "pid=($pids)," <<<"$output" || true)
	# kinesalite 1, kinesis-local 2 (plain and TLS), s3rver 1
	[ "$(grep -c . <<<"$sockets")" -eq 4 ]
	while read -r _ _ _ local _; do
		[[ $local == 127.0.0.1:* ]] || fail "listening on $local"
		n=$((n + 1))
	done <<<"$sockets"
	[ "$n" -eq 4 ]
	for pid in $(kp_stack_pids); do
		grep -q "pid=$pid," <<<"$sockets" || fail "pid $pid listens nowhere"
	done
}

@test "stack: kp-admin's SigV4 signer matches the published AWS examples" {
	run -0 kp_admin selftest
	assert_output '{"s3-get-object":true,"get-vanilla":true}'
}

@test "stack: a 4-shard stream on each Kinesis server has 4 open shards" {
	local server s
	for server in kinesalite kinesis-local; do
		s=$(kp_unique_name four)
		run -0 on "$server" kp_admin create-stream "$s" 4
		assert_equal "$(jq -r .StreamStatus <<<"$output")" ACTIVE
		assert_equal "$(jq -r .OpenShardCount <<<"$output")" 4
		run -0 on "$server" kp_admin list-shards "$s"
		assert_equal "$(jq '.Shards | length' <<<"$output")" 4
		# the 4 ranges cover the whole 128-bit hash key space
		assert_equal "$(jq -r '.Shards[0].HashKeyRange.StartingHashKey' <<<"$output")" 0
		assert_equal "$(jq -r '.Shards[3].HashKeyRange.EndingHashKey' <<<"$output")" \
		    340282366920938463463374607431768211455
	done
}

@test "stack: splitting a shard closes it and lists its two children" {
	local server s
	for server in kinesalite kinesis-local; do
		s=$(kp_unique_name split)
		run -0 on "$server" kp_admin create-stream "$s" 2
		run -0 on "$server" kp_admin split-shard "$s" shardId-000000000000
		assert_equal "$(jq '.Shards | length' <<<"$output")" 4
		assert_equal "$(jq '[.Shards[] | select(.ParentShardId == "shardId-000000000000")] | length' <<<"$output")" 2
		# the parent is closed: it has an ending sequence number
		assert_equal "$(jq -r '.Shards[] | select(.ShardId == "shardId-000000000000") | .SequenceNumberRange.EndingSequenceNumber != null' <<<"$output")" true
		run -0 on "$server" kp_admin describe-stream "$s"
		assert_equal "$(jq .OpenShardCount <<<"$output")" 3
	done
}

@test "stack: merging two adjacent shards leaves one open child" {
	local server s
	for server in kinesalite kinesis-local; do
		s=$(kp_unique_name merge)
		run -0 on "$server" kp_admin create-stream "$s" 2
		run -0 on "$server" kp_admin merge-shards "$s" shardId-000000000000 shardId-000000000001
		assert_equal "$(jq '.Shards | length' <<<"$output")" 3
		assert_equal "$(jq -r '.Shards[] | select(.AdjacentParentShardId) | .ParentShardId + " " + .AdjacentParentShardId' <<<"$output")" \
		    "shardId-000000000000 shardId-000000000001"
	done
}

@test "stack: records put by kp-admin come back in order per key" {
	local server s
	for server in kinesalite kinesis-local; do
		s=$(kp_unique_name recs)
		run -0 on "$server" kp_admin create-stream "$s" 3
		run -0 on "$server" kp_admin put-records "$s" --partition-key-field k < <(
			for i in 1 2 3 4 5 6; do
				printf '{"k":"%s","i":%d}\n' "$(((i % 2)) && echo a || echo b)" "$i"
			done)
		assert_output "{\"StreamName\":\"$s\",\"Records\":6}"
		run -0 on "$server" kp_admin get-records "$s"
		assert_equal "$(jq -r 'select(.PartitionKey == "a") | .Data' <<<"$output" | jq -c .i | paste -sd ,)" "1,3,5"
		assert_equal "$(jq -r 'select(.PartitionKey == "b") | .Data' <<<"$output" | jq -c .i | paste -sd ,)" "2,4,6"
	done
}

@test "stack: an API error is reported with its code and exit status 1" {
	run -1 kp_admin list-shards "$(kp_unique_name nosuch)"
	assert_output --partial ResourceNotFoundException
	run -2 kp_admin create-stream x notanumber
}

@test "stack: a bucket holds what is put and gives it back byte for byte" {
	local b
	b=$(kp_unique_name bucket)
	run -0 kp_admin create-bucket "$b"
	printf 'line 1\n{"x":"\xc3\xa9"}\n' >"$BATS_TEST_TMPDIR/obj"
	run -0 kp_admin put-object "$b" "dir/a b+c.ndjson" "$BATS_TEST_TMPDIR/obj"
	run -0 kp_admin put-object "$b" other.txt "$BATS_TEST_TMPDIR/obj"
	kp_admin get-object "$b" "dir/a b+c.ndjson" >"$BATS_TEST_TMPDIR/back"
	cmp "$BATS_TEST_TMPDIR/obj" "$BATS_TEST_TMPDIR/back"
	run -0 kp_admin list-objects "$b" dir/
	assert_equal "$(jq -c '[.Objects[] | [.Key, .Size]]' <<<"$output")" '[["dir/a b+c.ndjson",18]]'
	run -0 kp_admin list-objects "$b"
	assert_equal "$(jq '.Objects | length' <<<"$output")" 2
	run -1 kp_admin get-object "$b" nosuchkey
	assert_output --partial NoSuchKey
}

@test "stack: s3rver rejects an unknown access key" {
	AWS_ACCESS_KEY_ID=AKIDUNKNOWN run -1 kp_admin list-objects "$(kp_unique_name nokey)"
	assert_output --partial InvalidAccessKeyId
}

@test "stack: start refuses a running folder; stop, then start again, works" {
	local dir=$BATS_TEST_TMPDIR/again pids
	run -0 "$KP_ROOT/pipelines/localstack" start "$dir" --kinesis kinesalite --s3
	assert_line --regexp '^export AWS_ENDPOINT_URL_KINESIS=http://127\.0\.0\.1:[0-9]+$'
	run -1 "$KP_ROOT/pipelines/localstack" start "$dir"
	assert_output --partial "still running"
	pids=$(awk '{ print $2 }' "$dir/servers")
	[ "$(wc -l <<<"$pids")" -eq 2 ]
	run -0 "$KP_ROOT/pipelines/localstack" stop "$dir"
	gone $pids
	run -1 "$KP_ROOT/pipelines/localstack" status "$dir"
	refute_output --partial running
	run -0 "$KP_ROOT/pipelines/localstack" start "$dir" --s3
	refute_line --partial AWS_ENDPOINT_URL_KINESIS
	assert_line --regexp '^export AWS_ENDPOINT_URL_S3=http://127\.0\.0\.1:[0-9]+$'
	pids=$(awk '{ print $2 }' "$dir/servers")
	[ "$(wc -l <<<"$pids")" -eq 1 ]
	run -0 "$KP_ROOT/pipelines/localstack" stop "$dir"
	gone $pids
}

@test "stack: the stack of this file stops, and its PIDs are gone" {
	local pids pid
	pids=$(kp_stack_pids)
	[ "$(wc -l <<<"$pids")" -eq 3 ]
	kp_stack_stop
	gone $pids
	run -0 ss -Hltnp
	for pid in $pids; do
		refute_output --partial "pid=$pid,"
	done
}
