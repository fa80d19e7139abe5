"""POST /v1/messages and /v1/messages/count_tokens: authenticate → translate → pick deployments → send → translate.

The same steps as proxy.py's OpenAI pipeline (same auth, model groups, admin-only fields, deployments tried in
order on retryable errors), with Anthropic shapes at both ends. Cost per request: as proxy.py, plus one
translation each way (no I/O); count_tokens makes no upstream call.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sluicegate.api import open_stream_async, send_async
from sluicegate.catalog.lookup import supports
from sluicegate.catalog.tokens import token_counter
from sluicegate.errors import APIError, NotFoundError, PermissionDeniedError
from sluicegate.gateway.anthropic.errors import error_response, stream_error_event
from sluicegate.gateway.anthropic.request import ChatRequest, to_chat
from sluicegate.gateway.anthropic.response import to_message
from sluicegate.gateway.anthropic.stream import MessageStream, encode
from sluicegate.gateway.auth import authenticate
from sluicegate.gateway.deployments import Target
from sluicegate.gateway.proxy import ADMIN_ONLY_FIELDS, GatewayState, Outcome
from sluicegate.gateway.request_body import read_json_object
from sluicegate.mock import mock_chunks, mock_data
from sluicegate.observability.metrics import GatewayMetrics
from sluicegate.prepare import Prepared, prepare
from sluicegate.responses import call_cost
from sluicegate.transport.retry import is_retryable

_UPSTREAM_HEADERS = ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-limit-tokens",
                     "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")


async def create_message(state: GatewayState, request: Request) -> Response:
    """Serve one Messages API call, streamed or not."""

    async def work(request_id: str, outcome: Outcome) -> Response:
        chat, options, targets = await _read(state, request, for_count=False)
        outcome.model_group = chat.model
        return await _call_in_order(state, chat, options, targets, request_id, outcome)

    return await _served(state, request, "/v1/messages", work)


async def count_tokens(state: GatewayState, request: Request) -> Response:
    """`{"input_tokens": N}` for the prompt as the first deployment would receive it (tiktoken's count: exact for
    OpenAI models, an estimate for others). No upstream call."""

    async def work(request_id: str, outcome: Outcome) -> Response:
        chat, _, targets = await _read(state, request, for_count=True)
        outcome.model_group = chat.model
        total = token_counter(model=targets[0].model, messages=chat.messages, tools=chat.params.get("tools"))
        return Response(orjson.dumps({"input_tokens": total}), media_type="application/json",
                        headers={"request-id": request_id, "x-request-id": request_id})

    return await _served(state, request, "/v1/messages/count_tokens", work)


async def _served(state: GatewayState, request: Request, route: str,
                  work: Callable[[str, Outcome], Awaitable[Response]]) -> Response:
    """Run `work` with a request id and the metrics bookkeeping; any failure becomes an Anthropic error body."""
    request_id = _request_id(request)
    outcome = Outcome(route, time.perf_counter())
    state.metrics.request_started()
    try:
        response = await work(request_id, outcome)
    except Exception as error:  # the process edge: every failure becomes an Anthropic error body
        response = error_response(error, request_id)
        outcome.status, outcome.error = response.status_code, type(error).__name__
    if not isinstance(response, StreamingResponse):  # a stream records itself when it ends
        outcome.finish(state.metrics)
    return response


def _request_id(request: Request) -> str:
    return request.headers.get("x-request-id") or "req_" + uuid.uuid4().hex


async def _read(state: GatewayState, request: Request, *, for_count: bool
                ) -> tuple[ChatRequest, dict[str, Any], list[Target]]:
    """The translated request, the admin's call options, and the deployments that serve the model."""
    principal = authenticate(request.headers, state.master_key)
    body = await read_json_object(request, state.max_request_bytes)
    options = {name: body.pop(name) for name in sorted(ADMIN_ONLY_FIELDS.intersection(body))}
    if options and not principal.is_admin:
        raise PermissionDeniedError(f"Only an admin may set {', '.join(options)} in a request: the gateway's "
                                    "config chooses upstreams and credentials", param=next(iter(options)))
    chat = to_chat(body, for_count=for_count)
    targets = state.groups.targets(chat.model)
    if not targets:  # Anthropic answers an unknown model with 404 not_found_error
        raise NotFoundError(f"model: {chat.model} is not served by this gateway (GET /v1/models lists them)",
                            param="model", code="model_not_found")
    return chat, options, targets


async def _call_in_order(state: GatewayState, chat: ChatRequest, options: dict[str, Any], targets: list[Target],
                         request_id: str, outcome: Outcome) -> Response:
    for position, target in enumerate(targets):
        kwargs = {**target.options, **chat.params, **options}
        if chat.reasoning_effort and supports(target.model, "reasoning"):
            kwargs["reasoning_effort"] = chat.reasoning_effort
        prepared = prepare("chat", target.model, kwargs, messages=chat.messages, settings=state.settings)
        headers = {"request-id": request_id, "x-request-id": request_id, "x-litellm-call-id": request_id,
                   "x-litellm-model-group": chat.model, "x-litellm-model-id": target.deployment.id}
        if target.api_base:
            headers["x-litellm-model-api-base"] = target.api_base
        outcome.deployment_id = target.deployment.id
        try:
            if chat.is_stream:
                response = await _stream(prepared, chat, headers, outcome, state.metrics)
            else:
                response = await _complete(prepared, chat, headers, outcome)
        except APIError as error:
            state.metrics.upstream_call_finished(chat.model, target.deployment.id, error.status_code or 0,
                                                 error=type(error).__name__)
            if position + 1 < len(targets) and is_retryable(error):
                continue  # the next deployment of the group
            raise
        state.metrics.upstream_call_finished(chat.model, target.deployment.id, 200)
        return response
    raise AssertionError("unreachable: targets is never empty")


async def _complete(prepared: Prepared, chat: ChatRequest, headers: dict[str, str], outcome: Outcome) -> Response:
    sent_at = time.perf_counter()
    if prepared.mock_response is not None:
        data, upstream = mock_data(prepared), {}
    else:
        sent = await send_async(prepared)
        data = prepared.adapter.parse_response(prepared.call, sent.status, sent.headers, sent.body)
        upstream = sent.headers
    outcome.upstream_s = time.perf_counter() - sent_at
    message = to_message(data, chat.model, chat.stop_sequences)
    if data.get("usage"):
        cost = call_cost(prepared, data.get("model"), data["usage"])
        outcome.record_usage(data["usage"], float(cost) if cost is not None else None)
        if cost is not None:
            headers["x-litellm-response-cost"] = str(float(cost))
    headers.update({name: upstream[name] for name in _UPSTREAM_HEADERS if name in upstream})
    return Response(orjson.dumps(message), media_type="application/json", headers=headers)


async def _stream(prepared: Prepared, chat: ChatRequest, headers: dict[str, str], outcome: Outcome,
                  metrics: GatewayMetrics) -> Response:
    if prepared.mock_response is not None:
        chunks: AsyncIterator[dict[str, Any]] = _aiter(mock_chunks(prepared))
    else:
        response, chunks = await open_stream_async(prepared)  # errors before the first byte raise here
        headers.update({name: response.headers[name] for name in _UPSTREAM_HEADERS if name in response.headers})
    events = _events(prepared, chunks, MessageStream(chat.model, chat.stop_sequences), outcome, metrics)
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"})


async def _events(prepared: Prepared, chunks: AsyncIterator[dict[str, Any]], translator: MessageStream,
                  outcome: Outcome, metrics: GatewayMetrics) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            if outcome.ttft_s is None:
                outcome.ttft_s = time.perf_counter() - outcome.started
            if chunk.get("usage"):
                cost = call_cost(prepared, chunk.get("model"), chunk["usage"])
                outcome.record_usage(chunk["usage"], float(cost) if cost is not None else None)
            for event in translator.feed(chunk):
                yield encode(event)
        for event in translator.finish():
            yield encode(event)
    except APIError as error:  # after the first byte the status is sent: the error travels as an event
        outcome.error = type(error).__name__
        yield encode(stream_error_event(error))
    except BaseException as error:  # the client went away (cancelled): still recorded, then re-raised
        outcome.error = type(error).__name__
        raise
    finally:
        outcome.upstream_s = time.perf_counter() - outcome.started
        await chunks.aclose()  # type: ignore[attr-defined]  # a client disconnect cancels the upstream here
        outcome.finish(metrics)


async def _aiter(items: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for item in items:
        yield item
