#!/usr/bin/env bats
# shellcheck disable=SC2154 # $stderr is set by `run --separate-stderr`
# The real tools' SigV4 signatures, checked over real HTTP.
#
# None of the local servers checks signatures (s3rver only looks at the access
# key id, kinesalite and kinesis-local only at the header's form), so every
# request here goes through tests/lib/faultproxy.js --verify-sigv4, which
# rebuilds each signature from the request as received (tests/lib/sigv4.js,
# independent of common/sigv4.c) and refuses a wrong one with 403, as AWS
# would.  A test passes only if every request the tool made was verified "ok".
# The last tests are the negative control: a wrong secret in the tool's
# environment is refused, so the verifier is really at work.

bats_require_minimum_version 1.5.0

load helpers

FP="$KP_ROOT/tests/lib/faultproxy.js"

setup_file() {
	kp_stack_start kinesalite s3
	zcat "$KP_ROOT/tests/data/market-trades.ndjson.gz" >"$BATS_FILE_TMPDIR/trades.ndjson"
	head -n 2000 "$BATS_FILE_TMPDIR/trades.ndjson" >"$BATS_FILE_TMPDIR/2k.ndjson"
	# Twice the trades: 14.5 MB, three parts of 5 MiB.
	cat "$BATS_FILE_TMPDIR/trades.ndjson" "$BATS_FILE_TMPDIR/trades.ndjson" >"$BATS_FILE_TMPDIR/big.ndjson"
	# A stand-in for S3 multipart uploads whose upload id needs encoding in
	# a query (s3rver's are hex); it logs each request target.
	cat >"$BATS_FILE_TMPDIR/mpu.js" <<'EOF'
'use strict';
const http = require('http'), fs = require('fs'), crypto = require('crypto');
const [portFile, logFile, uploadId] = process.argv.slice(2);
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const body = Buffer.concat(chunks);
		fs.appendFileSync(logFile, JSON.stringify({ method: req.method, url: req.url }) + '\n');
		const xml = (s) => { res.writeHead(200, { 'Content-Type': 'application/xml' }); res.end(s); };
		if (req.method === 'POST' && /[?&]uploads(&|=|$)/.test(req.url))
			return xml('<InitiateMultipartUploadResult><UploadId>' + esc(uploadId) +
				'</UploadId></InitiateMultipartUploadResult>');
		if (req.method === 'POST')
			return xml('<CompleteMultipartUploadResult><ETag>&quot;mpu-3&quot;</ETag></CompleteMultipartUploadResult>');
		if (req.method === 'DELETE') { res.writeHead(204); return res.end(); }
		res.writeHead(200, { ETag: '"' + crypto.createHash('md5').update(body).digest('hex') + '"' });
		res.end();
	});
});
server.listen(0, '127.0.0.1', () => {
	fs.writeFileSync(portFile + '.tmp', server.address().port + '\n');
	fs.renameSync(portFile + '.tmp', portFile);
});
process.on('SIGTERM', () => process.exit(0));
EOF
}

teardown_file() {
	kp_stack_stop
}

setup() {
	T=$BATS_TEST_TMPDIR
	IN=$BATS_FILE_TMPDIR/2k.ndjson
	BIG=$BATS_FILE_TMPDIR/big.ndjson
	PIDS=()
}

teardown() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# vproxy NAME UPSTREAM [OPTION...]: a verifying proxy in front of UPSTREAM;
# sets VP (its URL).  Log $T/NAME.log, messages $T/NAME.err.
vproxy() {
	local name=$1 up=$2
	shift 2
	"$KP_NODE" "$FP" --verify-sigv4 --upstream "$up" --port-file "$T/$name.port" \
		--log "$T/$name.log" "$@" >"$T/$name.out" 2>"$T/$name.err" 3>&- &
	PIDS+=($!)
	kp_wait_file "$T/$name.port"
	VP=http://127.0.0.1:$(cat "$T/$name.port")
}

# all_ok LOG: the proxy verified at least one request and every one "ok";
# else shows the refusals with the canonical requests the proxy computed.
all_ok() {
	local bad
	[[ -s $1 ]] || { echo "$1: no request reached the proxy" >&2; return 1; }
	bad=$(jq -c 'select(.sigv4 != "ok") | [.method, .path, .sigv4, .sigv4_error]' "$1")
	if [[ -n $bad ]]; then
		echo "refused: $bad" >&2
		cat "${1%.log}.err" >&2
		return 1
	fi
	echo "$(wc -l <"$1") requests, all verified ok"
}

# only_length_unsigned LOG: the tool signed every header it sent but
# Content-Length (which AWS does not ask for).
only_length_unsigned() {
	[ "$(jq -sc 'map(.sigv4_unsigned // []) | add | unique' "$1")" = '["content-length"]' ]
}

@test "kin-put and kin-read: every request is signed right" {
	s=$(kp_unique_name sig)
	kp_admin create-stream "$s" 2 >/dev/null
	vproxy k "$KP_KINESALITE_ENDPOINT"
	AWS_ENDPOINT_URL_KINESIS=$VP run -0 kin-put --stream "$s" --partition-key-field symbol <"$IN"
	AWS_ENDPOINT_URL_KINESIS=$VP kin-read --stream "$s" >"$T/out.ndjson"
	[ "$(wc -l <"$T/out.ndjson")" -eq 2000 ]
	diff <(sort "$IN") <(sort "$T/out.ndjson")
	all_ok "$T/k.log"
	[ "$(jq -r .target "$T/k.log" | sort -u | paste -sd' ')" = "GetRecords GetShardIterator ListShards PutRecords" ]
	[ "$(jq -sc 'map(.sigv4_signed) | unique' "$T/k.log")" = '[["content-type","host","x-amz-date","x-amz-target"]]' ]
	only_length_unsigned "$T/k.log"
}

@test "kin-put and kin-read with session credentials: the token is sent and signed" {
	s=$(kp_unique_name sigtok)
	kp_admin create-stream "$s" 1 >/dev/null
	export KP_WANT_TOKEN='IQoJb3JpZ2luX2VjE/session+token=='
	vproxy k "$KP_KINESALITE_ENDPOINT" --token-env KP_WANT_TOKEN
	export AWS_SESSION_TOKEN=$KP_WANT_TOKEN AWS_ENDPOINT_URL_KINESIS=$VP
	head -n 100 "$IN" | kin-put --stream "$s"
	run -0 kin-read --stream "$s"
	[ "${#lines[@]}" -eq 100 ]
	all_ok "$T/k.log"
	[ "$(jq -sc 'map(.sigv4_signed | index("x-amz-security-token") != null) | unique' "$T/k.log")" = '[true]' ]
	run ! grep -qF "$KP_WANT_TOKEN" "$T/k.log" "$T/k.err"
}

@test "s3-put: keys with spaces, unicode, + = ~ % in the prefix, --bucket-format, --part-prefix and --part-suffix" {
	b=$(kp_unique_name sig)
	kp_admin create-bucket "$b" >/dev/null
	vproxy s "$KP_S3RVER_ENDPOINT"
	AWS_ENDPOINT_URL_S3=$VP run -0 --separate-stderr s3-put --bucket-format 'd=%Y-%m-%d h+%H ~ü%%' \
		--part-prefix 'p a+r=t~%ü' --part-suffix '.nd+json' --run-id r1 "s3://$b/pre fix+=~%é/" <"$IN"
	all_ok "$T/s.log"
	key='pre fix+=~%é/d=2024-08-08 h+23 ~ü%/p a+r=t~%ü-r1-0.nd+json'
	[ "$(jq -r .uri <<<"$output")" = "s3://$b/$key" ]
	# sent in SigV4 encoding: unreserved bytes (and '/') as they are, every other one %XX
	[ "$(jq -r 'select(.method == "PUT") | .path' "$T/s.log")" = \
		"/$b/pre%20fix%2B%3D~%25%C3%A9/d%3D2024-08-08%20h%2B23%20~%C3%BC%25/p%20a%2Br%3Dt~%25%C3%BC-r1-0.nd%2Bjson" ]
	only_length_unsigned "$T/s.log"
	run -0 kp_admin list-objects "$b"
	[ "$(jq -r '.Objects[].Key' <<<"$output")" = "$key" ]
	kp_admin get-object "$b" "$key" >"$T/got"
	cmp "$IN" "$T/got"
}

@test "s3-put multipart with --sse AES256: ?uploads, ?partNumber=N&uploadId=X and the Complete POST are signed right" {
	b=$(kp_unique_name sigmp)
	kp_admin create-bucket "$b" >/dev/null
	vproxy s "$KP_S3RVER_ENDPOINT"
	AWS_ENDPOINT_URL_S3=$VP run -0 --separate-stderr s3-put --part-size 5MiB --sse AES256 \
		--bucket-format '' --run-id mp "s3://$b/mp/" <"$BIG"
	all_ok "$T/s.log"
	# (the parts go up concurrently, in any order)
	run jq -r '.method + " " + (.path | sub("uploadId=[^&]*"; "uploadId=X"))' "$T/s.log"
	[ "${lines[0]}" = "POST /$b/mp/part-mp-0.json?uploads" ]
	[ "$(printf '%s\n' "${lines[@]:1:3}" | LC_ALL=C sort | paste -sd' ')" = \
		"PUT /$b/mp/part-mp-0.json?partNumber=1&uploadId=X PUT /$b/mp/part-mp-0.json?partNumber=2&uploadId=X PUT /$b/mp/part-mp-0.json?partNumber=3&uploadId=X" ]
	[ "${lines[4]}" = "POST /$b/mp/part-mp-0.json?uploadId=X" ]
	# the encryption header is signed where it is sent
	[ "$(jq -c 'select(.path | endswith("?uploads")) | .sigv4_signed | index("x-amz-server-side-encryption") != null' "$T/s.log")" = true ]
	only_length_unsigned "$T/s.log"
	kp_admin get-object "$b" mp/part-mp-0.json >"$T/got"
	cmp "$BIG" "$T/got"
}

@test "s3-put multipart: an upload id that needs encoding is signed right in ?partNumber=N&uploadId=X" {
	id='id+/=&~% ü'
	"$KP_NODE" "$BATS_FILE_TMPDIR/mpu.js" "$T/mpu.port" "$T/mpu.log" "$id" 3>&- &
	PIDS+=($!)
	kp_wait_file "$T/mpu.port"
	vproxy s "http://127.0.0.1:$(cat "$T/mpu.port")"
	AWS_ENDPOINT_URL_S3=$VP run -0 --separate-stderr s3-put --part-size 5MiB --bucket-format '' \
		--run-id odd "s3://bucket/odd/" <"$BIG"
	all_ok "$T/s.log"
	[ "$(jq -r 'select(.path | contains("uploadId=")) | .path | sub(".*uploadId="; "")' "$T/s.log" | sort -u)" = \
		'id%2B%2F%3D%26~%25%20%C3%BC' ]
	[ "$(jq -c 'select(.path | contains("uploadId=")) | .method' "$T/s.log" | sort | uniq -c | awk '{ print $1 $2 }' | paste -sd' ')" = \
		'1"POST" 3"PUT"' ]
}

@test "s3-put --gzip --sse AES256 --checksum md5: a single PUT with its headers signed" {
	b=$(kp_unique_name siggz)
	kp_admin create-bucket "$b" >/dev/null
	vproxy s "$KP_S3RVER_ENDPOINT"
	AWS_ENDPOINT_URL_S3=$VP run -0 --separate-stderr s3-put --gzip --sse AES256 --checksum md5 \
		--bucket-format '' --run-id gz "s3://$b/gz/" <"$IN"
	all_ok "$T/s.log"
	[ "$(jq -c 'select(.method == "PUT") | .sigv4_signed' "$T/s.log")" = \
		'["content-encoding","content-md5","content-type","host","x-amz-content-sha256","x-amz-date","x-amz-server-side-encryption"]' ]
	only_length_unsigned "$T/s.log"
	kp_admin get-object "$b" gz/part-gz-0.json.gz | gzip -dc >"$T/got"
	cmp "$IN" "$T/got"
}

@test "s3-put with session credentials: the token header is sent and signed" {
	b=$(kp_unique_name sigtok)
	kp_admin create-bucket "$b" >/dev/null
	export KP_WANT_TOKEN='IQoJb3JpZ2luX2VjE/session+token=='
	vproxy s "$KP_S3RVER_ENDPOINT" --token-env KP_WANT_TOKEN
	AWS_SESSION_TOKEN=$KP_WANT_TOKEN AWS_ENDPOINT_URL_S3=$VP run -0 --separate-stderr \
		s3-put --part-size 5MiB --bucket-format '' --run-id tok "s3://$b/tok/" <"$BIG"
	all_ok "$T/s.log"
	[ "$(wc -l <"$T/s.log")" -eq 5 ]
	[ "$(jq -sc 'map(.sigv4_signed | index("x-amz-security-token") != null) | unique' "$T/s.log")" = '[true]' ]
	run ! grep -qF "$KP_WANT_TOKEN" "$T/s.log" "$T/s.err"
}

@test "s3-put: the rarer requests are signed right: DELETE to abort an upload, HEAD after a 412" {
	b=$(kp_unique_name sigab)
	kp_admin create-bucket "$b" >/dev/null
	printf '%s\n' '[{"match":{"method":"PUT","path":"[?&]partNumber=2&"},"action":{"preset":"s3-internal"}},
	    {"match":{"method":"PUT","path":"/nov/"},"action":{"status":412,"body":"<Error><Code>PreconditionFailed</Code></Error>"}}]' >"$T/rules.json"
	vproxy s "$KP_S3RVER_ENDPOINT" --rules "$T/rules.json"
	export AWS_ENDPOINT_URL_S3=$VP
	# part 2 fails for good: the upload is aborted (s3rver 3.7.1 answers
	# the DELETE with 405: the object is kept in the spool either way)
	run -3 --separate-stderr s3-put --max-attempts 1 --bucket-format '' --run-id ab "s3://$b/ab/" <"$BIG"
	# the object "exists": HEAD compares it
	run -3 --separate-stderr s3-put --max-attempts 1 --no-overwrite --bucket-format '' --run-id nov "s3://$b/nov/" <"$IN"
	all_ok "$T/s.log"
	[ "$(jq -r 'select(.method == "DELETE" or .method == "HEAD") | .method + " " + (.path | sub("uploadId=.*"; "uploadId=X"))' "$T/s.log")" = \
		"DELETE /$b/ab/part-ab-0.json?uploadId=X
HEAD /$b/nov/part-nov-0.json" ]
}

@test "endpoint URL with a path: the path is part of what is signed" {
	s=$(kp_unique_name sigep)
	kp_admin create-stream "$s" 1 >/dev/null
	vproxy k "$KP_KINESALITE_ENDPOINT"
	head -n 10 "$IN" | AWS_ENDPOINT_URL_KINESIS=$VP/base run kin-put --stream "$s"
	# kinesalite knows no /base/, but the signature must be good
	[ "$(jq -r .sigv4 "$T/k.log" | sort -u)" = ok ]
	# "/" joins as botocore joins it: the endpoint's path alone
	[ "$(jq -r .path "$T/k.log" | sort -u)" = /base ]
	# S3: the bucket and key follow the endpoint's path (a trailing slash
	# in the URL is dropped); s3rver knows no /base/ either
	b=$(kp_unique_name sigep)
	kp_admin create-bucket "$b" >/dev/null
	vproxy s "$KP_S3RVER_ENDPOINT"
	AWS_ENDPOINT_URL_S3=$VP/base/ run s3-put --max-attempts 1 --bucket-format '' --run-id ep "s3://$b/ep/" <"$IN"
	[ "$(jq -r .sigv4 "$T/s.log" | sort -u)" = ok ]
	jq -r .path "$T/s.log" | grep -q "^/base/$b/ep/part-ep-0"
	# a query or fragment in an endpoint URL is refused
	AWS_ENDPOINT_URL_KINESIS="$VP/base?x=1" run -2 --separate-stderr kin-put --stream "$s" </dev/null
	[[ $stderr == *"a query or fragment is not allowed"* ]]
}

@test "negative control: kin-put and kin-read with a wrong secret get 403 and fail, and nothing is stored" {
	s=$(kp_unique_name signeg)
	kp_admin create-stream "$s" 1 >/dev/null
	vproxy k "$KP_KINESALITE_ENDPOINT"
	AWS_SECRET_ACCESS_KEY=wrong-secret AWS_ENDPOINT_URL_KINESIS=$VP run -1 --separate-stderr kin-put --stream "$s" <"$IN"
	[[ $stderr == *InvalidSignatureException* ]]
	AWS_SECRET_ACCESS_KEY=wrong-secret AWS_ENDPOINT_URL_KINESIS=$VP run --separate-stderr kin-read --stream "$s"
	[ "$status" -ne 0 ]
	[[ $stderr == *InvalidSignatureException* ]]
	run -0 jq -sc 'map([.sigv4, .status, .upstream_status]) | unique' "$T/k.log"
	[ "$output" = '[["mismatch",403,null]]' ]
	[ "$(kp_admin get-records "$s" | wc -l)" -eq 0 ]
	# the proxy says what it computed, and never the secret
	grep -q -- '--- canonical request (computed by the proxy) ---' "$T/k.err"
	run ! grep -qF "$AWS_SECRET_ACCESS_KEY" "$T/k.log" "$T/k.err"
}

@test "negative control: s3-put with a wrong secret gets 403 SignatureDoesNotMatch and delivers nothing" {
	b=$(kp_unique_name signeg)
	kp_admin create-bucket "$b" >/dev/null
	vproxy s "$KP_S3RVER_ENDPOINT"
	AWS_SECRET_ACCESS_KEY=wrong-secret AWS_ENDPOINT_URL_S3=$VP run -3 --separate-stderr \
		s3-put --bucket-format '' --run-id neg "s3://$b/neg/" <"$IN"
	[[ $stderr == *'SignatureDoesNotMatch'*'(HTTP 403)'* ]]
	run -0 jq -sc 'map([.sigv4, .status, .upstream_status]) | unique' "$T/s.log"
	[ "$output" = '[["mismatch",403,null]]' ]
	run -0 kp_admin list-objects "$b"
	[ "$(jq '.Objects | length' <<<"$output")" -eq 0 ]
}
