"""Reading a request body: bounded in size, JSON, an object — or a clear 4xx, never a crash."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import Receive

from sluicegate.errors import APIStatusError, BadRequestError


class RequestTooLargeError(APIStatusError):
    status_code = 413
    type = "invalid_request_error"


async def read_json_body(receive: Receive, headers: Mapping[str, str], limit_bytes: int) -> dict[str, Any]:
    """The body of an ASGI request as a JSON object, read straight from `receive`."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        raise _too_large(limit_bytes)
    raw = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequestError("The client went away before sending the whole body", code="incomplete_body")
        raw += message.get("body", b"")
        if len(raw) > limit_bytes:
            raise _too_large(limit_bytes)
        if not message.get("more_body"):
            break
    return parse_json_object(raw)


async def read_json_object(request: Request, limit_bytes: int) -> dict[str, Any]:
    """`read_json_body` for a Starlette request."""
    return await read_json_body(request.receive, request.headers, limit_bytes)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise BadRequestError("The request body is empty; send a JSON object", code="invalid_body")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequestError(f"The request body is not valid JSON: {error}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequestError(f"The request body must be a JSON object, not {type(body).__name__}",
                              code="invalid_body")
    return body


def _too_large(limit_bytes: int) -> RequestTooLargeError:
    return RequestTooLargeError(f"The request body is larger than the gateway's limit of "
                                f"{limit_bytes / 1_048_576:g} MB (general_settings.max_request_size_mb)",
                                code="request_too_large")
