"""A local OpenAI and Azure OpenAI HTTP API for tests: real wire formats, deterministic answers, faults.

It is not a model and validates only what the real API rejects in ways tests rely on. Checked against the
official `openai` SDK in `test_openai_simulator.py`; wire shapes pinned in `tests/fixtures/{openai,azure}/`.

Routes. OpenAI (`Authorization: Bearer <key>`): POST /v1/chat/completions, /v1/completions, /v1/embeddings;
GET /v1/models, /v1/models/{id}; anything else → 404 "Invalid URL (METHOD /path)". Azure (`api-key: <key>`
or `Authorization: Bearer <token>`, both checked against `api_keys`): POST
/openai/deployments/{deployment}/chat/completions|completions|embeddings and GET /openai/models, all needing
`?api-version=` (missing → 404 "Resource not found"; not in `azure_api_versions`, when given → 400); and the
newer POST /openai/v1/chat/completions|completions|embeddings, GET /openai/v1/models (no api-version; the
body's `model` names the deployment). An Azure response's `model` is `azure_deployments.get(deployment,
deployment)`; Azure bodies add `prompt_filter_results` / `content_filter_results` (all "safe") and an Azure
stream opens with the chunk that has empty `id`/`object`/`choices` and only `prompt_filter_results`.

Answers. Chat content is "Hello from the simulator. You said: <text of the last user message>". When the
last messages are `tool` results: "Hello from the simulator. The tool said: <contents joined by ' | '>".
Tools are called when `tools` is non-empty, `tool_choice` is not "none" and the last message is from the
user: the named tool, else the first tool, or the first two when there are ≥ 2 tools and
`parallel_tool_calls` is not false. Arguments, and `response_format` json_schema content, are built from
the JSON schema: each `required` property gets enum → first value, string → "example", number/integer → 1,
boolean → true, object → recurse, array → [one item]; `$ref`/anyOf are followed. json_object content is
{"reply": <the text>} and, as OpenAI does, needs the word "json" in the messages (else 400).
Tokens are whitespace-separated words: prompt = Σ(3 + words) over messages; completion = words of the
content (or of tool names + arguments), summed over the `n` choices. `max_completion_tokens`/`max_tokens`
below the answer's word count truncates it (finish_reason "length"); legacy completions default to 16.
`logprobs` gives one entry per word-token with `top_logprobs` alternatives. `service_tier` is echoed
("auto" → "default"), else "default". Streams send one word-token per content chunk (≥ 3 chunks), tool
arguments in ≤ 8-character fragments (≥ 2), `n` choices interleaved, then `data: [DONE]`.
Embeddings: unit vectors seeded by SHA-256 of the input, float32-exact; 3072 dims for text-embedding-3-large,
else 1536, or `dimensions`; "base64" is little-endian float32.

Faults: `script()` answers the next requests with a status/body (body=None → the real body for the status),
`script_disconnect()` drops the connection, `script_stream_error()` breaks the next stream with an SSE error
event. Default 429s carry `retry-after: 1` and `retry-after-ms: 20`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.simulators.openai_errors import (
    AZURE_AUTH_ERROR,
    AZURE_CONTENT_FILTER_ERROR,
    AZURE_NOT_FOUND,
    CONTENT_POLICY_ERROR,
    CONTEXT_LENGTH_ERROR,
    ApiError,
    auth_error,
    azure_error,
    default_error_body,
    error_body,
)
from tests.simulators.openai_wire import chat_bodies, completions_bodies, embeddings_body, models_body
from tests.simulators.server import RecordedRequest, Script, SimulatorServer, lowered

__all__ = [
    "AZURE_CONTENT_FILTER_ERROR",
    "CONTENT_POLICY_ERROR",
    "CONTEXT_LENGTH_ERROR",
    "OpenAISimulator",
    "RecordedRequest",
]

_ORGANIZATION = "user-simulator"
_RATE_LIMIT_REQUESTS = 10_000
_RATE_LIMIT_TOKENS = 30_000_000


@dataclass
class _Script(Script):
    delay_s: float = 0.0
    is_disconnect: bool = False  # drop the connection instead of answering


@dataclass
class _Route:
    operation: str  # chat | completions | embeddings | models | model
    is_azure: bool
    deployment: str | None = None
    model_id: str | None = None
    needs_api_version: bool = False


@dataclass
class _Ctx:
    request: web.Request
    recorded: RecordedRequest
    route: _Route | None
    request_id: str
    is_azure: bool
    started: float


def _sse(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


class OpenAISimulator(SimulatorServer[_Script]):
    """OpenAI + Azure OpenAI on 127.0.0.1, served by aiohttp on its own event loop in a background thread.

    with OpenAISimulator() as sim:
        OpenAI(api_key="sk-test", base_url=sim.base_url).chat.completions.create(...)
    """

    provider = "OpenAI"
    base_path = "/v1"

    def __init__(self, api_keys: set[str] | None = None, azure_api_versions: set[str] | None = None) -> None:
        super().__init__(api_keys if api_keys is not None else {"sk-test"})
        self.azure_api_versions = azure_api_versions
        self.azure_deployments: dict[str, str] = {}
        self.response_delay_s = 0.0

    @property
    def azure_endpoint(self) -> str:
        return self.url

    def script(self, status: int, body: dict[str, Any] | str | bytes | None = None,
               headers: dict[str, str] | None = None, times: int = 1, delay_s: float = 0.0) -> None:
        """Answer the next `times` requests with `status` and `body` (None → the real body for the status)."""
        self._add_script(_Script(status, body, lowered(headers), times, delay_s))

    def script_disconnect(self, times: int = 1) -> None:
        """Close the connection of the next `times` requests without sending any response."""
        self._add_script(_Script(200, times=times, is_disconnect=True))

    def script_stream_error(self, after_chunks: int, error: dict[str, Any] | None = None) -> None:
        """Break the next stream after `after_chunks` chunks with `data: {"error": …}` and end it."""
        error = error or error_body("The server had an error while processing your request. Sorry about that!",
                                type_="server_error")["error"]
        self._add_stream_error(after_chunks, _sse({"error": error}))

    def reset(self) -> None:
        """Forget requests, scripts, delays and counters; restore keys and deployments as constructed."""
        super().reset()
        self.azure_deployments = {}
        self.response_delay_s = 0.0

    async def _context(self, request: web.Request, recorded: RecordedRequest) -> _Ctx:
        """The request's route and ids, after `response_delay_s` (which openai-processing-ms includes)."""
        route = _route(request.method, request.path)
        is_azure = route.is_azure if route else request.path.startswith("/openai/")
        request_id = str(uuid.uuid4()) if is_azure else "req_" + uuid.uuid4().hex
        ctx = _Ctx(request, recorded, route, request_id, is_azure, time.monotonic())
        if self.response_delay_s:
            await asyncio.sleep(self.response_delay_s)
        return ctx

    async def _scripted(self, request: web.Request, recorded: RecordedRequest,
                        script: _Script) -> web.StreamResponse:
        ctx = await self._context(request, recorded)
        if script.delay_s:
            await asyncio.sleep(script.delay_s)
        if script.is_disconnect:
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # aiohttp then writes nothing: the client sees a dropped connection
        headers = dict(script.headers)
        if script.status == 429:
            headers = {"retry-after": "1", "retry-after-ms": "20", "x-ratelimit-remaining-requests": "0",
                       "x-ratelimit-reset-requests": "20ms", **headers}
        body = script.body
        if body is None and script.status >= 400:
            model = recorded.json.get("model") if isinstance(recorded.json, dict) else None
            body = default_error_body(
                script.status, model=str(model or "gpt-4o"), key=_presented_key(recorded),
                request_id=ctx.request_id, is_azure=ctx.is_azure, api_version=recorded.query.get("api-version", ""),
            )
        if isinstance(body, dict):
            return self._json(ctx, body, script.status, headers)
        raw = body.encode() if isinstance(body, str) else (body or b"")
        try:
            json.loads(raw)
            content_type = "application/json"
        except ValueError:  # e.g. a proxy's HTML error page
            content_type = "text/html" if raw.lstrip().startswith(b"<") else "text/plain; charset=utf-8"
        headers = {"content-type": content_type, **headers}
        return web.Response(status=script.status, body=raw, headers=self._headers(ctx, headers))

    def _headers(self, ctx: _Ctx, extra: dict[str, str] | None = None) -> dict[str, str]:
        processing_ms = str(int((time.monotonic() - ctx.started) * 1000))
        sent = ctx.recorded.headers
        if ctx.is_azure:
            headers = {
                "apim-request-id": ctx.request_id, "x-request-id": ctx.request_id, "x-ms-region": "East US",
                "x-ratelimit-remaining-requests": str(_RATE_LIMIT_REQUESTS - 1),
                "x-ratelimit-remaining-tokens": str(_RATE_LIMIT_TOKENS // 100 - 1),
            }
        else:
            headers = {
                "x-request-id": ctx.request_id, "openai-processing-ms": processing_ms,
                "openai-organization": sent.get("openai-organization", _ORGANIZATION),
                "openai-version": "2020-10-01",
                "x-ratelimit-limit-requests": str(_RATE_LIMIT_REQUESTS),
                "x-ratelimit-remaining-requests": str(_RATE_LIMIT_REQUESTS - 1),
                "x-ratelimit-limit-tokens": str(_RATE_LIMIT_TOKENS),
                "x-ratelimit-remaining-tokens": str(_RATE_LIMIT_TOKENS - 1),
                "x-ratelimit-reset-requests": "6ms", "x-ratelimit-reset-tokens": "0s",
            }
            if "openai-project" in sent:
                headers["openai-project"] = sent["openai-project"]
        return {**headers, **(extra or {})}

    def _json(self, ctx: _Ctx, body: dict[str, Any], status: int = 200,
              extra: dict[str, str] | None = None) -> web.Response:
        headers = self._headers(ctx, {"content-type": "application/json", **(extra or {})})
        return web.Response(status=status, body=json.dumps(body).encode(), headers=headers)

    async def _answer(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        ctx = await self._context(request, recorded)
        try:
            return await self._operation(ctx)
        except ApiError as err:
            return self._json(ctx, err.body, err.status, err.headers)

    async def _operation(self, ctx: _Ctx) -> web.StreamResponse:
        route, payload = ctx.route, ctx.recorded.json
        if route is None:
            if ctx.is_azure:
                raise ApiError(404, AZURE_NOT_FOUND)
            raise ApiError(404, error_body(f"Invalid URL ({ctx.request.method} {ctx.request.path})"))
        if route.needs_api_version:
            version = ctx.recorded.query.get("api-version")
            if not version:
                raise ApiError(404, AZURE_NOT_FOUND)
            if self.azure_api_versions is not None and version not in self.azure_api_versions:
                raise ApiError(400, azure_error("BadRequest", "API version not supported"))
        key = _presented_key(ctx.recorded)
        if key not in self.api_keys:
            raise ApiError(401, AZURE_AUTH_ERROR if route.is_azure else auth_error(key))
        if route.operation in ("models", "model"):
            return self._json(ctx, models_body(route.model_id))
        if not isinstance(payload, dict):
            raise ApiError(400, error_body(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent "
                "was not valid JSON. If you have trouble figuring out how to fix this, please contact us "
                "through our help center at help.openai.com.)"
            ))
        model = self._model(route, payload)
        if route.operation == "embeddings":
            return self._json(ctx, embeddings_body(payload, model))
        if payload.get("stream_options") is not None and not payload.get("stream"):
            message = "The 'stream_options' parameter is only allowed when 'stream' is enabled."
            raise ApiError(400, error_body(message, param="stream_options"))
        if route.operation == "completions":
            chunks, body = completions_bodies(payload, model, route.is_azure)
        else:
            chunks, body = chat_bodies(payload, model, route.is_azure)
        if payload.get("stream"):
            return await self._stream(ctx, chunks)
        return self._json(ctx, body)

    def _model(self, route: _Route, payload: dict[str, Any]) -> str:
        deployment = route.deployment or payload.get("model")
        if not deployment:
            raise ApiError(400, error_body("you must provide a model parameter"))
        if route.is_azure:
            return self.azure_deployments.get(str(deployment), str(deployment))
        return str(deployment)

    async def _stream(self, ctx: _Ctx, chunks: list[dict[str, Any]]) -> web.StreamResponse:
        headers = self._headers(ctx, {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"})
        return await self._send_stream(ctx.request, headers, [_sse(chunk) for chunk in chunks], b"data: [DONE]\n\n")


def _presented_key(recorded: RecordedRequest) -> str | None:
    authorization = recorded.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return recorded.headers.get("api-key")


_AZURE_DEPLOYMENT_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/"
                                    r"(?P<op>chat/completions|completions|embeddings)$")
_AZURE_V1_PATH = re.compile(r"^/openai/v1/(?P<op>chat/completions|completions|embeddings|models)$")
_OPERATIONS = {"chat/completions": "chat", "completions": "completions", "embeddings": "embeddings",
               "models": "models"}


def _route(method: str, path: str) -> _Route | None:
    if method == "GET" and path == "/v1/models":
        return _Route("models", is_azure=False)
    if method == "GET" and path.startswith("/v1/models/"):
        return _Route("model", is_azure=False, model_id=path.removeprefix("/v1/models/"))
    if method == "POST" and path in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings"):
        return _Route(_OPERATIONS[path.removeprefix("/v1/")], is_azure=False)
    if method == "GET" and path == "/openai/models":
        return _Route("models", is_azure=True, needs_api_version=True)
    match = _AZURE_DEPLOYMENT_PATH.match(path)
    if method == "POST" and match:
        return _Route(_OPERATIONS[match["op"]], is_azure=True, deployment=match["deployment"],
                      needs_api_version=True)
    match = _AZURE_V1_PATH.match(path)
    if match and method == ("GET" if match["op"] == "models" else "POST"):
        return _Route(_OPERATIONS[match["op"]], is_azure=True)
    return None

