"""The OpenAI-format routes: chat, legacy completions and embeddings in, through the shared pipeline, OpenAI out."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.types import Receive

from sluicegate.errors import APIError, BadRequestError
from sluicegate.gateway.deployments import Target
from sluicegate.gateway.error_responses import error_response
from sluicegate.gateway.pipeline import (
    Answer,
    GatewayState,
    Outcome,
    admit,
    call_group,
    refuse_admin_fields,
    route_request,
    serve,
    serves,
    split_routing,
)
from sluicegate.gateway.request_body import read_json_body
from sluicegate.providers.base import CallKind

_PAYLOAD = {"chat": "messages", "embedding": "input", "text_completion": "prompt"}


class OpenAIStream:
    """OpenAI's SSE: `data: <chunk>` per chunk, `data: [DONE]` at the end, an error as `data: {"error": …}`.

    `hide_usage`: the gateway asked the upstream for usage (every stream is charged) but the client did not, so the
    usage chunk and the chunks' `usage` fields are not passed on."""

    __slots__ = ("_hide_usage",)

    def __init__(self, hide_usage: bool = False) -> None:
        self._hide_usage = hide_usage

    def feed(self, batch: list[dict[str, Any]]) -> bytes:
        if self._hide_usage:
            batch = [_without_usage(chunk) for chunk in batch if chunk.get("choices") or not chunk.get("usage")]
        return b"".join([b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in batch])

    def finish(self) -> bytes:
        return b"data: [DONE]\n\n"

    def error(self, error: APIError) -> bytes:
        return b"data: " + orjson.dumps(error.to_openai_body()) + b"\n\n"


def _without_usage(chunk: dict[str, Any]) -> dict[str, Any]:
    if "usage" not in chunk:
        return chunk
    return {name: value for name, value in chunk.items() if name != "usage"}


class OpenAIDialect:
    """The identity: the pipeline already speaks OpenAI's format."""

    __slots__ = ("_hide_usage",)

    def __init__(self, hide_usage: bool = False) -> None:
        self._hide_usage = hide_usage

    def answer(self, data: dict[str, Any]) -> bytes:
        return orjson.dumps(data)

    def stream(self) -> OpenAIStream:
        return OpenAIStream(self._hide_usage)


OPENAI = OpenAIDialect()
OPENAI_WITHOUT_STREAM_USAGE = OpenAIDialect(hide_usage=True)


def ask_for_stream_usage(kind: CallKind, params: dict[str, Any]) -> bool:
    """Make a stream report its usage, so it is charged like any call; True when the client did not ask for it
    (then the client must not see it)."""
    if kind == "embedding" or not params.get("stream"):
        return False
    options = params.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        return False
    params["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    return True


async def handle(state: GatewayState, kind: CallKind, headers: dict[str, str], receive: Receive, route: str,
                 model: str | None = None) -> Answer:
    """Serve one OpenAI-format call. `model` comes from the path for Azure-style routes."""
    request_id = headers.get("x-request-id") or uuid.uuid4().hex

    async def work(outcome: Outcome) -> Answer:
        principal = await state.caller(headers)
        body = await read_json_body(receive, headers, state.max_request_bytes)
        requested = model or body.get("model")
        if not isinstance(requested, str) or not requested:
            raise BadRequestError("'model' is required: the name of a model this gateway serves (GET /v1/models)",
                                  param="model", code="missing_model")
        refuse_admin_fields(body, principal)
        requested = await admit(state, outcome, principal, requested, body, headers.get("content-length"))
        if not serves(state, requested):
            raise BadRequestError(f"Invalid model name passed in model={requested}. "
                                  "Call GET /v1/models to see the models this gateway serves.",
                                  param="model", code="model_not_found")
        payload = body.get(_PAYLOAD[kind])
        params = {k: v for k, v in body.items() if k not in ("model", "messages", "input", "prompt")}
        routing = split_routing(params)
        state.enforcement.check_fallbacks(principal, routing)
        dialect = OPENAI_WITHOUT_STREAM_USAGE if ask_for_stream_usage(kind, params) else OPENAI
        if kind != "chat":
            params[_PAYLOAD[kind]] = payload
        messages = payload if kind == "chat" else None

        def call_args(target: Target) -> tuple[dict[str, Any], Any]:
            return {**target.options, **params}, messages

        return await call_group(state, kind, requested, route_request(kind, payload, body), call_args,
                                {"x-request-id": request_id, "x-litellm-call-id": request_id}, outcome, dialect,
                                routing=routing)

    return await serve(state, route, request_id, error_response, work)
