"""OpenAI's API (https://platform.openai.com/docs/api-reference), and every server that speaks it.

The translation is the identity: the body is what the caller passed, under OpenAI's names. The only changes are
the ones an endpoint row declares (renamed or default parameters) and one catalog-driven rule: OpenAI's
reasoning models reject `max_tokens`, so it is sent as `max_completion_tokens` for them.
"""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.catalog.lookup import find_model
from sluicegate.errors import (
    APIError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    error_for_status,
)
from sluicegate.params import (
    CHAT_PARAM_NAMES,
    EMBEDDING_PARAM_NAMES,
    TEXT_COMPLETION_PARAM_NAMES,
    ChatParams,
    set_params,
)
from sluicegate.providers.base import Adapter, Call, Headers, HttpRequest, SseEvent

_PATHS = {"chat": "/chat/completions", "embedding": "/embeddings", "text_completion": "/completions"}
_KIND_PARAMS = {"chat": CHAT_PARAM_NAMES, "embedding": EMBEDDING_PARAM_NAMES,
                "text_completion": TEXT_COMPLETION_PARAM_NAMES}
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_POLICY_CODES = frozenset({"content_policy_violation", "content_filter"})


def auth_headers(call: Call) -> dict[str, str]:
    creds = call.credentials
    headers = {}
    if creds.api_key:
        headers["authorization"] = f"Bearer {creds.api_key}"
    if creds.organization:
        headers["openai-organization"] = creds.organization
    if creds.project:
        headers["openai-project"] = creds.project
    return headers


def build_body(call: Call) -> dict[str, Any]:
    """The JSON body OpenAI's API takes for this call, after the endpoint row's renames and defaults."""
    sent = set_params(call.params)
    if isinstance(call.params, ChatParams) and "max_tokens" in sent and _is_reasoning_model(call):
        sent.setdefault("max_completion_tokens", sent.pop("max_tokens"))
    endpoint = call.endpoint
    for name, renamed in endpoint.renamed_params.items():
        if name in sent:
            sent[renamed] = sent.pop(name)
    model = call.model
    if endpoint.model_prefix and "/" not in model:
        model = endpoint.model_prefix + model
    body: dict[str, Any] = {"model": model}
    if call.kind == "chat":
        body["messages"] = call.messages
    for name, value in endpoint.default_params.items():
        body.setdefault(name, value)
    body.update(sent)
    body.update(call.params.provider_params)
    if call.is_stream:
        body["stream"] = True
    body.update(call.extra_body)
    return body


def _is_reasoning_model(call: Call) -> bool:
    if call.provider not in ("openai", "azure"):
        return False
    info = find_model(call.model, call.provider)
    return bool(info and info.supports_reasoning)


def build_request(call: Call) -> HttpRequest:
    base = (call.credentials.api_base or call.endpoint.base_url or "").rstrip("/")
    headers = {**auth_headers(call), **call.extra_headers}
    if call.is_stream:
        headers.setdefault("accept", "text/event-stream")
    return HttpRequest("POST", base + _PATHS[call.kind], headers=headers, json=build_body(call))


def parse_response(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    expected = "data" if call.kind == "embedding" else "choices"
    if not isinstance(data, dict) or expected not in data:
        raise APIError(f"{call.provider} returned a {status} response that is not a valid "
                       f"{call.kind} answer: {body[:200]!r}", provider=call.provider, model=call.model,
                       status_code=502, headers=headers)
    return data


def error_detail(body: bytes) -> tuple[str, str | None, str | None, Any]:
    """(message, code, param, parsed body) of an OpenAI-style error body, tolerant of non-JSON bodies."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")[:2000] or "(empty body)", None, None, None
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        code = error.get("code")
        return (str(error.get("message") or error), str(code) if code is not None else None,
                error.get("param"), data)
    return str(error), None, None, data


def map_error(call: Call, status: int, headers: Headers, body: bytes) -> APIError:
    message, code, param, parsed = error_detail(body)
    common: dict[str, Any] = dict(provider=call.provider, model=call.model, headers=headers, body=parsed,
                                  code=code, param=param)
    if status == 400 and (code in _CONTEXT_CODES or "maximum context length" in message):
        return ContextWindowExceededError(message, status_code=status, **common)
    if code in _POLICY_CODES:
        return ContentPolicyViolationError(message, status_code=status, **common)
    return error_for_status(status, message, **common)


# The `type` of an error event sent inside a stream, to the status the same error would have had.
_STREAM_ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
                        "not_found_error": 404, "rate_limit_error": 429, "requests": 429, "tokens": 429,
                        "server_error": 500, "overloaded_error": 503}


class OpenAIStream:
    """OpenAI sends one chunk per `data:` event and ends with `data: [DONE]`; an error arrives as
    `data: {"error": {...}}` and ends the stream."""

    __slots__ = ("_call", "is_done")

    def __init__(self, call: Call) -> None:
        self._call = call
        self.is_done = False

    def feed(self, event: SseEvent) -> list[dict[str, Any]]:
        data = event.data
        if data == "[DONE]":
            self.is_done = True
            return []
        if not data or self.is_done:
            return []
        chunk = orjson.loads(data)
        if "error" in chunk and "choices" not in chunk:
            self.is_done = True
            error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": str(chunk["error"])}
            status = _STREAM_ERROR_STATUS.get(str(error.get("type")), 500)
            raise map_error(self._call, status, {}, orjson.dumps({"error": error}))
        return [chunk]

    def finish(self) -> list[dict[str, Any]]:
        return []


_TOOL_PARAMS = frozenset({"tools", "tool_choice", "parallel_tool_calls", "functions", "function_call"})


def supported_params(call: Call) -> frozenset[str]:
    """The row's parameters, less tool calling for a model the catalog says cannot call tools."""
    supported = _KIND_PARAMS[call.kind]
    if call.endpoint.unsupported_params:
        supported = supported - call.endpoint.unsupported_params
    if call.kind == "chat":
        info = find_model(call.model, call.provider)
        if info is not None and not info.supports_function_calling:
            supported = supported - _TOOL_PARAMS
    return supported


ADAPTER = Adapter(name="openai", build_request=build_request, parse_response=parse_response,
                  stream_parser=OpenAIStream, map_error=map_error, supported_params=supported_params)
