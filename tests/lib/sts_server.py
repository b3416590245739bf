#!/usr/bin/env python3
"""Loopback stand-in for STS's Query API (AssumeRole and
AssumeRoleWithWebIdentity, Version 2011-06-15), for tests/creds-sts.bats.

Binds 127.0.0.1 on a free port, writes the port to --port-file (atomically,
once listening), serves until killed, and appends one JSON line per request
to --log: method, path, whether an Authorization header came (and its
Credential scope), Content-Type, and the form parameters.

Answers the STS XML of the API reference: credentials with AccessKeyId
ASIASTS<n> (n counts the calls), SecretAccessKey sts-secret-<n>,
SessionToken sts-token-<n>, Expiration now + --expires-in seconds.
--error-status/--error-code/--error-message answer an STS ErrorResponse
instead; --external-id refuses an AssumeRole without that ExternalId
(AccessDenied).

Python standard library only.
"""
import argparse
import datetime
import json
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
COUNT = 0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--expires-in", type=int, default=3600)
    p.add_argument("--error-status", type=int, default=0)
    p.add_argument("--error-code", default="AccessDenied")
    p.add_argument("--error-message", default="not authorized")
    p.add_argument("--external-id")
    return p.parse_args()


def creds_xml(action, n):
    exp = (datetime.datetime.now(datetime.timezone.utc) +
           datetime.timedelta(seconds=ARGS.expires_in))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
        f'  <{action}Result>\n'
        '    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s'
        '</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\n'
        '    <Credentials>\n'
        f'      <AccessKeyId>ASIASTS{n}</AccessKeyId>\n'
        f'      <SecretAccessKey>sts-secret-{n}</SecretAccessKey>\n'
        f'      <SessionToken>sts-token-{n}</SessionToken>\n'
        f'      <Expiration>{exp.strftime("%Y-%m-%dT%H:%M:%SZ")}</Expiration>\n'
        '    </Credentials>\n'
        f'  </{action}Result>\n'
        '  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>\n'
        f'</{action}Response>\n')


def error_xml(code, message):
    return (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
        f'  <Error><Type>Sender</Type><Code>{code}</Code>'
        f'<Message>{message}</Message></Error>\n'
        '  <RequestId>req-1</RequestId>\n</ErrorResponse>\n')


class Handler(BaseHTTPRequestHandler):
    server_version = "sts-test/1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        global COUNT
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n).decode()
        form = {k: v[0] for k, v in
                urllib.parse.parse_qs(raw, keep_blank_values=True).items()}
        auth = self.headers.get("Authorization")
        entry = {"method": "POST", "path": self.path,
                 "authorization": auth is not None,
                 "scope": (auth.split("Credential=")[1].split(",")[0]
                           .split("/", 1)[1] if auth else None),
                 "security_token": self.headers.get("X-Amz-Security-Token"),
                 "content_type": self.headers.get("Content-Type"),
                 "form": form}
        with open(ARGS.log, "a") as f:
            f.write(json.dumps(entry) + "\n")
        action = form.get("Action")
        if action not in ("AssumeRole", "AssumeRoleWithWebIdentity"):
            self.reply(400, error_xml("InvalidAction", "unknown action"))
            return
        if ARGS.error_status:
            self.reply(ARGS.error_status,
                       error_xml(ARGS.error_code, ARGS.error_message))
            return
        if (action == "AssumeRole" and ARGS.external_id is not None and
                form.get("ExternalId") != ARGS.external_id):
            self.reply(403, error_xml("AccessDenied", "wrong ExternalId"))
            return
        COUNT += 1
        self.reply(200, creds_xml(action, COUNT))

    def do_GET(self):
        self.reply(405, error_xml("InvalidAction", "POST only"))


def main():
    global ARGS
    ARGS = parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
