"""The OpenAI-format routes: chat, legacy completions and embeddings in, through the shared pipeline, OpenAI out."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.types import Receive

from sluicegate.errors import APIError, BadRequestError
from sluicegate.gateway.auth import authenticate
from sluicegate.gateway.deployments import Target
from sluicegate.gateway.error_responses import error_response
from sluicegate.gateway.pipeline import (
    Answer,
    GatewayState,
    Outcome,
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
    """OpenAI's SSE: `data: <chunk>` per chunk, `data: [DONE]` at the end, an error as `data: {"error": …}`."""

    __slots__ = ()

    def feed(self, batch: list[dict[str, Any]]) -> bytes:
        return b"".join([b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in batch])

    def finish(self) -> bytes:
        return b"data: [DONE]\n\n"

    def error(self, error: APIError) -> bytes:
        return b"data: " + orjson.dumps(error.to_openai_body()) + b"\n\n"


class OpenAIDialect:
    """The identity: the pipeline already speaks OpenAI's format."""

    __slots__ = ()

    def answer(self, data: dict[str, Any]) -> bytes:
        return orjson.dumps(data)

    def stream(self) -> OpenAIStream:
        return OpenAIStream()


OPENAI = OpenAIDialect()


async def handle(state: GatewayState, kind: CallKind, headers: dict[str, str], receive: Receive, route: str,
                 model: str | None = None) -> Answer:
    """Serve one OpenAI-format call. `model` comes from the path for Azure-style routes."""
    request_id = headers.get("x-request-id") or uuid.uuid4().hex

    async def work(outcome: Outcome) -> Answer:
        principal = authenticate(headers, state.master_key)
        body = await read_json_body(receive, headers, state.max_request_bytes)
        requested = model or body.get("model")
        if not isinstance(requested, str) or not requested:
            raise BadRequestError("'model' is required: the name of a model this gateway serves (GET /v1/models)",
                                  param="model", code="missing_model")
        refuse_admin_fields(body, principal)
        if not serves(state, requested):
            raise BadRequestError(f"Invalid model name passed in model={requested}. "
                                  "Call GET /v1/models to see the models this gateway serves.",
                                  param="model", code="model_not_found")
        payload = body.get(_PAYLOAD[kind])
        params = {k: v for k, v in body.items() if k not in ("model", "messages", "input", "prompt")}
        routing = split_routing(params)
        if kind != "chat":
            params[_PAYLOAD[kind]] = payload
        messages = payload if kind == "chat" else None

        def call_args(target: Target) -> tuple[dict[str, Any], Any]:
            return {**target.options, **params}, messages

        return await call_group(state, kind, requested, route_request(kind, payload, body), call_args,
                                {"x-request-id": request_id, "x-litellm-call-id": request_id}, outcome, OPENAI,
                                routing=routing)

    return await serve(state, route, request_id, error_response, work)
