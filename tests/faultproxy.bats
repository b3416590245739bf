#!/usr/bin/env bats
# shellcheck disable=SC2154 # $stderr is set by `run --separate-stderr`
# Self-test of tests/lib/faultproxy.js against a real kinesalite on loopback.
# Requests are made by hand with curl (kinesalite checks the form of the SigV4
# Authorization header, not the signature).

bats_require_minimum_version 1.5.0

load helpers

FP="$KP_ROOT/tests/lib/faultproxy.js"
AUTH='AWS4-HMAC-SHA256 Credential=S3RVER/20150830/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00'

setup_file() {
	kp_stack_start kinesalite s3
	# signed.js: one request signed by kp-admin's signer (tests/lib/sigv4.js),
	# optionally spoiled after signing, sent as is; prints the status, then
	# the body.
	cat >"$BATS_FILE_TMPDIR/signed.js" <<'EOF'
'use strict';
// node signed.js URL SERVICE METHOD PATH QUERY BODY SPOIL [NAME:VALUE...]
// PATH is sent as given (encoded); QUERY is "name=value&..." (decoded).
// SPOIL: none, signature, body, path, query, old (X-Amz-Date 20 minutes
// ago), drop:NAME (send without a signed header), add:NAME:VALUE (add an
// unsigned header), no-auth.
const http = require('http');
const sigv4 = require(process.env.KP_ROOT + '/tests/lib/sigv4.js');
const [url, service, method, path, query, body, spoil, ...extra] = process.argv.slice(2);
const u = new URL(url);
const headers = { host: u.host };
for (const h of extra) {
	const i = h.indexOf(':');
	headers[h.slice(0, i)] = h.slice(i + 1);
}
const pairs = query === '' ? [] : query.split('&').map((p) => {
	const i = p.indexOf('=');
	return i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)];
});
const now = spoil === 'old' ? new Date(Date.now() - 20 * 60 * 1000) : new Date();
const b = Buffer.from(body, 'utf8');
const signed = sigv4.sign({ method, path, query: pairs, headers, body: b }, {
	accessKeyId: process.env.AWS_ACCESS_KEY_ID,
	secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
	sessionToken: process.env.AWS_SESSION_TOKEN,
}, 'us-east-1', service, now);
let sendPath = path, sendQuery = sigv4.canonicalQuery(pairs), sendBody = b;
const [what, name, value] = spoil.split(':');
switch (what) {
case 'none': case 'old': break;
case 'signature':
	signed.authorization = signed.authorization.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
	break;
case 'body': sendBody = Buffer.concat([b, Buffer.from('!')]); break;
case 'path': sendPath = path + 'x'; break;
case 'query': sendQuery += (sendQuery ? '&' : '') + 'extra='; break;
case 'drop': delete signed[name]; break;
case 'add': signed[name] = value; break;
case 'no-auth': delete signed.authorization; break;
default: throw new Error('unknown spoil ' + spoil);
}
signed['content-length'] = String(sendBody.length);	// never signed here
const req = http.request({ host: u.hostname, port: u.port, method, headers: signed,
	path: sendPath + (sendQuery ? '?' + sendQuery : ''), agent: false }, (res) => {
	const chunks = [];
	res.on('data', (c) => chunks.push(c));
	res.on('end', () => process.stdout.write(res.statusCode + '\n' + Buffer.concat(chunks) + '\n'));
});
req.end(sendBody);
EOF
	# vectors.js: verify() on every signed request of the AWS test suites.
	cat >"$BATS_FILE_TMPDIR/vectors.js" <<'EOF'
'use strict';
// node vectors.js DATADIR: one JSON line per signed request of both suites
// in DATADIR (tests/data/sigv4): {name, result, creq (the canonical request
// equals the suite's; null if none was built), spoiled (the result with one
// signature digit changed), reason}.
const fs = require('fs'), path = require('path');
const sigv4 = require(process.env.KP_ROOT + '/tests/lib/sigv4.js');
const root = process.argv[2];
const opts = { secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', now: Date.UTC(2015, 7, 30, 12, 36, 0) };
// A raw request.  Continuation lines are obs-fold (aws-c-auth), or more
// values of the header (the classic suite), as tests/data/sigv4/README.md says.
function parse(text, fold) {
	const cut = text.indexOf('\n\n');
	const head = cut < 0 ? text : text.slice(0, cut);
	const lines = head.split('\n');
	const m = /^(\S+) (.*) HTTP\/1\.1$/.exec(lines[0]);
	const raw = [];
	for (const l of lines.slice(1)) {
		if (/^[ \t]/.test(l)) {
			if (fold)
				raw[raw.length - 1] += '\n' + l;
			else
				raw.push(raw[raw.length - 2], l.trim());
			continue;
		}
		const c = l.indexOf(':');
		raw.push(l.slice(0, c), l.slice(c + 1).trim());
	}
	return { method: m[1], target: m[2], rawHeaders: raw,
		body: Buffer.from(cut < 0 ? '' : text.slice(cut + 2), 'latin1') };
}
function check(name, file, creqFile, fold, normalize) {
	const req = parse(fs.readFileSync(file, 'latin1'), fold);
	const o = Object.assign({ normalize }, opts);
	const v = sigv4.verify(req, o);
	const creq = v.canonicalRequest === undefined || !fs.existsSync(creqFile) ? null :
		v.canonicalRequest === fs.readFileSync(creqFile, 'latin1');
	const flip = (s) => s.replace(/(Signature=[0-9a-f]{63})([0-9a-f])/,
		(_, a, c) => a + (c === '0' ? '1' : '0'));
	req.rawHeaders = req.rawHeaders.map(flip);
	req.target = flip(req.target);
	const spoiled = sigv4.verify(req, o).result;
	process.stdout.write(JSON.stringify({ name, result: v.result, creq, spoiled, reason: v.reason }) + '\n');
}
const dirs = (d) => fs.readdirSync(d).filter((x) => fs.statSync(path.join(d, x)).isDirectory()).sort();
const c = path.join(root, 'aws-c-auth-v4');
for (const d of dirs(c)) {
	const ctx = JSON.parse(fs.readFileSync(path.join(c, d, 'context.json'), 'utf8'));
	for (const kind of ['header', 'query'])
		check(`aws-c-auth/${d}/${kind}`, path.join(c, d, `${kind}-signed-request.txt`),
			path.join(c, d, `${kind}-canonical-request.txt`), true, ctx.normalize);
}
for (const d of dirs(root).filter((x) => x !== 'aws-c-auth-v4')) {
	const cases = fs.existsSync(path.join(root, d, d + '.sreq')) ? [d] :
		dirs(path.join(root, d)).map((x) => d + '/' + x);
	for (const name of cases) {
		const base = path.join(root, name, path.basename(name));
		check('classic/' + name, base + '.sreq', base + '.creq', false, true);
	}
}
EOF
}

teardown_file() {
	kp_stack_stop
}

setup() {
	KPORT=${KP_KINESALITE_ENDPOINT##*:}
	T=$BATS_TEST_TMPDIR
	STREAM=$(kp_unique_name fp)
	FP_PID=
	ECHO_PID=
}

teardown() {
	local pid
	for pid in $FP_PID $ECHO_PID; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# fp_start RULES-JSON [proxy options...]: a proxy in front of kinesalite.
fp_start() {
	printf '%s\n' "$1" >"$T/rules.json"
	shift
	"$KP_NODE" "$FP" --upstream "http://127.0.0.1:${UPSTREAM_PORT:-$KPORT}" --rules "$T/rules.json" \
		--port-file "$T/fp.port" --log "$T/fp.log" "$@" >"$T/fp.out" 2>"$T/fp.err" 3>&- &
	FP_PID=$!
	kp_wait_file "$T/fp.port"
	PPORT=$(cat "$T/fp.port")
}

# set_rules RULES-JSON: replace the rules file whole (the proxy sees the change
# on its next request).
set_rules() {
	printf '%s\n' "$1" >"$T/rules.json.new"
	mv "$T/rules.json.new" "$T/rules.json"
}

# kcall PORT TARGET JSON: one Kinesis call; prints the HTTP status (000 when
# there was no answer) and leaves the body in $T/body, the headers in $T/headers.
kcall() {
	rm -f "$T/body" "$T/headers"
	curl -sS --max-time "${KCALL_TIMEOUT:-20}" -o "$T/body" -D "$T/headers" -w '%{http_code}' \
		-H 'Content-Type: application/x-amz-json-1.1' \
		-H "X-Amz-Target: Kinesis_20131202.$2" \
		-H 'X-Amz-Date: 20150830T123600Z' -H "Authorization: $AUTH" \
		--data-binary "$3" "http://127.0.0.1:$1/"
}

create_stream() {
	kp_admin create-stream "$STREAM" 1 >/dev/null
}

# records_json N [PREFIX]: a PutRecords body with records PREFIX0..PREFIX(N-1).
records_json() {
	jq -cn --arg s "$STREAM" --argjson n "$1" --arg p "${2:-r}" \
		'{StreamName: $s, Records: [range($n) | {Data: ("\($p)\(.)" | @base64), PartitionKey: "k"}]}'
}

# shard_data: the Data of every record in the stream, read straight from
# kinesalite, one a line.
shard_data() {
	kp_admin get-records "$STREAM" | jq -r .Data
}

# log_col FILTER: FILTER applied to every line of the proxy's log, joined by spaces.
log_col() {
	jq -c "$1" "$T/fp.log" | paste -sd' '
}

# statuses TARGET N: the HTTP status of N calls through the proxy, space-separated.
statuses() {
	local i out=
	for ((i = 0; i < $2; i++)); do
		out="$out $(kcall "$PPORT" "$1" '{}')"
	done
	echo "${out# }"
}

@test "faultproxy: forwards PutRecords unchanged and logs it" {
	create_stream
	fp_start '[]'
	run kcall "$PPORT" PutRecords "$(records_json 3)"
	[ "$status" -eq 0 ]
	[ "$output" = 200 ]
	[ "$(jq -r '.FailedRecordCount, (.Records | length)' "$T/body" | paste -sd' ')" = "0 3" ]
	[ "$(shard_data | paste -sd' ')" = "r0 r1 r2" ]
	[ "$(wc -l <"$T/fp.log")" -eq 1 ]
	run jq -c '[.n, .method, .path, .target, .rule, .action, .status, .upstream_status, .req_records, .records, .failed, .stored]' "$T/fp.log"
	[ "$output" = '[1,"POST","/","PutRecords",null,"forward",200,200,3,3,0,3]' ]
}

@test "faultproxy: partial_putrecords fail_every 2 fails records 1,3,5,7,9 and the server keeps the others" {
	create_stream
	fp_start '[{"match":{"target":"PutRecords"},"action":{"partial_putrecords":{"fail_every":2}}}]'
	run kcall "$PPORT" PutRecords "$(records_json 10)"
	[ "$output" = 200 ]
	[ "$(jq .FailedRecordCount "$T/body")" -eq 5 ]
	[ "$(jq '.Records | length' "$T/body")" -eq 10 ]
	# the failures, in place
	run jq -c '[.Records | to_entries[] | select(.value.ErrorCode) | .key]' "$T/body"
	[ "$output" = '[1,3,5,7,9]' ]
	run jq -r '[.Records[] | select(.ErrorCode) | .ErrorCode] | unique | .[]' "$T/body"
	[ "$output" = ProvisionedThroughputExceededException ]
	[ "$(jq '[.Records[] | select(.ErrorCode) | .ErrorMessage | strings] | length' "$T/body")" -eq 5 ]
	# the successes carry the server's real results
	run jq -c '[.Records | to_entries[] | select(.value.SequenceNumber and .value.ShardId) | .key]' "$T/body"
	[ "$output" = '[0,2,4,6,8]' ]
	# the server holds exactly the five successful records, with those sequence numbers
	cp "$T/body" "$T/put.json"
	[ "$(shard_data | paste -sd' ')" = "r0 r2 r4 r6 r8" ]
	run jq -c '[.Records[] | select(.SequenceNumber) | .SequenceNumber]' "$T/put.json"
	[ "$output" = "$(kp_admin get-records "$STREAM" | jq -sc 'map(.SequenceNumber)')" ]
	run jq -c '[.action, .status, .upstream_status, .req_records, .records, .failed, .stored]' "$T/fp.log"
	[ "$output" = '["partial",200,200,10,10,5,5]' ]
}

@test "faultproxy: partial_putrecords fail_indexes with another error code" {
	create_stream
	fp_start '[{"match":{"target":"PutRecords","nth":1},"action":{"partial_putrecords":{"fail_indexes":[0,3]},"error_code":"InternalFailure"}},
	           {"match":{"target":"PutRecords","nth":2},"action":{"partial_putrecords":{"fail_indexes":[0]}}}]'
	run kcall "$PPORT" PutRecords "$(records_json 4 a)"
	[ "$output" = 200 ]
	run jq -c '[.FailedRecordCount, [.Records[] | .ErrorCode]]' "$T/body"
	[ "$output" = '[2,["InternalFailure",null,null,"InternalFailure"]]' ]
	# every record failed: nothing is forwarded, the answer is made up whole
	run kcall "$PPORT" PutRecords "$(records_json 1 b)"
	[ "$output" = 200 ]
	run jq -c '[.FailedRecordCount, [.Records[] | .ErrorCode]]' "$T/body"
	[ "$output" = '[1,["ProvisionedThroughputExceededException"]]' ]
	[ "$(shard_data | paste -sd' ')" = "a1 a2" ]
	run jq -c '[.action, .upstream_status, .stored]' "$T/fp.log"
	[ "${lines[0]}" = '["partial",200,2]' ]
	[ "${lines[1]}" = '["partial",null,0]' ]
}

# keyed_json KEY... : a PutRecords body, one record per KEY (its data "dN").
keyed_json() {
	jq -cn --arg s "$STREAM" '{StreamName: $s, Records: [$ARGS.positional | to_entries[] |
		{Data: ("d\(.key)" | @base64), PartitionKey: .value}]}' --args "$@"
}

@test "faultproxy: shard_limits: records per shard-second over the limit fail as Kinesis fails them; shards learnt with ListShards" {
	create_stream
	fp_start '[{"match":{"target":"PutRecords"},"action":{"shard_limits":{"records_per_second":3}}}]'
	run kcall "$PPORT" PutRecords "$(records_json 5)"
	[ "$output" = 200 ]
	run jq -c '[.FailedRecordCount, [.Records[] | .ErrorCode]]' "$T/body"
	[ "$output" = '[2,[null,null,null,"ProvisionedThroughputExceededException","ProvisionedThroughputExceededException"]]' ]
	[ "$(jq -r '.Records[4].ErrorMessage' "$T/body")" = \
	    "Rate exceeded for shard shardId-000000000000 in stream $STREAM under account 000000000000." ]
	[ "$(shard_data | paste -sd' ')" = "r0 r1 r2" ]
	run jq -c '[.action, .req_records, .failed, .stored, .throttled]' "$T/fp.log"
	[ "$output" = '["shard-limits",5,2,3,2]' ]
	# The next second, the shard takes records again.
	sleep 1.1
	run kcall "$PPORT" PutRecords "$(records_json 2 s)"
	[ "$(jq .FailedRecordCount "$T/body")" -eq 0 ]
	[ "$(shard_data | paste -sd' ')" = "r0 r1 r2 s0 s1" ]
}

@test "faultproxy: shard_limits: bytes per shard-second (data plus key), and each shard on its own" {
	create_stream
	# Data "dN" (2 bytes) plus its one-byte key: 3 bytes a record.
	fp_start '[{"match":{"target":"PutRecords"},"action":{"shard_limits":{"bytes_per_second":7}}}]'
	run kcall "$PPORT" PutRecords "$(keyed_json a a a)"
	run jq -c '[.Records[] | .ErrorCode]' "$T/body"
	[ "$output" = '[null,null,"ProvisionedThroughputExceededException"]' ]
	# Two shards, split as CreateStream does ("shards": 2): MD5("a") starts
	# 0c (shard 0), MD5("b") 92 (shard 1); an ExplicitHashKey routes by
	# itself.
	STREAM=$(kp_unique_name fp2)
	kp_admin create-stream "$STREAM" 2 >/dev/null
	set_rules '[{"match":{"target":"PutRecords"},"action":{"shard_limits":{"records_per_second":1,"shards":2}}}]'
	body=$(keyed_json a b a b | jq -c '.Records += [{Data: ("x" | @base64), PartitionKey: "b", ExplicitHashKey: "1"}]')
	run kcall "$PPORT" PutRecords "$body"
	run jq -c '[.Records[] | .ShardId // .ErrorCode]' "$T/body"
	[ "$output" = '["shardId-000000000000","shardId-000000000001","ProvisionedThroughputExceededException","ProvisionedThroughputExceededException","ProvisionedThroughputExceededException"]' ]
	[ "$(jq -r '.Records[4].ErrorMessage' "$T/body")" = \
	    "Rate exceeded for shard shardId-000000000000 in stream $STREAM under account 000000000000." ]
}

@test "faultproxy: drop after: the server stored the record, the client got no answer" {
	create_stream
	fp_start '[{"match":{"target":"PutRecords","nth":1},"action":{"drop":"after"}}]'
	run --separate-stderr kcall "$PPORT" PutRecords "$(records_json 1 dup)"
	[ "$status" -eq 52 ]	# curl: empty reply from server
	[ "$output" = 000 ]
	[ "$(shard_data)" = dup0 ]
	run jq -c '[.action, .status, .upstream_status, .req_records, .stored]' "$T/fp.log"
	[ "$output" = '["drop-after",null,200,1,1]' ]
	# the client's retry is forwarded: two stored copies, counted by the log
	run kcall "$PPORT" PutRecords "$(records_json 1 dup)"
	[ "$output" = 200 ]
	[ "$(shard_data | paste -sd' ')" = "dup0 dup0" ]
	[ "$(jq -s 'map(.stored) | add' "$T/fp.log")" -eq 2 ]
}

@test "faultproxy: drop before: nothing forwarded, the client got no answer" {
	create_stream
	fp_start '[{"match":{"target":"PutRecords"},"action":{"drop":"before"}}]'
	run --separate-stderr kcall "$PPORT" PutRecords "$(records_json 1)"
	[ "$status" -eq 52 ]
	[ -z "$(shard_data)" ]
	run jq -c '[.action, .status, .upstream_status, .req_records, .stored]' "$T/fp.log"
	[ "$output" = '["drop-before",null,null,1,null]' ]
}

@test "faultproxy: drop mid-response: the server stored the record, the client got half an answer" {
	create_stream
	fp_start '[{"match":{"target":"PutRecords","nth":1},"action":{"drop":"mid-response"}}]'
	run --separate-stderr kcall "$PPORT" PutRecords "$(records_json 1 dup)"
	[ "$status" -eq 18 ] || [ "$status" -eq 56 ]	# curl: partial file, or reset
	grep -q '^HTTP/1.1 200' "$T/headers"
	[ "$(shard_data)" = dup0 ]
	run jq -c '[.action, .status, .upstream_status, .req_records, .stored]' "$T/fp.log"
	[ "$output" = '["drop-mid-response",200,200,1,1]' ]
	# An answer without a body (a HEAD) is cut in its headers.
	set_rules '[{"action":{"drop":"mid-response"}}]'
	run curl -sS -I --max-time 20 "http://127.0.0.1:$PPORT/"
	[ "$status" -ne 0 ]
}

@test "faultproxy: hang: read, never forwarded, never answered; logged when the client gives up" {
	create_stream
	fp_start '[{"match":{"target":"PutRecords"},"action":{"hang":true}}]'
	KCALL_TIMEOUT=1 run --separate-stderr kcall "$PPORT" PutRecords "$(records_json 1)"
	[ "$status" -eq 28 ]	# curl: timeout
	[ -z "$(shard_data)" ]
	kp_wait_file "$T/fp.log"
	run jq -c '[.action, .status, .upstream_status, .req_records, .client_gone]' "$T/fp.log"
	[ "$output" = '["hang",null,null,1,true]' ]
	echo '[{"action":{"hang":1}}]' >"$T/bad.json"
	run "$KP_NODE" "$FP" --upstream http://127.0.0.1:1 --rules "$T/bad.json"
	[ "$status" -eq 2 ]
	[[ "$output" == *'hang: must be true'* ]]
}

@test "faultproxy: down resets the connection of every matching request" {
	create_stream
	fp_start '[{"match":{"target":["PutRecords","PutRecord"]},"action":{"down":true}}]'
	run --separate-stderr kcall "$PPORT" PutRecords "$(records_json 1)"
	echo "curl: $status $stderr"
	[ "$status" -eq 56 ] || [ "$status" -eq 55 ]	# recv / send failure: connection reset
	[ "$output" = 000 ]
	run --separate-stderr kcall "$PPORT" PutRecord "{\"StreamName\":\"$STREAM\",\"Data\":\"eA==\",\"PartitionKey\":\"k\"}"
	[ "$status" -ne 0 ]
	# other calls still reach the server
	run kcall "$PPORT" DescribeStream "{\"StreamName\":\"$STREAM\"}"
	[ "$output" = 200 ]
	[ -z "$(shard_data)" ]
	[ "$(log_col .action)" = '"down" "down" "forward"' ]
}

@test "faultproxy: presets answer without forwarding" {
	fp_start '[{"match":{"target":"ListStreams","nth":1},"action":{"preset":"throttle","retry_after":2}},
	           {"match":{"target":"ListStreams","nth":2},"action":{"preset":"internal"}},
	           {"match":{"target":"ListStreams","nth":3},"action":{"preset":"unavailable"}},
	           {"match":{"target":"ListStreams","nth":4},"action":{"preset":"expired-iterator"}},
	           {"match":{"target":"ListStreams","nth":5},"action":{"preset":"expired-token"}},
	           {"match":{"target":"ListStreams","nth":6},"action":{"preset":"s3-slowdown"}},
	           {"match":{"target":"ListStreams","nth":7},"action":{"status":418,"body":{"__type":"Teapot"},"headers":{"X-Test":"yes"}}}]'
	run kcall "$PPORT" ListStreams '{}'
	[ "$output" = 400 ]
	[ "$(jq -c . "$T/body")" = '{"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for shard"}' ]
	grep -qi '^Retry-After: 2' "$T/headers"
	grep -qi '^Content-Type: application/x-amz-json-1.1' "$T/headers"
	grep -qi '^x-amzn-ErrorType: ProvisionedThroughputExceededException' "$T/headers"
	run kcall "$PPORT" ListStreams '{}'
	[ "$output" = 500 ]
	[ "$(jq -c . "$T/body")" = '{"__type":"InternalFailure"}' ]
	run ! grep -qi '^Retry-After' "$T/headers"
	run kcall "$PPORT" ListStreams '{}'
	[ "$output" = 503 ]
	[ "$(jq -r .__type "$T/body")" = ServiceUnavailable ]
	run kcall "$PPORT" ListStreams '{}'
	[ "$output" = 400 ]
	[ "$(jq -r .__type "$T/body")" = ExpiredIteratorException ]
	run kcall "$PPORT" ListStreams '{}'
	[ "$output" = 400 ]
	[ "$(jq -r .__type "$T/body")" = ExpiredTokenException ]
	run kcall "$PPORT" ListStreams '{}'
	[ "$output" = 503 ]
	grep -q '<Error><Code>SlowDown</Code>' "$T/body"
	grep -qi '^Content-Type: application/xml' "$T/headers"
	run kcall "$PPORT" ListStreams '{}'
	[ "$output" = 418 ]
	[ "$(jq -c . "$T/body")" = '{"__type":"Teapot"}' ]
	grep -qi '^X-Test: yes' "$T/headers"
	run kcall "$PPORT" ListStreams '{}'
	[ "$output" = 200 ]
	run jq -c '[.action, .status, .upstream_status]' "$T/fp.log"
	[ "${lines[0]}" = '["status",400,null]' ]
	[ "${lines[6]}" = '["status",418,null]' ]
	[ "${lines[7]}" = '["forward",200,200]' ]
}

@test "faultproxy: nth, times, every, from and count select requests" {
	fp_start '[{"match":{"target":"ListStreams","nth":2},"action":{"preset":"internal"}}]'
	[ "$(statuses ListStreams 4)" = "200 500 200 200" ]
	set_rules '[{"match":{"target":"ListStreams","times":2},"action":{"preset":"internal"}}]'
	[ "$(statuses ListStreams 4)" = "500 500 200 200" ]
	set_rules '[{"match":{"target":"ListStreams","every":3},"action":{"preset":"internal"}}]'
	[ "$(statuses ListStreams 7)" = "200 200 500 200 200 500 200" ]
	set_rules '[{"match":{"target":"ListStreams","from":3},"action":{"preset":"internal"},"count":2}]'
	[ "$(statuses ListStreams 6)" = "200 200 500 500 200 200" ]
}

@test "faultproxy: first match wins, every rule counts its own requests, target and method filter" {
	fp_start '[{"match":{"target":"ListStreams","times":1},"action":{"preset":"throttle"}},
	           {"match":{"target":"ListStreams","nth":2},"action":{"preset":"internal"}},
	           {"match":{"method":"GET"},"action":{"preset":"unavailable"}},
	           {"match":{"target":"ListStreams","nth":1},"action":{"preset":"expired-token"}}]'
	# a call to another operation counts for none of the ListStreams rules
	[ "$(kcall "$PPORT" DescribeStream '{"StreamName":"nope"}')" = 400 ]
	[ "$(jq -r .__type "$T/body")" = ResourceNotFoundException ]
	[ "$(statuses ListStreams 3)" = "400 500 200" ]
	# rule 3 saw the first ListStreams too (rule 0 took it), so it never fires
	[ "$(jq -r .__type "$T/body")" != ExpiredTokenException ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PPORT/x")" = 503 ]
	[ "$(log_col .rule)" = "null 0 1 null 2" ]
}

@test "faultproxy: a body regex restricts a rule to one stream" {
	fp_start '[{"match":{"target":"ListShards","body":"\"StreamName\":\"other\""},"action":{"preset":"throttle"}}]'
	[ "$(kcall "$PPORT" ListShards '{"StreamName":"other"}')" = 400 ]
	[ "$(jq -r .__type "$T/body")" = ProvisionedThroughputExceededException ]
	[ "$(kcall "$PPORT" ListShards '{"StreamName":"missing"}')" = 400 ]
	[ "$(jq -r .__type "$T/body")" = ResourceNotFoundException ]
}

@test "faultproxy: SIGHUP reloads the rules and restarts their counters" {
	fp_start '[{"match":{"target":"ListStreams","nth":1},"action":{"preset":"internal"}}]'
	[ "$(statuses ListStreams 2)" = "500 200" ]
	kill -HUP "$FP_PID"
	kp_wait_file "$T/fp.err" 'SIGHUP, generation 2'
	[ "$(statuses ListStreams 2)" = "500 200" ]
	[ "$(log_col .generation)" = "1 1 2 2" ]
}

@test "faultproxy: a changed rules file is used from the next request; a broken one is refused" {
	fp_start '[{"match":{"target":"ListStreams"},"action":{"preset":"unavailable"}}]'
	[ "$(statuses ListStreams 2)" = "503 503" ]
	# the server is "back up"
	set_rules '[]'
	[ "$(statuses ListStreams 1)" = 200 ]
	# a broken file keeps the rules in force and says why
	set_rules '[{"match":{"target":"ListStreams","time":1},"action":{"preset":"internal"}}]'
	[ "$(statuses ListStreams 1)" = 200 ]
	grep -q 'unknown key "time"' "$T/fp.err"
	set_rules '[{"match":{"target":"ListStreams"},"action":{"preset":"unavailable"}}]'
	[ "$(statuses ListStreams 1)" = 503 ]
}

@test "faultproxy: delay_ms makes the client time out while the server still applies the request" {
	create_stream
	fp_start '[{"match":{"target":"PutRecords","nth":1},"action":{"delay_ms":2000}}]'
	KCALL_TIMEOUT=0.5 run --separate-stderr kcall "$PPORT" PutRecords "$(records_json 1 late)"
	[ "$status" -eq 28 ]	# curl: operation timed out
	kp_wait_file "$T/fp.log"
	run jq -c '[.action, .upstream_status, .stored, .client_gone]' "$T/fp.log"
	[ "$output" = '["delay",200,1,true]' ]
	[ "$(shard_data)" = late0 ]
}

@test "faultproxy: GetRecords answers are counted in the log" {
	create_stream
	[ "$(kcall "$KPORT" PutRecords "$(records_json 4)")" = 200 ]
	fp_start '[{"match":{"target":"GetRecords","nth":1},"action":{"preset":"expired-iterator"}}]'
	kcall "$PPORT" GetShardIterator \
		"{\"StreamName\":\"$STREAM\",\"ShardId\":\"shardId-000000000000\",\"ShardIteratorType\":\"TRIM_HORIZON\"}" >/dev/null
	it=$(jq -r .ShardIterator "$T/body")
	[ "$(kcall "$PPORT" GetRecords "{\"ShardIterator\":\"$it\"}")" = 400 ]
	[ "$(jq -r .__type "$T/body")" = ExpiredIteratorException ]
	[ "$(kcall "$PPORT" GetRecords "{\"ShardIterator\":\"$it\"}")" = 200 ]
	[ "$(jq '.Records | length' "$T/body")" -eq 4 ]
	run jq -c '[.n, .target, .action, .records]' "$T/fp.log"
	[ "${lines[0]}" = '[1,"GetShardIterator","forward",null]' ]
	[ "${lines[1]}" = '[2,"GetRecords","status",null]' ]
	[ "${lines[2]}" = '[3,"GetRecords","forward",4]' ]
}

@test "faultproxy: keeps Host, Authorization, repeated headers, path and body as sent" {
	# an upstream that answers with what it received
	node -e '
		const http = require("http"), fs = require("fs");
		const s = http.createServer((req, res) => {
			const chunks = [];
			req.on("data", (c) => chunks.push(c));
			req.on("end", () => {
				const body = Buffer.concat(chunks);
				const out = JSON.stringify({ url: req.url, raw: req.rawHeaders,
					sha: require("crypto").createHash("sha256").update(body).digest("hex") });
				res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(out), "ETag": "\"e1\"" });
				res.end(out);
			});
		});
		s.listen(0, "127.0.0.1", () => fs.writeFileSync(process.argv[1], s.address().port + "\n"));
		process.on("SIGTERM", () => process.exit(0));
	' "$T/echo.port" >"$T/echo.log" 2>&1 3>&- &
	ECHO_PID=$!
	kp_wait_file "$T/echo.port"
	UPSTREAM_PORT=$(cat "$T/echo.port") fp_start '[]'
	head -c 300000 /dev/urandom >"$T/blob"
	run curl -sS -X PUT -H 'Host: bucket.s3.example:9000' -H "Authorization: $AUTH" \
		-H 'X-Amz-Content-Sha256: UNSIGNED-PAYLOAD' -H 'X-Dup: one' -H 'X-Dup: two' \
		-H 'Expect: 100-continue' --data-binary "@$T/blob" \
		"http://127.0.0.1:$PPORT/bucket/a%20key?partNumber=1&uploadId=x"
	[ "$status" -eq 0 ]
	echo "$output" >"$T/echo.json"
	[ "$(jq -r .url "$T/echo.json")" = '/bucket/a%20key?partNumber=1&uploadId=x' ]
	[ "$(jq -r .sha "$T/echo.json")" = "$(sha256sum "$T/blob" | cut -d' ' -f1)" ]
	run jq -c '.raw as $r | [range(0; $r | length; 2) | [$r[.], $r[. + 1]]]' "$T/echo.json"
	echo "$output" >"$T/pairs.json"
	[ "$(jq -c 'map(select(.[0] == "Host"))' "$T/pairs.json")" = '[["Host","bucket.s3.example:9000"]]' ]
	[ "$(jq -r 'map(select(.[0] == "Authorization"))[0][1]' "$T/pairs.json")" = "$AUTH" ]
	[ "$(jq -c 'map(select(.[0] == "X-Dup") | .[1])' "$T/pairs.json")" = '["one","two"]' ]
	[ "$(jq -r 'map(select(.[0] == "Content-Length"))[0][1]' "$T/pairs.json")" = 300000 ]
	[ "$(jq -c 'map(select(.[0] | ascii_downcase == "expect"))' "$T/pairs.json")" = '[]' ]
	# HEAD keeps the server's Content-Length and sends no body
	run curl -sS -I "http://127.0.0.1:$PPORT/bucket/k"
	[ "$status" -eq 0 ]
	echo "$output" | grep -qi '^ETag: "e1"'
	echo "$output" | grep -qiE '^Content-Length: [1-9]'
}

@test "faultproxy: S3 through the proxy: signed requests pass, s3-slowdown and down answer PUTs" {
	bucket=$(kp_unique_name fp)
	kp_admin create-bucket "$bucket" >/dev/null
	UPSTREAM_PORT=${KP_S3RVER_ENDPOINT##*:} fp_start '[{"match":{"method":"PUT","path":"^/[^/?]+/a/","nth":1},"action":{"preset":"s3-slowdown"}},
	           {"match":{"method":"PUT","path":"^/[^/?]+/a/","nth":2},"action":{"down":true}}]'
	export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$PPORT
	echo one >"$T/obj"
	run --separate-stderr kp_admin put-object "$bucket" a/1 "$T/obj"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *SlowDown* ]]
	run --separate-stderr kp_admin put-object "$bucket" a/1 "$T/obj"
	[ "$status" -eq 1 ]
	run kp_admin put-object "$bucket" a/1 "$T/obj"
	[ "$status" -eq 0 ]
	run kp_admin get-object "$bucket" a/1
	[ "$output" = one ]
	[ "$(log_col '[.method, .action, .status]')" = '["PUT","status",503] ["PUT","down",null] ["PUT","forward",200] ["GET","forward",200]' ]
}

@test "faultproxy: a dead upstream closes the client connection" {
	# a port nothing listens on: take one from the kernel, then let it go
	UPSTREAM_PORT=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
	fp_start '[]'
	run --separate-stderr kcall "$PPORT" ListStreams '{}'
	[ "$status" -eq 52 ]
	run jq -c '[.action, .status, .error]' "$T/fp.log"
	[ "$output" = '["upstream-error",null,"ECONNREFUSED"]' ]
}

# put2: two PutRecords on one curl handle, so the second may reuse the
# connection; prints both HTTP statuses.
put2() {
	local u="http://127.0.0.1:$PPORT/"
	curl -sS -o /dev/null -o /dev/null -w '%{http_code} ' \
		-H 'Content-Type: application/x-amz-json-1.1' \
		-H 'X-Amz-Target: Kinesis_20131202.PutRecords' -H 'X-Amz-Date: 20150830T123600Z' \
		-H "Authorization: $AUTH" --data-binary "$(records_json 1 x)" "$u" "$u"
}

@test "faultproxy: libcurl re-sends on its own when a reused connection is dropped" {
	create_stream
	fp_start '[{"match":{"target":"PutRecords","nth":2},"action":{"drop":"after"}}]'
	run put2
	[ "$status" -eq 0 ]
	[ "$output" = "200 200 " ]
	# the client saw two successes, the server stored three copies
	[ "$(shard_data | wc -l)" -eq 3 ]
	[ "$(log_col '[.conn, .conn_req, .action]')" = '[1,1,"forward"] [1,2,"drop-after"] [2,1,"forward"]' ]
}

@test "faultproxy: --close gives one connection per request, so a drop reaches the client" {
	create_stream
	fp_start '[{"match":{"target":"PutRecords","nth":2},"action":{"drop":"after"}}]' --close
	run --separate-stderr put2
	[ "$status" -eq 52 ]
	[ "$output" = "200 000 " ]
	[ "$(shard_data | wc -l)" -eq 2 ]
	[ "$(log_col '[.conn, .conn_req, .action]')" = '[1,1,"forward"] [2,1,"drop-after"]' ]
}

@test "faultproxy: bad command lines and rules exit 2; SIGTERM exits 0" {
	run "$KP_NODE" "$FP" --help
	[ "$status" -eq 0 ]
	[[ "$output" == usage:* ]]
	run "$KP_NODE" "$FP" --upstream http://127.0.0.1:1 --bogus
	[ "$status" -eq 2 ]
	run "$KP_NODE" "$FP"
	[ "$status" -eq 2 ]
	echo '[{"match":{"target":"PutRecords"},"action":{"preset":"nope"}}]' >"$T/bad.json"
	run "$KP_NODE" "$FP" --upstream http://127.0.0.1:1 --rules "$T/bad.json"
	[ "$status" -eq 2 ]
	[[ "$output" == *'unknown preset "nope"'* ]]
	echo '[{"action":{"drop":"before","down":true}}]' >"$T/bad.json"
	run "$KP_NODE" "$FP" --upstream http://127.0.0.1:1 --rules "$T/bad.json"
	[ "$status" -eq 2 ]
	[[ "$output" == *'more than one action'* ]]
	echo '[{"action":{"shard_limits":{"records_per_second":0}}}]' >"$T/bad.json"
	run "$KP_NODE" "$FP" --upstream http://127.0.0.1:1 --rules "$T/bad.json"
	[ "$status" -eq 2 ]
	[[ "$output" == *'shard_limits.records_per_second: must be a positive integer'* ]]
	fp_start '[]'
	kill -TERM "$FP_PID"
	rc=0
	wait "$FP_PID" || rc=$?
	FP_PID=
	[ "$rc" -eq 0 ]
	grep -q 'SIGTERM: exiting' "$T/fp.err"
}

# ---- --verify-sigv4 ----

# signed SPOIL SERVICE METHOD PATH QUERY BODY [NAME:VALUE...]: one request to
# the proxy, signed by kp-admin's signer (tests/lib/sigv4.js) with the
# stack's credentials, then spoiled (see signed.js in setup_file).  Prints
# the status on the first line, then the body.
signed() {
	"$KP_NODE" "$BATS_FILE_TMPDIR/signed.js" "http://127.0.0.1:$PPORT" "$2" "$3" "$4" "$5" "$6" "$1" "${@:7}"
}

# kin SPOIL [NAME:VALUE...]: a signed ListStreams.
kin() {
	signed "$1" kinesis POST / '' '{}' content-type:application/x-amz-json-1.1 \
		x-amz-target:Kinesis_20131202.ListStreams "${@:2}"
}

@test "verify-sigv4: the verifier accepts the signed requests of both AWS test suites, and none with a changed signature digit" {
	run -0 "$KP_NODE" "$BATS_FILE_TMPDIR/vectors.js" "$KP_ROOT/tests/data/sigv4"
	printf '%s\n' "$output" >"$T/v.ndjson"
	# 38 aws-c-auth cases signed in the header and in the query, 31 classic ones
	[ "$(wc -l <"$T/v.ndjson")" -eq 107 ]
	# Each one verifies, and the proxy's canonical request is the suite's,
	# except: the token added after signing (unsigned: refused on purpose),
	# and the two form cases of the classic suite that tests/data/sigv4/README.md
	# calls inconsistent or read in a special way.
	run jq -r 'select(.result != "ok" or .creq != true) | "\(.name) \(.result)"' "$T/v.ndjson"
	assert_output "aws-c-auth/post-sts-header-after/header malformed
aws-c-auth/post-sts-header-after/query mismatch
classic/post-sts-token/post-sts-header-after malformed
classic/post-x-www-form-urlencoded mismatch
classic/post-x-www-form-urlencoded-parameters mismatch"
	[ "$(jq -r 'select(.result == "ok") | .spoiled' "$T/v.ndjson" | sort | uniq -c | awk '{ print $1, $2 }')" = "102 mismatch" ]
}

@test "verify-sigv4: Kinesis: kp-admin's requests pass; a changed signature, body, path, query or a missing signed header gets 403, unforwarded" {
	fp_start '[]' --verify-sigv4
	export AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:$PPORT
	run -0 kp_admin create-stream "$STREAM" 1
	echo '{"a":1}' | kp_admin put-records "$STREAM" >/dev/null
	[ "$(kp_admin get-records "$STREAM" | jq -c .Data)" = '"{\"a\":1}"' ]
	run -0 kin none
	[ "${lines[0]}" = 200 ]
	[ "$(jq -r 'select(.sigv4 != "ok")' "$T/fp.log")" = "" ]
	n=$(wc -l <"$T/fp.log")
	[ "$n" -gt 5 ]
	for spoil in signature body path query drop:x-amz-target; do
		run -0 kin "$spoil"
		echo "$spoil: $output"
		[ "${lines[0]}" = 403 ]
		[ "$(printf '%s\n' "${lines[@]:1}" | jq -r .__type)" = InvalidSignatureException ]
	done
	run jq -c '[.sigv4, .action, .status, .upstream_status]' <(tail -n 5 "$T/fp.log")
	[ "$(printf '%s\n' "$output" | sort -u)" = '["mismatch","sigv4",403,null]' ]
	run jq -r '.sigv4_error' <(tail -n 5 "$T/fp.log")
	[ "${lines[4]}" = "signed header(s) not in the request: x-amz-target" ]
	# the log and stderr hold the canonical request the proxy computed, never the secret
	jq -r 'select(.sigv4 == "mismatch") | .sigv4_canonical' "$T/fp.log" | grep -qx 'x-amz-target:Kinesis_20131202.ListStreams'
	grep -q '^faultproxy: sigv4 mismatch: POST /x: signature differs' "$T/fp.err"
	grep -q -- '--- canonical request (computed by the proxy) ---' "$T/fp.err"
	run ! grep -rqF "$AWS_SECRET_ACCESS_KEY" "$T/fp.log" "$T/fp.err"
}

@test "verify-sigv4: S3: odd keys pass; a changed signature or path, a missing signed header gets 403; a changed body 400 XAmzContentSHA256Mismatch" {
	bucket=$(kp_unique_name fpv)
	UPSTREAM_PORT=${KP_S3RVER_ENDPOINT##*:} fp_start '[]' --verify-sigv4
	export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$PPORT
	run -0 kp_admin create-bucket "$bucket"
	key='dir one/a+b=c~d%e ü.json'
	echo odd >"$T/obj"
	run -0 kp_admin put-object "$bucket" "$key" "$T/obj"
	run -0 kp_admin list-objects "$bucket" 'dir one/'
	[ "$(jq -r '.Objects[].Key' <<<"$output")" = "$key" ]
	run -0 kp_admin get-object "$bucket" "$key"
	[ "$output" = odd ]
	[ "$(jq -r .path "$T/fp.log" | sed -n 2p)" = "/$bucket/dir%20one/a%2Bb%3Dc~d%25e%20%C3%BC.json" ]
	[ "$(jq -r 'select(.sigv4 != "ok")' "$T/fp.log")" = "" ]
	p="/$bucket/k"
	run -0 signed none s3 PUT "$p" '' hello x-amz-meta-a:1
	[ "${lines[0]}" = 200 ]
	for spoil in signature path drop:x-amz-meta-a; do
		run -0 signed "$spoil" s3 PUT "$p" '' hello x-amz-meta-a:1
		echo "$spoil: $output"
		[ "${lines[0]}" = 403 ]
		[[ $output == *'<Code>SignatureDoesNotMatch</Code>'*'<CanonicalRequest>PUT'* ]]
	done
	# the signature holds (the header is signed), the body is not what it says
	run -0 signed body s3 PUT "$p" '' hello
	[ "${lines[0]}" = 400 ]
	[[ $output == *'<Code>XAmzContentSHA256Mismatch</Code>'* ]]
	# an unsigned payload may be anything
	run -0 signed body s3 PUT "$p" '' hello x-amz-content-sha256:UNSIGNED-PAYLOAD
	[ "${lines[0]}" = 200 ]
	run -0 kp_admin get-object "$bucket" k
	[ "$output" = 'hello!' ]
	run jq -c --arg p "$p" 'select(.method == "PUT" and (.path | startswith($p))) | [.sigv4, .status, .upstream_status]' "$T/fp.log"
	[ "$(printf '%s ' "${lines[@]}")" = '["ok",200,200] ["mismatch",403,null] ["mismatch",403,null] ["mismatch",403,null] ["payload",400,null] ["ok",200,200] ' ]
	# an object that was refused was never written
	run -0 kp_admin list-objects "$bucket" kx
	[ "$(jq '.Objects | length' <<<"$output")" -eq 0 ]
}

@test "verify-sigv4: old X-Amz-Date, unsigned token or x-amz-* header, no Authorization, wrong session token are refused" {
	UPSTREAM_PORT=${KP_S3RVER_ENDPOINT##*:} fp_start '[]' --verify-sigv4
	run -0 signed old s3 GET / '' ''
	[ "${lines[0]}" = 403 ]
	[[ $output == *'<Code>RequestTimeTooSkewed</Code>'* ]]
	run -0 signed add:x-amz-meta-b:2 s3 GET / '' ''
	[ "${lines[0]}" = 403 ]
	[[ $output == *'<Code>AccessDenied</Code><Message>headers present in the request which were not signed: x-amz-meta-b</Message>'* ]]
	run -0 signed add:x-amz-security-token:tok s3 GET / '' ''
	[ "${lines[0]}" = 403 ]
	[[ $output == *'X-Amz-Security-Token is not signed'* ]]
	run -0 signed no-auth s3 GET / '' ''
	[ "${lines[0]}" = 403 ]
	run -0 kin no-auth
	[ "${lines[0]}" = 403 ]
	[ "$(printf '%s\n' "${lines[@]:1}" | jq -r .__type)" = MissingAuthenticationTokenException ]
	run -0 kin old
	[ "$(printf '%s\n' "${lines[@]:1}" | jq -r .__type)" = InvalidSignatureException ]
	[ "$(log_col .sigv4)" = '"skew" "malformed" "malformed" "malformed" "malformed" "skew"' ]
	[ "$(jq -sc 'map(.upstream_status) | unique' "$T/fp.log")" = '[null]' ]
	kill "$FP_PID"; wait "$FP_PID" || true
	# --token-env: the token must be that one, and signed
	rm -f "$T/fp.port" "$T/fp.log"
	export KP_WANT_TOKEN='FQoGZXIvYXdzE+/token=='
	fp_start '[]' --verify-sigv4 --token-env KP_WANT_TOKEN
	AWS_SESSION_TOKEN=$KP_WANT_TOKEN run -0 kin none
	[ "${lines[0]}" = 200 ]
	AWS_SESSION_TOKEN=other run -0 kin none
	[ "${lines[0]}" = 403 ]
	[ "$(printf '%s\n' "${lines[@]:1}" | jq -r .__type)" = UnrecognizedClientException ]
	run -0 kin none
	[ "${lines[0]}" = 403 ]
	[ "$(log_col .sigv4)" = '"ok" "token" "token"' ]
	[ "$(jq -c '.sigv4_signed | index("x-amz-security-token") != null' "$T/fp.log" | paste -sd' ')" = "true true false" ]
	# the token never shows in the log
	run ! grep -qF "$KP_WANT_TOKEN" "$T/fp.log"
}

@test "verify-sigv4: the secret comes from --secret-env; a missing one is a usage error" {
	KP_OTHER_SECRET=not-the-stack-secret fp_start '[]' --verify-sigv4 --secret-env KP_OTHER_SECRET
	run -0 kin none
	[ "${lines[0]}" = 403 ]
	AWS_SECRET_ACCESS_KEY=not-the-stack-secret run -0 kin none
	[ "${lines[0]}" = 200 ]
	run "$KP_NODE" "$FP" --upstream http://127.0.0.1:1 --verify-sigv4 --secret-env KP_UNSET_SECRET
	[ "$status" -eq 2 ]
	[[ "$output" == *'the secret key variable KP_UNSET_SECRET is not set'* ]]
	run "$KP_NODE" "$FP" --upstream http://127.0.0.1:1 --secret-env X
	[ "$status" -eq 2 ]
	run "$KP_NODE" "$FP" --upstream http://127.0.0.1:1 --verify-sigv4 --token-env KP_UNSET_TOKEN
	[ "$status" -eq 2 ]
}

@test "verify-sigv4: rules only see requests that passed" {
	fp_start '[{"match":{"target":"ListStreams","nth":2},"action":{"preset":"internal"}}]' --verify-sigv4
	run -0 kin none
	[ "${lines[0]}" = 200 ]
	run -0 kin signature
	[ "${lines[0]}" = 403 ]
	run -0 kin none
	[ "${lines[0]}" = 500 ]
	[ "$(log_col '[.sigv4, .action, .rule]')" = '["ok","forward",null] ["mismatch","sigv4",null] ["ok","status",0]' ]
}
