"""Anthropic's error bodies → sluicegate's exceptions (https://docs.anthropic.com/en/api/errors).

Body: `{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": …}`,
sent with an HTTP status, or mid-stream as an `event: error` (whose status was already 200).
"""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.errors import APIError, ContextWindowExceededError, ServiceUnavailableError, error_for_status
from sluicegate.providers.base import Call, Headers

# Each documented error type and its status (the errors page's table), for error events inside a stream.
STATUS_BY_TYPE = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
                  "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
                  "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529}
# How Anthropic words a prompt that does not fit: "prompt is too long: 210000 tokens > 200000 maximum", and
# "input length and `max_tokens` exceed context limit: 197202 + 8192 > 200000, …".
_CONTEXT_PHRASES = ("prompt is too long", "exceed context limit", "context window")


def error_detail(body: bytes) -> tuple[str, str | None, Any]:
    """(message, Anthropic error type, parsed body) of an error body, tolerant of non-JSON bodies."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")[:2000] or "(empty body)", None, None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        kind = error.get("type")
        return str(error.get("message") or error), str(kind) if kind else None, data
    return str(data), None, data


def map_error(call: Call, status: int, headers: Headers, body: bytes) -> APIError:
    """The exception for an error answer. Headers (retry-after, anthropic-ratelimit-*) stay on the error."""
    message, kind, parsed = error_detail(body)
    common: dict[str, Any] = dict(provider=call.provider, model=call.model, headers=headers, body=parsed,
                                  code=kind)
    lowered = message.lower()
    if status in (400, 413) and any(phrase in lowered for phrase in _CONTEXT_PHRASES):
        return ContextWindowExceededError(message, status_code=status, **common)
    if kind == "overloaded_error" or status == 529:
        # Anthropic's own status (529) is kept, so callers and the gateway see what Anthropic said; any status
        # of 500 or more is retried by transport/retry.py.
        return ServiceUnavailableError(message, status_code=status, **common)
    return error_for_status(status, message, **common)


def stream_error(call: Call, data: str) -> APIError:
    """The exception for an `event: error` in a stream, at the status the same error would have had."""
    raw = data.encode()
    _, kind, _ = error_detail(raw)
    return map_error(call, STATUS_BY_TYPE.get(kind or "", 500), {}, raw)
