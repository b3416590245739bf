'use strict';
/*
 * kpl-deagg.js: de-aggregates Kinesis records with AWS's own library,
 * npm's aws-kinesis-agg (package.json), an implementation independent of
 * common/kpl.c, to check what kin-put --aggregate writes.
 *
 *   kp-admin get-records STREAM --base64 | node kpl-deagg.js
 *
 * Reads the records (one JSON object a line: ShardId, PartitionKey, Data in
 * base64) and prints one line per user record, {"pk","data","agg"}, where
 * agg says whether it came out of an aggregated record; MD5 checksums are
 * verified (computeChecksums).  Exit 1 on any error, 2 when the library is
 * not installed.
 */
const readline = require('readline');

let agg;
try {
	agg = require('aws-kinesis-agg');
} catch (e) {
	process.stderr.write('kpl-deagg: aws-kinesis-agg not installed\n');
	process.exit(2);
}

const MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);
const rl = readline.createInterface({ input: process.stdin });
let failed = false;

rl.on('line', (line) => {
	const r = JSON.parse(line);
	const isAgg = Buffer.from(r.Data, 'base64').subarray(0, 4).equals(MAGIC);
	agg.deaggregateSync({ data: r.Data, partitionKey: r.PartitionKey,
	    sequenceNumber: r.SequenceNumber }, true, (err, recs) => {
		if (err) {
			process.stderr.write(`kpl-deagg: ${err}\n`);
			failed = true;
			return;
		}
		for (const u of recs)
			process.stdout.write(JSON.stringify({ pk: u.partitionKey,
			    data: Buffer.from(u.data, 'base64').toString('utf8'),
			    agg: isAgg }) + '\n');
	});
});
rl.on('close', () => process.exit(failed ? 1 : 0));
