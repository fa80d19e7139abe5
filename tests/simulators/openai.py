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
import contextlib
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
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
_INVALID_JSON = object()


@dataclass
class RecordedRequest:
    """One request as received; `headers` keys are lower-cased, `json` is None when the body is not JSON."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    raw: bytes


@dataclass
class _Script:
    kind: str  # "response" or "disconnect"
    times: int
    status: int = 200
    body: dict[str, Any] | str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class _StreamError:
    after_chunks: int
    error: dict[str, Any]


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
    request_id: str
    is_azure: bool
    started: float


def _sse(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


class OpenAISimulator:
    """OpenAI + Azure OpenAI on 127.0.0.1, served by aiohttp on its own event loop in a background thread.

    with OpenAISimulator() as sim:
        OpenAI(api_key="sk-test", base_url=sim.base_url).chat.completions.create(...)
    """

    def __init__(self, api_keys: set[str] | None = None, azure_api_versions: set[str] | None = None) -> None:
        self._initial_keys = set(api_keys) if api_keys is not None else {"sk-test"}
        self.api_keys = set(self._initial_keys)
        self.azure_api_versions = azure_api_versions
        self.azure_deployments: dict[str, str] = {}
        self.response_delay_s = 0.0
        self.chunk_delay_s = 0.0
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripts: deque[_Script] = deque()
        self._stream_errors: deque[_StreamError] = deque()
        self._cancelled_streams = 0
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def azure_endpoint(self) -> str:
        return self.url

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def cancelled_streams(self) -> int:
        with self._lock:
            return self._cancelled_streams

    def script(self, status: int, body: dict[str, Any] | str | bytes | None = None,
               headers: dict[str, str] | None = None, times: int = 1, delay_s: float = 0.0) -> None:
        """Answer the next `times` requests with `status` and `body` (None → the real body for the status)."""
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        entry = _Script("response", times, status, body, lowered, delay_s)
        with self._lock:
            self._scripts.append(entry)

    def script_disconnect(self, times: int = 1) -> None:
        """Close the connection of the next `times` requests without sending any response."""
        with self._lock:
            self._scripts.append(_Script("disconnect", times))

    def script_stream_error(self, after_chunks: int, error: dict[str, Any] | None = None) -> None:
        """Break the next stream after `after_chunks` chunks with `data: {"error": …}` and end it."""
        error = error or error_body("The server had an error while processing your request. Sorry about that!",
                                type_="server_error")["error"]
        with self._lock:
            self._stream_errors.append(_StreamError(after_chunks, error))

    def reset(self) -> None:
        """Forget requests, scripts, delays and counters; restore keys and deployments as constructed."""
        with self._lock:
            self._requests.clear()
            self._scripts.clear()
            self._stream_errors.clear()
            self._cancelled_streams = 0
        self.api_keys = set(self._initial_keys)
        self.azure_deployments = {}
        self.response_delay_s = 0.0
        self.chunk_delay_s = 0.0

    def start(self) -> OpenAISimulator:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._serve, args=(ready, failure), name="openai-simulator",
                                        daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the OpenAI simulator did not start within 10 s")
        if failure:
            self._thread = None
            raise RuntimeError("the OpenAI simulator failed to start") from failure[0]
        return self

    def stop(self) -> None:
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None or runner is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = self._runner = None
        self._port = None

    def __enter__(self) -> OpenAISimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        except BaseException as exc:  # reported to start() in the caller's thread
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _open(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a client that goes away cancels its handler, which is how streams see it.
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.05, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        raw = await request.read()
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = _INVALID_JSON
        recorded = RecordedRequest(
            method=request.method, path=request.path, query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=None if payload is _INVALID_JSON else payload, raw=raw,
        )
        route = _route(request.method, request.path)
        is_azure = route.is_azure if route else request.path.startswith("/openai/")
        request_id = str(uuid.uuid4()) if is_azure else "req_" + uuid.uuid4().hex
        ctx = _Ctx(request, recorded, request_id, is_azure, started)
        with self._lock:
            self._requests.append(recorded)
            script = self._take_script()
        if self.response_delay_s:
            await asyncio.sleep(self.response_delay_s)
        if script is not None:
            return await self._scripted(ctx, script)
        try:
            return await self._answer(ctx, route, payload)
        except ApiError as err:
            return self._json(ctx, err.body, err.status, err.headers)

    def _take_script(self) -> _Script | None:
        if not self._scripts:
            return None
        script = self._scripts[0]
        script.times -= 1
        if script.times <= 0:
            self._scripts.popleft()
        return script

    def _take_stream_error(self) -> _StreamError | None:
        with self._lock:
            return self._stream_errors.popleft() if self._stream_errors else None

    async def _scripted(self, ctx: _Ctx, script: _Script) -> web.StreamResponse:
        if script.delay_s:
            await asyncio.sleep(script.delay_s)
        if script.kind == "disconnect":
            if ctx.request.transport is not None:
                ctx.request.transport.abort()
            raise asyncio.CancelledError  # aiohttp then writes nothing: the client sees a dropped connection
        headers = dict(script.headers)
        if script.status == 429:
            headers = {"retry-after": "1", "retry-after-ms": "20", "x-ratelimit-remaining-requests": "0",
                       "x-ratelimit-reset-requests": "20ms", **headers}
        body = script.body
        if body is None and script.status >= 400:
            model = ctx.recorded.json.get("model") if isinstance(ctx.recorded.json, dict) else None
            body = default_error_body(
                script.status, model=str(model or "gpt-4o"), key=_presented_key(ctx.recorded),
                request_id=ctx.request_id, is_azure=ctx.is_azure,
                api_version=ctx.recorded.query.get("api-version", ""),
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

    async def _answer(self, ctx: _Ctx, route: _Route | None, payload: Any) -> web.StreamResponse:
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
        if payload is _INVALID_JSON or not isinstance(payload, dict):
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
        broken = self._take_stream_error()
        response = web.StreamResponse(status=200, headers=self._headers(
            ctx, {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}))
        response.enable_chunked_encoding()
        finished = False
        try:
            await response.prepare(ctx.request)
            for index, chunk in enumerate(chunks):
                if broken is not None and index == broken.after_chunks:
                    await response.write(_sse({"error": broken.error}))
                    finished = True
                    break
                if index and self.chunk_delay_s:
                    await asyncio.sleep(self.chunk_delay_s)
                await response.write(_sse(chunk))
            else:
                await response.write(b"data: [DONE]\n\n")
                finished = True
            await response.write_eof()
        except ConnectionError:  # aiohttp's ClientConnectionResetError: the client closed mid-stream
            self._count_cancel(finished)
        except asyncio.CancelledError:
            self._count_cancel(finished)
            raise
        return response

    def _count_cancel(self, finished: bool) -> None:
        if not finished:
            with self._lock:
                self._cancelled_streams += 1


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

