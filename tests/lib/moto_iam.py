#!/usr/bin/env python3
"""Sets up IAM in a moto_server for tests/creds-sts.bats, then switches
moto's IAM authentication on: a user "base" allowed nothing but
sts:AssumeRole on the role "kinpipe-ops", whose trust policy lets that user
in (with --external-id: only with that sts:ExternalId) and whose policy
allows Kinesis and S3; a stream (1 shard) and a bucket.

Usage: moto_iam.py ENDPOINT STREAM BUCKET [--external-id ID]
Prints one JSON line: the user's AccessKeyId and SecretAccessKey, the
role's ARN.  Needs boto3 (moto's own dependency).  moto must run with
INITIAL_NO_AUTH_ACTION_COUNT set (auth is then off for that many requests);
this script ends by posting 0 to /moto-api/reset-auth: every later request
is checked.
"""
import argparse
import json
import sys
import urllib.request

import boto3

ACCOUNT = "123456789012"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("endpoint")
    p.add_argument("stream")
    p.add_argument("bucket")
    p.add_argument("--external-id")
    a = p.parse_args()
    kw = dict(endpoint_url=a.endpoint, region_name="us-east-1",
              aws_access_key_id="admin", aws_secret_access_key="admin")
    iam = boto3.client("iam", **kw)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/kinpipe-ops"
    iam.create_user(UserName="base")
    iam.put_user_policy(UserName="base", PolicyName="assume-only",
                        PolicyDocument=json.dumps({
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow",
                                           "Action": "sts:AssumeRole",
                                           "Resource": role_arn}]}))
    key = iam.create_access_key(UserName="base")["AccessKey"]
    stmt = {"Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/base"},
            "Action": "sts:AssumeRole"}
    if a.external_id:
        stmt["Condition"] = {"StringEquals": {"sts:ExternalId": a.external_id}}
    iam.create_role(RoleName="kinpipe-ops", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [stmt]}))
    iam.put_role_policy(RoleName="kinpipe-ops", PolicyName="kinesis-s3",
                        PolicyDocument=json.dumps({
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow",
                                           "Action": ["kinesis:*", "s3:*"],
                                           "Resource": "*"}]}))
    boto3.client("kinesis", **kw).create_stream(StreamName=a.stream,
                                                ShardCount=1)
    boto3.client("s3", **kw).create_bucket(Bucket=a.bucket)
    req = urllib.request.Request(a.endpoint + "/moto-api/reset-auth",
                                 data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req).read()
    print(json.dumps({"AccessKeyId": key["AccessKeyId"],
                      "SecretAccessKey": key["SecretAccessKey"],
                      "RoleArn": role_arn}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
