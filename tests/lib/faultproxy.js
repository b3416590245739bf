#!/usr/bin/env node
/*
 * faultproxy: a scripted fault-injection HTTP proxy for kinpipe's tests.
 *
 * It sits between a tool under test and a real local server (kinesalite,
 * kinesis-local, s3rver), forwards every request unchanged, and applies the
 * first matching rule of a JSON rules file: answer with an error, delay, drop
 * the connection before or after the server saw the request, refuse, or fail
 * some entries of a PutRecords batch.  Faults come from outside the tools, as
 * STYLE.md asks; the tools only get an --endpoint-url pointing here.
 *
 * With --verify-sigv4 it also checks the SigV4 signature of every request
 * as received (tests/lib/sigv4.js, independent of common/sigv4.c) and
 * answers a bad one itself, as AWS would, without forwarding it.
 *
 * Usage and the rules format: tests/lib/faultproxy.md.
 * Node 18 or later, built-in modules only.
 */
'use strict';

const http = require('http');
const fs = require('fs');
const crypto = require('crypto');
const zlib = require('zlib');
const sigv4 = require('./sigv4.js');

const PROG = 'faultproxy';
const USAGE = 'usage: faultproxy.js --upstream http://127.0.0.1:PORT [--rules FILE] ' +
	'[--port-file FILE] [--log FILE] [--port N] [--close] ' +
	'[--verify-sigv4 [--secret-env NAME] [--token-env NAME]]';

/* Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business and are
 * never copied; "expect" is answered here (Node sends 100 Continue itself) and
 * the buffered body is sent upstream in one go. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te',
	'trailer', 'transfer-encoding', 'upgrade', 'expect']);

const KINESIS_JSON = 'application/x-amz-json-1.1';

function kinesisError(status, type, message) {
	const o = { __type: type };
	if (message !== undefined)
		o.message = message;
	return { status, type, body: JSON.stringify(o), contentType: KINESIS_JSON };
}

function s3Error(status, code, message) {
	return {
		status, type: null, contentType: 'application/xml',
		body: '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + code +
			'</Code><Message>' + message + '</Message><RequestId>faultproxy</RequestId>' +
			'<HostId>faultproxy</HostId></Error>',
	};
}

/* Canned answers, shaped like the real services' errors. */
const PRESETS = {
	'throttle': kinesisError(400, 'ProvisionedThroughputExceededException',
		'Rate exceeded for shard'),
	'limit-exceeded': kinesisError(400, 'LimitExceededException', 'Rate exceeded'),
	'internal': kinesisError(500, 'InternalFailure'),
	'unavailable': kinesisError(503, 'ServiceUnavailable', 'Service Unavailable'),
	'expired-iterator': kinesisError(400, 'ExpiredIteratorException',
		'Iterator expired'),
	'expired-token': kinesisError(400, 'ExpiredTokenException',
		'The security token included in the request is expired'),
	's3-slowdown': s3Error(503, 'SlowDown', 'Please reduce your request rate.'),
	's3-internal': s3Error(500, 'InternalError',
		'We encountered an internal error. Please try again.'),
	's3-unavailable': s3Error(503, 'ServiceUnavailable',
		'Service is unable to handle request.'),
};

function xmlEscape(s) {
	return String(s).replace(/[<>&"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
}

const SIGV4_MISMATCH = 'The request signature we calculated does not match the signature ' +
	'you provided. Check your key and signing method.';

/*
 * The answer to a request that --verify-sigv4 refused, shaped like the
 * service's own (S3: XML; the JSON services: {"__type", "message"}).  403
 * for everything, except an S3 body that is not the x-amz-content-sha256
 * it came with: 400 XAmzContentSHA256Mismatch, as S3 answers.  Like S3, a
 * signature mismatch carries the string to sign and the canonical request
 * (the session token redacted) in the body.
 */
function sigv4Refusal(v, headers) {
	let json;
	if (v.service !== null)
		json = v.service !== 's3';
	else
		json = headers['x-amz-target'] !== undefined ||
			/x-amz-json/.test(headers['content-type'] || '');
	const reason = v.reason;
	if (json) {
		const table = {
			mismatch: ['InvalidSignatureException', SIGV4_MISMATCH + ' (' + reason + ')' +
				(v.canonicalRequest === undefined ? '' :
					'\n\nThe Canonical String for this request should have been\n\'' +
					v.canonicalRequestRedacted + '\'\n\nThe String-to-Sign should have been\n\'' +
					v.stringToSign + '\'\n')],
			payload: ['InvalidSignatureException', reason],
			skew: ['InvalidSignatureException', 'Signature expired: ' + reason],
			token: ['UnrecognizedClientException', 'The security token included in the request is invalid. (' + reason + ')'],
			malformed: [v.code === 'missing' ? 'MissingAuthenticationTokenException' : 'IncompleteSignatureException', reason],
		};
		const [type, message] = table[v.result];
		const k = kinesisError(403, type, message);
		return Object.assign(k, { errorType: k.type, headers: {} });
	}
	const table = {
		mismatch: [403, 'SignatureDoesNotMatch', SIGV4_MISMATCH + ' (' + reason + ')'],
		payload: [400, 'XAmzContentSHA256Mismatch',
			'The provided \'x-amz-content-sha256\' header does not match what was computed. (' + reason + ')'],
		skew: [403, 'RequestTimeTooSkewed',
			'The difference between the request time and the current time is too large. (' + reason + ')'],
		token: [403, 'InvalidToken', 'The provided token is malformed or otherwise invalid. (' + reason + ')'],
		malformed: [403, 'AccessDenied', reason],
	};
	const [status, code, message] = table[v.result];
	let extra = '';
	if (v.result === 'mismatch' && v.canonicalRequest !== undefined)
		extra = '<AWSAccessKeyId>' + xmlEscape(v.accessKeyId) + '</AWSAccessKeyId><StringToSign>' +
			xmlEscape(v.stringToSign) + '</StringToSign><SignatureProvided>' +
			xmlEscape(v.signatureProvided) + '</SignatureProvided><CanonicalRequest>' +
			xmlEscape(v.canonicalRequestRedacted) + '</CanonicalRequest>';
	const e = s3Error(status, code, xmlEscape(message));
	e.body = e.body.replace('<RequestId>', extra + '<RequestId>');
	e.errorType = null;
	e.headers = {};
	return e;
}

const DEFAULT_ERROR_MESSAGES = {
	ProvisionedThroughputExceededException: 'Rate exceeded for shard',
	InternalFailure: 'Internal service failure.',
};

const RULE_KEYS = new Set(['match', 'action', 'count', 'comment']);
const MATCH_KEYS = new Set(['target', 'method', 'path', 'body', 'nth', 'times', 'every', 'from']);
const ACTION_KEYS = new Set(['forward', 'status', 'preset', 'body', 'headers', 'retry_after',
	'delay_ms', 'drop', 'down', 'hang', 'partial_putrecords', 'error_code', 'error_message',
	'shard_limits']);
const SHARD_LIMIT_KEYS = new Set(['records_per_second', 'bytes_per_second', 'shards']);
const PARTIAL_KEYS = new Set(['fail_every', 'fail_indexes', 'error_code', 'error_message']);

function die(code, message) {
	process.stderr.write(PROG + ': ' + message + '\n');
	process.exit(code);
}

function note(message) {
	process.stderr.write(PROG + ': ' + message + '\n');
}

function parseArgs(argv) {
	const opts = { upstream: null, rules: null, portFile: null, log: null, port: 0, close: false,
		verify: false, secretEnv: null, tokenEnv: null };
	const names = {
		'--upstream': 'upstream', '--rules': 'rules', '--port-file': 'portFile',
		'--log': 'log', '--port': 'port', '--secret-env': 'secretEnv', '--token-env': 'tokenEnv',
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--help' || a === '-h') {
			process.stdout.write(USAGE + '\n');
			process.exit(0);
		}
		if (a === '--close') {
			opts.close = true;
			continue;
		}
		if (a === '--verify-sigv4') {
			opts.verify = true;
			continue;
		}
		let name = a, value;
		const eq = a.indexOf('=');
		if (a.startsWith('--') && eq > 0) {
			name = a.slice(0, eq);
			value = a.slice(eq + 1);
		}
		if (!(name in names))
			die(2, 'unknown option: ' + a + '\n' + USAGE);
		if (value === undefined) {
			if (i + 1 >= argv.length)
				die(2, 'option needs a value: ' + name + '\n' + USAGE);
			value = argv[++i];
		}
		opts[names[name]] = value;
	}
	if (!opts.upstream)
		die(2, '--upstream is required\n' + USAGE);
	let u;
	try {
		u = new URL(opts.upstream);
	} catch (e) {
		die(2, 'bad --upstream URL: ' + opts.upstream);
	}
	if (u.protocol !== 'http:')
		die(2, '--upstream must be an http:// URL');
	opts.upstreamHost = u.hostname.replace(/^\[(.*)\]$/, '$1');
	opts.upstreamPort = u.port ? Number(u.port) : 80;
	if (!/^\d+$/.test(String(opts.port)) || Number(opts.port) > 65535)
		die(2, 'bad --port: ' + opts.port);
	opts.port = Number(opts.port);
	if (!opts.verify && (opts.secretEnv !== null || opts.tokenEnv !== null))
		die(2, '--secret-env and --token-env need --verify-sigv4');
	if (opts.verify) {
		/* Read once; never printed.  The variable's name is what is shown. */
		const name = opts.secretEnv === null ? 'AWS_SECRET_ACCESS_KEY' : opts.secretEnv;
		opts.secret = process.env[name];
		if (!opts.secret)
			die(2, '--verify-sigv4: the secret key variable ' + name + ' is not set');
		if (opts.tokenEnv !== null) {
			opts.token = process.env[opts.tokenEnv];
			if (!opts.token)
				die(2, '--token-env: ' + opts.tokenEnv + ' is not set');
		}
	}
	return opts;
}

/* ---- rules ---- */

function isPosInt(v) {
	return Number.isInteger(v) && v > 0;
}

function checkKeys(obj, allowed, where) {
	if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
		throw new Error(where + ': must be an object');
	for (const k of Object.keys(obj))
		if (!allowed.has(k))
			throw new Error(where + ': unknown key "' + k + '"');
}

function stringList(v, where) {
	const list = Array.isArray(v) ? v : [v];
	if (list.length === 0 || list.some((s) => typeof s !== 'string'))
		throw new Error(where + ': must be a string or an array of strings');
	return list;
}

function compileMatch(m, where) {
	const out = {};
	if (m === undefined)
		return out;
	checkKeys(m, MATCH_KEYS, where);
	if (m.target !== undefined)
		out.target = stringList(m.target, where + '.target');
	if (m.method !== undefined)
		out.method = stringList(m.method, where + '.method').map((s) => s.toUpperCase());
	for (const k of ['path', 'body']) {
		if (m[k] === undefined)
			continue;
		if (typeof m[k] !== 'string')
			throw new Error(where + '.' + k + ': must be a regular expression string');
		try {
			out[k] = new RegExp(m[k]);
		} catch (e) {
			throw new Error(where + '.' + k + ': ' + e.message);
		}
	}
	for (const k of ['nth', 'times', 'every', 'from']) {
		if (m[k] === undefined)
			continue;
		if (!isPosInt(m[k]))
			throw new Error(where + '.' + k + ': must be a positive integer');
		out[k] = m[k];
	}
	return out;
}

function compileAction(a, where) {
	checkKeys(a, ACTION_KEYS, where);
	const kinds = ['forward', 'drop', 'down', 'hang', 'partial_putrecords', 'shard_limits']
		.filter((k) => a[k] !== undefined);
	if (a.status !== undefined || a.preset !== undefined)
		kinds.push('status');
	if (kinds.length > 1)
		throw new Error(where + ': more than one action (' + kinds.join(', ') + ')');
	const out = { kind: kinds.length ? kinds[0] : 'forward', delay: 0 };
	if (a.delay_ms !== undefined) {
		if (!Number.isInteger(a.delay_ms) || a.delay_ms < 0)
			throw new Error(where + '.delay_ms: must be a non-negative integer');
		out.delay = a.delay_ms;
	}
	const only = (keys) => {
		for (const k of keys)
			if (a[k] !== undefined && out.kind !== 'status' && out.kind !== 'partial_putrecords')
				throw new Error(where + '.' + k + ': only with status, preset or partial_putrecords');
	};
	only(['body', 'headers', 'retry_after', 'error_code', 'error_message']);
	switch (out.kind) {
	case 'forward':
		if (a.forward !== undefined && a.forward !== true)
			throw new Error(where + '.forward: must be true');
		break;
	case 'down':
		if (a.down !== true)
			throw new Error(where + '.down: must be true');
		break;
	case 'hang':
		if (a.hang !== true)
			throw new Error(where + '.hang: must be true');
		break;
	case 'drop':
		if (a.drop !== 'before' && a.drop !== 'after' && a.drop !== 'mid-response')
			throw new Error(where + '.drop: must be "before", "after" or "mid-response"');
		out.when = a.drop;
		break;
	case 'status': {
		let base = { status: 200, body: '', contentType: null, type: null };
		if (a.preset !== undefined) {
			if (!Object.prototype.hasOwnProperty.call(PRESETS, a.preset))
				throw new Error(where + '.preset: unknown preset "' + a.preset +
					'" (known: ' + Object.keys(PRESETS).join(', ') + ')');
			base = PRESETS[a.preset];
		}
		out.status = base.status;
		if (a.status !== undefined) {
			if (!Number.isInteger(a.status) || a.status < 200 || a.status > 599)
				throw new Error(where + '.status: must be an HTTP status 200..599');
			out.status = a.status;
		}
		out.body = base.body;
		out.contentType = base.contentType;
		out.errorType = base.type;
		if (a.body !== undefined) {
			out.body = typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
			out.contentType = null;
		}
		if (out.contentType === null && out.body.length > 0)
			out.contentType = /^\s*</.test(out.body) ? 'application/xml' : KINESIS_JSON;
		out.headers = {};
		if (a.headers !== undefined) {
			if (a.headers === null || typeof a.headers !== 'object' || Array.isArray(a.headers))
				throw new Error(where + '.headers: must be an object');
			for (const [k, v] of Object.entries(a.headers))
				out.headers[k] = String(v);
		}
		if (a.retry_after !== undefined) {
			if (!Number.isInteger(a.retry_after) || a.retry_after < 0)
				throw new Error(where + '.retry_after: must be a non-negative integer');
			out.headers['Retry-After'] = String(a.retry_after);
		}
		break;
	}
	case 'shard_limits': {
		const p = a.shard_limits;
		if (p === null || typeof p !== 'object' || Array.isArray(p))
			throw new Error(where + '.shard_limits: must be an object');
		checkKeys(p, SHARD_LIMIT_KEYS, where + '.shard_limits');
		for (const k of SHARD_LIMIT_KEYS)
			if (p[k] !== undefined && !isPosInt(p[k]))
				throw new Error(where + '.shard_limits.' + k + ': must be a positive integer');
		out.recordsPerSecond = p.records_per_second || 1000;
		out.bytesPerSecond = p.bytes_per_second || 1048576;
		out.shards = p.shards || null;
		break;
	}
	case 'partial_putrecords': {
		const p = a.partial_putrecords;
		checkKeys(p, PARTIAL_KEYS, where + '.partial_putrecords');
		if ((p.fail_every === undefined) === (p.fail_indexes === undefined))
			throw new Error(where + '.partial_putrecords: needs exactly one of fail_every, fail_indexes');
		if (p.fail_every !== undefined) {
			if (!isPosInt(p.fail_every))
				throw new Error(where + '.partial_putrecords.fail_every: must be a positive integer');
			out.failEvery = p.fail_every;
		} else {
			if (!Array.isArray(p.fail_indexes) ||
			    p.fail_indexes.some((i) => !Number.isInteger(i) || i < 0))
				throw new Error(where + '.partial_putrecords.fail_indexes: must be an array of indexes >= 0');
			out.failIndexes = new Set(p.fail_indexes);
		}
		out.errorCode = p.error_code || a.error_code || 'ProvisionedThroughputExceededException';
		out.errorMessage = p.error_message || a.error_message ||
			DEFAULT_ERROR_MESSAGES[out.errorCode] || 'Injected by faultproxy';
		if (typeof out.errorCode !== 'string' || typeof out.errorMessage !== 'string')
			throw new Error(where + ': error_code and error_message must be strings');
		break;
	}
	}
	return out;
}

function compileRules(text) {
	let list;
	try {
		list = JSON.parse(text);
	} catch (e) {
		throw new Error('invalid JSON: ' + e.message);
	}
	if (!Array.isArray(list))
		throw new Error('the rules file must hold a JSON array');
	return list.map((r, i) => {
		const where = 'rule ' + i;
		checkKeys(r, RULE_KEYS, where);
		if (r.action === undefined)
			throw new Error(where + ': no action');
		if (r.count !== undefined && !(Number.isInteger(r.count) && r.count >= 0))
			throw new Error(where + '.count: must be an integer >= 0');
		return {
			index: i,
			match: compileMatch(r.match, where + '.match'),
			action: compileAction(r.action, where + '.action'),
			count: r.count,
			seen: 0,	/* requests that met target/method/path/body */
			fired: 0,	/* requests this rule acted on */
		};
	});
}

const state = {
	rules: [],
	generation: 0,
	sig: null,
	streams: new Map(),	/* shard_limits: stream -> its shards and counters */
};

/* ---- shard_limits: Kinesis' write limits per shard ---- */

const POW_128 = 1n << 128n;

/* The open shards of a stream of n shards as CreateStream makes them: the
 * hash key space split evenly (the last shard takes the remainder). */
function evenShards(n) {
	const size = POW_128 / BigInt(n);
	const out = [];
	for (let i = 0; i < n; i++)
		out.push({ id: 'shardId-' + String(i).padStart(12, '0'), start: size * BigInt(i),
			end: (i < n - 1 ? size * BigInt(i + 1) : POW_128) - 1n });
	return out;
}

/* The hash key of a PutRecords entry, as Kinesis maps it to a shard: its
 * ExplicitHashKey, else the MD5 of its partition key as a 128-bit number. */
function hashKey(rec) {
	if (typeof rec.ExplicitHashKey === 'string' && /^[0-9]+$/.test(rec.ExplicitHashKey))
		return BigInt(rec.ExplicitHashKey);
	return BigInt('0x' + crypto.createHash('md5').update(String(rec.PartitionKey), 'utf8')
		.digest('hex'));
}

/* The entries of a PutRecords request over their shard's limits this
 * second (a fixed window per wall-clock second and shard), as a Map of
 * index -> the error Kinesis gives; the others are counted. */
function overLimits(a, shards, stream, j, now) {
	const second = Math.floor(now / 1000);
	const errors = new Map();
	j.Records.forEach((rec, i) => {
		const h = hashKey(rec);
		const sh = shards.find((x) => h >= x.start && h <= x.end);
		if (!sh)
			return;
		if (sh.second !== second) {
			sh.second = second;
			sh.records = 0;
			sh.bytes = 0;
		}
		const bytes = Buffer.byteLength(String(rec.Data || ''), 'base64') +
			Buffer.byteLength(String(rec.PartitionKey || ''), 'utf8');
		if (sh.records + 1 > a.recordsPerSecond || sh.bytes + bytes > a.bytesPerSecond) {
			errors.set(i, { ErrorCode: 'ProvisionedThroughputExceededException',
				ErrorMessage: 'Rate exceeded for shard ' + sh.id + ' in stream ' + stream +
					' under account 000000000000.' });
			return;
		}
		sh.records++;
		sh.bytes += bytes;
	});
	return errors;
}

function fileSig(path) {
	try {
		const st = fs.statSync(path);
		return [st.ino, st.size, st.mtimeMs, st.ctimeMs].join(':');
	} catch (e) {
		return 'missing';
	}
}

/* Loads the rules file; on failure keeps the rules in force.  Every load,
 * even of an unchanged file, starts all counters again. */
function loadRules(path, why) {
	const sig = fileSig(path);
	state.sig = sig;
	let rules;
	try {
		rules = compileRules(fs.readFileSync(path, 'utf8'));
	} catch (e) {
		note(path + ': ' + e.message + (state.generation ? ' (keeping the previous rules)' : ''));
		return false;
	}
	state.rules = rules;
	state.generation++;
	note('loaded ' + rules.length + ' rule(s) from ' + path + ' (' + why +
		', generation ' + state.generation + ')');
	return true;
}

function requestMeetsMatch(m, info, body) {
	if (m.target && !m.target.some((t) => info.target === t))
		return false;
	if (m.method && !m.method.includes(info.method))
		return false;
	if (m.path && !m.path.test(info.path))
		return false;
	if (m.body && !m.body.test(body === null ? '' : body.toString('utf8')))
		return false;
	return true;
}

/* First match wins.  Every rule counts every request that meets its
 * target/method/path/body, whether or not an earlier rule takes it, so
 * {"nth":3} is the third such request of the run whatever the other rules
 * do; "count" limits how often the rule itself acts. */
function pickRule(info, body) {
	let chosen = null;
	for (const r of state.rules) {
		const m = r.match;
		if (!requestMeetsMatch(m, info, body))
			continue;
		const k = ++r.seen;
		if (chosen !== null)
			continue;
		if (m.nth !== undefined && k !== m.nth)
			continue;
		if (m.times !== undefined && k > m.times)
			continue;
		if (m.from !== undefined && k < m.from)
			continue;
		if (m.every !== undefined && k % m.every !== 0)
			continue;
		if (r.count !== undefined && r.fired >= r.count)
			continue;
		r.fired++;
		chosen = r;
	}
	return chosen;
}

/* ---- helpers for requests and responses ---- */

/* Groups raw header pairs by name, keeping the sender's spelling and order;
 * repeated headers become arrays so Node sends them as separate lines. */
function headerObject(raw, skip) {
	const out = {};
	const spelled = {};
	for (let i = 0; i + 1 < raw.length; i += 2) {
		const name = raw[i], lower = name.toLowerCase();
		if (skip(lower))
			continue;
		if (!(lower in spelled)) {
			spelled[lower] = name;
			out[name] = raw[i + 1];
		} else {
			const key = spelled[lower];
			out[key] = [].concat(out[key], raw[i + 1]);
		}
	}
	return out;
}

function connectionTokens(raw) {
	const tokens = new Set();
	for (let i = 0; i + 1 < raw.length; i += 2)
		if (raw[i].toLowerCase() === 'connection')
			for (const t of raw[i + 1].split(','))
				tokens.add(t.trim().toLowerCase());
	return tokens;
}

function decodeBody(body, encoding) {
	switch ((encoding || 'identity').toLowerCase()) {
	case 'identity': return body;
	case 'gzip': case 'x-gzip': return zlib.gunzipSync(body);
	case 'deflate': return zlib.inflateSync(body);
	case 'br': return zlib.brotliDecompressSync(body);
	default: throw new Error('unknown content-encoding ' + encoding);
	}
}

function parseJson(buf, encoding) {
	try {
		return JSON.parse(decodeBody(buf, encoding).toString('utf8'));
	} catch (e) {
		return null;
	}
}

function forward(opts, req, body) {
	return new Promise((resolve, reject) => {
		const tokens = connectionTokens(req.rawHeaders);
		const headers = headerObject(req.rawHeaders,
			(h) => HOP_BY_HOP.has(h) || tokens.has(h) || h === 'content-length');
		const hadLength = req.headers['content-length'] !== undefined ||
			req.headers['transfer-encoding'] !== undefined;
		if (hadLength || body.length > 0)
			headers['Content-Length'] = String(body.length);
		/* One upstream connection per request: no idle-socket races with the
		 * server's keep-alive timer, so a fault is always ours, never luck. */
		const up = http.request({
			host: opts.upstreamHost, port: opts.upstreamPort, method: req.method,
			path: req.url, headers, agent: false, setHost: false,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({
				status: res.statusCode, statusMessage: res.statusMessage,
				rawHeaders: res.rawHeaders, headers: res.headers,
				body: Buffer.concat(chunks),
			}));
			res.on('error', reject);
		});
		up.on('error', reject);
		up.end(body);
	});
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/* ---- the proxy ---- */

function main() {
	const opts = parseArgs(process.argv.slice(2));
	if (opts.rules !== null && !loadRules(opts.rules, 'start'))
		process.exit(2);

	let logFd = null;
	if (opts.log !== null) {
		try {
			logFd = fs.openSync(opts.log, 'a');
		} catch (e) {
			die(2, opts.log + ': ' + e.message);
		}
	}
	/* Written synchronously before the client gets anything, so a test that
	 * has its answer (or its error) can read the line at once. */
	const writeLog = (entry) => {
		if (logFd !== null)
			fs.writeSync(logFd, JSON.stringify(entry) + '\n');
	};

	let seq = 0, connSeq = 0;
	const sockets = new Set();

	const server = http.createServer();
	server.keepAliveTimeout = 60000;
	server.headersTimeout = 65000;

	server.on('connection', (sock) => {
		sock.kpId = ++connSeq;
		sock.kpRequests = 0;
		sockets.add(sock);
		sock.on('close', () => sockets.delete(sock));
	});

	server.on('clientError', (err, sock) => {
		if (sock.writable)
			sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
		else
			sock.destroy();
	});

	server.on('request', (req, res) => {
		handle(req, res).catch((e) => {
			note('internal error: ' + (e && e.stack ? e.stack : e));
			req.socket.destroy();
		});
	});

	async function handle(req, res) {
		if (opts.rules !== null && fileSig(opts.rules) !== state.sig)
			loadRules(opts.rules, 'file changed');

		const sock = req.socket;
		/* --close: one request per connection, so libcurl never re-sends a
		 * request on its own after a drop (it does on a reused connection). */
		if (opts.close)
			res.setHeader('Connection', 'close');
		const targetHeader = req.headers['x-amz-target'] || null;
		const info = {
			method: req.method,
			path: req.url,
			target: targetHeader === null ? null : targetHeader.slice(targetHeader.lastIndexOf('.') + 1),
		};
		const entry = {
			n: ++seq, conn: sock.kpId, conn_req: ++sock.kpRequests,
			method: info.method, path: info.path, target: info.target,
			rule: null, generation: state.generation, action: 'forward',
			status: null, upstream_status: null,
			req_records: null, records: null, failed: null, stored: null,
			client_gone: false, error: null,
		};
		if (opts.verify)
			entry.sigv4 = entry.sigv4_error = null;
		const finish = () => {
			entry.client_gone = sock.destroyed;
			writeLog(entry);
		};

		/* Without body rules the decision is made on the headers, so "down"
		 * can reset the connection before the body is even read.  With
		 * --verify-sigv4 the rules only see requests that passed it. */
		const bodyRules = opts.verify || state.rules.some((r) => r.match.body !== undefined);
		let rule = bodyRules ? null : pickRule(info, null);
		if (rule !== null && rule.action.kind === 'down' && rule.action.delay === 0)
			return refuse(rule);

		const body = await new Promise((resolve) => {
			const chunks = [];
			req.on('data', (c) => chunks.push(c));
			req.on('end', () => resolve(Buffer.concat(chunks)));
			req.on('error', () => resolve(null));
			req.on('close', () => { if (!req.complete) resolve(null); });
		});
		if (body === null) {
			/* The client went away in the middle of its request. */
			entry.action = 'client-abort';
			entry.rule = rule === null ? null : rule.index;
			finish();
			sock.destroy();
			return;
		}
		if (opts.verify && !checkSignature(body))
			return;
		if (bodyRules)
			rule = pickRule(info, body);

		const reqJson = info.target === 'PutRecords' || info.target === 'PutRecord'
			? parseJson(body, req.headers['content-encoding']) : null;
		if (info.target === 'PutRecords' && reqJson && Array.isArray(reqJson.Records))
			entry.req_records = reqJson.Records.length;
		else if (info.target === 'PutRecord' && reqJson)
			entry.req_records = 1;

		const action = rule === null ? { kind: 'forward', delay: 0 } : rule.action;
		if (rule !== null)
			entry.rule = rule.index;
		if (action.delay > 0) {
			await sleep(action.delay);
			if (action.kind === 'forward')
				entry.action = 'delay';
		}

		switch (action.kind) {
		case 'down':
			return refuse(rule);
		case 'hang':
			/* Accepted, read, never forwarded, never answered: logged when
			 * the client gives up (or the proxy stops). */
			entry.action = 'hang';
			sock.on('close', finish);
			return;
		case 'drop':
			if (action.when === 'before') {
				entry.action = 'drop-before';
				finish();
				sock.destroy();
				return;
			}
			entry.action = action.when === 'after' ? 'drop-after' : 'drop-mid-response';
			break;
		case 'status':
			entry.action = 'status';
			return answer(action);
		case 'partial_putrecords':
			if (info.target === 'PutRecords' && reqJson && Array.isArray(reqJson.Records))
				return partial(action, body, reqJson, null);
			entry.error = 'partial_putrecords on a request that is not a JSON PutRecords';
			break;
		case 'shard_limits':
			if (info.target === 'PutRecords' && reqJson && Array.isArray(reqJson.Records)) {
				const shards = await streamShards(action, reqJson);
				if (shards !== null) {
					const errors = overLimits(action, shards, streamName(reqJson), reqJson,
						Date.now());
					entry.throttled = errors.size;
					return partial(action, body, reqJson, errors);
				}
				entry.error = 'shard_limits: the stream\'s shards are unknown';
			} else {
				entry.error = 'shard_limits on a request that is not a JSON PutRecords';
			}
			break;
		}

		function streamName(j) {
			return String(j.StreamName || (j.StreamARN || '').replace(/^.*:stream\//, ''));
		}

		/* The open shards of the request's stream: from the rule ("shards":
		 * N, split as CreateStream does), else asked once (per load of the
		 * rules) from the server with ListShards, sent with the client's
		 * headers (the local servers do not check signatures).  null when
		 * the server does not say. */
		async function streamShards(a, j) {
			const name = streamName(j);
			const key = state.generation + '/' + name;
			if (state.streams.has(key))
				return state.streams.get(key);
			let shards = null;
			if (a.shards !== null) {
				shards = evenShards(a.shards);
			} else {
				const q = j.StreamARN ? { StreamARN: j.StreamARN } : { StreamName: name };
				const raw = [];
				for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
					const h = req.rawHeaders[i].toLowerCase();
					if (h === 'content-encoding')
						continue;
					raw.push(req.rawHeaders[i], h === 'x-amz-target'
						? 'Kinesis_20131202.ListShards' : req.rawHeaders[i + 1]);
				}
				try {
					const up = await forward(opts, { method: 'POST', url: req.url,
						headers: req.headers, rawHeaders: raw },
					Buffer.from(JSON.stringify(q), 'utf8'));
					const l = up.status === 200 ? parseJson(up.body, up.headers['content-encoding']) : null;
					if (l && Array.isArray(l.Shards))
						shards = l.Shards.filter((x) => !x.SequenceNumberRange ||
							x.SequenceNumberRange.EndingSequenceNumber == null)
							.map((x) => ({ id: x.ShardId,
								start: BigInt(x.HashKeyRange.StartingHashKey),
								end: BigInt(x.HashKeyRange.EndingHashKey) }));
				} catch (e) {
					shards = null;
				}
			}
			if (shards !== null)
				state.streams.set(key, shards);
			return shards;
		}

		let up;
		try {
			up = await forward(opts, req, body);
		} catch (e) {
			/* The server is gone: the client sees its connection close, as it
			 * would without the proxy. */
			entry.action = 'upstream-error';
			entry.error = e.code || e.message;
			finish();
			sock.destroy();
			return;
		}
		entry.upstream_status = up.status;
		countRecords(up);
		if (action.kind === 'drop' && action.when === 'mid-response') {
			/* The status line, the headers and half the body (an answer
			 * without a body: the headers without the blank line that ends
			 * them), then a reset: the client reads a truncated answer. */
			entry.status = up.status;
			finish();
			const half = Buffer.from(up.body.subarray(0, up.body.length >> 1));
			const noBody = req.method === 'HEAD' || up.body.length === 0;
			let head = 'HTTP/1.1 ' + up.status + ' ' + (up.statusMessage || '') + '\r\n';
			const hdrs = headerObject(up.rawHeaders, (h) => HOP_BY_HOP.has(h) ||
				h === 'content-length');
			for (const [k, v] of Object.entries(hdrs))
				for (const one of Array.isArray(v) ? v : [v])
					head += k + ': ' + one + '\r\n';
			head += 'Content-Length: ' + up.body.length + '\r\n' + (noBody ? '' : '\r\n');
			sock.write(Buffer.concat([Buffer.from(head, 'latin1'), half]), () => {
				if (typeof sock.resetAndDestroy === 'function')
					sock.resetAndDestroy();
				else
					sock.destroy();
			});
			return;
		}
		if (action.kind === 'drop') {
			finish();
			sock.destroy();
			return;
		}
		entry.status = up.status;
		finish();
		relay(up, null);

		/* --verify-sigv4: true if the request may go on; else answers it
		 * as AWS would and logs why, with the canonical request computed
		 * here (the session token in it replaced by its length and hash;
		 * the secret is never shown). */
		function checkSignature(body) {
			const v = sigv4.verify({
				method: req.method, target: req.url, rawHeaders: req.rawHeaders, body,
			}, { secret: opts.secret, token: opts.token, now: Date.now() });
			entry.sigv4 = v.result;
			entry.sigv4_error = v.reason;
			if (v.signedHeaders !== undefined)
				entry.sigv4_signed = v.signedHeaders;
			if (v.unsigned.length)
				entry.sigv4_unsigned = v.unsigned;
			if (v.result === 'ok')
				return true;
			if (v.canonicalRequest !== undefined) {
				entry.sigv4_canonical = v.canonicalRequestRedacted;
				entry.sigv4_string_to_sign = v.stringToSign;
			}
			note('sigv4 ' + v.result + ': ' + req.method + ' ' + req.url + ': ' + v.reason +
				(v.canonicalRequest === undefined ? '' :
					'\n--- canonical request (computed by the proxy) ---\n' +
					v.canonicalRequestRedacted + '\n--- string to sign ---\n' + v.stringToSign +
					'\n--- end'));
			entry.action = 'sigv4';
			answer(sigv4Refusal(v, req.headers));
			return false;
		}

		function refuse(r) {
			entry.rule = r.index;
			entry.action = 'down';
			finish();
			if (typeof sock.resetAndDestroy === 'function')
				sock.resetAndDestroy();
			else
				sock.destroy();
		}

		/* records, failed and stored describe the server's answer: stored is
		 * what the server kept, the number to add up when counting
		 * duplicates. */
		function countRecords(up) {
			if (info.target !== 'PutRecords' && info.target !== 'GetRecords' &&
			    info.target !== 'PutRecord')
				return;
			if (info.target === 'PutRecord') {
				entry.stored = up.status === 200 ? 1 : 0;
				return;
			}
			if (up.status !== 200) {
				if (info.target === 'PutRecords')
					entry.stored = 0;
				return;
			}
			const j = parseJson(up.body, up.headers['content-encoding']);
			if (!j || !Array.isArray(j.Records))
				return;
			entry.records = j.Records.length;
			if (info.target === 'PutRecords') {
				entry.stored = j.Records.filter((r) => r && !r.ErrorCode).length;
				entry.failed = j.FailedRecordCount;
			}
		}

		function answer(a) {
			entry.status = a.status;
			finish();
			const headers = {};
			if (a.contentType !== null)
				headers['Content-Type'] = a.contentType;
			/* S3 names its request id differently from the JSON services. */
			headers[a.contentType === 'application/xml' ? 'x-amz-request-id' : 'x-amzn-RequestId'] =
				crypto.randomUUID();
			if (a.errorType !== null)
				headers['x-amzn-ErrorType'] = a.errorType;
			Object.assign(headers, a.headers);
			const out = req.method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(a.body, 'utf8');
			headers['Content-Length'] = String(Buffer.byteLength(a.body, 'utf8'));
			res.writeHead(a.status, headers);
			res.end(out);
		}

		/* Fails the chosen entries of a PutRecords batch for real: they are
		 * cut from the request so the server never stores them, and put back
		 * into the answer, in their places, as per-record errors. */
		async function partial(a, origBody, j, errors) {
			entry.action = errors === null ? 'partial' : 'shard-limits';
			const n = j.Records.length;
			const failed = errors !== null ? (i) => errors.has(i)
				: (i) => a.failIndexes ? a.failIndexes.has(i) : (i + 1) % a.failEvery === 0;
			const keep = [];
			for (let i = 0; i < n; i++)
				if (!failed(i))
					keep.push(i);
			const errorEntry = { ErrorCode: a.errorCode, ErrorMessage: a.errorMessage };

			let up = null, upJson = null;
			if (keep.length > 0) {
				const cut = Object.assign({}, j, { Records: keep.map((i) => j.Records[i]) });
				const reqCopy = {
					method: req.method, url: req.url, headers: req.headers,
					rawHeaders: req.rawHeaders.filter((v, i, all) =>
						!(i % 2 === 0 && v.toLowerCase() === 'content-encoding') &&
						!(i % 2 === 1 && all[i - 1].toLowerCase() === 'content-encoding')),
				};
				try {
					up = await forward(opts, reqCopy, Buffer.from(JSON.stringify(cut), 'utf8'));
				} catch (e) {
					entry.action = 'upstream-error';
					entry.error = e.code || e.message;
					finish();
					sock.destroy();
					return;
				}
				entry.upstream_status = up.status;
				upJson = up.status === 200 ? parseJson(up.body, up.headers['content-encoding']) : null;
				if (!upJson || !Array.isArray(upJson.Records) || upJson.Records.length !== keep.length) {
					/* The server refused the whole batch: the client sees that. */
					entry.error = up.status === 200 ? 'unexpected PutRecords answer' : null;
					entry.status = up.status;
					entry.stored = 0;
					finish();
					relay(up, null);
					return;
				}
			}
			const records = new Array(n).fill(errorEntry);
			if (errors !== null)
				errors.forEach((e, i) => { records[i] = e; });
			keep.forEach((i, k) => { records[i] = upJson.Records[k]; });
			const result = Object.assign({}, upJson || {}, {
				FailedRecordCount: records.filter((r) => r && r.ErrorCode).length,
				Records: records,
			});
			entry.status = 200;
			entry.records = n;
			entry.failed = result.FailedRecordCount;
			entry.stored = upJson ? upJson.Records.filter((r) => r && !r.ErrorCode).length : 0;
			finish();
			const text = Buffer.from(JSON.stringify(result), 'utf8');
			if (up === null) {
				res.writeHead(200, {
					'Content-Type': req.headers['content-type'] || KINESIS_JSON,
					'x-amzn-RequestId': crypto.randomUUID(),
					'Content-Length': String(text.length),
				});
				res.end(text);
			} else {
				relay(up, text);
			}
		}

		/* Sends the server's answer on, or the same answer with a new body. */
		function relay(up, newBody) {
			const tokens = connectionTokens(up.rawHeaders);
			const noBody = req.method === 'HEAD' || up.status === 204 || up.status === 304;
			const headers = headerObject(up.rawHeaders, (h) => HOP_BY_HOP.has(h) ||
				tokens.has(h) || (!noBody && h === 'content-length') ||
				(newBody !== null && h === 'content-encoding'));
			const out = newBody !== null ? newBody : up.body;
			if (!noBody)
				headers['Content-Length'] = String(out.length);
			res.writeHead(up.status, up.statusMessage, headers);
			res.end(noBody ? undefined : out);
		}
	}

	process.on('SIGHUP', () => {
		if (opts.rules === null)
			note('SIGHUP: no --rules file to reload');
		else
			loadRules(opts.rules, 'SIGHUP');
	});
	const stop = (sig) => {
		note(sig + ': exiting');
		server.close();
		for (const s of sockets)
			s.destroy();
		if (logFd !== null)
			fs.closeSync(logFd);
		process.exit(0);
	};
	process.on('SIGTERM', () => stop('SIGTERM'));
	process.on('SIGINT', () => stop('SIGINT'));

	server.on('error', (e) => die(1, 'listen: ' + e.message));
	server.listen(opts.port, '127.0.0.1', () => {
		const port = server.address().port;
		if (opts.portFile !== null) {
			/* Written whole then renamed, so a waiting test never reads half. */
			const tmp = opts.portFile + '.tmp' + process.pid;
			fs.writeFileSync(tmp, port + '\n');
			fs.renameSync(tmp, opts.portFile);
		}
		note('listening on 127.0.0.1:' + port + ', upstream ' + opts.upstreamHost + ':' +
			opts.upstreamPort);
	});
}

main();
