"""A local Vertex AI for tests: Vertex's URLs and OAuth in front of the Gemini and Anthropic simulators.

Vertex serves Gemini with the generateContent body unchanged and Claude with the Messages API body, less `model`
(named in the URL) and plus an `anthropic_version` (`vertex-2023-10-16`)
(https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude). So this server checks
what Vertex adds — the path, the bearer token, the Claude body's differences — and forwards each call to the
simulator of the publisher, streaming its answer back. Embeddings (`:predict`) are answered here.

Routes: POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent |
:streamGenerateContent (`?alt=sse`) | :predict, and publishers/anthropic/models/{model}:rawPredict |
:streamRawPredict. A token not issued by `token_server` → 401 UNAUTHENTICATED; another project than `project`
→ 403 PERMISSION_DENIED; a Claude body with `model` or a wrong `anthropic_version` → 400, in Google's error format.
Checked with google-genai (vertexai=True) and anthropic's AnthropicVertex in test_vertex_simulator.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
import socket
import threading
from typing import Any

import aiohttp
from aiohttp import web

from tests.simulators.anthropic import AnthropicSimulator
from tests.simulators.gemini import GeminiSimulator
from tests.simulators.google_oauth import GoogleTokenServer
from tests.simulators.openai import RecordedRequest

_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/(?P<publisher>"
                   r"google|anthropic)/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")
# Anthropic documents "vertex-2023-10-16"; its SDK's Vertex client (2.12) sends its dated API version instead.
_ANTHROPIC_VERSION = re.compile(r"^(vertex-)?\d{4}-\d{2}-\d{2}$")
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding", "date", "server"})


def _google_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message, "status": code}}, status=status)


class VertexSimulator:
    """`with VertexSimulator(token_server, gemini_sim, anthropic_sim, project="test-project") as vertex:`;
    `vertex.url` is the host root a caller puts in `api_base`."""

    def __init__(self, tokens: GoogleTokenServer, gemini: GeminiSimulator, anthropic: AnthropicSimulator,
                 project: str = "test-project") -> None:
        self.tokens = tokens
        self.gemini = gemini
        self.anthropic = anthropic
        self.project = project
        self.requests: list[RecordedRequest] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port = 0
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def __enter__(self) -> VertexSimulator:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True, name="vertex-sim")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the Vertex simulator did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._open())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _open(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._session = aiohttp.ClientSession(auto_decompress=False)

    async def _close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            payload = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            payload = None
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.query),
                                             {k.lower(): v for k, v in request.headers.items()}, payload, raw))
        match = _PATH.match(request.path)
        if request.method != "POST" or match is None:
            return _google_error(404, "NOT_FOUND", f"The requested URL {request.path} was not found on this server.")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens.issued:
            return _google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected "
                                 "OAuth 2 access token, login cookie or other valid authentication credential.")
        if match["project"] != self.project:
            return _google_error(403, "PERMISSION_DENIED", f"Permission 'aiplatform.endpoints.predict' denied on "
                                 f"resource '//aiplatform.googleapis.com/projects/{match['project']}'")
        if not isinstance(payload, dict):
            return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if match["publisher"] == "anthropic":
            return await self._claude(request, match["model"], match["method"], payload)
        if match["method"] == "predict":
            return _predict(match["model"], payload)
        if match["method"] not in ("generateContent", "streamGenerateContent"):
            return _google_error(400, "INVALID_ARGUMENT", f"Unknown method {match['method']}")
        query = "?alt=sse" if request.query.get("alt") == "sse" else ""
        headers = {"content-type": "application/json", "x-goog-api-key": sorted(self.gemini.api_keys)[0]}
        return await self._forward(request, f"{self.gemini.base_url}/models/{match['model']}:{match['method']}"
                                   f"{query}", headers, raw)

    async def _claude(self, request: web.Request, model: str, method: str, body: dict[str, Any]
                      ) -> web.StreamResponse:
        if method not in ("rawPredict", "streamRawPredict"):
            return _google_error(400, "INVALID_ARGUMENT", f"Unknown method {method} for a partner model")
        if "model" in body:
            return _google_error(400, "INVALID_ARGUMENT", "model: Extra inputs are not permitted (Vertex AI "
                                 "takes the model from the URL)")
        if not _ANTHROPIC_VERSION.match(str(body.get("anthropic_version"))):
            return _google_error(400, "INVALID_ARGUMENT", "anthropic_version: Field required (e.g. vertex-2023-10-16)")
        if bool(body.get("stream")) != (method == "streamRawPredict"):
            return _google_error(400, "INVALID_ARGUMENT", f"{method} does not match stream={body.get('stream')}")
        forwarded = {key: value for key, value in body.items() if key != "anthropic_version"}
        forwarded["model"] = model
        headers = {"content-type": "application/json", "x-api-key": sorted(self.anthropic.api_keys)[0],
                   "anthropic-version": "2023-06-01"}
        if "anthropic-beta" in request.headers:
            headers["anthropic-beta"] = request.headers["anthropic-beta"]
        return await self._forward(request, f"{self.anthropic.base_url.rstrip('/')}/v1/messages", headers,
                                   json.dumps(forwarded).encode())

    async def _forward(self, request: web.Request, url: str, headers: dict[str, str], body: bytes
                       ) -> web.StreamResponse:
        assert self._session is not None
        async with self._session.post(url, data=body, headers=headers) as upstream:
            response = web.StreamResponse(status=upstream.status, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS})
            await response.prepare(request)
            async for piece in upstream.content.iter_any():
                await response.write(piece)
            await response.write_eof()
            return response


def _predict(model: str, payload: dict[str, Any]) -> web.Response:
    instances = payload.get("instances")
    if not isinstance(instances, list) or not instances:
        return _google_error(400, "INVALID_ARGUMENT", "instances must be a non-empty list")
    dimensions = int((payload.get("parameters") or {}).get("outputDimensionality") or 768)
    predictions = []
    for instance in instances:
        text = str(instance.get("content", ""))
        seeded = random.Random(hashlib.sha256(text.encode()).digest())
        vector = [seeded.uniform(-1, 1) for _ in range(dimensions)]
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        predictions.append({"embeddings": {"values": [v / norm for v in vector],
                                           "statistics": {"token_count": len(text.split()), "truncated": False}}})
    return web.json_response({"predictions": predictions, "metadata": {
        "billableCharacterCount": sum(len(str(i.get("content", ""))) for i in instances)}})
