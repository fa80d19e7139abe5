"""How a virtual key is stored: its SHA-256 hex digest (the same as LiteLLM's), never the key itself."""

from __future__ import annotations

import hashlib
import re

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def hash_key(key: str) -> str:
    """The stored form of a virtual key: sha256 of the whole key ("sk-…" included), as lowercase hex.

    LiteLLM stores `hashlib.sha256(token.encode()).hexdigest()` (litellm/proxy/_types.py, `hash_token`), so a
    key handed out by LiteLLM and imported here keeps working.
    """
    return hashlib.sha256(key.encode()).hexdigest()


def is_key_hash(value: str) -> bool:
    """Whether `value` already is a stored key hash (LiteLLM's APIs accept either the key or its hash)."""
    return _SHA256_HEX.fullmatch(value) is not None


def key_name(key: str) -> str:
    """The hint shown in place of a key, LiteLLM's `key_name`: "sk-...wxyz" (its last four characters)."""
    return f"sk-...{key[-4:]}"


def short_hash(token: str) -> str:
    """A stored hash abbreviated for reprs and logs: enough to tell rows apart, not enough to look one up."""
    return f"{token[:8]}…"
