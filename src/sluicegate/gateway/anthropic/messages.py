"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API in front of any model group.

The request is translated to an OpenAI chat call and run through the shared pipeline (same auth, model groups,
admin-only fields, the router's choice of deployment); `AnthropicDialect` shapes the answer, the stream and errors
back into Anthropic's format. Cost per request: the pipeline's, plus one translation each way (no I/O);
count_tokens makes no upstream call.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.requests import Request as HttpRequest

from sluicegate.catalog.lookup import supports
from sluicegate.catalog.tokens import token_counter
from sluicegate.errors import APIError, NotFoundError, PermissionDeniedError
from sluicegate.gateway.anthropic import passthrough
from sluicegate.gateway.anthropic.errors import error_response, stream_error_event
from sluicegate.gateway.anthropic.request import ChatRequest, to_chat
from sluicegate.gateway.anthropic.response import to_message
from sluicegate.gateway.anthropic.stream import MessageStream, encode
from sluicegate.gateway.auth import Principal
from sluicegate.gateway.deployments import Target
from sluicegate.gateway.error_responses import JsonAnswer
from sluicegate.gateway.pipeline import (
    ADMIN_ONLY_FIELDS,
    Answer,
    GatewayState,
    Outcome,
    admit,
    call_group,
    serve,
    serves,
    split_routing,
)
from sluicegate.gateway.request_body import read_json_object
from sluicegate.router import Request


class AnthropicStream:
    """OpenAI chunks → Anthropic's `event:`/`data:` sequence, one stream's state."""

    __slots__ = ("_translator",)

    def __init__(self, chat: ChatRequest) -> None:
        self._translator: MessageStream | None = MessageStream(chat.model, chat.stop_sequences)

    def feed(self, batch: list[dict[str, Any]]) -> bytes:
        raw = passthrough.raw_stream(batch)
        if raw is not None:  # an Anthropic deployment's own events: nothing to translate, nothing to add at the end
            self._translator = None
            return raw
        translator = self._translator
        assert translator is not None, "a stream is either native or translated, never both"
        return b"".join([encode(event) for chunk in batch for event in translator.feed(chunk)])

    def finish(self) -> bytes:
        if self._translator is None:
            return b""
        return b"".join([encode(event) for event in self._translator.finish()])

    def error(self, error: APIError) -> bytes:
        return encode(stream_error_event(error))


class AnthropicDialect:
    """Answers as Anthropic messages, for the request they answer."""

    __slots__ = ("_chat",)

    def __init__(self, chat: ChatRequest) -> None:
        self._chat = chat

    def answer(self, data: dict[str, Any]) -> bytes:
        raw = passthrough.raw_answer(data)
        if raw is not None:
            return raw
        return orjson.dumps(to_message(data, self._chat.model, self._chat.stop_sequences))

    def stream(self) -> AnthropicStream:
        return AnthropicStream(self._chat)


async def create_message(state: GatewayState, request: HttpRequest) -> Answer:
    """Serve one Messages API call, streamed or not."""
    request_id = _request_id(request)

    async def work(outcome: Outcome) -> Answer:
        principal, chat, options, body = await _read(state, request, for_count=False)
        group = await admit(state, outcome, principal, chat.model, body, request.headers.get("content-length"))
        _check_served(state, group)
        routing = split_routing(options)
        state.enforcement.check_fallbacks(principal, routing)

        def call_args(target: Target) -> tuple[dict[str, Any], Any]:
            kwargs = {**target.options, **chat.params, **options}
            if chat.reasoning_effort and supports(target.model, "reasoning"):
                kwargs["reasoning_effort"] = chat.reasoning_effort
            return kwargs, chat.messages

        headers = {"request-id": request_id, "x-request-id": request_id, "x-litellm-call-id": request_id}
        route = Request("chat", messages=chat.messages, is_stream=chat.is_stream)
        return await call_group(state, "chat", group, route, call_args, headers, outcome,
                                AnthropicDialect(chat), tailor=passthrough.tailor(body, request.headers),
                                routing=routing)

    return await serve(state, "/v1/messages", request_id, error_response, work)


async def count_tokens(state: GatewayState, request: HttpRequest) -> Answer:
    """`{"input_tokens": N}` for the prompt as the first deployment would receive it (tiktoken's count: exact for
    OpenAI models, an estimate for others). No upstream call."""
    request_id = _request_id(request)

    async def work(outcome: Outcome) -> Answer:
        _, chat, _, _ = await _read(state, request, for_count=True)
        _check_served(state, chat.model)
        outcome.model_group = chat.model
        _, deployments = state.router.groups.resolve(chat.model)
        total = token_counter(model=deployments[0].model, messages=chat.messages, tools=chat.params.get("tools"))
        return JsonAnswer(200, orjson.dumps({"input_tokens": total}),
                          {"request-id": request_id, "x-request-id": request_id})

    return await serve(state, "/v1/messages/count_tokens", request_id, error_response, work)


def _request_id(request: HttpRequest) -> str:
    return request.headers.get("x-request-id") or "req_" + uuid.uuid4().hex


async def _read(state: GatewayState, request: HttpRequest, *, for_count: bool
                ) -> tuple[Principal, ChatRequest, dict[str, Any], dict[str, Any]]:
    """The caller, the translated request, the admin's call options, and the body as the client sent it (less
    the admin's options), for deployments that take it natively."""
    principal = await state.caller(dict(request.headers))
    body = await read_json_object(request, state.max_request_bytes)
    options = {name: body.pop(name) for name in sorted(ADMIN_ONLY_FIELDS.intersection(body))}
    if options and not principal.is_admin:
        raise PermissionDeniedError(f"Only an admin may set {', '.join(options)} in a request: the gateway's "
                                    "config chooses upstreams and credentials", param=next(iter(options)))
    native_body = dict(body)
    chat = to_chat(body, for_count=for_count)
    return principal, chat, options, native_body


def _check_served(state: GatewayState, model: str) -> None:
    if not serves(state, model):  # Anthropic answers an unknown model with 404 not_found_error
        raise NotFoundError(f"model: {model} is not served by this gateway (GET /v1/models lists them)",
                            param="model", code="model_not_found")
