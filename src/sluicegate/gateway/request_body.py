"""Reading a request body: bounded in size, JSON, an object — or a clear 4xx, never a crash."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from sluicegate.errors import APIStatusError, BadRequestError


class RequestTooLargeError(APIStatusError):
    status_code = 413
    type = "invalid_request_error"


async def read_json_object(request: Request, limit_bytes: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        raise _too_large(limit_bytes)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise _too_large(limit_bytes)
        chunks.append(chunk)
    raw = b"".join(chunks)
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
