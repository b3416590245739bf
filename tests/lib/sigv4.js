'use strict';
/*
 * sigv4.js: AWS Signature Version 4 in JavaScript, for the test tools.
 *
 * One implementation, independent of common/sigv4.c, used by two programs:
 *   - pipelines/lib/kp-admin.js signs its requests with sign() (its
 *     `selftest` checks it against published AWS examples);
 *   - tests/lib/faultproxy.js --verify-sigv4 checks every request it
 *     receives with verify(), which rebuilds the signature from the request
 *     as received (tests/lib/faultproxy.md, "Verifying SigV4").
 *
 * Written from the AWS documentation ("Create a signed AWS API request", the
 * S3 "Authenticating Requests (AWS Signature Version 4)" pages) as the four
 * documented steps: canonical request, string to sign, signing key,
 * signature.  Node built-ins only.
 *
 * Strings.  Bytes received on the wire (the request target, header values)
 * are handled as "binary" strings, one character per byte (Node hands them
 * over as latin1), so that nothing is lost to UTF-8 decoding; the canonical
 * request is built and hashed the same way.  sign() takes ordinary (UTF-8)
 * strings and converts them first.
 */
const crypto = require('crypto');

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_SKEW_MS = 15 * 60 * 1000;	/* as AWS: 15 minutes either way */
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

function sha256hex(data, encoding) {
	const h = crypto.createHash('sha256');
	if (typeof data === 'string')
		h.update(data, encoding || 'utf8');
	else
		h.update(data);
	return h.digest('hex');
}

function hmac(key, data) {
	return crypto.createHmac('sha256', key).update(data, 'utf8').digest();
}

/* A UTF-8 string as a binary string (one character per byte). */
function binary(s) {
	return Buffer.from(String(s), 'utf8').toString('latin1');
}

/* RFC 3986 unreserved: A-Z a-z 0-9 - . _ ~ */
function unreserved(b) {
	return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ||
	    (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e || b === 0x5f ||
	    b === 0x7e;
}

/* SigV4 URI encoding of bytes: unreserved bytes stay, every other byte is
 * %XX with upper-case hex; '/' stays when keepSlash. */
function uriEncodeBytes(buf, keepSlash) {
	let out = '';
	for (const b of buf) {
		if (unreserved(b) || (keepSlash && b === 0x2f))
			out += String.fromCharCode(b);
		else
			out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
	}
	return out;
}

/* The same for a UTF-8 string; '/' is encoded unless keepSlash. */
function uriEncode(s, keepSlash) {
	return uriEncodeBytes(Buffer.from(String(s), 'utf8'), keepSlash);
}

class Malformed extends Error {}

/*
 * Percent-decodes a binary string into bytes.  '+' becomes a space when
 * plusIsSpace (AWS reads a '+' in a query, and in an S3 path, as a space;
 * signers avoid the question by sending %2B and %20).  A '%' not followed by
 * two hex digits is an error.
 */
function percentDecode(s, plusIsSpace) {
	const out = [];
	for (let i = 0; i < s.length; i++) {
		const c = s.charCodeAt(i);
		if (c === 0x25) {
			const hex = s.slice(i + 1, i + 3);
			if (!/^[0-9A-Fa-f]{2}$/.test(hex))
				throw new Malformed(`bad percent escape in '${s}'`);
			out.push(parseInt(hex, 16));
			i += 2;
		} else if (c === 0x2b && plusIsSpace) {
			out.push(0x20);
		} else {
			out.push(c & 0xff);
		}
	}
	return Buffer.from(out);
}

function amzDate(now) {
	return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}

/* "20150830T123600Z" -> milliseconds, or NaN. */
function parseAmzDate(s) {
	const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
	if (!m)
		return NaN;
	const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
	const d = new Date(t);
	return d.getUTCDate() === +m[3] && d.getUTCHours() === +m[4] ? t : NaN;
}

function compare(a, b) {
	return a < b ? -1 : a > b ? 1 : 0;
}

/* Encoded "name=value" pairs joined with '&', sorted by name, then value. */
function joinQuery(encoded) {
	return encoded.sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]))
	    .map(([k, v]) => `${k}=${v}`).join('&');
}

/* The canonical query of decoded [name, value] pairs (UTF-8 strings); also
 * the query string kp-admin sends. */
function canonicalQuery(pairs) {
	return joinQuery((pairs || []).map(([k, v]) => [uriEncode(k), uriEncode(v)]));
}

/* The canonical query of a raw query string as received: each name and
 * value decoded, then encoded again.  Names in `omit` are left out. */
function canonicalQueryRaw(raw, omit) {
	const encoded = [];
	for (const piece of (raw || '').split('&')) {
		if (piece === '')
			continue;
		const eq = piece.indexOf('=');
		const k = eq < 0 ? piece : piece.slice(0, eq);
		const v = eq < 0 ? '' : piece.slice(eq + 1);
		const name = percentDecode(k, true);
		if (omit && omit.has(name.toString('latin1')))
			continue;
		encoded.push([uriEncodeBytes(name, false),
		    uriEncodeBytes(percentDecode(v, true), false)]);
	}
	return joinQuery(encoded);
}

/* Removes empty and "." segments and resolves ".." (RFC 3986 5.2.4, with
 * "//" collapsed as the AWS test suite expects); a trailing '/' stays. */
function normalizePath(p) {
	const out = [];
	for (const seg of p.split('/')) {
		if (seg === '' || seg === '.')
			continue;
		if (seg === '..')
			out.pop();
		else
			out.push(seg);
	}
	let n = '/' + out.join('/');
	if (out.length && /\/\.{0,2}$/.test(p))
		n += '/';
	return n;
}

/*
 * The canonical URI of a path as sent (binary string, no query).
 *   s3:        S3 rules: no normalisation; each segment is decoded and
 *              encoded once, as S3 does with the object key.  For a path
 *              already in SigV4 encoding this is the path as sent.
 *   otherwise: the path is normalised (unless normalize is false) and each
 *              segment encoded again, so "%20" is signed as "%2520".
 */
function canonicalUri(rawPath, opts) {
	const p = rawPath === '' ? '/' : rawPath;
	if (opts.s3)
		return p.split('/').map((seg) =>
		    uriEncodeBytes(percentDecode(seg, true), false)).join('/');
	const n = opts.normalize === false ? p : normalizePath(p);
	return n.split('/').map((seg) =>
	    uriEncodeBytes(Buffer.from(seg, 'latin1'), false)).join('/');
}

/* Trims, and folds runs of blanks (an obs-folded line break included) into
 * one space. */
function headerValue(v) {
	return String(v).replace(/[ \t\r\n]+/g, ' ').replace(/^ | $/g, '');
}

/*
 * Step 1.  values: Map of lower-case name -> array of binary values, in the
 * order received; signed: the sorted lower-case names to sign.  Repeated
 * headers are joined with ','.  Returns the canonical request (binary).
 */
function canonicalRequest(method, uri, query, values, signed, payloadHash) {
	const lines = signed.map((h) =>
	    `${h}:${(values.get(h) || []).map(headerValue).join(',')}\n`);
	return [method, uri, query, lines.join(''), signed.join(';'),
	    payloadHash].join('\n');
}

function signingKey(secret, day, region, service) {
	let key = hmac('AWS4' + secret, day);
	key = hmac(key, region);
	key = hmac(key, service);
	return hmac(key, 'aws4_request');
}

/* Steps 2 to 4. */
function signatureOf(secret, date, scope, creq) {
	const [day, region, service] = scope.split('/');
	const sts = [ALGORITHM, date, scope, sha256hex(creq, 'latin1')].join('\n');
	const sig = crypto.createHmac('sha256', signingKey(secret, day, region, service))
	    .update(sts, 'latin1').digest('hex');
	return { stringToSign: sts, signature: sig };
}

/*
 * Signs a request for the Authorization header; returns the headers to
 * send, Authorization included.  req: {method, path (as sent, already
 * encoded), query: [[name, value]...] (decoded), headers: {name: value},
 * body}.  Adds x-amz-date, x-amz-security-token (signed) with a session
 * token, and x-amz-content-sha256 for S3.  An x-amz-content-sha256 given
 * in req.headers (UNSIGNED-PAYLOAD, say) is signed as the payload hash.
 */
function sign(req, creds, region, service, now) {
	const date = amzDate(now);
	const body = req.body || Buffer.alloc(0);
	const headers = Object.assign({}, req.headers);
	const given = Object.keys(headers).find((k) => k.toLowerCase() === 'x-amz-content-sha256');
	const payloadHash = given !== undefined ? String(headers[given]) : sha256hex(body);
	headers['x-amz-date'] = date;
	if (service === 's3' && given === undefined)
		headers['x-amz-content-sha256'] = payloadHash;
	if (creds.sessionToken)
		headers['x-amz-security-token'] = creds.sessionToken;
	const values = new Map();
	for (const [k, v] of Object.entries(headers)) {
		const name = k.toLowerCase();
		values.set(name, (values.get(name) || []).concat(binary(v)));
	}
	const signed = [...values.keys()].sort();
	const creq = canonicalRequest(req.method,
	    canonicalUri(binary(req.path), { s3: service === 's3' }),
	    canonicalQuery(req.query), values, signed, payloadHash);
	const scope = `${date.slice(0, 8)}/${region}/${service}/aws4_request`;
	const { signature } = signatureOf(creds.secretAccessKey, date, scope, creq);
	headers.authorization = `${ALGORITHM} ` +
	    `Credential=${creds.accessKeyId}/${scope}, ` +
	    `SignedHeaders=${signed.join(';')}, Signature=${signature}`;
	return headers;
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
function parseAuthorization(value) {
	const m = /^(\S+)\s+(.*)$/.exec(value.trim());
	if (!m)
		throw new Malformed('Authorization header is not "ALGORITHM key=value, ..."');
	if (m[1] !== ALGORITHM)
		throw new Malformed(`unsupported algorithm ${m[1]}`);
	const fields = {};
	for (const part of m[2].split(',')) {
		const eq = part.indexOf('=');
		if (eq < 0)
			throw new Malformed(`Authorization component without '=': ${part.trim()}`);
		const k = part.slice(0, eq).trim();
		if (k in fields)
			throw new Malformed(`Authorization component ${k} given twice`);
		fields[k] = part.slice(eq + 1).trim();
	}
	for (const k of ['Credential', 'SignedHeaders', 'Signature'])
		if (fields[k] === undefined)
			throw new Malformed(`Authorization header lacks ${k}=`);
	return { credential: fields.Credential, signedHeaders: fields.SignedHeaders,
	    signature: fields.Signature };
}

function redactToken(creq, token) {
	if (!token)
		return creq;
	const note = `<token redacted: ${token.length} bytes, sha256 ${sha256hex(token, 'latin1').slice(0, 16)}>`;
	return creq.split(token).join(note);
}

/*
 * Verifies the signature of a request as received.
 *   req:  {method, target (path and query as sent), rawHeaders: [name,
 *         value, ...] (Node's req.rawHeaders), body: Buffer}
 *   opts: {secret, now (ms), maxSkewMs, token (the session token the request
 *         must carry, or undefined), normalize (false: do not normalise a
 *         non-S3 path; for the AWS test suite)}
 * Returns {result, reason, service, ...}: result is "ok", "mismatch" (the
 * signature differs, or a signed header is missing), "payload"
 * (x-amz-content-sha256 is not the body's hash), "skew" (X-Amz-Date more
 * than maxSkewMs away, or a presigned URL expired), "token" (not the
 * expected session token) or "malformed" (no or a bad Authorization,
 * X-Amz-Date, scope, an unsigned X-Amz-Security-Token or, for S3, an
 * unsigned x-amz-* header or no x-amz-content-sha256).  With a canonical
 * request computed, also canonicalRequest (and canonicalRequestRedacted,
 * the session token replaced by its length and hash), stringToSign,
 * signatureProvided and signatureExpected.  `signedHeaders` lists the
 * names in SignedHeaders, `unsigned` the headers received but not signed.
 */
function verify(req, opts) {
	const out = { result: 'malformed', reason: null, service: null,
	    accessKeyId: null, presigned: false, unsigned: [] };
	const values = new Map();
	for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
		const name = req.rawHeaders[i].toLowerCase();
		values.set(name, (values.get(name) || []).concat(req.rawHeaders[i + 1]));
	}
	const one = (name) => {
		const v = values.get(name);
		if (v && v.length > 1)
			throw new Malformed(`${name} header given ${v.length} times`);
		return v ? v[0] : undefined;
	};
	const target = req.target;
	const q = target.indexOf('?');
	const rawPath = q < 0 ? target : target.slice(0, q);
	const rawQuery = q < 0 ? '' : target.slice(q + 1);
	try {
		/* Query parameters by decoded name, for presigned URLs. */
		const params = new Map();
		for (const piece of rawQuery.split('&')) {
			if (piece === '')
				continue;
			const eq = piece.indexOf('=');
			params.set(percentDecode(eq < 0 ? piece : piece.slice(0, eq), true).toString('latin1'),
			    percentDecode(eq < 0 ? '' : piece.slice(eq + 1), true).toString('latin1'));
		}
		let credential, signedList, provided, date, expires;
		const authz = one('authorization');
		if (authz !== undefined) {
			const a = parseAuthorization(authz);
			credential = a.credential;
			signedList = a.signedHeaders;
			provided = a.signature;
			date = one('x-amz-date');
			if (date === undefined)
				throw new Malformed('no X-Amz-Date header');
		} else if (params.has('X-Amz-Signature')) {
			out.presigned = true;
			if (params.get('X-Amz-Algorithm') !== ALGORITHM)
				throw new Malformed(`X-Amz-Algorithm is not ${ALGORITHM}`);
			credential = params.get('X-Amz-Credential');
			signedList = params.get('X-Amz-SignedHeaders');
			provided = params.get('X-Amz-Signature');
			date = params.get('X-Amz-Date');
			expires = params.get('X-Amz-Expires');
			if (credential === undefined || signedList === undefined || date === undefined ||
			    expires === undefined || !/^\d{1,6}$/.test(expires))
				throw new Malformed('presigned URL lacks X-Amz-Credential, ' +
				    '-SignedHeaders, -Date or a valid -Expires');
		} else {
			out.code = 'missing';
			throw new Malformed('no Authorization header and no X-Amz-Signature parameter');
		}

		const scope = credential.split('/');
		if (scope.length !== 5 || scope[4] !== 'aws4_request' || !/^\d{8}$/.test(scope[1]) ||
		    scope[0] === '' || scope[2] === '' || scope[3] === '')
			throw new Malformed(`bad Credential ${credential}: want KEYID/YYYYMMDD/REGION/SERVICE/aws4_request`);
		out.accessKeyId = scope[0];
		out.service = scope[3];
		const s3 = out.service === 's3';
		if (!/^[0-9a-f]{64}$/.test(provided))
			throw new Malformed('Signature is not 64 lower-case hex digits');

		const t = parseAmzDate(date);
		if (Number.isNaN(t))
			throw new Malformed(`X-Amz-Date is not YYYYMMDDTHHMMSSZ: ${date}`);
		if (date.slice(0, 8) !== scope[1])
			throw new Malformed(`the date of the credential scope (${scope[1]}) is not the day of X-Amz-Date (${date})`);
		const skew = opts.maxSkewMs === undefined ? MAX_SKEW_MS : opts.maxSkewMs;
		if (Math.abs(opts.now - t) > skew && !(out.presigned && opts.now > t)) {
			out.result = 'skew';
			out.reason = `X-Amz-Date ${date} is ${Math.round((opts.now - t) / 1000)} s from the proxy's clock (limit ${skew / 1000} s)`;
			return out;
		}
		if (out.presigned && opts.now > t + Number(expires) * 1000) {
			out.result = 'skew';
			out.reason = `presigned URL expired: ${date} + ${expires} s`;
			return out;
		}

		const signed = signedList.split(';');
		for (let i = 0; i < signed.length; i++) {
			if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(signed[i]))
				throw new Malformed(`SignedHeaders: bad or upper-case name '${signed[i]}'`);
			if (i > 0 && signed[i - 1] >= signed[i])
				throw new Malformed('SignedHeaders: not sorted or repeated');
		}
		if (!signed.includes('host'))
			throw new Malformed('SignedHeaders lacks host');
		out.signedHeaders = signed;
		const signedSet = new Set(signed);
		out.unsigned = [...values.keys()].filter((h) => h !== 'authorization' && !signedSet.has(h));

		const token = authz !== undefined ? one('x-amz-security-token') : params.get('X-Amz-Security-Token');
		if (authz !== undefined && token !== undefined && !signedSet.has('x-amz-security-token'))
			throw new Malformed('X-Amz-Security-Token is not signed');
		if (s3 && authz !== undefined) {
			const bad = out.unsigned.filter((h) => h.startsWith('x-amz-'));
			if (bad.length)
				throw new Malformed('headers present in the request which were not signed: ' + bad.join(', '));
		}

		/* The payload hash: for S3 the value of x-amz-content-sha256, which
		 * must then be the body's; elsewhere the body's own hash. */
		const bodyHash = sha256hex(req.body || Buffer.alloc(0));
		const declared = one('x-amz-content-sha256');
		let payloadHash = bodyHash;
		if (s3) {
			if (declared === undefined && !out.presigned)
				throw new Malformed('no x-amz-content-sha256 header (S3 requires one)');
			payloadHash = declared === undefined ? UNSIGNED_PAYLOAD : declared;
			if (declared !== undefined && declared !== UNSIGNED_PAYLOAD &&
			    !declared.startsWith('STREAMING-') && !/^[0-9a-f]{64}$/.test(declared))
				throw new Malformed(`x-amz-content-sha256 is neither a hex SHA-256 nor UNSIGNED-PAYLOAD nor STREAMING-*: ${declared}`);
			if (declared !== undefined && declared.startsWith('STREAMING-'))
				out.note = 'streaming upload: only the seed signature is checked';
		}

		const uri = canonicalUri(rawPath, { s3, normalize: opts.normalize });
		const query = canonicalQueryRaw(rawQuery, out.presigned ? new Set(['X-Amz-Signature']) : null);
		const creq = canonicalRequest(req.method, uri, query, values, signed, payloadHash);
		const { stringToSign, signature } = signatureOf(opts.secret, date, scope.slice(1).join('/'), creq);
		Object.assign(out, {
			canonicalRequest: creq,
			canonicalRequestRedacted: redactToken(creq, token),
			stringToSign, signatureProvided: provided, signatureExpected: signature,
		});
		const missing = signed.filter((h) => !values.has(h));
		if (missing.length) {
			out.result = 'mismatch';
			out.reason = 'signed header(s) not in the request: ' + missing.join(', ');
			return out;
		}
		if (!crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(provided))) {
			out.result = 'mismatch';
			out.reason = uri !== rawPath && s3 ?
			    `signature differs (note: the path was sent as ${rawPath}, S3 signs it as ${uri})` :
			    'signature differs';
			return out;
		}
		if (declared !== undefined && /^[0-9a-f]{64}$/.test(declared) && declared !== bodyHash) {
			out.result = 'payload';
			out.reason = `x-amz-content-sha256 ${declared} is not the SHA-256 of the ${(req.body || []).length}-byte body received (${bodyHash})`;
			return out;
		}
		if (opts.token !== undefined && token !== opts.token) {
			out.result = 'token';
			out.reason = token === undefined ? 'no X-Amz-Security-Token' :
			    'X-Amz-Security-Token is not the expected session token';
			return out;
		}
		out.result = 'ok';
		return out;
	} catch (e) {
		if (!(e instanceof Malformed))
			throw e;
		out.result = 'malformed';
		out.reason = e.message;
		return out;
	}
}

module.exports = {
	ALGORITHM, MAX_SKEW_MS, UNSIGNED_PAYLOAD,
	sha256hex, hmac, uriEncode, uriEncodeBytes, percentDecode, amzDate,
	parseAmzDate, canonicalQuery, canonicalQueryRaw, normalizePath,
	canonicalUri, canonicalRequest, signingKey, signatureOf, sign,
	parseAuthorization, verify,
};
