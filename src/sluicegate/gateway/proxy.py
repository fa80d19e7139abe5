"""The LLM request pipeline: authenticate → parse → pick deployments → prepare → send → respond.

Cost per request once warm: one JSON parse, one `prepare` (no I/O), one upstream round trip, one JSON dump; no
database or Redis. Streams are forwarded chunk by chunk as they arrive; a client that goes away cancels the
upstream request (the stream generator is closed, which closes the upstream connection).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sluicegate.api import open_stream_async, send_async
from sluicegate.errors import APIError, BadRequestError, PermissionDeniedError
from sluicegate.gateway.auth import Principal, authenticate
from sluicegate.gateway.deployments import ModelGroups, Target
from sluicegate.gateway.error_responses import error_response
from sluicegate.gateway.request_body import read_json_object
from sluicegate.mock import mock_chunks, mock_data
from sluicegate.prepare import Prepared, prepare
from sluicegate.providers.base import CallKind
from sluicegate.responses import call_cost
from sluicegate.settings import Settings
from sluicegate.transport.retry import is_retryable

# Fields that choose where a call goes, with whose credentials, at what price. Only an admin may set them in
# a request body: from anyone else, a client-chosen upstream would receive the operator's provider key (SSRF).
ADMIN_ONLY_FIELDS = frozenset({
    "api_base", "base_url", "api_key", "api_version", "organization", "project", "azure_ad_token",
    "azure_ad_token_provider", "custom_llm_provider", "extra_headers", "headers", "input_cost_per_token",
    "output_cost_per_token", "base_model", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
    "aws_region_name", "aws_bedrock_runtime_endpoint", "vertex_project", "vertex_location", "vertex_credentials",
})
_PAYLOAD = {"chat": "messages", "embedding": "input", "text_completion": "prompt"}
_UPSTREAM_HEADERS = ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-limit-tokens",
                     "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")


@dataclass(frozen=True, slots=True)
class GatewayState:
    """Everything the pipeline needs, built once at start-up."""

    groups: ModelGroups
    settings: Settings  # litellm_settings applied over the SDK defaults
    master_key: str | None
    max_request_bytes: int


async def handle(state: GatewayState, kind: CallKind, request: Request, model: str | None = None) -> Response:
    """Serve one OpenAI-format call. `model` comes from the path for Azure-style routes."""
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    try:
        principal = authenticate(request.headers, state.master_key)
        body = await read_json_object(request, state.max_request_bytes)
        requested = model or body.get("model")
        if not isinstance(requested, str) or not requested:
            raise BadRequestError("'model' is required: the name of a model this gateway serves (GET /v1/models)",
                                  param="model", code="missing_model")
        _refuse_admin_fields(body, principal)
        targets = state.groups.targets(requested)
        if not targets:
            raise BadRequestError(f"Invalid model name passed in model={requested}. "
                                  "Call GET /v1/models to see the models this gateway serves.",
                                  param="model", code="model_not_found")
        return await _call_in_order(state, kind, body, requested, targets, request_id)
    except Exception as error:  # the process edge: every failure becomes a JSON error
        return error_response(error, request_id)


def _refuse_admin_fields(body: dict[str, Any], principal: Principal) -> None:
    if principal.is_admin:
        return
    forbidden = sorted(ADMIN_ONLY_FIELDS.intersection(body))
    if forbidden:
        raise PermissionDeniedError(f"Only an admin may set {', '.join(forbidden)} in a request: the gateway's "
                                    "config chooses upstreams and credentials", param=forbidden[0],
                                    code="admin_only_field")


async def _call_in_order(state: GatewayState, kind: CallKind, body: dict[str, Any], requested: str,
                         targets: list[Target], request_id: str) -> Response:
    payload = body.get(_PAYLOAD[kind])
    request_params = {k: v for k, v in body.items() if k not in ("model", "messages", "input", "prompt")}
    for position, target in enumerate(targets):
        kwargs = {**target.options, **request_params}
        if kind != "chat":
            kwargs[_PAYLOAD[kind]] = payload
        prepared = prepare(kind, target.model, kwargs, messages=payload if kind == "chat" else None,
                           settings=state.settings)
        headers = {"x-request-id": request_id, "x-litellm-call-id": request_id,
                   "x-litellm-model-group": requested, "x-litellm-model-id": target.deployment.id}
        if target.api_base:
            headers["x-litellm-model-api-base"] = target.api_base
        try:
            if prepared.call.is_stream:
                return await _stream(prepared, headers)
            return await _complete(prepared, headers)
        except APIError as error:
            if position + 1 < len(targets) and is_retryable(error):
                continue  # the next deployment of the group
            raise
    raise AssertionError("unreachable: targets is never empty")


async def _complete(prepared: Prepared, headers: dict[str, str]) -> Response:
    if prepared.mock_response is not None:
        data, upstream = mock_data(prepared), {}
    else:
        sent = await send_async(prepared)
        data = prepared.adapter.parse_response(prepared.call, sent.status, sent.headers, sent.body)
        upstream = sent.headers
    usage = data.get("usage")
    if usage:
        cost = call_cost(prepared, data.get("model"), usage)
        if cost is not None:
            headers["x-litellm-response-cost"] = str(float(cost))
    headers.update({name: upstream[name] for name in _UPSTREAM_HEADERS if name in upstream})
    return Response(orjson.dumps(data), media_type="application/json", headers=headers)


async def _stream(prepared: Prepared, headers: dict[str, str]) -> Response:
    if prepared.mock_response is not None:
        chunks: AsyncIterator[dict[str, Any]] = _aiter(mock_chunks(prepared))
    else:
        response, chunks = await open_stream_async(prepared)  # errors before the first byte raise here
        headers.update({name: response.headers[name] for name in _UPSTREAM_HEADERS if name in response.headers})
    return StreamingResponse(_sse(chunks), media_type="text/event-stream",
                             headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"})


async def _sse(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
    except APIError as error:  # after the first byte the status is sent: the error travels as an event
        yield b"data: " + orjson.dumps(error.to_openai_body()) + b"\n\n"
        return
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]  # a client disconnect cancels the upstream here
    yield b"data: [DONE]\n\n"


async def _aiter(items: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for item in items:
        yield item
