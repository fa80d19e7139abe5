"""The LLM request pipeline: authenticate → parse → pick deployments → prepare → send → respond.

Cost per request once warm: one JSON parse, one `prepare` (no I/O), one upstream round trip, one JSON dump; no
database or Redis. Streams are forwarded chunk by chunk as they arrive; a client that goes away cancels the
upstream request (the stream generator is closed, which closes the upstream connection).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive

from sluicegate.api import open_stream_batches_async, send_async
from sluicegate.errors import APIError, BadRequestError, PermissionDeniedError
from sluicegate.gateway.auth import Principal, authenticate
from sluicegate.gateway.deployments import ModelGroups, Target
from sluicegate.gateway.error_responses import JsonAnswer, error_response
from sluicegate.gateway.request_body import read_json_body
from sluicegate.mock import mock_chunks, mock_data
from sluicegate.observability.metrics import GatewayMetrics
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
    metrics: GatewayMetrics


@dataclass(slots=True)
class Outcome:
    """What one request came to, for the metrics: filled in as the pipeline learns it."""

    route: str  # the route template, never the client's path (Azure paths carry a client-chosen name)
    started: float
    model_group: str | None = None  # only once resolved to a configured group (bounded label values)
    deployment_id: str | None = None
    status: int = 200
    upstream_s: float | None = None
    ttft_s: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    error: str | None = None

    def record_usage(self, usage: dict[str, Any], cost: float | None) -> None:
        self.input_tokens = int(usage.get("prompt_tokens") or 0)
        self.output_tokens = int(usage.get("completion_tokens") or 0)
        self.cost_usd = cost

    def finish(self, metrics: GatewayMetrics) -> None:
        metrics.request_finished(self.route, self.model_group, self.deployment_id, self.status,
                                 time.perf_counter() - self.started, upstream_s=self.upstream_s,
                                 ttft_s=self.ttft_s, input_tokens=self.input_tokens,
                                 output_tokens=self.output_tokens, cost_usd=self.cost_usd, error=self.error)


async def handle(state: GatewayState, kind: CallKind, headers: dict[str, str], receive: Receive, route: str,
                 model: str | None = None) -> StreamingResponse | JsonAnswer:
    """Serve one OpenAI-format call. `model` comes from the path for Azure-style routes."""
    request_id = headers.get("x-request-id") or uuid.uuid4().hex
    outcome = Outcome(route, time.perf_counter())
    state.metrics.request_started()
    try:
        principal = authenticate(headers, state.master_key)
        body = await read_json_body(receive, headers, state.max_request_bytes)
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
        outcome.model_group = requested
        response = await _call_in_order(state, kind, body, requested, targets, request_id, outcome)
    except Exception as error:  # the process edge: every failure becomes a JSON error
        response = error_response(error, request_id)
        outcome.status, outcome.error = response.status_code, type(error).__name__
    if not isinstance(response, StreamingResponse):  # a stream records itself when it ends
        outcome.finish(state.metrics)
    return response


def _refuse_admin_fields(body: dict[str, Any], principal: Principal) -> None:
    if principal.is_admin:
        return
    forbidden = sorted(ADMIN_ONLY_FIELDS.intersection(body))
    if forbidden:
        raise PermissionDeniedError(f"Only an admin may set {', '.join(forbidden)} in a request: the gateway's "
                                    "config chooses upstreams and credentials", param=forbidden[0],
                                    code="admin_only_field")


async def _call_in_order(state: GatewayState, kind: CallKind, body: dict[str, Any], requested: str,
                         targets: list[Target], request_id: str, outcome: Outcome) -> StreamingResponse | JsonAnswer:
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
        outcome.deployment_id = target.deployment.id
        try:
            response: StreamingResponse | JsonAnswer
            if prepared.call.is_stream:
                response = await _stream(prepared, headers, outcome, state.metrics)
            else:
                response = await _complete(prepared, headers, outcome)
        except APIError as error:
            state.metrics.upstream_call_finished(requested, target.deployment.id, error.status_code or 0,
                                                 error=type(error).__name__)
            if position + 1 < len(targets) and is_retryable(error):
                continue  # the next deployment of the group
            raise
        state.metrics.upstream_call_finished(requested, target.deployment.id, 200)
        return response
    raise AssertionError("unreachable: targets is never empty")


async def _complete(prepared: Prepared, headers: dict[str, str], outcome: Outcome) -> JsonAnswer:
    sent_at = time.perf_counter()
    if prepared.mock_response is not None:
        data, upstream = mock_data(prepared), {}
    else:
        sent = await send_async(prepared)
        data = prepared.adapter.parse_response(prepared.call, sent.status, sent.headers, sent.body)
        upstream = sent.headers
    outcome.upstream_s = time.perf_counter() - sent_at
    usage = data.get("usage")
    if usage:
        cost = call_cost(prepared, data.get("model"), usage)
        outcome.record_usage(usage, float(cost) if cost is not None else None)
        if cost is not None:
            headers["x-litellm-response-cost"] = str(float(cost))
    headers.update({name: upstream[name] for name in _UPSTREAM_HEADERS if name in upstream})
    return JsonAnswer(200, orjson.dumps(data), headers)


async def _stream(prepared: Prepared, headers: dict[str, str], outcome: Outcome,
                  metrics: GatewayMetrics) -> StreamingResponse:
    if prepared.mock_response is not None:
        batches: AsyncIterator[list[dict[str, Any]]] = _aiter([mock_chunks(prepared)])
    else:
        response, batches = await open_stream_batches_async(prepared)  # errors before the first byte raise here
        headers.update({name: response.headers[name] for name in _UPSTREAM_HEADERS if name in response.headers})
    return StreamingResponse(_sse(prepared, batches, outcome, metrics), media_type="text/event-stream",
                             headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"})


async def _sse(prepared: Prepared, batches: AsyncIterator[list[dict[str, Any]]], outcome: Outcome,
               metrics: GatewayMetrics) -> AsyncIterator[bytes]:
    """SSE bytes: one write per batch the provider sent together (a write per event costs ~20% of a stream)."""
    try:
        async for batch in batches:
            if outcome.ttft_s is None:
                outcome.ttft_s = time.perf_counter() - outcome.started
            usage = batch[-1].get("usage")  # usage rides on the last chunk of a stream
            if usage:
                cost = call_cost(prepared, batch[-1].get("model"), usage)
                outcome.record_usage(usage, float(cost) if cost is not None else None)
            yield b"".join([b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in batch])
        yield b"data: [DONE]\n\n"
    except APIError as error:  # after the first byte the status is sent: the error travels as an event
        outcome.error = type(error).__name__
        yield b"data: " + orjson.dumps(error.to_openai_body()) + b"\n\n"
    except BaseException as error:  # the client went away (cancelled): still recorded, then re-raised
        outcome.error = type(error).__name__
        raise
    finally:
        outcome.upstream_s = time.perf_counter() - outcome.started
        await batches.aclose()  # type: ignore[attr-defined]  # a client disconnect cancels the upstream here
        outcome.finish(metrics)


async def _aiter(items: list[list[dict[str, Any]]]) -> AsyncIterator[list[dict[str, Any]]]:
    for item in items:
        yield item
