#!/usr/bin/env bats
# The least-privilege IAM policies of kin-put(1), kin-read(1), s3-put(1)
# (their IAM POLICY sections) and of the README, taken from those files
# (tests/lib/iampolicy.py extract: docs and test cannot drift), are exactly
# enough: each tool's normal use succeeds with a user that has nothing else,
# and without each action in turn it fails, saying AccessDenied (HTTP 403
# for HeadObject, whose answer has no body), or, for the listing of open
# uploads it can do without, warns so.
#
# Against moto_server (pip's moto[server]; Debian has no package: the tests
# that need it skip where it is absent) with IAM authentication on
# (INITIAL_NO_AUTH_ACTION_COUNT: the first three requests make an
# administrator, whose keys then create the users, the stream and the
# bucket).  What moto checks, read in its source (moto 5.2,
# moto/core/authorization.py, moto/s3/responses.py):
# - Kinesis: the action (kinesis:PutRecords, ...), but every request is
#   checked against the resource "*", never the stream's ARN, so a policy
#   naming the stream would be refused: the Kinesis statements are tested
#   with "*" (iampolicy.py build --moto), their ARNs only checked for form.
# - S3: the action (s3:PutObject for PutObject and the multipart calls,
#   s3:AbortMultipartUpload, s3:ListBucketMultipartUploads, s3:GetObject for
#   HeadObject) and the resource (arn:aws:s3:::BUCKET/KEY, arn:aws:s3:::BUCKET):
#   a key outside the policy's prefix is refused.
#   But moto refuses the signature of a bucket listing (ListObjectsV2,
#   ListMultipartUploads) whose prefix has a "/", the AWS CLI's too
#   (getmoto/moto#5948): listings here have none.
# - KMS: not at all (moto's S3 calls no KMS as the caller): the SSE-KMS
#   statement of s3-put(1) is checked for form only.
# - STS: not tested here; sts:AssumeRole belongs to role credentials and
#   is tested with them.

bats_require_minimum_version 1.5.0

load helpers

POL=$KP_ROOT/tests/lib/iampolicy.py

setup_file() {
	local d=$BATS_FILE_TMPDIR port i
	command -v moto_server >/dev/null || return 0
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	INITIAL_NO_AUTH_ACTION_COUNT=3 moto_server -H 127.0.0.1 -p "$port" \
	    >"$d/moto.log" 2>&1 3>&- &
	echo $! >"$d/moto.pid"
	for ((i = 0; i < 600; i++)); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/moto-api/data.json" && break
		sleep 0.05
	done
	# The readiness probe counts for nothing; reset anyway, then three
	# unchecked requests make the administrator.
	curl -sf -o /dev/null -X POST -H "Content-Type: text/plain" --data 3 "http://127.0.0.1:$port/moto-api/reset-auth"
	python3 "$POL" admin "http://127.0.0.1:$port" >"$d/admin.keys"
	echo "http://127.0.0.1:$port" >"$d/moto.url"
}

teardown_file() {
	if [[ -s $BATS_FILE_TMPDIR/moto.pid ]]; then
		kill "$(cat "$BATS_FILE_TMPDIR/moto.pid")" 2>/dev/null || true
	fi
}

setup() {
	T=$BATS_TEST_TMPDIR
	ACCOUNT=123456789012
}

# need_moto: skips without moto_server; points both services at it and
# takes the administrator's keys.
need_moto() {
	[[ -s $BATS_FILE_TMPDIR/moto.url ]] ||
	    skip "moto_server is not installed (pip install 'moto[server]'): no IAM to check the policies against"
	MOTO=$(cat "$BATS_FILE_TMPDIR/moto.url")
	export AWS_ENDPOINT_URL_KINESIS=$MOTO AWS_ENDPOINT_URL_S3=$MOTO
	read -r ADMIN_ID ADMIN_SECRET <"$BATS_FILE_TMPDIR/admin.keys"
	as_admin
}

as_admin() {
	export AWS_ACCESS_KEY_ID=$ADMIN_ID AWS_SECRET_ACCESS_KEY=$ADMIN_SECRET
}

# policy FILE NAME: the policy NAME of a man page (or README.md, readme)
# into $T/NAME.json (spaces and dashes in NAME as _).
policy() {
	local out=$T/${2//[ -]/_}.json
	python3 "$POL" extract "$1" "$2" >"$out"
}

# as_user NAME POLICY-FILE: a new user with that policy alone; its keys
# become the environment's.
as_user() {
	local keys
	as_admin
	keys=$(python3 "$POL" user "$MOTO" "$1" "$2")
	read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY <<<"$keys"
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
}

# build OUT ARG...: iampolicy.py build ARG... with the test's names: the
# objects under out/, or under $PFX/ (none when PFX is empty).
build() {
	local out=$1 p=/out/
	shift
	[[ ${PFX-unset} == unset ]] || p=/${PFX:+$PFX/}
	python3 "$POL" build --moto -s REGION=us-east-1 -s ACCOUNT="$ACCOUNT" \
	    -s STREAM="$STREAM" -s "/PREFIX/=$p" \
	    -s BUCKET="$BUCKET" "$@" >"$out"
}

@test "the policies of the pages and the README are JSON with the documented placeholders, and name every action the code sends" {
	local a
	for t in kin-put kin-read; do
		policy "$KP_ROOT/man/man1/$t.1" "$t"
		grep -q '"arn:aws:kinesis:REGION:ACCOUNT:stream/STREAM"' "$T/${t//-/_}.json"
	done
	policy "$KP_ROOT/man/man1/s3-put.1" s3-put
	policy "$KP_ROOT/man/man1/s3-put.1" "s3-put --no-overwrite"
	policy "$KP_ROOT/man/man1/s3-put.1" "s3-put --sse-kms-key-id"
	policy "$KP_ROOT/README.md" readme
	grep -q '"arn:aws:s3:::BUCKET/PREFIX/\*"' "$T/s3_put.json"
	grep -q '"arn:aws:kms:REGION:ACCOUNT:key/KEY-ID"' "$T/s3_put___sse_kms_key_id.json"
	# Kinesis: the X-Amz-Target names of common/kinesis.c are the
	# actions of kin-put's and kin-read's policies, no more, no fewer.
	grep -o 'TARGET "[A-Za-z]*"' "$KP_ROOT/common/kinesis.c" |
	    sed 's/TARGET "\(.*\)"/kinesis:\1/' | sort -u >"$T/sent"
	{
		python3 "$POL" actions "$T/kin_put.json"
		python3 "$POL" actions "$T/kin_read.json"
	} | sort -u >"$T/documented"
	diff "$T/sent" "$T/documented"
	[ "$(python3 "$POL" actions "$T/kin_put.json")" = kinesis:PutRecords ]
	# S3: every request s3up.c sends (its req_name table) is one whose IAM
	# action is documented (S3 API Reference, each call's Permissions).
	sed -n '/req_name\[\] = {/,/};/p' "$KP_ROOT/common/s3up.c" |
	    grep -o '"[A-Za-z]*"' | tr -d '"' | sort -u >"$T/calls"
	printf '%s\n' AbortMultipartUpload CompleteMultipartUpload \
	    CreateMultipartUpload HeadObject ListMultipartUploads PutObject \
	    UploadPart | diff - "$T/calls"
	{
		python3 "$POL" actions "$T/s3_put.json"
		python3 "$POL" actions "$T/s3_put___no_overwrite.json"
	} | sort -u >"$T/s3acts"
	printf '%s\n' s3:AbortMultipartUpload s3:GetObject \
	    s3:ListBucketMultipartUploads s3:PutObject | diff - "$T/s3acts"
	# The README's policy is the union of the reference pipeline's.
	python3 "$POL" actions "$T/readme.json" >"$T/readme.acts"
	sort -u "$T/sent" "$T/s3acts" | diff - "$T/readme.acts"
	# Nothing the policies cannot expand.
	run python3 "$POL" build "$T/s3_put.json" "$T/s3_put___no_overwrite.json"
	assert_failure
	assert_output --partial 'placeholders left: BUCKET, PREFIX'
	for a in s3_put kin_put kin_read; do
		STREAM=s BUCKET=b build "$T/$a.built" "$T/$a.json"
	done
}

@test "kin-put: its policy is enough; without kinesis:PutRecords it fails with AccessDenied" {
	need_moto
	STREAM=$(kp_unique_name iamput)
	BUCKET=unused
	kp_admin create-stream "$STREAM" 1 >/dev/null
	policy "$KP_ROOT/man/man1/kin-put.1" kin-put
	build "$T/ok.json" "$T/kin_put.json"
	as_user "put-ok-$BATS_TEST_NUMBER" "$T/ok.json"
	printf '{"n":%d}\n' 1 2 3 >"$T/in"
	run --separate-stderr kin-put --stream "$STREAM" <"$T/in"
	assert_success
	[[ $stderr != *AccessDenied* ]]
	build "$T/no.json" -w kinesis:PutRecords "$T/kin_put.json"
	as_user "put-no-$BATS_TEST_NUMBER" "$T/no.json"
	run --separate-stderr kin-put --stream "$STREAM" --max-attempts 2 <"$T/in"
	assert_failure
	[[ $stderr == *"PutRecords: AccessDenied"*"not authorized to perform: kinesis:PutRecords"* ]]
	as_admin
	[ "$(kp_admin get-records "$STREAM" | wc -l)" -eq 3 ]
}

@test "kin-read: its policy is enough; without any one of its three actions it fails with AccessDenied" {
	need_moto
	local a
	STREAM=$(kp_unique_name iamread)
	BUCKET=unused
	kp_admin create-stream "$STREAM" 2 >/dev/null
	printf '{"n":%d}\n' 1 2 3 4 | kp_admin put-records "$STREAM" --partition-key-field n >/dev/null
	policy "$KP_ROOT/man/man1/kin-read.1" kin-read
	build "$T/ok.json" "$T/kin_read.json"
	as_user "read-ok-$BATS_TEST_NUMBER" "$T/ok.json"
	run --separate-stderr kin-read --stream "$STREAM" --from trim-horizon
	assert_success
	[ "$(printf '%s\n' "$output" | sort)" = "$(printf '{"n":%d}\n' 1 2 3 4)" ]
	for a in ListShards GetShardIterator GetRecords; do
		build "$T/no-$a.json" -w "kinesis:$a" "$T/kin_read.json"
		as_user "read-no-$a-$BATS_TEST_NUMBER" "$T/no-$a.json"
		run --separate-stderr kin-read --stream "$STREAM" --from trim-horizon --max-attempts 2
		assert_failure
		[[ $stderr == *"$a"*"AccessDenied"*"not authorized to perform: kinesis:$a"* ]]
	done
}

# s3_user NAME [build ARG...]: a user with s3-put's policy built from ARGs.
s3_user() {
	local name=$1
	shift
	build "$T/$name.json" "$@"
	as_user "$name-$BATS_TEST_NUMBER" "$T/$name.json"
}

# s3_setup NAME: moto, a new bucket, s3-put's policies from its page,
# $T/small (three records).
s3_setup() {
	need_moto
	STREAM=unused
	BUCKET=$(kp_unique_name "$1")
	kp_admin create-bucket "$BUCKET" >/dev/null
	policy "$KP_ROOT/man/man1/s3-put.1" s3-put
	policy "$KP_ROOT/man/man1/s3-put.1" "s3-put --no-overwrite"
	printf '{"timestamp":"2024-08-09T10:00:00Z","n":%d}\n' 1 2 3 >"$T/small"
}

# big FILE: some 6 MiB of records: a multipart upload of two 5 MiB parts.
big() {
	python3 -c 'import sys
for i in range(60000): sys.stdout.write("{\"timestamp\":\"2024-08-09T10:00:00Z\",\"n\":%d,\"pad\":\"%s\"}\n" % (i, "x" * 50))' >"$1"
}

@test "s3-put: its policy is enough for PutObject and multipart uploads, under its prefix only; without s3:PutObject it fails with AccessDenied" {
	s3_setup iams3
	big "$T/big"
	s3_user ok "$T/s3_put.json"
	run --separate-stderr s3-put --spool-dir "$T/sp" --part-size 5MiB \
	    --max-bytes 8MiB s3://"$BUCKET"/out/ <"$T/big"
	assert_success
	[[ $stderr != *AccessDenied* ]]
	run --separate-stderr s3-put --spool-dir "$T/sp" s3://"$BUCKET"/out/ <"$T/small"
	assert_success
	as_admin
	[ "$(kp_admin list-objects "$BUCKET" | jq -r '.Objects[].Key' | wc -l)" -eq 2 ]
	# A prefix the policy does not name: refused.
	as_user "ok2-$BATS_TEST_NUMBER" "$T/ok.json"
	run --separate-stderr s3-put --spool-dir "$T/sp" --max-attempts 2 \
	    s3://"$BUCKET"/elsewhere/ <"$T/small"
	assert_failure
	[[ $stderr == *PutObject*AccessDenied* ]]
	s3_user noput -w s3:PutObject "$T/s3_put.json"
	run --separate-stderr s3-put --spool-dir "$T/sp2" --max-attempts 2 \
	    s3://"$BUCKET"/out/ <"$T/small"
	assert_failure
	[[ $stderr == *PutObject*AccessDenied* ]]
	run --separate-stderr s3-put --spool-dir "$T/sp3" --max-attempts 2 \
	    --part-size 5MiB --max-bytes 8MiB s3://"$BUCKET"/out/ <"$T/big"
	assert_failure
	[[ $stderr == *CreateMultipartUpload*AccessDenied* ]]
}

@test "s3-put: a recovered multipart upload lists the key's uploads; without s3:ListBucketMultipartUploads it warns AccessDenied and goes on" {
	local u
	s3_setup iamls
	big "$T/big"
	# moto 5.2 refuses the signature of any ListMultipartUploads whose
	# prefix has a "/" (the AWS CLI's as well): keys without one here, no
	# prefix and no time bucket.
	PFX=
	s3_user noput -w s3:PutObject "$T/s3_put.json"
	for u in nolist ok; do
		as_user "noput-$u-$BATS_TEST_NUMBER" "$T/noput.json"
		# A first run that cannot write leaves the object in its spool.
		run s3-put --spool-dir "$T/sp-$u" --max-attempts 2 --part-size 5MiB \
		    --max-bytes 8MiB --bucket-format '' --run-id "$u" "s3://$BUCKET/" <"$T/big"
		[ "$status" -eq 3 ]
		if [[ $u == nolist ]]; then
			s3_user "$u" -w s3:ListBucketMultipartUploads "$T/s3_put.json"
		else
			s3_user "$u" "$T/s3_put.json"
		fi
		run --separate-stderr s3-put --spool-dir "$T/sp-$u" --part-size 5MiB \
		    --max-bytes 8MiB --bucket-format '' --run-id "$u" "s3://$BUCKET/" </dev/null
		assert_success
		[[ $stderr == *"recovering 1 spooled part"* ]]
		if [[ $u == nolist ]]; then
			[[ $stderr == *"cannot list the multipart uploads"*"AccessDenied"* ]]
		else
			[[ $stderr != *"cannot list"* && $stderr != *AccessDenied* ]]
		fi
		[[ $output == *"\"uri\":\"s3://$BUCKET/part-$u-0.json\""*'-2"'* ]]
	done
}

@test "s3-put --no-overwrite: with s3:GetObject a replay counts as written, without it HTTP 403; without s3:AbortMultipartUpload the 412's upload stays open" {
	s3_setup iamno
	s3_user ok "$T/s3_put.json" "$T/s3_put___no_overwrite.json"
	run s3-put --spool-dir "$T/sp1" --no-overwrite "s3://$BUCKET/out/" <"$T/small"
	assert_success
	# The same records again: 412, then HeadObject finds the same ETag.
	run --separate-stderr s3-put --spool-dir "$T/sp2" --no-overwrite "s3://$BUCKET/out/" <"$T/small"
	assert_success
	[[ $stderr != *AccessDenied* && $stderr != *"HTTP 403"* ]]
	s3_user noget "$T/s3_put.json"
	run --separate-stderr s3-put --spool-dir "$T/sp3" --max-attempts 2 --no-overwrite \
	    "s3://$BUCKET/out/" <"$T/small"
	[ "$status" -eq 3 ]
	# HeadObject's 403 has no body (nor on AWS): the status says it.
	[[ $stderr == *"already exists"*"cannot be compared"*"HTTP 403"* ]]
	# A multipart upload meets an object with other content: its
	# CompleteMultipartUpload's 412 leaves the upload open, for
	# AbortMultipartUpload.
	big "$T/big"
	sed 's/"n":/"m":/' "$T/big" >"$T/other"
	as_user "ok-big-$BATS_TEST_NUMBER" "$T/ok.json"
	run s3-put --spool-dir "$T/sp4" --part-size 5MiB --max-bytes 8MiB --run-id ab \
	    "s3://$BUCKET/out/" <"$T/big"
	assert_success
	s3_user noabort -w s3:AbortMultipartUpload "$T/s3_put.json" "$T/s3_put___no_overwrite.json"
	run --separate-stderr s3-put --spool-dir "$T/sp5" --max-attempts 2 --no-overwrite \
	    --part-size 5MiB --max-bytes 8MiB --run-id ab "s3://$BUCKET/out/" <"$T/other"
	[ "$status" -eq 3 ]
	[[ $stderr == *"not aborted: AccessDenied"* ]]
	[[ $stderr == *"already exists with other content"* ]]
	as_admin
	[ "$(s3get uploads "$BUCKET" | wc -l)" -eq 1 ]
	as_user "ok-again-$BATS_TEST_NUMBER" "$T/ok.json"
	run --separate-stderr s3-put --spool-dir "$T/sp6" --max-attempts 2 --no-overwrite \
	    --part-size 5MiB --max-bytes 8MiB --run-id ab "s3://$BUCKET/out/" <"$T/other"
	[ "$status" -eq 3 ]
	[[ $stderr == *"already exists with other content"* && $stderr != *"not aborted"* ]]
	as_admin
	[ "$(s3get uploads "$BUCKET" | wc -l)" -eq 1 ]
}

s3get() {
	node "$KP_ROOT/tests/lib/s3get.js" "$@"
}

@test "s3-put --acl --tagging: with the statement of its page, a PutObject and a multipart upload with both are accepted" {
	# moto asks only s3:PutObject of a PutObject that carries x-amz-acl or
	# x-amz-tagging (AWS asks s3:PutObjectAcl and s3:PutObjectTagging too):
	# this shows the documented statements are enough, not that they are
	# needed.
	s3_setup iamacl
	policy "$KP_ROOT/man/man1/s3-put.1" "s3-put --acl --tagging"
	grep -q '"s3:PutObjectAcl"' "$T/s3_put___acl___tagging.json"
	grep -q '"s3:PutObjectTagging"' "$T/s3_put___acl___tagging.json"
	s3_user acl "$T/s3_put.json" "$T/s3_put___acl___tagging.json"
	run --separate-stderr s3-put --spool-dir "$T/sp1" --acl bucket-owner-full-control \
	    --tagging 'team=data&env=test' "s3://$BUCKET/out/" <"$T/small"
	assert_success
	big "$T/big"
	run --separate-stderr s3-put --spool-dir "$T/sp2" --acl private --tagging 'env=test' \
	    --part-size 5MiB --max-bytes 8MiB "s3://$BUCKET/out/" <"$T/big"
	assert_success
	[[ $stderr != *AccessDenied* ]]
	as_admin
	[ "$(kp_admin list-objects "$BUCKET" | jq -r '.Objects[].Key' | wc -l)" -eq 2 ]
}

@test "README: the reference pipeline's policy runs the producer and the checkpointed processor" {
	need_moto
	STREAM=$(kp_unique_name iamref)
	BUCKET=$(kp_unique_name iamref)
	kp_admin create-stream "$STREAM" 2 >/dev/null
	kp_admin create-bucket "$BUCKET" >/dev/null
	policy "$KP_ROOT/README.md" readme
	build "$T/ok.json" "$T/readme.json"
	as_user "ref-$BATS_TEST_NUMBER" "$T/ok.json"
	zcat "$KP_ROOT/tests/data/market-trades.ndjson.gz" | awk 'NR % 20 == 0' >"$T/in"
	run --separate-stderr kin-put --stream "$STREAM" --partition-key-field symbol <"$T/in"
	assert_success
	kin-read --stream "$STREAM" --checkpoint-dir "$T/ck" 2>"$T/err" |
	    window-stats --key-field symbol --time-field timestamp \
	        --value-field price --size 1m --emit records --checkpoint-dir "$T/ck" |
	    sigma-flag --all |
	    s3-put --checkpoint-dir "$T/ck" "s3://$BUCKET/out/" \
	        >"$T/objects" 2>>"$T/err" || { cat "$T/err"; false; }
	! grep -E 'AccessDenied|HTTP 403' "$T/err"
	as_admin
	[ "$(kp_admin list-objects "$BUCKET" | jq '.Objects | length')" -ge 1 ]
	[ "$(jq -s "map(.records) | add" "$T/objects")" -gt 0 ]
}
