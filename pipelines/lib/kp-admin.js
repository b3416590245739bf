#!/usr/bin/env node
'use strict';
/*
 * kp-admin: administration of the local stack (kinesalite or kinesis-local,
 * and s3rver) for tests and the demo.  Node built-ins only.
 *
 * Endpoints and credentials come from the environment, as written by
 * `pipelines/localstack start DIR` into DIR/env:
 *   AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_S3 (else AWS_ENDPOINT_URL),
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional),
 *   AWS_REGION (else AWS_DEFAULT_REGION, else us-east-1).
 *
 * Kinesis calls use the JSON protocol (POST /, X-Amz-Target
 * Kinesis_20131202.<Action>, application/x-amz-json-1.1); S3 calls use the
 * REST API with path-style addressing.  Every request is signed with
 * Signature Version 4 by tests/lib/sigv4.js (shared with the test suite's
 * verifying proxy); `selftest` checks the signer against two published AWS
 * examples.
 *
 * Output is JSON on stdout (get-records: one JSON object a line; get-object:
 * the object's bytes).  Errors go to stderr as "kp-admin: ..." and exit 1;
 * usage errors exit 2.
 */
const fs = require('fs');
const http = require('http');
const https = require('https');

const PROG = 'kp-admin';
const WAIT_MS = 30000;		/* bound on every wait for a stream state */
const POLL_MS = 25;

const USAGE = `usage: ${PROG} COMMAND [ARG...]
Kinesis:
  create-stream NAME SHARDS        create, wait until ACTIVE, print the summary
  delete-stream NAME               delete, wait until it is gone
  describe-stream NAME             print DescribeStreamSummary's summary
  list-streams                     print {"StreamNames": [...]}
  list-shards NAME                 print {"Shards": [...]} (all pages)
  split-shard NAME SHARD [HASHKEY] split (default: mid-point), wait, list shards
  merge-shards NAME SHARD ADJACENT merge two adjacent shards, wait, list shards
  put-records NAME [--partition-key KEY | --partition-key-field FIELD]
                                   each stdin line becomes one record's data
  get-records NAME [--base64]      every record of every shard, oldest first,
                                   one JSON object a line
S3:
  create-bucket BUCKET             print {"Bucket": ...}
  list-objects BUCKET [PREFIX]     print {"Objects": [{Key, Size, ETag, LastModified}]}
  put-object BUCKET KEY [FILE]     upload FILE (default stdin), print {Bucket, Key, ETag}
  get-object BUCKET KEY            write the object's bytes to stdout
  delete-object BUCKET KEY         print {"Bucket": ..., "Key": ...}
Other:
  selftest                         check the SigV4 signer against AWS examples`;

class UsageError extends Error {}
class ConfigError extends Error {}
class ApiError extends Error {
	constructor(op, code, message, status) {
		super(`${op}: ${code}${message ? ': ' + message : ''}`);
		this.code = code;
		this.status = status;
	}
}

function die(msg, status) {
	process.stderr.write(`${PROG}: ${msg}\n`);
	process.exit(status);
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/* ---- Signature Version 4 ---------------------------------------------- */

/*
 * The signer is shared with the test suite's verifying proxy
 * (tests/lib/faultproxy.js --verify-sigv4): tests/lib/sigv4.js, the four
 * documented steps (canonical request, string to sign, signing key,
 * signature), independent of common/sigv4.c.  sign(req, creds, region,
 * service, now) returns the headers to send, Authorization included; `path`
 * is URI-encoded the way it is sent (S3 does not encode it twice; Kinesis
 * only ever uses "/").
 */
const { sign, uriEncode, canonicalQuery } =
    require(`${__dirname}/../../tests/lib/sigv4.js`);

function selftest() {
	/* "GET Object" example of the S3 SigV4 header-based auth page. */
	const s3 = sign({
		method: 'GET', path: '/test.txt', query: [],
		headers: { host: 'examplebucket.s3.amazonaws.com',
		    range: 'bytes=0-9' },
	}, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
	    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
	'us-east-1', 's3', new Date(Date.UTC(2013, 4, 24)));
	/* "get-vanilla" of the AWS SigV4 test suite. */
	const vanilla = sign({
		method: 'GET', path: '/', query: [],
		headers: { host: 'example.amazonaws.com' },
	}, { accessKeyId: 'AKIDEXAMPLE',
	    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
	'us-east-1', 'service', new Date(Date.UTC(2015, 7, 30, 12, 36, 0)));
	const want = [
		['s3-get-object', s3.authorization,
		    'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'],
		['get-vanilla', vanilla.authorization,
		    '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
	];
	const results = {};
	let ok = true;
	for (const [name, authz, sig] of want) {
		results[name] = authz.endsWith(`Signature=${sig}`);
		ok = ok && results[name];
	}
	print(results);
	if (!ok)
		die('selftest: signature mismatch', 1);
}

/* ---- HTTP ------------------------------------------------------------- */

function env(name) {
	const v = process.env[name];
	return v === undefined || v === '' ? undefined : v;
}

function config(service) {
	const endpoint = service === 'kinesis' ?
	    env('AWS_ENDPOINT_URL_KINESIS') || env('AWS_ENDPOINT_URL') :
	    env('AWS_ENDPOINT_URL_S3') || env('AWS_ENDPOINT_URL');
	if (!endpoint)
		throw new ConfigError(`no endpoint: set AWS_ENDPOINT_URL_${
		    service === 'kinesis' ? 'KINESIS' : 'S3'} (source the stack's env file)`);
	const accessKeyId = env('AWS_ACCESS_KEY_ID');
	const secretAccessKey = env('AWS_SECRET_ACCESS_KEY');
	if (!accessKeyId || !secretAccessKey)
		throw new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set');
	return {
		url: new URL(endpoint),
		region: env('AWS_REGION') || env('AWS_DEFAULT_REGION') || 'us-east-1',
		creds: { accessKeyId, secretAccessKey,
		    sessionToken: env('AWS_SESSION_TOKEN') },
	};
}

function send(url, method, path, query, headers, body) {
	const mod = url.protocol === 'https:' ? https : http;
	const qs = query.length ? '?' + canonicalQuery(query) : '';
	return new Promise((resolve, reject) => {
		const req = mod.request({
			protocol: url.protocol, hostname: url.hostname,
			port: url.port || undefined, method, path: path + qs,
			headers, timeout: 15000, agent: false,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode,
			    headers: res.headers, body: Buffer.concat(chunks) }));
			res.on('error', reject);
		});
		req.on('timeout', () => req.destroy(new Error(
		    `${method} ${url.host}${path}: timed out`)));
		req.on('error', reject);
		req.end(body);
	});
}

async function signedRequest(service, method, path, query, extra, body) {
	const cfg = config(service);
	const base = cfg.url.pathname.replace(/\/+$/, '');
	const fullPath = base + path;
	const headers = Object.assign({ host: cfg.url.host }, extra);
	if (body && body.length)
		headers['content-length'] = String(body.length);
	const signed = sign({ method, path: fullPath, query, headers, body },
	    cfg.creds, cfg.region, service, new Date());
	return send(cfg.url, method, fullPath, query, signed, body);
}

/* ---- Kinesis ---------------------------------------------------------- */

const RETRYABLE = new Set(['LimitExceededException',
    'ProvisionedThroughputExceededException', 'ThrottlingException',
    'InternalFailure', 'ServiceUnavailable']);

async function kinesis(action, params) {
	const body = Buffer.from(JSON.stringify(params));
	for (let attempt = 0; ; attempt++) {
		const res = await signedRequest('kinesis', 'POST', '/', [], {
			'content-type': 'application/x-amz-json-1.1',
			'x-amz-target': `Kinesis_20131202.${action}`,
		}, body);
		const text = res.body.toString('utf8');
		let json = {};
		try {
			json = text ? JSON.parse(text) : {};
		} catch (e) {
			throw new ApiError(action, `HTTP ${res.status}`,
			    text.slice(0, 200), res.status);
		}
		if (res.status === 200)
			return json;
		const code = String(json.__type || `HTTP ${res.status}`)
		    .replace(/^.*#/, '');
		if (RETRYABLE.has(code) && attempt < 20) {
			await sleep(Math.min(50 * 2 ** attempt, 1000));
			continue;
		}
		throw new ApiError(action, code, json.message || json.Message,
		    res.status);
	}
}

async function summary(name) {
	const r = await kinesis('DescribeStreamSummary', { StreamName: name });
	return r.StreamDescriptionSummary;
}

async function waitActive(name) {
	const deadline = Date.now() + WAIT_MS;
	for (;;) {
		const s = await summary(name);
		if (s.StreamStatus === 'ACTIVE')
			return s;
		if (Date.now() > deadline)
			throw new Error(`${name}: still ${s.StreamStatus} after ${WAIT_MS} ms`);
		await sleep(POLL_MS);
	}
}

async function listShards(name) {
	const shards = [];
	let token;
	do {
		/* With NextToken the stream name must not be given. */
		const r = await kinesis('ListShards',
		    token ? { NextToken: token } : { StreamName: name });
		shards.push(...(r.Shards || []));
		token = r.NextToken;
	} while (token);
	return shards;
}

function count(s, what) {
	if (!/^[0-9]+$/.test(s || '') || Number(s) < 1)
		throw new UsageError(`${what}: not a positive integer: ${s}`);
	return Number(s);
}

const cmds = {};

cmds['create-stream'] = async (name, shards) => {
	if (!name)
		throw new UsageError('create-stream NAME SHARDS');
	await kinesis('CreateStream', { StreamName: name,
	    ShardCount: count(shards, 'SHARDS') });
	print(await waitActive(name));
};

cmds['delete-stream'] = async (name) => {
	if (!name)
		throw new UsageError('delete-stream NAME');
	await kinesis('DeleteStream', { StreamName: name });
	const deadline = Date.now() + WAIT_MS;
	for (;;) {
		try {
			await summary(name);
		} catch (e) {
			if (e.code === 'ResourceNotFoundException')
				break;
			throw e;
		}
		if (Date.now() > deadline)
			throw new Error(`${name}: not deleted after ${WAIT_MS} ms`);
		await sleep(POLL_MS);
	}
	print({ StreamName: name, Deleted: true });
};

cmds['describe-stream'] = async (name) => {
	if (!name)
		throw new UsageError('describe-stream NAME');
	print(await summary(name));
};

cmds['list-streams'] = async () => {
	const names = [];
	for (;;) {
		const p = names.length ?
		    { ExclusiveStartStreamName: names[names.length - 1] } : {};
		const r = await kinesis('ListStreams', p);
		names.push(...(r.StreamNames || []));
		if (!r.HasMoreStreams || !(r.StreamNames || []).length)
			break;
	}
	print({ StreamNames: names });
};

cmds['list-shards'] = async (name) => {
	if (!name)
		throw new UsageError('list-shards NAME');
	print({ Shards: await listShards(name) });
};

cmds['split-shard'] = async (name, shardId, hashKey) => {
	if (!name || !shardId)
		throw new UsageError('split-shard NAME SHARD [NEW_STARTING_HASH_KEY]');
	if (hashKey === undefined) {
		const shard = (await listShards(name))
		    .find((s) => s.ShardId === shardId);
		if (!shard)
			throw new Error(`${name}: no shard ${shardId}`);
		const lo = BigInt(shard.HashKeyRange.StartingHashKey);
		const hi = BigInt(shard.HashKeyRange.EndingHashKey);
		hashKey = ((lo + hi) / 2n + 1n).toString();
	} else if (!/^[0-9]+$/.test(hashKey)) {
		throw new UsageError(`NEW_STARTING_HASH_KEY: not a decimal integer: ${hashKey}`);
	}
	await kinesis('SplitShard', { StreamName: name, ShardToSplit: shardId,
	    NewStartingHashKey: hashKey });
	await waitActive(name);
	print({ Shards: await listShards(name) });
};

cmds['merge-shards'] = async (name, shardId, adjacent) => {
	if (!name || !shardId || !adjacent)
		throw new UsageError('merge-shards NAME SHARD ADJACENT_SHARD');
	await kinesis('MergeShards', { StreamName: name, ShardToMerge: shardId,
	    AdjacentShardToMerge: adjacent });
	await waitActive(name);
	print({ Shards: await listShards(name) });
};

function lookup(obj, path) {
	let v = obj;
	for (const part of path.split('.')) {
		if (v === null || typeof v !== 'object')
			return undefined;
		v = v[part];
	}
	return v;
}

cmds['put-records'] = async (name, ...opts) => {
	if (!name)
		throw new UsageError('put-records NAME [--partition-key KEY | --partition-key-field FIELD]');
	let key = 'kp-admin';
	let field;
	for (let i = 0; i < opts.length; i += 2) {
		if (opts[i] === '--partition-key' && opts[i + 1] !== undefined)
			key = opts[i + 1];
		else if (opts[i] === '--partition-key-field' && opts[i + 1] !== undefined)
			field = opts[i + 1];
		else
			throw new UsageError(`put-records: bad option: ${opts[i]}`);
	}
	const text = fs.readFileSync(0);
	const lines = text.toString('utf8').split('\n');
	if (lines[lines.length - 1] === '')
		lines.pop();
	const records = lines.map((line, i) => {
		let pk = key;
		if (field !== undefined) {
			let v;
			try {
				v = lookup(JSON.parse(line), field);
			} catch (e) {
				v = undefined;
			}
			if (v === undefined || v === null)
				throw new Error(`<stdin>:${i + 1}: no field ${field}`);
			pk = typeof v === 'string' ? v : JSON.stringify(v);
		}
		return { Data: Buffer.from(line, 'utf8').toString('base64'),
		    PartitionKey: pk };
	});
	/* PutRecords takes at most 500 records; resend only the failed ones. */
	for (let i = 0; i < records.length; i += 500) {
		let batch = records.slice(i, i + 500);
		for (let attempt = 0; batch.length; attempt++) {
			const r = await kinesis('PutRecords', { StreamName: name,
			    Records: batch });
			batch = batch.filter((_, j) => r.Records[j].ErrorCode);
			if (batch.length && attempt >= 20)
				throw new Error(`${name}: ${batch.length} records not accepted`);
			if (batch.length)
				await sleep(Math.min(50 * 2 ** attempt, 1000));
		}
	}
	print({ StreamName: name, Records: records.length });
};

/*
 * Every record from TRIM_HORIZON to the tip of each shard, shards in
 * ListShards order.  A shard is done when it is closed (no next iterator) or
 * when a read returns nothing and says it is at the tip.
 */
cmds['get-records'] = async (name, opt) => {
	/* --base64: Data as Kinesis returns it (binary records, KPL
	 * aggregates), not decoded as UTF-8. */
	if (!name || (opt !== undefined && opt !== '--base64'))
		throw new UsageError('get-records NAME [--base64]');
	for (const shard of await listShards(name)) {
		let it = (await kinesis('GetShardIterator', { StreamName: name,
		    ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))
		    .ShardIterator;
		for (let reads = 0; it; reads++) {
			if (reads > 100000)
				throw new Error(`${shard.ShardId}: too many reads`);
			const r = await kinesis('GetRecords', { ShardIterator: it,
			    Limit: 10000 });
			for (const rec of r.Records || []) {
				process.stdout.write(JSON.stringify({
					ShardId: shard.ShardId,
					SequenceNumber: rec.SequenceNumber,
					PartitionKey: rec.PartitionKey,
					Data: opt ? rec.Data : Buffer.from(rec.Data,
					    'base64').toString('utf8'),
				}) + '\n');
			}
			if (!(r.Records || []).length && r.MillisBehindLatest === 0)
				break;
			it = r.NextShardIterator;
		}
	}
};

/* ---- S3 --------------------------------------------------------------- */

function s3path(bucket, key) {
	let p = '/' + uriEncode(bucket);
	if (key !== undefined)
		p += '/' + key.split('/').map(uriEncode).join('/');
	return p;
}

function xmlValue(xml, tag) {
	const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
	return m ? xmlText(m[1]) : undefined;
}

function xmlText(s) {
	return s.replace(/&(lt|gt|quot|apos|amp|#x?[0-9a-fA-F]+);/g, (_, e) => {
		switch (e) {
		case 'lt': return '<';
		case 'gt': return '>';
		case 'quot': return '"';
		case 'apos': return "'";
		case 'amp': return '&';
		default:
			return String.fromCodePoint(e[1] === 'x' ?
			    parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
		}
	});
}

async function s3(op, method, path, query, headers, body) {
	const res = await signedRequest('s3', method, path, query, headers || {},
	    body);
	if (res.status >= 200 && res.status < 300)
		return res;
	const xml = res.body.toString('utf8');
	throw new ApiError(op, xmlValue(xml, 'Code') || `HTTP ${res.status}`,
	    xmlValue(xml, 'Message'), res.status);
}

cmds['create-bucket'] = async (bucket) => {
	if (!bucket)
		throw new UsageError('create-bucket BUCKET');
	await s3('CreateBucket', 'PUT', s3path(bucket), []);
	print({ Bucket: bucket });
};

cmds['list-objects'] = async (bucket, prefix) => {
	if (!bucket)
		throw new UsageError('list-objects BUCKET [PREFIX]');
	const objects = [];
	let token;
	do {
		const q = [['list-type', '2']];
		if (prefix)
			q.push(['prefix', prefix]);
		if (token)
			q.push(['continuation-token', token]);
		const xml = (await s3('ListObjectsV2', 'GET', s3path(bucket), q))
		    .body.toString('utf8');
		const re = /<Contents>([\s\S]*?)<\/Contents>/g;
		let m;
		while ((m = re.exec(xml)) !== null) {
			objects.push({
				Key: xmlValue(m[1], 'Key'),
				Size: Number(xmlValue(m[1], 'Size')),
				ETag: xmlValue(m[1], 'ETag'),
				LastModified: xmlValue(m[1], 'LastModified'),
			});
		}
		token = xmlValue(xml, 'IsTruncated') === 'true' ?
		    xmlValue(xml, 'NextContinuationToken') : undefined;
	} while (token);
	print({ Objects: objects });
};

cmds['put-object'] = async (bucket, key, file) => {
	if (!bucket || !key)
		throw new UsageError('put-object BUCKET KEY [FILE]');
	const body = fs.readFileSync(file === undefined || file === '-' ? 0 : file);
	const res = await s3('PutObject', 'PUT', s3path(bucket, key), [],
	    { 'content-type': 'application/octet-stream' }, body);
	print({ Bucket: bucket, Key: key, ETag: res.headers.etag });
};

cmds['get-object'] = async (bucket, key) => {
	if (!bucket || !key)
		throw new UsageError('get-object BUCKET KEY');
	const res = await s3('GetObject', 'GET', s3path(bucket, key), []);
	process.stdout.write(res.body);
};

cmds['delete-object'] = async (bucket, key) => {
	if (!bucket || !key)
		throw new UsageError('delete-object BUCKET KEY');
	await s3('DeleteObject', 'DELETE', s3path(bucket, key), []);
	print({ Bucket: bucket, Key: key });
};

cmds.selftest = async () => selftest();

/* ---- main ------------------------------------------------------------- */

function print(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main(argv) {
	const [cmd, ...args] = argv;
	if (cmd === '-h' || cmd === '--help' || cmd === 'help') {
		process.stdout.write(USAGE + '\n');
		return;
	}
	if (!cmd || !Object.prototype.hasOwnProperty.call(cmds, cmd))
		throw new UsageError(cmd ? `unknown command: ${cmd}` : 'no command');
	await cmds[cmd](...args);
}

main(process.argv.slice(2)).catch((e) => {
	if (e instanceof UsageError) {
		process.stderr.write(`${PROG}: ${e.message}\n${USAGE}\n`);
		process.exit(2);
	}
	if (e instanceof ConfigError)
		die(e.message, 2);
	die(e instanceof ApiError ? e.message : (e && e.message) || String(e), 1);
});
