#!/usr/bin/env python3
"""Loopback stand-in for the EC2 instance metadata service (IMDSv2) and the
ECS/EKS container credentials endpoint, for tests/creds.bats.

Binds 127.0.0.1 on a free port, writes the port to --port-file (atomically,
once listening), serves until killed, and appends one JSON line per request
to --log: method, path, the IMDS token headers, Authorization, status.

IMDS (as the EC2 user guide describes IMDSv2):
  PUT /latest/api/token                needs X-aws-ec2-metadata-token-ttl-seconds
                                       (1..21600) else 400; answers the token
                                       (or --token-body as it is), or
                                       --token-status if that is not 200
  GET /latest/meta-data/iam/security-credentials/        the role name
  GET /latest/meta-data/iam/security-credentials/ROLE    the credentials JSON
  Both GETs need X-aws-ec2-metadata-token equal to the issued token (401
  otherwise), unless --token-status is 403/404/405 (an IMDSv1-only host).

Container endpoint: GET --ecs-path answers the credentials JSON (or
--ecs-status with an error document); with --ecs-auth, an Authorization
header different from it gets 401.

Python standard library only.
"""
import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IMDS_TOKEN = "imds-session-token-0123456789"
CREDS_PATH = "/latest/meta-data/iam/security-credentials/"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--role", default="kinpipe-test-role")
    p.add_argument("--akid", default="ASIAIMDSEXAMPLE")
    p.add_argument("--secret", default="imds-secret-key")
    p.add_argument("--token", default="imds-session-token")
    p.add_argument("--expiration", default="2030-01-01T00:00:00Z")
    p.add_argument("--token-status", type=int, default=200)
    p.add_argument("--token-body",
                   help="raw body of a 200 answer to the token request")
    p.add_argument("--no-role", action="store_true",
                   help="404 on the role listing: no instance profile")
    p.add_argument("--creds-status", type=int, default=200)
    p.add_argument("--creds-body", help="raw body for the IMDS credentials")
    p.add_argument("--ecs-path", default="/ecs/credentials")
    p.add_argument("--ecs-auth", help="required Authorization value")
    p.add_argument("--ecs-status", type=int, default=200)
    p.add_argument("--ecs-body", help="raw body for the container endpoint")
    return p.parse_args()


ARGS = None


def creds_doc(token_key):
    return {
        "Code": "Success",
        "LastUpdated": "2026-01-01T00:00:00Z",
        "Type": "AWS-HMAC",
        "AccessKeyId": ARGS.akid,
        "SecretAccessKey": ARGS.secret,
        token_key: ARGS.token,
        "Expiration": ARGS.expiration,
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "metadata-test/1"

    def log_message(self, fmt, *args):  # quiet: the JSON log says it all
        pass

    def reply(self, status, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        with open(ARGS.log, "a") as f:
            f.write(json.dumps({
                "method": self.command,
                "path": self.path,
                "ttl": self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"),
                "token": self.headers.get("X-aws-ec2-metadata-token"),
                "authorization": self.headers.get("Authorization"),
                "proxy": self.headers.get("Proxy-Connection"),
                "status": status,
            }) + "\n")

    def token_ok(self):
        if ARGS.token_status in (403, 404, 405):
            return True  # this host only speaks IMDSv1
        return self.headers.get("X-aws-ec2-metadata-token") == IMDS_TOKEN

    def do_PUT(self):
        if self.path != "/latest/api/token":
            return self.reply(404, "not found")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        try:
            ok = ttl is not None and 1 <= int(ttl) <= 21600
        except ValueError:
            ok = False
        if not ok:
            return self.reply(400, "missing or invalid ttl")
        if ARGS.token_status != 200:
            return self.reply(ARGS.token_status, "token refused")
        if ARGS.token_body is not None:
            return self.reply(200, ARGS.token_body)
        return self.reply(200, IMDS_TOKEN)

    def do_GET(self):
        if self.path == ARGS.ecs_path:
            return self.ecs()
        if self.path.startswith(CREDS_PATH):
            if not self.token_ok():
                return self.reply(401, "unauthorized")
            role = self.path[len(CREDS_PATH):]
            if ARGS.no_role:
                return self.reply(404, "not found")
            if role == "":
                return self.reply(200, ARGS.role + "\n")
            if role != ARGS.role:
                return self.reply(404, "not found")
            if ARGS.creds_body is not None:
                return self.reply(ARGS.creds_status, ARGS.creds_body,
                                  "application/json")
            return self.reply(ARGS.creds_status,
                              json.dumps(creds_doc("Token")),
                              "application/json")
        return self.reply(404, "not found")

    def ecs(self):
        if ARGS.ecs_auth is not None and \
                self.headers.get("Authorization") != ARGS.ecs_auth:
            return self.reply(401, json.dumps({
                "code": "AccessDenied", "message": "bad token"}),
                "application/json")
        if ARGS.ecs_body is not None:
            return self.reply(ARGS.ecs_status, ARGS.ecs_body,
                              "application/json")
        if ARGS.ecs_status != 200:
            return self.reply(ARGS.ecs_status, json.dumps({
                "code": "InternalError", "message": "scripted failure"}),
                "application/json")
        doc = creds_doc("Token")
        for k in ("Code", "LastUpdated", "Type"):
            del doc[k]
        doc["RoleArn"] = "arn:aws:iam::123456789012:role/kinpipe-test"
        return self.reply(200, json.dumps(doc), "application/json")


def main():
    global ARGS
    ARGS = parse_args()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % httpd.server_address[1])
    os.replace(tmp, ARGS.port_file)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
