#!/usr/bin/env node
'use strict';
/*
 * bench/s3-objects.js - what a reader of the bucket sees, for
 * bench/checkpoint.sh and bench/latency.sh.  Node built-ins and the
 * project's signer (tests/lib/sigv4.js) only.
 *
 *   s3-objects.js dump BUCKET PREFIX
 *       every object under PREFIX (ListObjectsV2, all pages), its bytes to
 *       stdout, keys in listing order.
 *
 *   s3-objects.js watch BUCKET PREFIX FIELD INTERVAL_MS
 *       lists PREFIX every INTERVAL_MS (measured from the end of one listing
 *       to the start of the next) until SIGTERM; fetches each object the
 *       first time it is listed and writes, for each of its records, one
 *       line "MS KEY VALUE": the wall clock (ms since the epoch) once the
 *       GET has returned, the key, and the record's FIELD (a number).
 *       Each line is written as soon as it is known.
 *
 * Endpoint and credentials come from the environment (the local stack's
 * env file): AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_REGION.  Only a loopback endpoint is accepted.  Path-style requests,
 * signed with Signature Version 4 (s3rver checks the form of the signature).
 */
const http = require('http');
const { sign, uriEncode, canonicalQuery } =
    require(`${__dirname}/../tests/lib/sigv4.js`);

const PROG = 's3-objects.js';

function die(msg) {
	process.stderr.write(`${PROG}: ${msg}\n`);
	process.exit(1);
}

const endpoint = new URL(process.env.AWS_ENDPOINT_URL_S3 || 'http://invalid');
if (endpoint.protocol !== 'http:' ||
    !['127.0.0.1', 'localhost', '[::1]'].includes(endpoint.hostname))
	die(`AWS_ENDPOINT_URL_S3 must be http on loopback, not ${endpoint.href}`);
const creds = {
	accessKeyId: process.env.AWS_ACCESS_KEY_ID,
	secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
};
if (!creds.accessKeyId || !creds.secretAccessKey)
	die('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set');
const region = process.env.AWS_REGION || 'us-east-1';
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function request(path, query) {
	const headers = sign({ method: 'GET', path, query,
	    headers: { host: endpoint.host } }, creds, region, 's3', new Date());
	const qs = query.length ? '?' + canonicalQuery(query) : '';
	return new Promise((resolve, reject) => {
		const req = http.request({ hostname: endpoint.hostname,
		    port: endpoint.port, method: 'GET', path: path + qs, headers,
		    agent, timeout: 15000 }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const body = Buffer.concat(chunks);
				if (res.statusCode !== 200)
					reject(new Error(`GET ${path}: HTTP ${
					    res.statusCode}: ${body.toString().slice(0, 200)}`));
				else
					resolve(body);
			});
			res.on('error', reject);
		});
		req.on('timeout', () => req.destroy(new Error(`GET ${path}: timed out`)));
		req.on('error', reject);
		req.end();
	});
}

function xmlText(s) {
	return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e) =>
	    ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]);
}

async function list(bucket, prefix) {
	const keys = [];
	let token;
	do {
		const q = [['list-type', '2'], ['prefix', prefix]];
		if (token)
			q.push(['continuation-token', token]);
		const xml = (await request('/' + uriEncode(bucket), q)).toString();
		const re = /<Key>([\s\S]*?)<\/Key>/g;
		let m;
		while ((m = re.exec(xml)) !== null)
			keys.push(xmlText(m[1]));
		const t = /<IsTruncated>true<\/IsTruncated>/.test(xml) &&
		    /<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml);
		token = t ? xmlText(t[1]) : undefined;
	} while (token);
	return keys;
}

function get(bucket, key) {
	return request('/' + uriEncode(bucket) + '/' +
	    key.split('/').map(uriEncode).join('/'), []);
}

async function dump(bucket, prefix) {
	for (const key of await list(bucket, prefix))
		process.stdout.write(await get(bucket, key));
}

async function watch(bucket, prefix, field, interval) {
	const seen = new Set();
	let stop = false;
	process.on('SIGTERM', () => { stop = true; });
	process.on('SIGINT', () => { stop = true; });
	const fieldRe = new RegExp(`"${field}":(\\d+)`);
	while (!stop) {
		for (const key of await list(bucket, prefix)) {
			if (seen.has(key))
				continue;
			seen.add(key);
			const body = (await get(bucket, key)).toString();
			const ms = Date.now();
			let out = '';
			for (const line of body.split('\n')) {
				const m = fieldRe.exec(line);
				if (m)
					out += `${ms} ${key} ${m[1]}\n`;
			}
			process.stdout.write(out);
		}
		await new Promise((r) => setTimeout(r, interval));
	}
}

const [cmd, ...args] = process.argv.slice(2);
let run;
if (cmd === 'dump' && args.length === 2)
	run = dump(args[0], args[1]);
else if (cmd === 'watch' && args.length === 4 && /^\d+$/.test(args[3]))
	run = watch(args[0], args[1], args[2], Number(args[3]));
else {
	process.stderr.write(`usage: ${PROG} dump BUCKET PREFIX\n` +
	    `       ${PROG} watch BUCKET PREFIX FIELD INTERVAL_MS\n`);
	process.exit(2);
}
run.then(() => process.exit(0), (e) => die(e.message));
