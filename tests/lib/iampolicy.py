#!/usr/bin/env python3
"""tests/lib/iampolicy.py: the IAM policies of the man pages and README, and
the users of a moto_server with IAM authentication on (tests/iam-policies.bats).

  extract FILE NAME     the JSON after the comment line '.\\" iam-policy: NAME'
                        of a man page (its .Bd -literal block), or, with FILE
                        README.md and NAME readme, the ```json block of the
                        section "Least-privilege IAM policies"; checked to be
                        JSON
  build [-s K=V]... [-w ACTION]... [--moto] DOC [STATEMENT]...
                        DOC (a policy document, a file) with the STATEMENT
                        files (single statements) added, every placeholder K
                        replaced by V, without the actions ACTION; --moto
                        widens Kinesis resources to "*" (moto checks Kinesis
                        actions against the resource "*", never a stream ARN)
  actions FILE          the actions of a policy, one a line, sorted
  admin ENDPOINT        (the first three requests of a fresh moto_server) an
                        administrator: prints its key id and secret
  user ENDPOINT NAME POLICY
                        (with the administrator's keys in AWS_ACCESS_KEY_ID,
                        AWS_SECRET_ACCESS_KEY) a user with POLICY as its only
                        policy: prints its key id and secret
"""

import json
import os
import re
import sys


def fail(msg):
    sys.stderr.write("iampolicy: %s\n" % msg)
    sys.exit(1)


def extract(path, name):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if name == "readme":
        try:
            i = lines.index("## Least-privilege IAM policies")
        except ValueError:
            fail("%s: no section Least-privilege IAM policies" % path)
        i = lines.index("```json", i) + 1
        end = lines.index("```", i)
    else:
        marker = '.\\" iam-policy: ' + name
        if lines.count(marker) != 1:
            fail("%s: %d lines %r" % (path, lines.count(marker), marker))
        i = lines.index(marker) + 1
        if not lines[i].startswith(".Bd -literal"):
            fail("%s: no .Bd -literal after %r" % (path, marker))
        i += 1
        end = lines.index(".Ed", i)
    text = "\n".join(lines[i:end]) + "\n"
    if "\\" in text:
        fail("%s: %s: a roff escape in the JSON" % (path, name))
    json.loads(text)
    return text


def statements(doc):
    st = doc["Statement"]
    return st if isinstance(st, list) else [st]


def as_list(v):
    return v if isinstance(v, list) else [v]


def build(args):
    subs, without, moto, files = [], set(), False, []
    i = 0
    while i < len(args):
        if args[i] == "-s":
            subs.append(args[i + 1].split("=", 1))
            i += 2
        elif args[i] == "-w":
            without.add(args[i + 1])
            i += 2
        elif args[i] == "--moto":
            moto = True
            i += 1
        else:
            files.append(args[i])
            i += 1
    text = open(files[0], encoding="utf-8").read()
    doc = json.loads(text)
    doc["Statement"] = statements(doc)
    for f in files[1:]:
        doc["Statement"].append(json.load(open(f, encoding="utf-8")))
    out = []
    for st in doc["Statement"]:
        acts = [a for a in as_list(st["Action"]) if a not in without]
        if not acts:
            continue
        st["Action"] = acts
        if moto and all(a.startswith("kinesis:") for a in acts):
            st["Resource"] = "*"
        out.append(st)
    if not out:     # IAM wants a statement: one that allows nothing used
        out.append({"Effect": "Allow", "Action": "iam:GetUser",
                    "Resource": "*"})
    doc["Statement"] = out
    text = json.dumps(doc, indent=2)
    for k, v in subs:
        text = text.replace(k, v)
    left = re.findall(r"\b(REGION|ACCOUNT|STREAM|BUCKET|PREFIX|KEY-ID)\b",
                      text)
    if left:
        fail("placeholders left: %s" % ", ".join(sorted(set(left))))
    print(text)


def actions(path):
    doc = json.load(open(path, encoding="utf-8"))
    acts = set()
    for st in statements(doc) if "Statement" in doc else [doc]:
        acts.update(as_list(st["Action"]))
    print("\n".join(sorted(acts)))


def client(endpoint, service, key=None, secret=None):
    import boto3
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=key or os.environ.get("AWS_ACCESS_KEY_ID", "x"),
        aws_secret_access_key=secret or
        os.environ.get("AWS_SECRET_ACCESS_KEY", "x"))


def new_user(iam, name, policy_text):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="kinpipe",
                        PolicyDocument=policy_text)
    k = iam.create_access_key(UserName=name)["AccessKey"]
    print(k["AccessKeyId"], k["SecretAccessKey"])


def main(argv):
    if len(argv) < 2:
        fail("usage: see the top of tests/lib/iampolicy.py")
    cmd, args = argv[1], argv[2:]
    if cmd == "extract" and len(args) == 2:
        sys.stdout.write(extract(args[0], args[1]))
    elif cmd == "build" and args:
        build(args)
    elif cmd == "actions" and len(args) == 1:
        actions(args[0])
    elif cmd == "admin" and len(args) == 1:
        new_user(client(args[0], "iam", "x", "x"), "admin", json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    elif cmd == "user" and len(args) == 3:
        new_user(client(args[0], "iam"), args[1],
                 open(args[2], encoding="utf-8").read())
    else:
        fail("usage: see the top of tests/lib/iampolicy.py")


if __name__ == "__main__":
    main(sys.argv)
