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

wait_for() {
	local i
	for ((i = 0; i < 1200; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	echo "gave up waiting for $1" >&2
	return 1
}

# crcsrv [ENV...]: the checking server, behind a proxy that verifies every
# signature; S3 requests go to the proxy.
crcsrv() {
	env "$@" "$KP_NODE" "$BATS_FILE_TMPDIR/crcsrv.js" "$T/srv.port" "$T/srv.log" 3>&- &
	PIDS+=($!)
	wait_for "$T/srv.port"
	"$KP_NODE" "$KP_ROOT/tests/lib/faultproxy.js" --verify-sigv4 \
		--upstream "http://127.0.0.1:$(cat "$T/srv.port")" --port-file "$T/fp.port" \
		--log "$T/fp.log" >"$T/fp.out" 2>"$T/fp.err" 3>&- &
	PIDS+=($!)
	wait_for "$T/fp.port"
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
