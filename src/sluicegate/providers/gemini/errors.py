"""Google API error bodies → sluicegate's exceptions.

Google's REST APIs answer `{"error": {"code": 400, "message": …, "status": "INVALID_ARGUMENT", "details": [...]}}`
(https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes, https://google.aip.dev/193). Two quirks:
a bad API key is a 400 INVALID_ARGUMENT whose ErrorInfo reason is API_KEY_INVALID (so it maps to
AuthenticationError, not BadRequestError), and a 429 carries its wait in a RetryInfo detail ("retryDelay":
"27s") rather than a Retry-After header, so that delay is copied into `retry-after` for the retry logic.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from sluicegate.errors import (
    APIError,
    AuthenticationError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    error_for_status,
)
from sluicegate.providers.base import Call, Headers

# Google's canonical codes (google.rpc.Code) to HTTP statuses, for errors that arrive inside a 200 stream.
STATUS_CODES = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "UNAUTHENTICATED": 401,
                "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "ABORTED": 409,
                "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499, "INTERNAL": 500, "UNKNOWN": 500, "DATA_LOSS": 500,
                "UNIMPLEMENTED": 501, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504}
_AUTH_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "ACCESS_TOKEN_EXPIRED",
                           "CREDENTIALS_MISSING", "ACCESS_TOKEN_TYPE_UNSUPPORTED"})
# "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576)."
_CONTEXT = re.compile(r"input token count .* exceeds the maximum|exceeds the maximum number of tokens|"
                      r"context (length|window)", re.I)
_SAFETY = re.compile(r"blocked .*(safety|prohibited)|prohibited content", re.I)
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def error_fields(body: bytes | dict[str, Any]) -> tuple[str, str | None, list[Any], Any]:
    """(message, status, details, parsed body) of a Google error body; tolerant of HTML or empty bodies."""
    if isinstance(body, dict):
        parsed: Any = body
    else:
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return body.decode("utf-8", "replace")[:2000] or "(empty body)", None, [], None
    if isinstance(parsed, list) and parsed:  # some Google front ends wrap the error in a one-item array
        parsed = parsed[0]
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return str(parsed), None, [], parsed
    found = error.get("details")
    details: list[Any] = found if isinstance(found, list) else []
    status = error.get("status")
    return str(error.get("message") or error), str(status) if status else None, details, parsed


def _reasons(details: list[Any]) -> set[str]:
    return {str(d.get("reason")) for d in details if isinstance(d, dict) and d.get("reason")}


def _retry_delay(details: list[Any]) -> str | None:
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DELAY.match(str(detail.get("retryDelay", "")))
            if match:
                return match[1]
    return None


def map_error(call: Call, status: int, headers: Headers, body: bytes) -> APIError:
    """The exception for a Gemini error answer (any status ≥ 400, or an error inside a stream)."""
    message, code, details, parsed = error_fields(body)
    reasons = _reasons(details)
    kept = dict(headers)
    if "retry-after" not in kept and (delay := _retry_delay(details)) is not None:
        kept["retry-after"] = delay
    common: dict[str, Any] = dict(provider=call.provider, model=call.model, headers=kept, body=parsed, code=code)
    if reasons & _AUTH_REASONS or code == "UNAUTHENTICATED":
        return AuthenticationError(message, status_code=401 if status == 400 else status, **common)
    if status == 400 and _CONTEXT.search(message):
        return ContextWindowExceededError(message, status_code=status, **common)
    if status == 400 and _SAFETY.search(message):
        return ContentPolicyViolationError(message, status_code=status, **common)
    return error_for_status(status, message, **common)


def stream_error(call: Call, error: dict[str, Any]) -> APIError:
    """The exception for `data: {"error": …}` inside a stream that began with 200."""
    code = error.get("code")
    status = code if isinstance(code, int) and code >= 400 else STATUS_CODES.get(str(error.get("status")), 500)
    return map_error(call, status, {}, orjson.dumps({"error": error}))
