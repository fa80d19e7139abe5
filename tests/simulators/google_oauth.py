"""A local Google OAuth 2.0 token endpoint for service-account keys (the JWT-bearer grant), for tests.

google-auth signs a JWT with the key's private key and POSTs it to the key file's `token_uri`
(https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests). This server checks
the RS256 signature with the key's public key and the claims Google checks (iss, aud, scope, iat/exp), then
answers `{"access_token", "expires_in", "token_type"}`. `service_account_info()` makes a key file with a fresh RSA
key whose token_uri points here.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # what google-auth signs as `aud`, whatever token_uri


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class GoogleTokenServer:
    """`with GoogleTokenServer() as oauth:` — `oauth.service_account_info(project)` is a key for it; every token it
    issued is in `oauth.issued`, and `oauth.grants` counts the token requests."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.client_email = "sluicegate-test@test-project.iam.gserviceaccount.com"
        self.issued: list[str] = []
        self.grants = 0
        self.rejections: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def token_uri(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def service_account_info(self, project: str = "test-project") -> dict[str, Any]:
        pem = self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": project, "private_key_id": "key-1", "private_key": pem,
                "client_email": self.client_email, "client_id": "1234567890", "token_uri": self.token_uri}

    def __enter__(self) -> GoogleTokenServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                status, body = owner._grant(self.path, form)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _grant(self, path: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        self.grants += 1
        if path != "/token" or form.get("grant_type") != [JWT_BEARER] or "assertion" not in form:
            return self._reject("unsupported_grant_type", "Invalid grant_type")
        try:
            header_b64, claims_b64, signature_b64 = form["assertion"][0].split(".")
            header = json.loads(_b64decode(header_b64))
            claims = json.loads(_b64decode(claims_b64))
            self._key.public_key().verify(_b64decode(signature_b64), f"{header_b64}.{claims_b64}".encode(),
                                          padding.PKCS1v15(), hashes.SHA256())
        except (ValueError, InvalidSignature):
            return self._reject("invalid_grant", "Invalid JWT Signature.")
        now = time.time()
        if (header.get("alg") != "RS256" or claims.get("iss") != self.client_email
                or claims.get("aud") != GOOGLE_TOKEN_AUDIENCE or "cloud-platform" not in str(claims.get("scope"))
                or not claims.get("iat", 0) - 300 <= now or claims.get("exp", 0) < now):
            return self._reject("invalid_grant", "Invalid JWT: claims rejected")
        token = "ya29.test-" + uuid.uuid4().hex
        self.issued.append(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _reject(self, error: str, description: str) -> tuple[int, dict[str, Any]]:
        self.rejections.append(description)
        return 400, {"error": error, "error_description": description}
