#!/usr/bin/env node
'use strict';
/*
 * s3get: reads back what the tools wrote to a local S3 server, for the
 * checkpoint and chaos tests, in one process (kp-admin starts one node per
 * object).  Node built-ins and tests/lib/sigv4.js only; path-style requests
 * signed with SigV4 from the environment: AWS_ENDPOINT_URL_S3,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.  Loopback only: any
 * other endpoint host is refused.
 *
 *   s3get.js dump BUCKET PREFIX OUTDIR
 *       OUTDIR/keys: every key under PREFIX, one a line, in listing order;
 *       OUTDIR/records: the bodies of those objects one after the other
 *       (.gz objects gunzipped), each ending in a newline
 *   s3get.js uploads BUCKET
 *       one JSON line {Key, UploadId} per multipart upload in progress
 *       (ListMultipartUploads, every page)
 *   s3get.js versions BUCKET PREFIX
 *       one JSON line {Key, VersionId, IsLatest} per object version
 *       (ListObjectVersions, every page)
 *   s3get.js versioning BUCKET
 *       turns versioning on (PutBucketVersioning)
 *   s3get.js put-if-none-match BUCKET KEY FILE
 *       PutObject with If-None-Match: *; prints the HTTP status
 *
 * Exit 1 on an API error (message on stderr), 2 on a usage error.
 */
const fs = require('fs');
const http = require('http');
const path = require('path');
const zlib = require('zlib');
const { sign, uriEncode, canonicalQuery } = require(path.join(__dirname, 'sigv4.js'));

function die(msg, status) {
	process.stderr.write(`s3get: ${msg}\n`);
	process.exit(status);
}

function endpoint() {
	const e = process.env.AWS_ENDPOINT_URL_S3;
	if (!e)
		die('AWS_ENDPOINT_URL_S3 is not set', 2);
	const u = new URL(e);
	if (u.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))
		die(`not a loopback endpoint: ${e}`, 2);
	return u;
}

function request(method, p, query, extra, body) {
	const u = endpoint();
	const headers = Object.assign({ host: u.host }, extra || {});
	body = body || Buffer.alloc(0);
	if (body.length)
		headers['content-length'] = String(body.length);
	const signed = sign({ method, path: p, query, headers, body }, {
		accessKeyId: process.env.AWS_ACCESS_KEY_ID,
		secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
	}, process.env.AWS_REGION || 'us-east-1', 's3', new Date());
	const qs = query.length ? '?' + canonicalQuery(query) : '';
	return new Promise((resolve, reject) => {
		const req = http.request({ hostname: u.hostname, port: u.port, method,
		    path: p + qs, headers: signed, agent: false, timeout: 60000 }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode,
			    headers: res.headers, body: Buffer.concat(chunks) }));
			res.on('error', reject);
		});
		req.on('timeout', () => req.destroy(new Error(`${method} ${p}: timed out`)));
		req.on('error', reject);
		req.end(body);
	});
}

async function ok(op, method, p, query, extra, body) {
	const res = await request(method, p, query, extra, body);
	if (res.status < 200 || res.status > 299)
		die(`${op}: HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`, 1);
	return res;
}

function bucketPath(b, key) {
	let p = '/' + uriEncode(b);
	if (key !== undefined)
		p += '/' + key.split('/').map((s) => uriEncode(s)).join('/');
	return p;
}

function unxml(s) {
	return s.replace(/&(lt|gt|quot|apos|amp|#x?[0-9a-fA-F]+);/g, (_, e) => ({
		lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' }[e] ||
	    String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))));
}

function value(xml, tag) {
	const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
	return m ? unxml(m[1]) : undefined;
}

function each(xml, tag) {
	const out = [];
	const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
	let m;
	while ((m = re.exec(xml)) !== null)
		out.push(m[1]);
	return out;
}

async function listKeys(b, prefix) {
	const keys = [];
	let token;
	do {
		const q = [['list-type', '2'], ['prefix', prefix]];
		if (token)
			q.push(['continuation-token', token]);
		const xml = (await ok('ListObjectsV2', 'GET', bucketPath(b), q)).body.toString('utf8');
		for (const c of each(xml, 'Contents'))
			keys.push(value(c, 'Key'));
		token = value(xml, 'IsTruncated') === 'true' ? value(xml, 'NextContinuationToken') : undefined;
	} while (token);
	return keys;
}

const cmds = {
	async dump(b, prefix, out) {
		if (!b || prefix === undefined || !out)
			die('usage: s3get.js dump BUCKET PREFIX OUTDIR', 2);
		fs.mkdirSync(out, { recursive: true });
		const keys = await listKeys(b, prefix);
		fs.writeFileSync(path.join(out, 'keys'), keys.map((k) => k + '\n').join(''));
		const fd = fs.openSync(path.join(out, 'records'), 'w');
		for (const k of keys) {
			let body = (await ok('GetObject', 'GET', bucketPath(b, k), [])).body;
			if (k.endsWith('.gz'))
				body = zlib.gunzipSync(body);
			fs.writeSync(fd, body);
			if (body.length && body[body.length - 1] !== 0x0a)
				fs.writeSync(fd, '\n');
		}
		fs.closeSync(fd);
	},
	async uploads(b) {
		if (!b)
			die('usage: s3get.js uploads BUCKET', 2);
		let km, um;
		do {
			const q = [['uploads', '']];
			if (km !== undefined)
				q.push(['key-marker', km], ['upload-id-marker', um]);
			const xml = (await ok('ListMultipartUploads', 'GET', bucketPath(b), q)).body.toString('utf8');
			for (const u of each(xml, 'Upload'))
				process.stdout.write(JSON.stringify({ Key: value(u, 'Key'),
				    UploadId: value(u, 'UploadId') }) + '\n');
			km = value(xml, 'IsTruncated') === 'true' ? value(xml, 'NextKeyMarker') : undefined;
			um = value(xml, 'NextUploadIdMarker') || '';
		} while (km !== undefined);
	},
	async versions(b, prefix) {
		if (!b || prefix === undefined)
			die('usage: s3get.js versions BUCKET PREFIX', 2);
		let km, vm;
		do {
			const q = [['versions', ''], ['prefix', prefix]];
			if (km !== undefined)
				q.push(['key-marker', km], ['version-id-marker', vm]);
			const xml = (await ok('ListObjectVersions', 'GET', bucketPath(b), q)).body.toString('utf8');
			for (const v of each(xml, 'Version'))
				process.stdout.write(JSON.stringify({ Key: value(v, 'Key'),
				    VersionId: value(v, 'VersionId'), IsLatest: value(v, 'IsLatest') }) + '\n');
			km = value(xml, 'IsTruncated') === 'true' ? value(xml, 'NextKeyMarker') : undefined;
			vm = value(xml, 'NextVersionIdMarker') || '';
		} while (km !== undefined);
	},
	async versioning(b) {
		if (!b)
			die('usage: s3get.js versioning BUCKET', 2);
		const body = Buffer.from('<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
		    '<Status>Enabled</Status></VersioningConfiguration>');
		await ok('PutBucketVersioning', 'PUT', bucketPath(b), [['versioning', '']],
		    { 'content-type': 'application/xml' }, body);
	},
	async 'put-if-none-match'(b, key, file) {
		if (!b || !key || !file)
			die('usage: s3get.js put-if-none-match BUCKET KEY FILE', 2);
		const res = await request('PUT', bucketPath(b, key), [],
		    { 'if-none-match': '*' }, fs.readFileSync(file));
		process.stdout.write(res.status + '\n');
	},
};

const [cmd, ...args] = process.argv.slice(2);
if (!Object.prototype.hasOwnProperty.call(cmds, cmd || ''))
	die('usage: s3get.js dump|uploads|versions|versioning|put-if-none-match ...', 2);
cmds[cmd](...args).catch((e) => die(e && e.message ? e.message : String(e), 1));
