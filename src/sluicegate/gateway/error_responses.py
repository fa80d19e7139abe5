"""Every failure as the JSON a client's SDK understands: OpenAI's error shape, with the right status."""

from __future__ import annotations

import logging

import orjson
from starlette.responses import Response

from sluicegate.errors import APIError, SluicegateError

log = logging.getLogger("sluicegate.gateway")

# Upstream headers worth passing on with an error: when to retry, and the provider's own request id.
_FORWARDED = ("retry-after", "retry-after-ms", "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
              "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")


def error_response(error: BaseException, request_id: str) -> Response:
    headers = {"x-request-id": request_id}
    if isinstance(error, APIError):
        status = error.status_code or 500
        body = error.to_openai_body()
        headers.update({name: error.headers[name] for name in _FORWARDED if name in error.headers})
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
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)
