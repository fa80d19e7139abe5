"""Every failure as the JSON a client's SDK understands: OpenAI's error shape, with the right status."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from sluicegate.errors import APIError, SluicegateError

log = logging.getLogger("sluicegate.gateway")

# Upstream headers worth passing on with an error (in either API's shape): when to retry, and the limits left.
ERROR_HEADERS = ("retry-after", "retry-after-ms", "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
                 "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")


class JsonAnswer:
    """A JSON response sent with two ASGI messages and nothing else (Starlette's Response does more work)."""

    __slots__ = ("body", "headers", "status_code")

    def __init__(self, status_code: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.status_code = status_code
        self.body = body
        self.headers = headers

    async def __call__(self, scope: Any, receive: Any, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        raw = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]
        raw += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status_code, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


def error_response(error: BaseException, request_id: str) -> JsonAnswer:
    headers = {"x-request-id": request_id}
    if isinstance(error, APIError):
        status = error.status_code or 500
        body = error.to_openai_body()
        headers.update({name: error.headers[name] for name in ERROR_HEADERS if name in error.headers})
    elif isinstance(error, SluicegateError):
        status, body = 400, {"error": {"message": str(error), "type": "invalid_request_error", "param": None,
                                       "code": None}}
    else:  # a bug of ours: log it with the request id, tell the client no more than that
        log.exception("unexpected error while serving request %s", request_id)
        status = 500
        body = {"error": {"message": f"Internal error in the gateway (request id {request_id})",
                          "type": "api_error", "param": None, "code": "internal_error"}}
    if not 400 <= status <= 599:
        status = 500
    return JsonAnswer(status, orjson.dumps(body), headers)
