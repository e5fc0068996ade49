"""A small OpenID Connect provider on 127.0.0.1, for the single sign-on tests: the authorization
code flow with PKCE, as a real provider serves it, and nothing more.

    with OidcProvider(client_id="heliograph", client_secret="s3cret") as provider:
        provider.issuer       # http://127.0.0.1:PORT
        provider.user = {"sub": "u1", "email": "ann@example.com", "email_verified": True}

- GET /.well-known/openid-configuration: the discovery document;
- GET /jwks: the public half of an RSA key generated at start;
- GET /authorize: approves `provider.user` at once (no login page) and redirects to the
  client's redirect_uri with a code and the state; a wrong client_id answers 400;
- POST /token: client_secret_basic or client_secret_post; the code once, within
  `code_lifetime` seconds, for the same redirect_uri and PKCE verifier; answers an RS256 ID
  token with iss, sub, aud, exp, iat, nonce and the user's claims; otherwise 400 in OAuth's
  shape ({"error": "invalid_grant"}).

Faults: `id_token_issuer` (sign ID tokens with another iss), `sign_with_other_key` (a key the
JWKS does not publish). `token_requests` counts POSTs to /token, `discovery_requests` GETs of
the discovery document.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey


class OidcProvider:
    def __init__(self, client_id="heliograph", client_secret="provider-secret"):
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.user = {"sub": "user-1", "email": "ann@example.com", "email_verified": True}
        self.code_lifetime = 60
        self.id_token_issuer = None
        self.sign_with_other_key = False
        self.codes = {}
        self.token_requests = 0
        self.discovery_requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def issuer(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def discovery(self):
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }

    def authorize(self, query):
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {"Content-Type": "text/plain"}, b"unknown client"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "redirect_uri": query.get("redirect_uri"),
            "nonce": query.get("nonce"),
            "challenge": query.get("code_challenge"),
            "user": dict(self.user),
            "expires": time.time() + self.code_lifetime,
        }
        location = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
        return 302, {"Location": location}, b""

    def token(self, headers, form):
        self.token_requests += 1
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return oauth_error(401, "invalid_client")
        grant = self.codes.pop(form.get("code", ""), None)  # once only
        if grant is None or grant["expires"] < time.time():
            return oauth_error(400, "invalid_grant")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return oauth_error(400, "invalid_grant")
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if digest.rstrip(b"=").decode() != grant["challenge"]:
            return oauth_error(400, "invalid_grant")
        now = int(time.time())
        claims = {
            "iss": self.id_token_issuer or self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **grant["user"],
        }
        key = self.other_key if self.sign_with_other_key else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        body = {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                "expires_in": 300, "id_token": id_token}  # fmt: skip
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self, status, headers, body):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/.well-known/openid-configuration":
                    provider.discovery_requests += 1
                    self.answer(*json_answer(provider.discovery()))
                elif parts.path == "/jwks":
                    keys = KeySet([provider.key]).as_dict(private=False)
                    self.answer(*json_answer(keys))
                elif parts.path == "/authorize":
                    self.answer(*provider.authorize(query))
                else:
                    self.answer(404, {"Content-Type": "text/plain"}, b"not found")

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path == "/token":
                    self.answer(*provider.token(self.headers, form))
                else:
                    self.answer(404, {"Content-Type": "text/plain"}, b"not found")

            def log_message(self, *args):
                pass

        return Handler


def json_answer(document):
    return 200, {"Content-Type": "application/json"}, json.dumps(document).encode()


def oauth_error(status, error):
    return status, {"Content-Type": "application/json"}, json.dumps({"error": error}).encode()
