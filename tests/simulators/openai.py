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
import base64
import contextlib
import hashlib
import json
import math
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_AZURE_CONTENT_FILTER_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
    "Please modify your prompt and retry. To learn more about our content filtering policies please read "
    "our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)

CONTEXT_LENGTH_ERROR: dict[str, Any] = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "130021 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
CONTENT_POLICY_ERROR: dict[str, Any] = {
    "error": {
        "message": "Your request was rejected as a result of our safety system. Your prompt may contain text "
        "that is not allowed by our safety system.",
        "type": "invalid_request_error",
        "param": None,
        "code": "content_policy_violation",
    }
}
AZURE_CONTENT_FILTER_ERROR: dict[str, Any] = {
    "error": {
        "message": _AZURE_CONTENT_FILTER_MESSAGE,
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {
                "hate": {"filtered": False, "severity": "safe"},
                "jailbreak": {"filtered": False, "detected": False},
                "self_harm": {"filtered": False, "severity": "safe"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": True, "severity": "medium"},
            },
        },
    }
}

_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_PREFIX = "Hello from the simulator. You said: "
_TOOL_PREFIX = "Hello from the simulator. The tool said: "
_FINGERPRINT = "fp_sim0c0ffee"
_ORGANIZATION = "user-simulator"
_RATE_LIMIT_REQUESTS = 10_000
_RATE_LIMIT_TOKENS = 30_000_000
_MODELS = (
    ("gpt-4o", 1715367049, "system"),
    ("gpt-4o-mini", 1721172741, "system"),
    ("gpt-4.1", 1744316542, "system"),
    ("o3-mini", 1737146383, "system"),
    ("gpt-3.5-turbo-instruct", 1692901427, "system"),
    ("text-embedding-3-small", 1705948997, "system"),
    ("text-embedding-3-large", 1705953180, "system"),
    ("text-embedding-ada-002", 1671217299, "openai-internal"),
)
_SAFE_FILTERS = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}
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


@dataclass
class _Answer:
    content: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str


class _ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _error(message: str, *, type_: str | None = "invalid_request_error", param: str | None = None,
           code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _mask_key(key: str) -> str:
    """Mask a key the way OpenAI's 401 message does: sk-WRQsP***…xQBt (short keys: sk-wr****ng)."""
    if len(key) > 12:
        return key[:8] + "*" * (len(key) - 12) + key[-4:]
    return key[:5] + "****" + key[-2:]


def _auth_error(key: str | None) -> dict[str, Any]:
    if not key:
        return _error(
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
            "username) if you're accessing the API from your browser and are prompted for a username and "
            "password. You can obtain an API key from https://platform.openai.com/account/api-keys."
        )
    return _error(
        f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def _azure_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


_AZURE_AUTH_ERROR = _azure_error(
    "401",
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource.",
)
_AZURE_NOT_FOUND = _azure_error("404", "Resource not found")


def _default_error_body(status: int, *, model: str, key: str | None, request_id: str,
                        is_azure: bool, api_version: str) -> dict[str, Any]:
    """The body the real API sends for `status` (Azure's own shape for the statuses where it differs)."""
    if is_azure and status == 401:
        return _AZURE_AUTH_ERROR
    if is_azure and status == 404:
        return _AZURE_NOT_FOUND
    if is_azure and status == 429:
        return _azure_error(
            "429",
            f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version {api_version} "
            "have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 1 "
            "second. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase "
            "the default rate limit.",
        )
    bodies = {
        400: _error("Unrecognized request argument supplied: simulated"),
        401: _auth_error(key),
        403: _error("Country, region, or territory not supported", type_="request_forbidden",
                    code="unsupported_country_region_territory"),
        404: _error(f"The model `{model}` does not exist or you do not have access to it.",
                    code="model_not_found"),
        408: _error("Request timed out.", type_="server_error"),
        409: _error("Another request is already in progress for this resource. Please retry.",
                    code="conflict"),
        422: _error("The request was well-formed but could not be processed.", code="unprocessable_entity"),
        429: _error(
            f"Rate limit reached for {model} in organization org-simulator on requests per min (RPM): "
            "Limit 3, Used 3, Requested 1. Please try again in 20ms. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.",
            type_="requests", code="rate_limit_exceeded",
        ),
        500: _error(
            "The server had an error processing your request. Sorry about that! You can retry your request, "
            "or contact us through our help center at help.openai.com if you keep seeing this error. "
            f"(Please include the request ID {request_id} in your email.)",
            type_="server_error",
        ),
        503: _error(
            "That model is currently overloaded with other requests. You can retry your request, or contact "
            "us through our help center at help.openai.com if the error persists. (Please include the "
            f"request ID {request_id} in your message.)",
            type_="server_error",
        ),
    }
    if status in bodies:
        return bodies[status]
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return _error(f"Simulated HTTP {status}.", type_=kind)


def _tokens(text: str) -> list[str]:
    """Split text into word-tokens that join back to it exactly (leading whitespace stays with its word)."""
    pieces = re.findall(r"\s*\S+", text)
    rest = text[len("".join(pieces)):]
    if rest:
        pieces = [*pieces[:-1], pieces[-1] + rest] if pieces else [rest]
    return pieces


def _count(text: str) -> int:
    return len(text.split())


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    total = 0
    for message in messages:
        total += 3 + _count(_message_text(message))
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            total += _count(str(function.get("name", ""))) + _count(str(function.get("arguments", "")))
    return total


def _example(schema: Any, root: Any, depth: int = 0) -> Any:
    """A value that satisfies `schema`'s required structure (see the module docstring for the rule)."""
    if not isinstance(schema, dict) or depth > 10:
        return "example"
    if isinstance(schema.get("$ref"), str):
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _example(target, root, depth + 1)
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if not (isinstance(o, dict) and o.get("type") == "null")]
        if options:
            return _example(options[0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        required = schema.get("required") or []
        return {name: _example(properties.get(name), root, depth + 1) for name in required}
    if kind == "array":
        return [_example(schema.get("items"), root, depth + 1)]
    return {"integer": 1, "number": 1, "boolean": True, "null": None}.get(kind or "string", "example")


def _tool_arguments(tool: dict[str, Any]) -> str:
    parameters = (tool.get("function") or {}).get("parameters") or {}
    return json.dumps(_example(parameters, parameters) or {}, separators=(",", ":"))


def _chosen_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return []
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        named = [t for t in tools if (t.get("function") or {}).get("name") == name]
        return named[:1] or [{"type": "function", "function": {"name": name}}]
    if len(tools) >= 2 and body.get("parallel_tool_calls") is not False:
        return tools[:2]
    return tools[:1]


def _answer_text(messages: list[dict[str, Any]]) -> str:
    trailing_tools: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        trailing_tools.insert(0, _message_text(message))
    if trailing_tools:
        return _TOOL_PREFIX + " | ".join(trailing_tools)
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    return _PREFIX + (_message_text(last_user) if last_user else "")


def _chat_answer(body: dict[str, Any]) -> _Answer:
    messages = body["messages"]
    if messages[-1].get("role") == "user":
        tools = _chosen_tools(body)
        if tools:
            calls = [
                {"id": "call_" + uuid.uuid4().hex[:24], "type": "function",
                 "function": {"name": (t.get("function") or {}).get("name"), "arguments": _tool_arguments(t)}}
                for t in tools
            ]
            return _Answer(None, calls, "tool_calls")
    text = _answer_text(messages)
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_object":
        text = json.dumps({"reply": text})
    elif response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        text = json.dumps(_example(schema, schema))
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return _truncate(text, limit)


def _truncate(text: str, limit: int | None) -> _Answer:
    tokens = _tokens(text)
    if isinstance(limit, int) and len(tokens) > limit:
        return _Answer("".join(tokens[:limit]), [], "length")
    return _Answer(text, [], "stop")


def _completion_tokens(answer: _Answer) -> int:
    if answer.tool_calls:
        return sum(_count(c["function"]["name"] or "") + _count(c["function"]["arguments"])
                   for c in answer.tool_calls)
    return _count(answer.content or "")


def _usage(prompt: int, completion: int, *, details: bool = True) -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}
    if details:
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        usage["completion_tokens_details"] = {
            "reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        }
    return usage


def _token_logprob(token: str, position: int, top: int) -> dict[str, Any]:
    logprob = -0.125 * (position % 4 + 1)
    alternatives = [{"token": token, "logprob": logprob, "bytes": list(token.encode())}]
    for rank in range(1, top):
        alt = f"{token}~{rank}"
        alternatives.append({"token": alt, "logprob": logprob - 1.5 * rank, "bytes": list(alt.encode())})
    return {"token": token, "logprob": logprob, "bytes": list(token.encode()),
            "top_logprobs": alternatives[:top]}


def _split(text: str, parts_min: int, size_max: int) -> list[str]:
    size = max(1, min(size_max, len(text) // parts_min))
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _stream_pieces(content: str, with_logprobs: bool) -> list[str]:
    pieces = _tokens(content)
    if len(pieces) < 3 and len(content) >= 3 and not with_logprobs:
        size = math.ceil(len(content) / 3)
        pieces = [content[i:i + size] for i in range(0, len(content), size)]
    return pieces


def _vector(text: str, dims: int) -> list[float]:
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    values = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return list(struct.unpack(f"<{dims}f", struct.pack(f"<{dims}f", *(v / norm for v in values))))


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
        error = error or _error("The server had an error while processing your request. Sorry about that!",
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
        except _ApiError as err:
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
            body = _default_error_body(
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
                raise _ApiError(404, _AZURE_NOT_FOUND)
            raise _ApiError(404, _error(f"Invalid URL ({ctx.request.method} {ctx.request.path})"))
        if route.needs_api_version:
            version = ctx.recorded.query.get("api-version")
            if not version:
                raise _ApiError(404, _AZURE_NOT_FOUND)
            if self.azure_api_versions is not None and version not in self.azure_api_versions:
                raise _ApiError(400, _azure_error("BadRequest", "API version not supported"))
        key = _presented_key(ctx.recorded)
        if key not in self.api_keys:
            raise _ApiError(401, _AZURE_AUTH_ERROR if route.is_azure else _auth_error(key))
        if route.operation in ("models", "model"):
            return self._json(ctx, _models_body(route))
        if payload is _INVALID_JSON or not isinstance(payload, dict):
            raise _ApiError(400, _error(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent "
                "was not valid JSON. If you have trouble figuring out how to fix this, please contact us "
                "through our help center at help.openai.com.)"
            ))
        model = self._model(route, payload)
        if route.operation == "embeddings":
            return self._json(ctx, _embeddings_body(payload, model))
        if payload.get("stream_options") is not None and not payload.get("stream"):
            message = "The 'stream_options' parameter is only allowed when 'stream' is enabled."
            raise _ApiError(400, _error(message, param="stream_options"))
        if route.operation == "completions":
            chunks, body = _completions(payload, model, route.is_azure)
        else:
            chunks, body = _chat(payload, model, route.is_azure)
        if payload.get("stream"):
            return await self._stream(ctx, chunks)
        return self._json(ctx, body)

    def _model(self, route: _Route, payload: dict[str, Any]) -> str:
        deployment = route.deployment or payload.get("model")
        if not deployment:
            raise _ApiError(400, _error("you must provide a model parameter"))
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


def _models_body(route: _Route) -> dict[str, Any]:
    models = [{"id": name, "object": "model", "created": created, "owned_by": owner}
              for name, created, owner in _MODELS]
    if route.operation == "models":
        return {"object": "list", "data": models}
    found = next((m for m in models if m["id"] == route.model_id), None)
    if found is None:
        raise _ApiError(404, _error(f"The model '{route.model_id}' does not exist", param="model",
                                    code="model_not_found"))
    return found


def _validate_messages(messages: Any) -> list[dict[str, Any]]:
    if messages is None:
        raise _ApiError(400, _error("Missing required parameter: 'messages'.", param="messages",
                                    code="missing_required_parameter"))
    if not isinstance(messages, list) or not messages:
        message = ("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
                   "empty array instead.")
        raise _ApiError(400, _error(message, param="messages", code="empty_array"))
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role is None:
            raise _ApiError(400, _error(f"Missing required parameter: 'messages[{index}].role'.",
                                        param=f"messages[{index}].role", code="missing_required_parameter"))
        if role not in _ROLES:
            raise _ApiError(400, _error(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', "
                "'tool', and 'developer'.", param=f"messages[{index}].role", code="invalid_value"))
    return messages


def _chat(body: dict[str, Any], model: str, is_azure: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The stream chunks and the non-stream body for one chat request (only one of them is sent)."""
    messages = _validate_messages(body.get("messages"))
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_object" and not any(
        "json" in _message_text(m).lower() for m in messages
    ):
        raise _ApiError(400, _error("'messages' must contain the word 'json' in some form, to use "
                                    "'response_format' of type 'json_object'.", param="messages"))
    n = body.get("n") or 1
    answers = [_chat_answer(body) for _ in range(n)]
    top = int(body.get("top_logprobs") or 0) if body.get("logprobs") else 0
    with_logprobs = bool(body.get("logprobs"))
    usage = _usage(_prompt_tokens(messages), sum(_completion_tokens(a) for a in answers))
    tier = body.get("service_tier")
    head: dict[str, Any] = {
        "id": "chatcmpl-" + uuid.uuid4().hex[:29], "object": "chat.completion", "created": int(time.time()),
        "model": model, "service_tier": "default" if tier in (None, "auto") else tier,
        "system_fingerprint": _FINGERPRINT,
    }
    if is_azure:
        del head["service_tier"]
    choices = [_chat_choice(i, a, with_logprobs, top, is_azure) for i, a in enumerate(answers)]
    completion = {**head, "choices": choices, "usage": usage}
    if is_azure:
        completion["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": _SAFE_FILTERS}]
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    obfuscate = not is_azure and (body.get("stream_options") or {}).get("include_obfuscation") is not False
    chunk_head = {**head, "object": "chat.completion.chunk"}
    steps = [_chat_steps(a, with_logprobs, top) for a in answers]
    chunks = _interleave(chunk_head, steps, include_usage=include_usage, obfuscate=obfuscate,
                         is_azure=is_azure)
    if include_usage:
        chunks.append(_chunk(chunk_head, [], include_usage, obfuscate) | {"usage": usage})
    if is_azure:
        chunks.insert(0, {"choices": [], "created": 0, "id": "", "model": "", "object": "",
                          "prompt_filter_results": completion["prompt_filter_results"]})
    return chunks, completion


def _chat_choice(index: int, answer: _Answer, with_logprobs: bool, top: int,
                 is_azure: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content, "refusal": None,
                               "annotations": []}
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    logprobs = None
    if with_logprobs and answer.content is not None:
        tokens = _tokens(answer.content)
        logprobs = {"content": [_token_logprob(t, i, top) for i, t in enumerate(tokens)], "refusal": None}
    choice = {"index": index, "message": message, "logprobs": logprobs, "finish_reason": answer.finish_reason}
    if is_azure:
        choice["content_filter_results"] = _SAFE_FILTERS
    return choice


_Step = tuple[dict[str, Any], Any, str | None]  # (delta, logprobs, finish_reason)


def _chat_steps(answer: _Answer, with_logprobs: bool, top: int) -> list[_Step]:
    """One choice's stream as (delta, logprobs, finish_reason) steps, in OpenAI's order."""
    steps: list[_Step] = []
    if answer.tool_calls:
        for index, call in enumerate(answer.tool_calls):
            opening = {"index": index, "id": call["id"], "type": "function",
                       "function": {"name": call["function"]["name"], "arguments": ""}}
            if index == 0:
                first = {"role": "assistant", "content": None, "tool_calls": [opening], "refusal": None}
                steps.append((first, None, None))
            else:
                steps.append(({"tool_calls": [opening]}, None, None))
            for fragment in _split(call["function"]["arguments"], 2, 8):
                delta = {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
                steps.append((delta, None, None))
    else:
        empty_logprobs: dict[str, Any] | None = {"content": [], "refusal": None} if with_logprobs else None
        steps.append(({"role": "assistant", "content": "", "refusal": None}, empty_logprobs, None))
        for position, piece in enumerate(_stream_pieces(answer.content or "", with_logprobs)):
            logprobs = None
            if with_logprobs:
                logprobs = {"content": [_token_logprob(piece, position, top)], "refusal": None}
            steps.append(({"content": piece}, logprobs, None))
    steps.append(({}, None, answer.finish_reason))
    return steps


def _chunk(head: dict[str, Any], choices: list[dict[str, Any]], include_usage: bool,
           obfuscate: bool) -> dict[str, Any]:
    chunk = {**head, "choices": choices}
    if include_usage:
        chunk["usage"] = None
    if obfuscate:
        chunk["obfuscation"] = "sim" + "x" * (len(json.dumps(choices)) % 7)
    return chunk


def _interleave(head: dict[str, Any], steps: list[list[_Step]], *,
                include_usage: bool, obfuscate: bool, is_azure: bool) -> list[dict[str, Any]]:
    chunks = []
    for position in range(max(len(s) for s in steps)):
        for index, choice_steps in enumerate(steps):
            if position >= len(choice_steps):
                continue
            delta, logprobs, finish_reason = choice_steps[position]
            choice: dict[str, Any] = {"index": index, "delta": delta, "logprobs": logprobs,
                                      "finish_reason": finish_reason}
            if is_azure:  # Azure reports the filters on content deltas, `{}` on the others
                choice["content_filter_results"] = _SAFE_FILTERS if delta.get("content") else {}
            chunks.append(_chunk(head, [choice], include_usage, obfuscate))
    return chunks


def _prompts(prompt: Any) -> list[str]:
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, int) for p in prompt):
        return [" ".join(map(str, prompt))]
    if isinstance(prompt, list):
        return [p if isinstance(p, str) else " ".join(map(str, p)) for p in prompt] or [""]
    return [""]


def _legacy_logprobs(text: str, top: int) -> dict[str, Any]:
    tokens = _tokens(text)
    entries = [_token_logprob(t, i, max(top, 1)) for i, t in enumerate(tokens)]
    offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
    return {"tokens": tokens, "token_logprobs": [e["logprob"] for e in entries],
            "top_logprobs": [{a["token"]: a["logprob"] for a in e["top_logprobs"][:top]} for e in entries],
            "text_offset": offsets}


def _completions(body: dict[str, Any], model: str,
                 is_azure: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Legacy /completions: `text_completion` objects; max_tokens defaults to 16 as in the real API."""
    prompts = _prompts(body.get("prompt"))
    n = body.get("n") or 1
    limit = body.get("max_tokens") if body.get("max_tokens") is not None else 16
    top = body.get("logprobs")
    answers = [_truncate(_PREFIX + prompt, limit) for prompt in prompts for _ in range(n)]
    head = {"id": "cmpl-" + uuid.uuid4().hex[:29], "object": "text_completion", "created": int(time.time()),
            "model": model, "system_fingerprint": _FINGERPRINT}
    choices: list[dict[str, Any]] = []
    for index, answer in enumerate(answers):
        text = (prompts[index // n] if body.get("echo") else "") + (answer.content or "")
        logprobs = _legacy_logprobs(text, top) if isinstance(top, int) else None
        choices.append({"text": text, "index": index, "logprobs": logprobs,
                        "finish_reason": answer.finish_reason})
        if is_azure:
            choices[-1]["content_filter_results"] = _SAFE_FILTERS
    completion_tokens = sum(_count(a.content or "") for a in answers)
    usage = _usage(sum(_count(p) for p in prompts), completion_tokens, details=False)
    completion = {**head, "choices": choices, "usage": usage}
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    steps: list[list[tuple[str, str | None]]] = []
    for choice, answer in zip(choices, answers, strict=True):
        pieces: list[tuple[str, str | None]] = [(p, None) for p in _stream_pieces(choice["text"], False)]
        steps.append([*pieces, ("", answer.finish_reason)])
    chunks = []
    for position in range(max(len(s) for s in steps)):
        for index, choice_steps in enumerate(steps):
            if position < len(choice_steps):
                text, finish_reason = choice_steps[position]
                choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}
                chunks.append(_chunk(head, [choice], include_usage, obfuscate=False))
    if include_usage:
        chunks.append({**head, "choices": [], "usage": usage})
    return chunks, completion


def _embeddings_body(body: dict[str, Any], model: str) -> dict[str, Any]:
    raw = body.get("input")
    if raw is None:
        raise _ApiError(400, _error("Missing required parameter: 'input'.", param="input",
                                    code="missing_required_parameter"))
    if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw)):
        raw = [raw]
    if not isinstance(raw, list) or not raw or any(item in ("", []) for item in raw):
        raise _ApiError(400, _error("'$.input' is invalid. Please check the API reference: "
                                    "https://platform.openai.com/docs/api-reference."))
    dimensions = body.get("dimensions")
    if dimensions is not None and model == "text-embedding-ada-002":
        raise _ApiError(400, _error("This model does not support specifying dimensions.", param="dimensions"))
    dims = dimensions or (3072 if model.endswith("text-embedding-3-large") else 1536)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(raw):
        text = item if isinstance(item, str) else " ".join(map(str, item))
        vector = _vector(text, dims)
        embedding: Any = vector
        if as_base64:
            embedding = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(_count(item) if isinstance(item, str) else len(item) for item in raw)
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

