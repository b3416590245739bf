#!/usr/bin/env python3
"""bench/kinesis_boto3.py - the boto3 clients that bench/kinesis.sh measures
kin-put and kin-read against: what a user would write instead.

  kinesis_boto3.py put-record  STREAM FIELD <NDJSON   one PutRecord a line
  kinesis_boto3.py put-records STREAM FIELD <NDJSON   PutRecords, 500 a call
  kinesis_boto3.py read STREAM >NDJSON                every record, then stop

FIELD is the top-level field whose value is the partition key (the symbol).
Endpoint, region and credentials come from the environment, as for any boto3
program (AWS_ENDPOINT_URL_KINESIS, AWS_REGION, AWS_ACCESS_KEY_ID, ...).

put-record is the seed's way: one call per record, the order of the input
kept by construction.  put-records sends batches of 500 (and at most 5 MiB)
and retries only the entries that failed, with exponential backoff, until
every record is in or the budget of attempts is spent (then exit 3, the
lines not sent on stderr).  Retried entries are sent again in their input
order, so the order per partition key is that of the input unless a later
entry of the same key succeeded while an earlier one failed (the usual
boto3 loop does not guard against that; kin-put does).

read lists the shards (ListShards, all pages), reads each shard from
TRIM_HORIZON with GetRecords (10,000 records a call) until a call returns no
record and MillisBehindLatest is 0 (the same stop rule as kin-read), and
writes each record's data as one line.  Parent shards are read before their
children because ListShards returns them first; a closed shard ends when it
has no next iterator.

A summary goes to stderr: records, calls, retried entries.
"""

import json
import os
import sys
import time

import boto3
from botocore.config import Config

MAX_BATCH = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_ATTEMPTS = 10


def client():
    # The SDK's own retries stay on (standard mode): that is what a user
    # gets.  Only the entry-level retries of PutRecords are ours.
    # The endpoint is passed explicitly: boto3 before 1.28 (Debian 12 has
    # 1.26) ignores AWS_ENDPOINT_URL_KINESIS and would go to AWS.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client("kinesis", region_name=region,
                        endpoint_url=os.environ.get("AWS_ENDPOINT_URL_KINESIS") or None,
                        config=Config(retries={"mode": "standard"}))


def key_of(line, field):
    return str(json.loads(line)[field])


def put_record(stream, field):
    kin = client()
    n = 0
    for line in sys.stdin.buffer:
        line = line.rstrip(b"\r\n")
        if not line:
            continue
        kin.put_record(StreamName=stream, Data=line, PartitionKey=key_of(line, field))
        n += 1
    print(f"put-record: {n} records, {n} calls", file=sys.stderr)
    return 0


def send(kin, stream, batch, stats):
    """PutRecords with retries of the failed entries only."""
    pending = batch
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            time.sleep(min(0.1 * 2 ** (attempt - 1), 5.0))
        resp = kin.put_records(StreamName=stream, Records=pending)
        stats["calls"] += 1
        if resp.get("FailedRecordCount", 0) == 0:
            return []
        failed = [e for e, r in zip(pending, resp["Records"]) if "ErrorCode" in r]
        stats["retried"] += len(failed)
        pending = failed
    return pending


def put_records(stream, field):
    kin = client()
    stats = {"records": 0, "calls": 0, "retried": 0}
    lost = []
    batch, size = [], 0
    for line in sys.stdin.buffer:
        line = line.rstrip(b"\r\n")
        if not line:
            continue
        pk = key_of(line, field)
        n = len(line) + len(pk.encode())
        if batch and (len(batch) == MAX_BATCH or size + n > MAX_BATCH_BYTES):
            lost += send(kin, stream, batch, stats)
            batch, size = [], 0
        batch.append({"Data": line, "PartitionKey": pk})
        size += n
        stats["records"] += 1
    if batch:
        lost += send(kin, stream, batch, stats)
    print(f"put-records: {stats['records']} records, {stats['calls']} calls, "
          f"{stats['retried']} entries retried, {len(lost)} undeliverable",
          file=sys.stderr)
    for e in lost:
        sys.stderr.buffer.write(e["Data"] + b"\n")
    return 3 if lost else 0


def shards(kin, stream):
    out, token = [], None
    while True:
        if token:
            resp = kin.list_shards(NextToken=token)
        else:
            resp = kin.list_shards(StreamName=stream)
        out += resp["Shards"]
        token = resp.get("NextToken")
        if not token:
            return out


def read(stream):
    kin = client()
    out = sys.stdout.buffer
    n = calls = 0
    for shard in shards(kin, stream):
        it = kin.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            resp = kin.get_records(ShardIterator=it, Limit=10000)
            calls += 1
            recs = resp["Records"]
            for r in recs:
                out.write(r["Data"] + b"\n")
            n += len(recs)
            it = resp.get("NextShardIterator")
            if not recs and resp.get("MillisBehindLatest", 0) == 0:
                break
    out.flush()
    print(f"read: {n} records, {calls} GetRecords calls", file=sys.stderr)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "put-record":
        return put_record(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "put-records":
        return put_records(argv[2], argv[3])
    if len(argv) == 3 and argv[1] == "read":
        return read(argv[2])
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
