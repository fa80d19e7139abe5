"""Every failure on the Anthropic routes as Anthropic's error body, with the status its SDK expects.

Shape (https://docs.claude.com/en/api/errors): `{"type": "error", "error": {"type", "message"}, "request_id"}`.
Statuses stay ours (an upstream 503 stays 503); only the `type` names follow Anthropic's table.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from sluicegate.errors import APIError, SluicegateError
from sluicegate.gateway.error_responses import ERROR_HEADERS, JsonAnswer

log = logging.getLogger("sluicegate.gateway")

# Anthropic's error type for each status (https://docs.claude.com/en/api/errors); other 4xx are
# invalid_request_error and other 5xx api_error, as Anthropic itself says it does.
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
          403: "permission_error", 404: "not_found_error", 408: "timeout_error", 413: "request_too_large",
          429: "rate_limit_error", 500: "api_error", 503: "overloaded_error", 504: "timeout_error",
          529: "overloaded_error"}
# Upstream headers worth passing on with an error: when to retry.

def error_type(status: int) -> str:
    """Anthropic's error `type` for an HTTP status."""
    return _TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")


def error_body(error_type_: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type_, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def status_and_body(error: BaseException, request_id: str) -> tuple[int, dict[str, Any]]:
    """The status and Anthropic body for any exception; a bug of ours is logged and told as no more than that."""
    if isinstance(error, APIError):
        status = error.status_code or 500
        if not 400 <= status <= 599:
            status = 500
        return status, error_body(error_type(status), error.message, request_id)
    if isinstance(error, SluicegateError):
        return 400, error_body("invalid_request_error", str(error), request_id)
    log.exception("unexpected error while serving request %s", request_id)
    return 500, error_body("api_error", f"Internal error in the gateway (request id {request_id})", request_id)


def error_response(error: BaseException, request_id: str) -> JsonAnswer:
    status, body = status_and_body(error, request_id)
    headers = {"request-id": request_id, "x-request-id": request_id}
    if isinstance(error, APIError):
        headers.update({name: error.headers[name] for name in ERROR_HEADERS if name in error.headers})
    return JsonAnswer(status, orjson.dumps(body), headers)


def stream_error_event(error: APIError) -> tuple[str, dict[str, Any]]:
    """A failure after the first byte: the `error` event Anthropic sends mid-stream (then the stream ends)."""
    status = error.status_code or 500
    return "error", error_body(error_type(status), error.message)
