"""Provider credentials of models stored in the database, encrypted at rest (AES-256-GCM).

The key comes from `$LITELLM_SALT_KEY` (LiteLLM's name): a long random string, the same on every instance and
never changed once models are stored (a changed key leaves them unreadable). Which values are secret is the rule
config.py redacts by (`is_secret_key`: api_key, aws_secret_access_key, vertex_credentials …), at any depth. An
`os.environ/NAME` reference is not a secret and is stored as written. Not the place for virtual keys: those are
hashed, never decryptable (db/tokens.py).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sluicegate.gateway.config import is_secret_key

SALT_KEY_ENV = "LITELLM_SALT_KEY"
SEALED_PREFIX = "sluicegate-aesgcm:v1:"
_ENV_PREFIX = "os.environ/"
_NONCE_BYTES = 12


class MissingSaltKeyError(Exception):
    """A secret must be stored but no key to encrypt it is configured; `path` names the value."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class SealingError(Exception):
    """A stored secret cannot be decrypted: no key, another key than the one it was sealed with, or altered."""


class SecretBox:
    """Seals and opens single values; each is bound to its key path, so a sealed api_key cannot be moved to
    another field and still open."""

    def __init__(self, salt_key: str) -> None:
        derive = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sluicegate proxy_models v1")
        self._aead = AESGCM(derive.derive(salt_key.encode()))

    def seal(self, path: str, value: Any) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, json.dumps(value).encode(), path.encode())
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, path: str, text: str) -> Any:
        try:
            blob = base64.urlsafe_b64decode(text[len(SEALED_PREFIX):].encode())
            plain = self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], path.encode())
        except (InvalidTag, ValueError):
            raise SealingError(f"{path} cannot be decrypted with this {SALT_KEY_ENV} (was it changed?)") from None
        return json.loads(plain)


def secret_box(environ: Mapping[str, str] | None = None) -> SecretBox | None:
    """The box for `$LITELLM_SALT_KEY`, or None when it is not set."""
    salt_key = (os.environ if environ is None else environ).get(SALT_KEY_ENV)
    return SecretBox(salt_key) if salt_key else None


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def seal_secrets(values: Mapping[str, Any], box: SecretBox | None, at: str = "") -> dict[str, Any]:
    """A copy of `values` with every secret-named value sealed; raises MissingSaltKeyError for a secret when there
    is no box. Empty values and `os.environ/NAME` references stay as they are."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        path = f"{at}{name}"
        if isinstance(value, Mapping) and not is_secret_key(str(name)):
            out[name] = seal_secrets(value, box, f"{path}.")
        elif not is_secret_key(str(name)) or not _is_plain_secret(value):
            out[name] = value
        elif box is None:
            raise MissingSaltKeyError(path)
        else:
            out[name] = box.seal(path, value)
    return out


def open_secrets(values: Mapping[str, Any], box: SecretBox | None, at: str = "") -> dict[str, Any]:
    """The inverse of `seal_secrets`; raises SealingError when a sealed value cannot be opened."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        path = f"{at}{name}"
        if isinstance(value, Mapping):
            out[name] = open_secrets(value, box, f"{path}.")
        elif not is_sealed(value):
            out[name] = value
        elif box is None:
            raise SealingError(f"{path} is stored encrypted and {SALT_KEY_ENV} is not set on this instance")
        else:
            out[name] = box.open(path, value)
    return out


def _is_plain_secret(value: Any) -> bool:
    if value is None or value == "" or value == {} or value == []:
        return False
    return not (isinstance(value, str) and value.startswith(_ENV_PREFIX))
