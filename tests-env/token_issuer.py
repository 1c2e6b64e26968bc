#!/usr/bin/env python3
"""Token issuer for plinth's test registry: a small Docker-style auth server.

Python 3 standard library only; JWTs are signed RS256 by `openssl dgst -sha256 -sign`.
The CNCF distribution registry (auth: token) verifies them through the `x5c` header
against its `rootcertbundle` (the same self-signed certificate).

Endpoints (all JSON):

  GET  /token?service=S&scope=repository:NAME:pull,push[&scope=...][&offline_token=true]
       HTTP Basic USER:PASSWORD  -> pull/push/delete/* (as requested) on every repository,
                                    `registry:catalog:*` too; with offline_token=true the
                                    answer also carries "refresh_token".
       no Authorization          -> only `pull`, only on repositories named `public/...`;
                                    other scopes are left out of the token (HTTP 200, the
                                    registry then answers 401/insufficient_scope), as
                                    Docker Hub's auth server does.
       wrong credentials         -> 401 {"errors": [...]} (WWW-Authenticate: Basic).
  POST /token  (application/x-www-form-urlencoded, the OAuth2 form Docker uses)
       grant_type=refresh_token&refresh_token=R&service=S&scope=...&client_id=C
                                    R must be the fixed refresh token -> as authenticated
       grant_type=password&username=U&password=P[&access_type=offline]
                                    -> as Basic; access_type=offline adds "refresh_token"
       bad refresh token / password -> 401 {"error": "invalid_grant"}
       other grant_type             -> 400 {"error": "unsupported_grant_type"}
  GET  /stats          request counters (see Stats.snapshot) so tests can check that a
                       client caches its tokens. Secrets are never recorded.
  POST /stats/reset    zero the counters (DELETE /stats does the same).
  GET  /healthz        200 "ok".

Token answer: {"token": T, "access_token": T, "expires_in": 300, "issued_at": RFC3339}.
"""

import argparse
import base64
import binascii
import datetime
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ALL_REPO_ACTIONS = ("pull", "push", "delete", "*")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    """RS256 via openssl, x5c = [DER of the self-signed certificate]."""

    def __init__(self, key_path: str, cert_path: str):
        self.key_path = key_path
        der = subprocess.run(
            ["openssl", "x509", "-in", cert_path, "-outform", "DER"],
            check=True,
            capture_output=True,
        ).stdout
        self.x5c = [base64.b64encode(der).decode("ascii")]

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": self.x5c}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.key_path],
            input=signing_input.encode("ascii"),
            check=True,
            capture_output=True,
        ).stdout
        return signing_input + "." + b64url(sig)


def parse_scopes(values):
    """`type:name:actions` (name may hold ':'), several per value when space-separated."""
    out = []
    for value in values:
        for scope in value.split():
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            rtype, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1]
            if "(" in rtype:  # resource class, e.g. repository(plugin)
                rtype = rtype.split("(", 1)[0]
            acts = [a for a in actions.split(",") if a]
            out.append({"type": rtype, "name": name, "actions": acts})
    return out


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.started = time.time()
            self.by_path = Counter()  # "GET /token" -> n (every request, any path)
            self.by_auth = Counter()  # anonymous | basic | refresh_token | password | ...
            self.by_status = Counter()  # "200" -> n (token requests only)
            self.by_repository = Counter()  # repository name -> token requests naming it
            self.by_scope = Counter()  # exact scope string -> n
            self.token_requests = 0
            self.tokens_issued = 0
            self.recent = deque(maxlen=500)

    def record_path(self, method, path):
        with self.lock:
            self.by_path[f"{method} {path}"] += 1

    def record_token(self, method, auth_kind, scopes, status, granted):
        with self.lock:
            self.token_requests += 1
            self.by_auth[auth_kind] += 1
            self.by_status[str(status)] += 1
            if status == 200:
                self.tokens_issued += 1
            for s in scopes:
                scope_str = f"{s['type']}:{s['name']}:{','.join(s['actions'])}"
                self.by_scope[scope_str] += 1
                if s["type"] == "repository":
                    self.by_repository[s["name"]] += 1
            self.recent.append(
                {
                    "time": round(time.time(), 3),
                    "method": method,
                    "auth": auth_kind,
                    "scopes": [
                        f"{s['type']}:{s['name']}:{','.join(s['actions'])}" for s in scopes
                    ],
                    "granted": granted,
                    "status": status,
                }
            )

    def snapshot(self):
        with self.lock:
            return {
                "since": self.started,
                "token_requests": self.token_requests,
                "tokens_issued": self.tokens_issued,
                "by_path": dict(self.by_path),
                "by_auth": dict(self.by_auth),
                "by_status": dict(self.by_status),
                "by_repository": dict(self.by_repository),
                "by_scope": dict(self.by_scope),
                "recent": list(self.recent),
            }


class Issuer:
    def __init__(self, args):
        self.signer = Signer(args.key, args.cert)
        self.service = args.service
        self.issuer = args.issuer
        self.user = args.user
        self.password = args.password
        self.refresh_token = args.refresh_token
        self.expires_in = args.expires_in
        self.stats = Stats()

    def grant(self, scopes, subject):
        granted = []
        by_resource = {}  # (type, name) -> entry, so repeated scopes merge
        for s in scopes:
            if subject is None:  # anonymous
                if s["type"] == "repository" and s["name"].startswith("public/"):
                    acts = [a for a in s["actions"] if a == "pull"]
                else:
                    acts = []
            elif s["type"] == "repository":
                acts = [a for a in s["actions"] if a in ALL_REPO_ACTIONS]
            elif s["type"] == "registry" and s["name"] == "catalog":
                acts = [a for a in s["actions"] if a == "*"]
            else:
                acts = []
            if not acts:
                continue
            entry = by_resource.get((s["type"], s["name"]))
            if entry is None:
                entry = {"type": s["type"], "name": s["name"], "actions": []}
                by_resource[(s["type"], s["name"])] = entry
                granted.append(entry)
            entry["actions"].extend(a for a in acts if a not in entry["actions"])
        return granted

    def issue(self, scopes, subject, offline=False):
        now = int(time.time())
        access = self.grant(scopes, subject)
        claims = {
            "iss": self.issuer,
            "sub": subject or "",
            "aud": self.service,
            "exp": now + self.expires_in,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        token = self.signer.sign(claims)
        issued_at = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        body = {
            "token": token,
            "access_token": token,
            "expires_in": self.expires_in,
            "issued_at": issued_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if offline and subject is not None:
            body["refresh_token"] = self.refresh_token
        return body, access


def make_handler(issuer: Issuer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "plinth-token-issuer/1"

        def log_message(self, fmt, *args):  # URLs carry no secrets; bodies are never logged
            sys.stderr.write(
                "%s %s\n" % (self.log_date_time_string(), fmt % args)
            )

        def send_json(self, status, obj, headers=None):
            data = (json.dumps(obj, indent=None) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def read_body(self, limit=1 << 20):
            # Go's net/http sends a body of unknown length chunked (containers/image does).
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                out = b""
                while True:
                    line = self.rfile.readline(1024)
                    size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline(1024)  # CRLF after the chunk
                    if len(out) > limit:
                        raise ValueError("body too large")
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(min(n, limit)) if n > 0 else b""

        def basic_credentials(self):
            auth = self.headers.get("Authorization") or ""
            if not auth.lower().startswith("basic "):
                return None
            try:
                raw = base64.b64decode(auth[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return ("", "")
            user, _, password = raw.partition(":")
            return (user, password)

        def bad_service(self, service):
            return service is not None and service != issuer.service

        # ---- GET ------------------------------------------------------------------
        def do_GET(self):
            url = urlsplit(self.path)
            issuer.stats.record_path("GET", url.path)
            q = parse_qs(url.query, keep_blank_values=True)
            if url.path == "/healthz":
                return self.send_json(200, {"status": "ok"})
            if url.path == "/stats":
                return self.send_json(200, issuer.stats.snapshot())
            if url.path != "/token":
                return self.send_json(404, {"error": "not found"})
            scopes = parse_scopes(q.get("scope", []))
            service = (q.get("service") or [None])[0]
            if self.bad_service(service):
                issuer.stats.record_token("GET", "bad-service", scopes, 400, [])
                return self.send_json(
                    400, {"errors": [{"code": "UNSUPPORTED", "message": f"unknown service {service!r}"}]}
                )
            creds = self.basic_credentials()
            if creds is None:
                body, access = issuer.issue(scopes, None)
                issuer.stats.record_token("GET", "anonymous", scopes, 200, access)
                return self.send_json(200, body)
            user, password = creds
            if user != issuer.user or password != issuer.password:
                issuer.stats.record_token("GET", "basic-denied", scopes, 401, [])
                return self.send_json(
                    401,
                    {"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]},
                    {"WWW-Authenticate": 'Basic realm="plinth-token-issuer"'},
                )
            offline = (q.get("offline_token") or ["false"])[0].lower() == "true"
            body, access = issuer.issue(scopes, user, offline=offline)
            issuer.stats.record_token("GET", "basic", scopes, 200, access)
            return self.send_json(200, body)

        # ---- POST -----------------------------------------------------------------
        def do_POST(self):
            url = urlsplit(self.path)
            issuer.stats.record_path("POST", url.path)
            body = self.read_body()
            if url.path == "/stats/reset":
                issuer.stats.reset()
                return self.send_json(200, {"status": "reset"})
            if url.path != "/token":
                return self.send_json(404, {"error": "not found"})
            # Form fields in the body; some clients put service/scope in the query instead.
            form = parse_qs(url.query, keep_blank_values=True)
            for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
                form.setdefault(k, []).extend(v)

            def field(name):
                return (form.get(name) or [None])[0]

            scopes = parse_scopes(form.get("scope", []))
            grant_type = field("grant_type")
            if self.bad_service(field("service")):
                issuer.stats.record_token("POST", "bad-service", scopes, 400, [])
                return self.send_json(400, {"error": "invalid_request", "error_description": "unknown service"})
            if grant_type == "refresh_token":
                if field("refresh_token") != issuer.refresh_token:
                    issuer.stats.record_token("POST", "refresh_token-denied", scopes, 401, [])
                    return self.send_json(401, {"error": "invalid_grant", "error_description": "bad refresh token"})
                out, access = issuer.issue(scopes, issuer.user)
                out["scope"] = " ".join(form.get("scope", []))
                issuer.stats.record_token("POST", "refresh_token", scopes, 200, access)
                return self.send_json(200, out)
            if grant_type == "password":
                if field("username") != issuer.user or field("password") != issuer.password:
                    issuer.stats.record_token("POST", "password-denied", scopes, 401, [])
                    return self.send_json(401, {"error": "invalid_grant", "error_description": "incorrect username or password"})
                offline = (field("access_type") or "") == "offline"
                out, access = issuer.issue(scopes, issuer.user, offline=offline)
                out["scope"] = " ".join(form.get("scope", []))
                issuer.stats.record_token("POST", "password", scopes, 200, access)
                return self.send_json(200, out)
            issuer.stats.record_token("POST", "bad-grant", scopes, 400, [])
            return self.send_json(400, {"error": "unsupported_grant_type"})

        def do_DELETE(self):
            url = urlsplit(self.path)
            issuer.stats.record_path("DELETE", url.path)
            if url.path == "/stats":
                issuer.stats.reset()
                return self.send_json(200, {"status": "reset"})
            return self.send_json(404, {"error": "not found"})

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5003)
    p.add_argument("--key", required=True, help="PEM RSA private key")
    p.add_argument("--cert", required=True, help="PEM certificate (the registry's rootcertbundle)")
    p.add_argument("--service", default="plinth-test-registry")
    p.add_argument("--issuer", default="plinth-test-issuer")
    p.add_argument("--user", default="plinth")
    p.add_argument("--password", default=os.environ.get("PLINTH_ISSUER_PASSWORD", "plinth-secret"))
    p.add_argument("--refresh-token", default="plinth-refresh-token")
    p.add_argument("--expires-in", type=int, default=300)
    args = p.parse_args()
    issuer = Issuer(args)
    server = ThreadingHTTPServer((args.listen, args.port), make_handler(issuer))
    server.daemon_threads = True
    sys.stderr.write(f"token issuer listening on http://{args.listen}:{args.port}\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
