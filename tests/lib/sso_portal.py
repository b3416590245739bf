#!/usr/bin/env python3
"""Loopback stand-in for the IAM Identity Center (SSO) portal's
GetRoleCredentials, for tests/creds-sso.bats.

Binds 127.0.0.1 on a free port, writes the port to --port-file (atomically,
once listening), serves until killed, and appends one JSON line per request
to --log: method, path, role_name, account_id, the bearer token header,
status.

As the portal API reference describes GetRoleCredentials:
  GET /federation/credentials?role_name=R&account_id=A
  with the access token in the x-amz-sso_bearer_token header.
  A missing or wrong token: 401, x-amzn-ErrorType UnauthorizedException,
  {"message": "Session token not found or invalid"}.
  A role or account other than --role / --account: 403 ForbiddenException
  {"message": "No access"}.
  Else 200 {"roleCredentials": {"accessKeyId", "secretAccessKey",
  "sessionToken", "expiration"}}, expiration in epoch milliseconds: now +
  --expires-in seconds.  With --numbered, the access key id ends in the
  number of the answer (1, 2, ...), so a test sees each fetch.

And SSO OIDC CreateToken, the refresh of an sso-session's token (POST
/token, a JSON body): clientId, clientSecret, grantType refresh_token and
refreshToken must be --client-id, --client-secret, refresh_token and
--refresh-token, else 400 {"error": "invalid_grant"}; the answer is
{"accessToken": --new-token, "expiresIn": --new-expires-in, "refreshToken":
--new-refresh-token, "tokenType": "Bearer"}, and --new-token is accepted
from then on.  --oidc-status S answers every CreateToken S.

Scripted failures: --fail-first N answers the first N requests 500;
--revoke-after N refuses the token (401) once N answers were given;
--status S --body B answers every request so.

Python standard library only.
"""
import argparse
import json
import os
import time
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--token", default="sso-access-token-0123456789")
    p.add_argument("--role", default="KinpipeWriter")
    p.add_argument("--account", default="123456789012")
    p.add_argument("--akid", default="ASIASSOEXAMPLE")
    p.add_argument("--secret", default="sso-secret-access-key")
    p.add_argument("--session-token", default="sso-session-token")
    p.add_argument("--expires-in", type=int, default=3600)
    p.add_argument("--numbered", action="store_true")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                   help="serve https with this certificate and key")
    p.add_argument("--client-id", default="client-id-example")
    p.add_argument("--client-secret", default="client-secret-example")
    p.add_argument("--refresh-token", default="refresh-token-example")
    p.add_argument("--new-token", default="sso-refreshed-token-abcdef")
    p.add_argument("--new-refresh-token", default="refresh-token-2")
    p.add_argument("--new-expires-in", type=int, default=28800)
    p.add_argument("--oidc-status", type=int)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--revoke-after", type=int)
    p.add_argument("--status", type=int)
    p.add_argument("--body", default="")
    return p.parse_args()


ARGS = None
COUNT = {"requests": 0, "answers": 0, "refreshed": False}


class Handler(BaseHTTPRequestHandler):
    server_version = "sso-portal-test/1"

    def log_message(self, fmt, *args):  # quiet: the JSON log says it all
        pass

    def reply(self, status, doc, error_type=None, query=None, grant=None):
        data = doc.encode() if isinstance(doc, str) else \
            json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if error_type is not None:
            self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        query = query or {}
        with open(ARGS.log, "a") as f:
            f.write(json.dumps({
                "method": self.command,
                "path": urlsplit(self.path).path,
                "role_name": query.get("role_name", [None])[0],
                "account_id": query.get("account_id", [None])[0],
                "bearer": self.headers.get("x-amz-sso_bearer_token"),
                "authorization": self.headers.get("Authorization"),
                "user_agent": self.headers.get("User-Agent"),
                "status": status,
                "grant": grant,
            }) + "\n")

    def do_GET(self):
        COUNT["requests"] += 1
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path != "/federation/credentials":
            return self.reply(404, {"message": "not found"},
                              "ResourceNotFoundException", query)
        if COUNT["requests"] <= ARGS.fail_first:
            return self.reply(500, {"message": "internal"},
                              "InternalServerException", query)
        if ARGS.status is not None:
            return self.reply(ARGS.status, ARGS.body, None, query)
        revoked = ARGS.revoke_after is not None and \
            COUNT["answers"] >= ARGS.revoke_after
        bearer = self.headers.get("x-amz-sso_bearer_token")
        if revoked or not (bearer == ARGS.token or
                           (COUNT["refreshed"] and bearer == ARGS.new_token)):
            return self.reply(401, {
                "message": "Session token not found or invalid"},
                "UnauthorizedException", query)
        if query.get("role_name") != [ARGS.role] or \
                query.get("account_id") != [ARGS.account]:
            return self.reply(403, {"message": "No access"},
                              "ForbiddenException", query)
        COUNT["answers"] += 1
        akid = ARGS.akid
        if ARGS.numbered:
            akid += str(COUNT["answers"])
        return self.reply(200, {"roleCredentials": {
            "accessKeyId": akid,
            "secretAccessKey": ARGS.secret,
            "sessionToken": ARGS.session_token,
            "expiration": int((time.time() + ARGS.expires_in) * 1000),
        }}, None, query)


    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        try:
            grant = json.loads(body)
        except ValueError:
            grant = None
        if urlsplit(self.path).path != "/token" or not isinstance(grant, dict):
            return self.reply(404, {"message": "not found"},
                              "ResourceNotFoundException", None, grant)
        if self.headers.get("Content-Type") != "application/json":
            return self.reply(400, {"error": "invalid_request"},
                              "InvalidRequestException", None, grant)
        if ARGS.oidc_status is not None:
            return self.reply(ARGS.oidc_status, {"error": "server_error"},
                              "InternalServerException", None, grant)
        want = {"clientId": ARGS.client_id,
                "clientSecret": ARGS.client_secret,
                "grantType": "refresh_token",
                "refreshToken": ARGS.refresh_token}
        if grant != want:
            return self.reply(400, {"error": "invalid_grant",
                                    "error_description": "bad grant"},
                              "InvalidGrantException", None, grant)
        COUNT["refreshed"] = True
        return self.reply(200, {
            "accessToken": ARGS.new_token,
            "expiresIn": ARGS.new_expires_in,
            "refreshToken": ARGS.new_refresh_token,
            "tokenType": "Bearer",
        }, None, None, grant)


def main():
    global ARGS
    ARGS = parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if ARGS.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls[0], ARGS.tls[1])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, ARGS.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
