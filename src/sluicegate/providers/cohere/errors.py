"""Cohere's error bodies as sluicegate exceptions (https://docs.cohere.com/reference/errors).

Every non-2xx answer is `{"id": "<uuid>", "message": "<text>"}`; the status says the kind and the message the
detail: "too many tokens: …" is a prompt over the context window, "blocked input/output: …" a safety refusal.
"""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.errors import (
    APIError,
    APIStatusError,
    AuthenticationError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    error_for_status,
)
from sluicegate.providers.base import Call, Headers


def error_detail(body: bytes) -> tuple[str, Any]:
    """(message, parsed body) of a Cohere error body, tolerant of a proxy's HTML or an empty body."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")[:2000] or "(empty body)", None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"], data
    return str(data)[:2000], data


def map_error(call: Call, status: int, headers: Headers, body: bytes) -> APIError:
    message, parsed = error_detail(body)
    common: dict[str, Any] = dict(provider=call.provider, model=call.model, headers=headers, body=parsed,
                                  status_code=status)
    lowered = message.lower()
    if status == 400 and lowered.startswith("too many tokens"):
        # Also "max tokens must be less than or equal to …": the requested output does not fit either.
        return ContextWindowExceededError(message, code="context_length_exceeded", **common)
    if status == 400 and lowered.startswith(("blocked input", "blocked output")):
        return ContentPolicyViolationError(message, code="content_policy_violation", **common)
    if status == 498:  # Cohere's "invalid token" (the SDK's InvalidTokenError): a key that is not valid
        return AuthenticationError(message, **common)
    if status == 499:
        # "request cancelled": neither a bad request nor a server fault, so the generic status error.
        return APIStatusError(message, **common)
    common.pop("status_code")
    return error_for_status(status, message, **common)
