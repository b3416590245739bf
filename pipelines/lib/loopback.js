'use strict';
/*
 * Preload (node -r pipelines/lib/loopback.js SERVER ...) that pins every TCP
 * listener of the process to 127.0.0.1.
 *
 * kinesalite and kinesis-local have no bind-address option and would listen
 * on every interface; the local stack must never be reachable from outside
 * the machine.  net.Server.prototype.listen is wrapped so that whatever host
 * the server asks for (none, "::", "0.0.0.0", "localhost"), it gets
 * 127.0.0.1.  Unix-socket and handle listeners are left alone.  http, https
 * and tls servers inherit from net.Server, so they are covered too.
 */
const net = require('net');

const HOST = '127.0.0.1';
const listen = net.Server.prototype.listen;

function isPort(v) {
	return typeof v === 'number' ||
	    (typeof v === 'string' && /^[0-9]+$/.test(v));
}

net.Server.prototype.listen = function (...args) {
	const first = args[0];
	if (first !== null && typeof first === 'object' &&
	    !Array.isArray(first) && first.path === undefined &&
	    first.handle === undefined && first._handle === undefined &&
	    first.fd === undefined) {
		/* listen(options[, cb]) */
		args[0] = Object.assign({}, first, { host: HOST });
		delete args[0].ipv6Only;
	} else if (isPort(first) || first === undefined || first === null) {
		/* listen([port[, host[, backlog]]][, cb]) */
		const rest = args.slice(1);
		if (rest.length > 0 && typeof rest[0] !== 'function' &&
		    typeof rest[0] !== 'number')
			rest.shift();	/* drop the caller's host */
		args = [first === undefined || first === null ? 0 : first, HOST]
		    .concat(rest);
	}
	return listen.apply(this, args);
};
