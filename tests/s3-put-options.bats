#!/usr/bin/env bats
# s3-put's object options (--acl, --expected-bucket-owner, --tagging,
# --metadata, --sse-bucket-key, --checksum crc32c): the headers as a server
# sees them on every request of a single PUT and of a multipart upload,
# all of them signed (tests/lib/faultproxy.js --verify-sigv4 in front);
# CRC-32C checked by a server; the values S3 keeps, read back from moto;
# usage errors, and the options a local directory refuses.
#
# No local server verifies x-amz-checksum-crc32c: s3rver ignores it, and
# moto 5 stores the value it is given (with x-amz-sdk-checksum-algorithm)
# without computing it.  So a small test server, written below, stands in
# for S3 where checksums are checked: it computes the CRC-32C of every body
# and answers 400 BadDigest when the header disagrees, and checks the
# parts' checksums of the CompleteMultipartUpload body against the parts
# it took.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	zcat "$KP_ROOT/tests/data/market-trades.ndjson.gz" >"$BATS_FILE_TMPDIR/trades.ndjson"
	# Over 10 MiB: a multipart upload of three parts at --part-size 5MiB.
	for _ in 1 2; do cat "$BATS_FILE_TMPDIR/trades.ndjson"; done >"$BATS_FILE_TMPDIR/big.ndjson"
	cat >"$BATS_FILE_TMPDIR/crcsrv.js" <<'JS'
// A stand-in for S3 that checks CRC-32C: records each request as a JSON
// line, answers like S3 the requests s3-put makes, and refuses a body whose
// x-amz-checksum-crc32c is wrong (400 BadDigest).  With CORRUPT=1 it flips
// the first byte of every body it gets, as a network might.
'use strict';
const http = require('http'), fs = require('fs'), crypto = require('crypto');
const [portFile, logFile] = process.argv.slice(2);
const T = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
	let c = i;
	for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
	T[i] = c >>> 0;
}
function crc32c(b) {
	let c = 0xffffffff;
	for (let i = 0; i < b.length; i++) c = T[(c ^ b[i]) & 0xff] ^ (c >>> 8);
	const out = Buffer.alloc(4);
	out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
	return out.toString('base64');
}
const parts = {};	// uploadId -> { partNumber: crc }
let n = 0;
const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const body = Buffer.concat(chunks);
		if (process.env.CORRUPT === '1' && body.length > 0) body[0] ^= 1;
		const crc = crc32c(body), url = new URL(req.url, 'http://x');
		const err = (code) => {
			res.writeHead(400, { 'Content-Type': 'application/xml' });
			res.end('<Error><Code>' + code + '</Code><Message>' + code + '</Message></Error>');
		};
		fs.appendFileSync(logFile, JSON.stringify({
			method: req.method, url: req.url, headers: req.headers, len: body.length,
			crc32c: crc, md5: crypto.createHash('md5').update(body).digest('hex'),
			body: req.method === 'POST' ? body.toString() : undefined,
		}) + '\n');
		const sent = req.headers['x-amz-checksum-crc32c'];
		if (sent !== undefined && sent !== crc) return err('BadDigest');
		const xml = (s) => { res.writeHead(200, { 'Content-Type': 'application/xml' }); res.end(s); };
		const id = url.searchParams.get('uploadId');
		if (req.method === 'POST' && url.searchParams.has('uploads')) {
			parts['u' + (++n)] = {};
			return xml('<InitiateMultipartUploadResult><UploadId>u' + n + '</UploadId></InitiateMultipartUploadResult>');
		}
		if (req.method === 'POST') {
			// Every part listed with the checksum it was sent with.
			const got = [...body.toString().matchAll(/<PartNumber>(\d+)<\/PartNumber><ETag>[^<]*<\/ETag><ChecksumCRC32C>([^<]*)<\/ChecksumCRC32C>/g)];
			const want = parts[id] || {};
			if (got.length === 0 || got.length !== Object.keys(want).length ||
			    got.some((m) => want[m[1]] !== m[2]))
				return err('InvalidPart');
			return xml('<CompleteMultipartUploadResult><ETag>&quot;mpu-2&quot;</ETag></CompleteMultipartUploadResult>');
		}
		if (req.method === 'PUT' && id !== null)
			(parts[id] = parts[id] || {})[url.searchParams.get('partNumber')] = crc;
		if (req.method === 'GET') return xml('<ListMultipartUploadsResult></ListMultipartUploadsResult>');
		if (req.method === 'DELETE') { res.writeHead(204); return res.end(); }
		if (req.method === 'HEAD') { res.writeHead(404); return res.end(); }
		res.writeHead(200, { ETag: '"' + crypto.createHash('md5').update(body).digest('hex') + '"' });
		res.end();
	});
});
server.listen(0, '127.0.0.1', () => {
	fs.writeFileSync(portFile + '.tmp', server.address().port + '\n');
	fs.renameSync(portFile + '.tmp', portFile);
});
process.on('SIGTERM', () => process.exit(0));
JS
}

setup() {
	T=$BATS_TEST_TMPDIR
	TRADES=$BATS_FILE_TMPDIR/trades.ndjson
	BIG=$BATS_FILE_TMPDIR/big.ndjson
	PIDS=()
	printf '%s\n' '{"timestamp":"2024-08-08T23:54:15.342Z","a":1}' >"$T/in"
}

teardown() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# crcsrv [ENV...]: the checking server, behind a proxy that verifies every
# signature; S3 requests go to the proxy.
crcsrv() {
	env "$@" "$KP_NODE" "$BATS_FILE_TMPDIR/crcsrv.js" "$T/srv.port" "$T/srv.log" 3>&- &
	PIDS+=($!)
	kp_wait_file "$T/srv.port"
	"$KP_NODE" "$KP_ROOT/tests/lib/faultproxy.js" --verify-sigv4 \
		--upstream "http://127.0.0.1:$(cat "$T/srv.port")" --port-file "$T/fp.port" \
		--log "$T/fp.log" >"$T/fp.out" 2>"$T/fp.err" 3>&- &
	PIDS+=($!)
	kp_wait_file "$T/fp.port"
	export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$(cat "$T/fp.port")
}

# signed_all: every request reached the server signed right, with every
# x-amz-* header it carried among the signed ones.
signed_all() {
	[ -s "$T/fp.log" ]
	[ "$(jq -r .sigv4 "$T/fp.log" | sort -u)" = ok ]
	[ "$(jq -sc 'map(.sigv4_unsigned // []) | add | unique' "$T/fp.log")" = '["content-length"]' ]
}

OPTS=(--acl bucket-owner-full-control --expected-bucket-owner 111122223333
	--tagging 'team=data&stage=raw%20trades&path=a/b' --metadata source=kin-read
	--metadata Pipeline-Id=ops.7 --sse aws:kms --sse-bucket-key --checksum crc32c)

@test "a single PUT: ACL, owner, tags, metadata, bucket key and CRC-32C, signed, the CRC checked by the server" {
	crcsrv
	run --separate-stderr s3-put "${OPTS[@]}" --run-id one s3://b-k/p/ <"$T/in"
	assert_success
	assert_equal "$stderr" ''
	signed_all
	[ "$(wc -l <"$T/srv.log")" -eq 1 ]
	req=$(cat "$T/srv.log")
	assert_equal "$(jq -r .method <<<"$req")" PUT
	assert_equal "$(jq -c '.headers | [.["x-amz-acl"], .["x-amz-expected-bucket-owner"], .["x-amz-tagging"],
	    .["x-amz-meta-source"], .["x-amz-meta-pipeline-id"], .["x-amz-server-side-encryption"],
	    .["x-amz-server-side-encryption-bucket-key-enabled"], .["x-amz-sdk-checksum-algorithm"]]' <<<"$req")" \
	    '["bucket-owner-full-control","111122223333","team=data&stage=raw%20trades&path=a/b","kin-read","ops.7","aws:kms","true","CRC32C"]'
	assert_equal "$(jq -r '.headers["x-amz-checksum-crc32c"] == .crc32c' <<<"$req")" true
	# The CRC-32C of the body, computed apart (python, bitwise).
	crc=$(python3 -c 'import sys, base64
c = 0xffffffff
for b in sys.stdin.buffer.read():
    c ^= b
    for _ in range(8):
        c = (c >> 1) ^ 0x82f63b78 if c & 1 else c >> 1
print(base64.b64encode((c ^ 0xffffffff).to_bytes(4, "big")).decode())' <"$T/in")
	assert_equal "$(jq -r '.headers["x-amz-checksum-crc32c"]' <<<"$req")" "$crc"
	assert_equal "$(jq -r '.headers["x-amz-checksum-sha256"]' <<<"$req")" null
}

@test "multipart with CRC-32C: the algorithm on Create, a CRC per part, the parts' CRCs in Complete, the owner everywhere" {
	crcsrv
	run --separate-stderr s3-put "${OPTS[@]}" --part-size 5MiB --bucket-format '' --run-id mp \
	    s3://b-k/m/ <"$BIG"
	assert_success
	assert_equal "$(jq -r .etag <<<"$output")" mpu-2
	signed_all
	# Create, three parts, Complete: each names the owner.
	assert_equal "$(jq -r .method "$T/srv.log" | sort | paste -sd' ')" 'POST POST PUT PUT PUT'
	assert_equal "$(jq -r '.headers["x-amz-expected-bucket-owner"]' "$T/srv.log" | sort -u)" 111122223333
	create=$(jq -c 'select(.url | endswith("?uploads"))' "$T/srv.log")
	assert_equal "$(jq -c '.headers | [.["x-amz-checksum-algorithm"], .["x-amz-acl"], .["x-amz-tagging"],
	    .["x-amz-meta-source"], .["x-amz-server-side-encryption-bucket-key-enabled"]]' <<<"$create")" \
	    '["CRC32C","bucket-owner-full-control","team=data&stage=raw%20trades&path=a/b","kin-read","true"]'
	# The parts carry their CRC, not the object's headers.
	assert_equal "$(jq -r 'select(.url | test("partNumber=")) | (.headers["x-amz-checksum-crc32c"] == .crc32c)' "$T/srv.log" | sort -u)" true
	assert_equal "$(jq -r 'select(.url | test("partNumber=")) | [.headers["x-amz-acl"], .headers["x-amz-meta-source"], .headers["x-amz-tagging"]] | map(. == null) | all' "$T/srv.log" | sort -u)" true
	body=$(jq -r 'select(.method == "POST" and (.url | test("uploadId="))) | .body' "$T/srv.log")
	for n in 1 2 3; do
		part=$(jq -c --arg n "$n" 'select(.url | test("partNumber=" + $n + "&"))' "$T/srv.log")
		grep -qF "<Part><PartNumber>$n</PartNumber><ETag>\"$(jq -r .md5 <<<"$part")\"</ETag><ChecksumCRC32C>$(jq -r .crc32c <<<"$part")</ChecksumCRC32C></Part>" <<<"$body"
	done
}

@test "a body the server receives damaged fails its CRC-32C: BadDigest, not delivered, kept in the spool (exit 3)" {
	# The server refuses a wrong checksum (by hand, with curl).
	crcsrv
	srv=http://127.0.0.1:$(cat "$T/srv.port")
	run curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'x-amz-checksum-crc32c: AAAAAA==' \
	    --data-binary @"$T/in" "$srv/b/k"
	assert_output 400
	run curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'x-amz-checksum-crc32c: 4waSgw==' \
	    --data-binary 123456789 "$srv/b/k"
	assert_output 200
	teardown
	PIDS=()
	rm -f "$T/srv.port" "$T/fp.port"
	crcsrv CORRUPT=1
	run --separate-stderr s3-put --checksum crc32c --max-attempts 1 --spool-dir "$T/spool" \
	    --run-id bad s3://b-k/p/ <"$T/in"
	assert_failure 3
	assert_output ''
	[[ $stderr == *"not delivered"*BadDigest* ]]
	[ -n "$(find "$T/spool" -name '*.ndjson' -size +0)" ]
	# Without a checksum header the same damage goes unseen.
	run --separate-stderr s3-put --checksum none --run-id bad2 s3://b-k/p/ <"$T/in"
	assert_success
}

@test "a retried PUT and a spooled part delivered by the next run keep every header" {
	# The first PUT fails (500), its retry goes through.
	crcsrv
	run --separate-stderr s3-put "${OPTS[@]}" --run-id rt s3://b-k/p/ <"$T/in"
	assert_success
	kill "${PIDS[1]}"
	wait "${PIDS[1]}" 2>/dev/null || true
	printf '%s\n' '[{"match":{"method":"PUT"},"action":{"preset":"s3-internal"},"count":1}]' >"$T/rules.json"
	"$KP_NODE" "$KP_ROOT/tests/lib/faultproxy.js" --verify-sigv4 --rules "$T/rules.json" \
		--upstream "http://127.0.0.1:$(cat "$T/srv.port")" --port-file "$T/fp2.port" \
		--log "$T/fp2.log" >"$T/fp2.out" 2>"$T/fp2.err" 3>&- &
	PIDS+=($!)
	kp_wait_file "$T/fp2.port"
	export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$(cat "$T/fp2.port")
	: >"$T/srv.log"
	run --separate-stderr s3-put "${OPTS[@]}" --run-id rt2 s3://b-k/p/ <"$T/in"
	assert_success
	[ "$(jq -r 'select(.method == "PUT") | .action' "$T/fp2.log" | paste -sd' ')" = 'status forward' ]
	[ "$(jq -r '.sigv4' "$T/fp2.log" | sort -u)" = ok ]
	assert_equal "$(jq -c '.headers | [.["x-amz-acl"], .["x-amz-expected-bucket-owner"], .["x-amz-meta-source"], (.["x-amz-checksum-crc32c"] != null)]' "$T/srv.log")" \
	    '["bucket-owner-full-control","111122223333","kin-read",true]'
	# S3 failing: the part stays in the spool; the next run, with the same
	# options, delivers it with them.
	printf '%s\n' '[{"match":{"method":"PUT"},"action":{"preset":"s3-internal"}}]' >"$T/rules.json"
	run --separate-stderr s3-put "${OPTS[@]}" --max-attempts 1 --spool-dir "$T/spool" \
	    --run-id sp s3://b-k/p/ <"$T/in"
	assert_failure 3
	printf '%s\n' '[]' >"$T/rules.json"
	: >"$T/srv.log"
	run --separate-stderr s3-put "${OPTS[@]}" --spool-dir "$T/spool" s3://b-k/p/ </dev/null
	assert_success
	assert_equal "$(jq -r .uri <<<"$output")" s3://b-k/p/2024-08-08--23/part-sp-0.json
	assert_equal "$(jq -c '.headers | [.["x-amz-tagging"], .["x-amz-meta-pipeline-id"], .["x-amz-server-side-encryption-bucket-key-enabled"], (.["x-amz-checksum-crc32c"] != null)]' "$T/srv.log")" \
	    '["team=data&stage=raw%20trades&path=a/b","ops.7","true",true]'
}

@test "--checkpoint-dir: the objects a commit releases carry the headers too" {
	crcsrv
	mkdir -p "$T/ck"
	printf '%s\n' '{"timestamp":"2024-08-08T23:54:15.342Z","a":1}' \
	    '{"__kinpipe":{"barrier":1,"version":1,"job":"j","stream":"j","final":true,"positions":{}}}' >"$T/ckin"
	run --separate-stderr s3-put "${OPTS[@]}" --job j --checkpoint-dir "$T/ck" s3://b-k/c/ <"$T/ckin"
	assert_success
	signed_all
	assert_equal "$(jq -r '.headers["x-amz-expected-bucket-owner"]' "$T/srv.log" | sort -u)" 111122223333
	put=$(jq -c 'select(.method == "PUT" or (.url | endswith("?uploads")))' "$T/srv.log" | head -n 1)
	assert_equal "$(jq -c '.headers | [.["x-amz-acl"], .["x-amz-tagging"], .["x-amz-meta-source"], .["if-none-match"]]' <<<"$put")" \
	    '["bucket-owner-full-control","team=data&stage=raw%20trades&path=a/b","kin-read","*"]'
}

@test "usage errors: every bad value, and every S3 option for a local directory, exit 2 naming the option" {
	check() {
		kp_usage_error s3-put "$@"
	}
	acls='private, public-read, public-read-write, authenticated-read, aws-exec-read, bucket-owner-read or bucket-owner-full-control'
	check "--acl: expected $acls: bucket-owner" --acl bucket-owner s3://b/p/
	check '--expected-bucket-owner: not an AWS account id (12 digits): 12345678901' --expected-bucket-owner 12345678901 s3://b/p/
	check '--expected-bucket-owner: not an AWS account id (12 digits): 12345678901a' --expected-bucket-owner 12345678901a s3://b/p/
	bad='a tag is not KEY=VALUE, URL-encoded, with a key of 1 to 128 and a value of up to 256 letters, digits, spaces or + - = . _ : / @'
	check "--tagging: $bad: =v" --tagging '=v' s3://b/p/
	check "--tagging: $bad: a b=c" --tagging 'a b=c' s3://b/p/
	check "--tagging: $bad: a=%zz" --tagging 'a=%zz' s3://b/p/
	check "--tagging: $bad: a=%3C" --tagging 'a=%3C' s3://b/p/
	check "--tagging: $bad: a=%C3" --tagging 'a=%C3' s3://b/p/
	long=$(printf 'k%.0s' {1..129})
	check "--tagging: $bad: $long=v" --tagging "$long=v" s3://b/p/
	longv=$(printf 'v%.0s' {1..257})
	check "--tagging: $bad: k=$longv" --tagging "k=$longv" s3://b/p/
	# Far past the limit but short enough to be decoded (a value of 3,000
	# plain characters): refused at the 257th, never written past its
	# buffer (the fuzzer found that; the ASan build of this test too).
	run --separate-stderr s3-put --tagging "k=$(printf 'v%.0s' {1..3000})" s3://b/p/ </dev/null
	assert_failure 2
	[[ ${stderr%%$'\n'*} == "s3-put: --tagging: $bad: k=vvv"* ]]
	# 128 and 256 characters are allowed, as are 128 two-byte ones.
	run s3-put --tagging "$(printf 'k%.0s' {1..128})=$(printf 'v%.0s' {1..256})&$(printf '%%C3%%BC%.0s' {1..128})=1" --bogus
	[[ $output == *'unknown option: --bogus'* && $output != *'s3-put: --tagging'* ]]
	check '--tagging: more than 10 tags: a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11' \
	    --tagging 'a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11' s3://b/p/
	check '--tagging: a tag key given twice: a=1&a=2' --tagging 'a=1&a=2' s3://b/p/
	check "--tagging: tag keys starting with aws: are AWS's: aws:x=1" --tagging 'aws:x=1' s3://b/p/
	check "--tagging: a tag set ending with '&': a=1&" --tagging 'a=1&' s3://b/p/
	check '--tagging: empty tag set: ' --tagging '' s3://b/p/
	name='expected NAME=VALUE, NAME of 1 to 116 letters, digits or ! # $ % & '"'"' * + - . ^ _ ` | ~'
	check "--metadata: $name: novalue" --metadata novalue s3://b/p/
	check "--metadata: $name: a b=c" --metadata 'a b=c' s3://b/p/
	check "--metadata: $name: =c" --metadata '=c' s3://b/p/
	nl=$(printf 'n%.0s' {1..117})
	check "--metadata: $name: $nl=c" --metadata "$nl=c" s3://b/p/
	val='the value must be 1 or more printable ASCII characters, without spaces at its ends'
	check "--metadata: $val: a=" --metadata 'a=' s3://b/p/
	check "--metadata: $val: a= b" --metadata 'a= b' s3://b/p/
	check "--metadata: $val: a=ü" --metadata 'a=ü' s3://b/p/
	check "--metadata: $val: a=x\\ty" --metadata "a=$(printf 'x\ty')" s3://b/p/
	check '--metadata: a name given twice: A=2' --metadata a=1 --metadata A=2 s3://b/p/
	many=()
	for i in $(seq 1 16); do many+=(--metadata "m$i=v"); done
	check '--metadata: more than 16 entries: m17=v' "${many[@]}" --metadata m17=v s3://b/p/
	v1000=$(printf 'v%.0s' {1..1000})
	check "--metadata: user metadata over 2 KB (names and values): c=$v1000" \
	    --metadata "a=$v1000" --metadata "b=$v1000" --metadata "c=$v1000" s3://b/p/
	check '--sse-bucket-key needs --sse aws:kms' --sse-bucket-key s3://b/p/
	check '--sse-bucket-key needs --sse aws:kms' --sse AES256 --sse-bucket-key s3://b/p/
	check '--checksum: expected sha256, md5, crc32c or none: crc32' --checksum crc32 s3://b/p/
	# A local directory: each S3 option is refused, named, nothing created.
	for o in '--acl private' '--expected-bucket-owner 111122223333' '--tagging a=b' \
	    '--metadata a=b' '--sse AES256' '--sse-kms-key-id k --sse aws:kms' '--sse-bucket-key --sse aws:kms' \
	    '--storage-class STANDARD_IA' '--checksum crc32c' '--checksum sha256' '--content-type text/plain' \
	    '--path-style'; do
		# shellcheck disable=SC2086
		check "${o%% *}: only for S3, not a local directory" $o "$T/dir"
		# shellcheck disable=SC2086
		check "${o%% *}: only for S3, not a local directory" --gzip $o "file://$T/dir/"
	done
	[ ! -e "$T/dir" ]
	# Without them a local directory works as before.
	run --separate-stderr s3-put --no-overwrite --gzip "$T/dir" <"$T/in"
	assert_success
}

# moto_start: a moto_server on a free loopback port (MOTO); skips where
# moto is not installed (pip, not Debian).
moto_start() {
	command -v moto_server >/dev/null ||
	    skip "moto_server is not installed (pip install 'moto[server]'): no local server keeps ACLs, tags and checksums"
	local port i
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	moto_server -H 127.0.0.1 -p "$port" >"$T/moto.log" 2>&1 3>&- &
	PIDS+=($!)
	MOTO=http://127.0.0.1:$port
	for ((i = 0; i < 600; i++)); do
		curl -sf -o /dev/null "$MOTO/" && return 0
		sleep 0.05
	done
	echo "moto_server did not start: $(cat "$T/moto.log")" >&2
	return 1
}

# readback BUCKET KEY: what moto keeps of an object, as boto3 reads it.
readback() {
	"${KP_PYTHON:-/root/.pyenv/shims/python}" - "$MOTO" "$1" "$2" <<'PY'
import json, sys
import boto3
ep, b, k = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1")
h = s3.head_object(Bucket=b, Key=k, ChecksumMode="ENABLED")
acl = s3.get_object_acl(Bucket=b, Key=k)
tags = s3.get_object_tagging(Bucket=b, Key=k)["TagSet"]
print(json.dumps({
    "metadata": h.get("Metadata"),
    "checksum_crc32c": h.get("ChecksumCRC32C"),
    "sse": h.get("ServerSideEncryption"),
    "bucket_key": h.get("BucketKeyEnabled"),
    "tags": sorted([t["Key"], t["Value"]] for t in tags),
    "grants": sorted(g["Permission"] for g in acl["Grants"]),
}, sort_keys=True))
PY
}

@test "moto keeps what the headers asked for: ACL, tags, metadata, SSE bucket key, CRC-32C (single and multipart)" {
	moto_start
	"${KP_PYTHON:-/root/.pyenv/shims/python}" -c 'import boto3' 2>/dev/null ||
	    skip "boto3 is not installed: nothing to read moto back with"
	export AWS_ENDPOINT_URL_S3=$MOTO
	"${KP_PYTHON:-/root/.pyenv/shims/python}" -c 'import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1").create_bucket(Bucket="moto-b")' "$MOTO"
	run --separate-stderr s3-put --acl public-read --tagging 'team=data&stage=raw%20trades' \
	    --metadata source=kin-read --metadata Pipeline-Id=ops.7 --checksum crc32c \
	    --sse aws:kms --sse-bucket-key --run-id one s3://moto-b/p/ <"$T/in"
	assert_success
	got=$(readback moto-b p/2024-08-08--23/part-one-0.json)
	assert_equal "$(jq -c .metadata <<<"$got")" '{"pipeline-id":"ops.7","source":"kin-read"}'
	assert_equal "$(jq -c .tags <<<"$got")" '[["stage","raw trades"],["team","data"]]'
	# public-read: the owner's FULL_CONTROL and everyone's READ.
	assert_equal "$(jq -c .grants <<<"$got")" '["FULL_CONTROL","READ"]'
	assert_equal "$(jq -c '[.sse, .bucket_key]' <<<"$got")" '["aws:kms",true]'
	assert_equal "$(jq -r .checksum_crc32c <<<"$got")" \
	    "$(python3 -c 'import sys, base64
c = 0xffffffff
for b in sys.stdin.buffer.read():
    c ^= b
    for _ in range(8):
        c = (c >> 1) ^ 0x82f63b78 if c & 1 else c >> 1
print(base64.b64encode((c ^ 0xffffffff).to_bytes(4, "big")).decode())' <"$T/in")"
	run --separate-stderr s3-put --acl bucket-owner-full-control --tagging 'k=v' \
	    --metadata m=1 --checksum crc32c --part-size 5MiB --bucket-format '' --run-id mp \
	    s3://moto-b/m/ <"$BIG"
	assert_success
	got=$(readback moto-b m/part-mp-0.json)
	assert_equal "$(jq -c '[.metadata, .tags]' <<<"$got")" '[{"m":"1"},[["k","v"]]]'
	echo "multipart as moto keeps it: $got"
}
