"""Bedrock errors → the exception tree. The error type is the `x-amzn-errortype` header
("ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"), else the body's `__type`; the
message is the body's `message` (https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html,
…/API_runtime_Converse.html#API_runtime_Converse_Errors). Stream exceptions arrive as event-stream messages
of type "exception" (`:exception-type` throttlingException …) and map the same way.
"""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
    error_for_status,
)
from sluicegate.providers.base import Call, Headers

_BY_TYPE: dict[str, type[APIError]] = {
    "ThrottlingException": RateLimitError,
    # A quota (tokens per day, model units) is used up: a rate limit that lasts longer.
    "ServiceQuotaExceededException": RateLimitError,
    "ValidationException": BadRequestError,
    "ConflictException": BadRequestError,
    "AccessDeniedException": PermissionDeniedError,
    "ResourceNotFoundException": NotFoundError,
    "ServiceUnavailableException": ServiceUnavailableError,
    # The model is still being loaded (imported models); AWS's SDKs retry it: unavailable for now.
    "ModelNotReadyException": ServiceUnavailableError,
    "ModelTimeoutException": Timeout,
    "InternalServerException": InternalServerError,
    "ModelErrorException": InternalServerError,
    "ModelStreamErrorException": InternalServerError,
    # Signature and credential failures (status 403 on the wire; an authentication problem to the caller).
    "UnrecognizedClientException": AuthenticationError,
    "InvalidSignatureException": AuthenticationError,
    "IncompleteSignatureException": AuthenticationError,
    "MissingAuthenticationTokenException": AuthenticationError,
    "ExpiredTokenException": AuthenticationError,
    "InvalidClientTokenId": AuthenticationError,
}
_STATUS = {RateLimitError: 429, BadRequestError: 400, PermissionDeniedError: 403, NotFoundError: 404,
           ServiceUnavailableError: 503, Timeout: 408, InternalServerError: 500, AuthenticationError: 401}
# ValidationException messages for a prompt that does not fit (Anthropic, Llama, Mistral and Nova on Bedrock).
_CONTEXT_PHRASES = ("input is too long", "too many tokens", "prompt is too long", "context window",
                    "context length", "maximum context", "input length", "exceeds the maximum number of tokens")
_POLICY_PHRASES = ("content filtering policy", "blocked by content filtering", "responsible ai policy")


def error_type(headers: Headers, data: Any) -> str | None:
    raw = headers.get("x-amzn-errortype")
    if not raw and isinstance(data, dict):
        raw = data.get("__type") or data.get("code")
    if not raw:
        return None
    return str(raw).split(":", 1)[0].rsplit("#", 1)[-1]


def map_error(call: Call, status: int, headers: Headers, body: bytes) -> APIError:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        message = str(data.get("message") or data.get("Message") or data)
    else:
        message = body.decode("utf-8", "replace")[:2000] or "(empty body)"
    return error_for(call, error_type(headers, data), message, status, headers, data)


def error_for(call: Call, kind: str | None, message: str, status: int, headers: Headers, data: Any = None
              ) -> APIError:
    """The exception for a Bedrock error type (None: by status alone)."""
    common: dict[str, Any] = dict(provider=call.provider, model=call.model, headers=headers, body=data,
                                  code=kind)
    lowered = message.lower()
    cls = _BY_TYPE.get(kind or "")
    if cls is BadRequestError or (cls is None and status == 400):
        if any(phrase in lowered for phrase in _CONTEXT_PHRASES):
            return ContextWindowExceededError(message, status_code=400, **common)
        if any(phrase in lowered for phrase in _POLICY_PHRASES):
            return ContentPolicyViolationError(message, status_code=400, **common)
    if cls is None:
        return error_for_status(status, message, **common)
    return cls(message, status_code=_STATUS.get(cls, status), **common)


def stream_error(call: Call, event: str, payload: str) -> APIError:
    """An exception or error message inside a ConverseStream: `exception:throttlingException` and its payload."""
    kind, _, name = event.partition(":")
    try:
        data = orjson.loads(payload) if kind == "exception" and payload else None
    except orjson.JSONDecodeError:
        data = None
    message = str(data.get("message") or payload) if isinstance(data, dict) else payload
    type_name = name[:1].upper() + name[1:]  # the event member name, camelCased, is the exception's name
    status = 500
    if type_name == "ModelStreamErrorException" and isinstance(data, dict) and data.get("originalStatusCode"):
        status = int(data["originalStatusCode"])
        if status in (400, 429, 503):  # the model's own answer: keep its meaning
            return error_for_status(status, message, provider=call.provider, model=call.model, body=data,
                                    code=type_name)
    return error_for(call, type_name, message or type_name, status, {}, data)
