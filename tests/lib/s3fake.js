'use strict';
/*
 * s3fake.js: a scripted stand-in for S3 on 127.0.0.1, for
 * tests/s3-addressing.bats: it sees how a request is addressed and signed,
 * and answers a request signed for another region than the bucket's the
 * ways S3 does.
 *
 *   node s3fake.js --port-file F --log F --dir D --secret S
 *                  [--region R] [--mode ok|permanent|malformed|nohint|flip]
 *
 * Binds 127.0.0.1 on a free port and writes it to --port-file once
 * listening.  A request is virtual-hosted when its Host is BUCKET.localhost
 * [:PORT] (libcurl resolves *.localhost to loopback itself), else
 * path-style (/BUCKET/KEY).  Every request's signature is checked with
 * tests/lib/sigv4.js's verify() against --secret, as received (the Host
 * header and the path as sent): a bad one gets 403 SignatureDoesNotMatch.
 * One JSON line per request goes to --log: method, host, target, bucket,
 * key, style, the region of the credential scope, the signature check's
 * result, the status answered.
 *
 * The bucket is in --region (default us-east-1).  A request signed for
 * another region gets, by --mode:
 *   ok         no check: served
 *   permanent  301 PermanentRedirect with x-amz-bucket-region: R
 *   malformed  400 AuthorizationHeaderMalformed with <Region>R</Region>,
 *              no header (S3's answer to a wrong signing region)
 *   nohint     301 PermanentRedirect with neither; but a HEAD of the
 *              bucket itself gets 301 with x-amz-bucket-region: R
 *   flip       always 400 AuthorizationHeaderMalformed naming a region
 *              other than the one signed for (us-east-1 or eu-west-1):
 *              a client that follows every redirect never stops
 * A request served: PutObject (stored under --dir/BUCKET/KEY), HeadObject,
 * GetObject, the multipart calls (CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload concatenating the parts, AbortMultipartUpload,
 * ListMultipartUploads: none).
 *
 * As an HTTP proxy (https_proxy=http://127.0.0.1:PORT) it logs the target
 * of each CONNECT (method CONNECT, target HOST:PORT) and refuses it with
 * 403: a test sees which AWS host a tool would reach, and nothing leaves
 * loopback.  Node built-ins only.
 */
const http = require('http'), fs = require('fs'), path = require('path');
const crypto = require('crypto');
const sigv4 = require('./sigv4.js');

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2)
	args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const REGION = args.region || 'us-east-1';
const MODE = args.mode || 'ok';
const uploads = new Map();
let nupload = 0;

function log(o) {
	fs.appendFileSync(args.log, JSON.stringify(o) + '\n');
}

function xmlError(code, message, extra) {
	return '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + code +
	    '</Code><Message>' + message + '</Message>' + (extra || '') +
	    '<RequestId>FAKE0123</RequestId></Error>';
}

/* Bucket, key and style of a request. */
function address(req) {
	const host = (req.headers.host || '').replace(/:\d+$/, '');
	const target = req.url;
	const p = target.split('?')[0];
	if (host.endsWith('.localhost'))
		return { style: 'virtual', bucket: host.slice(0, -'.localhost'.length),
		    key: decodeURIComponent(p.slice(1)) };
	const rest = p.slice(1), slash = rest.indexOf('/');
	return { style: 'path', bucket: slash < 0 ? rest : rest.slice(0, slash),
	    key: slash < 0 ? '' : decodeURIComponent(rest.slice(slash + 1)) };
}

function scopeRegion(req) {
	const m = /Credential=[^/]*\/\d{8}\/([^/]*)\//.exec(req.headers.authorization || '');
	return m ? m[1] : null;
}

/* The wrong-region answer of the mode, or null when the request may go on. */
function wrongRegion(req, a, region) {
	if (MODE === 'flip') {
		const other = region === 'us-east-1' ? 'eu-west-1' : 'us-east-1';
		return [400, {}, xmlError('AuthorizationHeaderMalformed',
		    `The authorization header is malformed; the region '${region}' is wrong; expecting '${other}'`,
		    `<Region>${other}</Region>`)];
	}
	if (MODE === 'ok' || region === REGION)
		return null;
	const perm = xmlError('PermanentRedirect', 'The bucket you are attempting to ' +
	    'access must be addressed using the specified endpoint. Please send all ' +
	    'future requests to this endpoint.', `<Bucket>${a.bucket}</Bucket>` +
	    `<Endpoint>${a.bucket}.s3.${REGION}.amazonaws.com</Endpoint>`);
	if (MODE === 'permanent')
		return [301, { 'x-amz-bucket-region': REGION }, perm];
	if (MODE === 'malformed')
		return [400, {}, xmlError('AuthorizationHeaderMalformed',
		    `The authorization header is malformed; the region '${region}' is wrong; expecting '${REGION}'`,
		    `<Region>${REGION}</Region>`)];
	if (req.method === 'HEAD' && a.key === '')
		return [301, { 'x-amz-bucket-region': REGION }, ''];
	return [301, {}, perm];
}

function file(a) {
	return path.join(args.dir, a.bucket, a.key);
}

/* Serves a request whose signature and region are right. */
function serve(req, a, body) {
	const q = new URLSearchParams(req.url.split('?')[1] || '');
	const md5 = (b) => '"' + crypto.createHash('md5').update(b).digest('hex') + '"';
	if (req.method === 'POST' && q.has('uploads')) {
		const id = 'up' + (++nupload);
		uploads.set(id, new Map());
		return [200, {}, `<InitiateMultipartUploadResult><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`];
	}
	if (req.method === 'PUT' && q.has('uploadId')) {
		const parts = uploads.get(q.get('uploadId'));
		if (!parts)
			return [404, {}, xmlError('NoSuchUpload', 'no such upload')];
		parts.set(Number(q.get('partNumber')), body);
		return [200, { ETag: md5(body) }, ''];
	}
	if (req.method === 'POST' && q.has('uploadId')) {
		const parts = uploads.get(q.get('uploadId'));
		if (!parts)
			return [404, {}, xmlError('NoSuchUpload', 'no such upload')];
		const all = Buffer.concat([...parts.keys()].sort((x, y) => x - y).map((n) => parts.get(n)));
		fs.mkdirSync(path.dirname(file(a)), { recursive: true });
		fs.writeFileSync(file(a), all);
		uploads.delete(q.get('uploadId'));
		return [200, {}, `<CompleteMultipartUploadResult><ETag>${md5(all)}</ETag></CompleteMultipartUploadResult>`];
	}
	if (req.method === 'DELETE' && q.has('uploadId')) {
		uploads.delete(q.get('uploadId'));
		return [204, {}, ''];
	}
	if (req.method === 'GET' && q.has('uploads'))
		return [200, {}, '<ListMultipartUploadsResult></ListMultipartUploadsResult>'];
	if (req.method === 'PUT') {
		fs.mkdirSync(path.dirname(file(a)), { recursive: true });
		fs.writeFileSync(file(a), body);
		return [200, { ETag: md5(body) }, ''];
	}
	if ((req.method === 'HEAD' || req.method === 'GET') && a.key !== '') {
		if (!fs.existsSync(file(a)))
			return [404, {}, req.method === 'HEAD' ? '' : xmlError('NoSuchKey', 'no such key')];
		const b = fs.readFileSync(file(a));
		return [200, { ETag: md5(b) }, req.method === 'HEAD' ? '' : b];
	}
	if (req.method === 'HEAD')
		return [200, { 'x-amz-bucket-region': REGION }, ''];
	return [400, {}, xmlError('NotImplemented', 'not in this fake')];
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const body = Buffer.concat(chunks);
		const a = address(req);
		const region = scopeRegion(req);
		const v = sigv4.verify({ method: req.method, target: req.url,
		    rawHeaders: req.rawHeaders, body }, { secret: args.secret, now: Date.now() });
		let answer = v.result === 'ok' ? wrongRegion(req, a, region) :
		    [403, {}, xmlError('SignatureDoesNotMatch', v.reason || v.result)];
		if (answer === null)
			answer = serve(req, a, body);
		const [status, headers, text] = answer;
		const data = Buffer.isBuffer(text) ? text : Buffer.from(text);
		if (data.length > 0 && req.method !== 'HEAD')
			headers['Content-Type'] = 'application/xml';
		headers['Content-Length'] = req.method === 'HEAD' ? 0 : data.length;
		/* Logged before the answer goes: a client that exits on it
		 * finds its request in the log. */
		log({ method: req.method, host: req.headers.host, target: req.url,
		    style: a.style, bucket: a.bucket, key: a.key, region,
		    sig: v.result, reason: v.reason, status });
		res.writeHead(status, headers);
		res.end(req.method === 'HEAD' ? undefined : data);
	});
});
server.on('connect', (req, socket) => {
	log({ method: 'CONNECT', target: req.url, status: 403 });
	socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
});
server.listen(0, '127.0.0.1', () => {
	fs.writeFileSync(args['port-file'] + '.tmp', String(server.address().port));
	fs.renameSync(args['port-file'] + '.tmp', args['port-file']);
});
