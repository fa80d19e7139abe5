"""What every provider simulator shares: an aiohttp server on 127.0.0.1 with its own event loop in a background
thread, the requests it received, scripted answers, stream faults and cancelled streams. It speaks no protocol:
a subclass adds the provider's routes, answers and error bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar

from aiohttp import web

__all__ = ["RecordedRequest", "Script", "SimulatorServer", "lowered"]


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
class Script:
    """Answer the next `times` requests with `status` and `body` (None → the provider's body for the status)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


ScriptT = TypeVar("ScriptT", bound=Script)


def lowered(headers: dict[str, str] | None) -> dict[str, str]:
    """`headers` with lower-cased names, as a script stores them."""
    return {k.lower(): v for k, v in (headers or {}).items()}


class SimulatorServer(ABC, Generic[ScriptT]):
    """The server under a simulator. `with Sim() as sim:` starts it on a free port and stops it on exit.

    A subclass implements `_answer` (its routes) and `_scripted` (a scripted status, with its own error body),
    and may override `_respond` to act before both (authentication, delays).
    """

    provider: ClassVar[str]  # names the thread and the start-up errors: "the OpenAI simulator did not start"
    base_path: ClassVar[str] = ""  # what `base_url` adds to the host root

    def __init__(self, api_keys: set[str]) -> None:
        self._initial_keys = set(api_keys)
        self.api_keys = set(api_keys)
        self.chunk_delay_s = 0.0  # between stream events, so a test can abandon a stream midway
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripts: deque[ScriptT] = deque()
        self._stream_errors: deque[tuple[int, bytes]] = deque()
        self._cancelled_streams = 0
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The host root, http://127.0.0.1:<port>."""
        if self._port is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        return self.url + self.base_path

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def cancelled_streams(self) -> int:
        """Streams whose client went away before the last event."""
        with self._lock:
            return self._cancelled_streams

    def reset(self) -> None:
        """Forget requests, scripts, stream errors, delays and counters; restore the keys as constructed."""
        with self._lock:
            self._requests.clear()
            self._scripts.clear()
            self._stream_errors.clear()
            self._cancelled_streams = 0
        self.api_keys = set(self._initial_keys)
        self.chunk_delay_s = 0.0

    def start(self) -> Self:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._serve, args=(ready, failure),
                                        name=f"{self.provider.lower()}-simulator", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"the {self.provider} simulator did not start within 10 s")
        if failure:
            self._thread = None
            raise RuntimeError(f"the {self.provider} simulator failed to start") from failure[0]
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _add_script(self, script: ScriptT) -> None:
        with self._lock:
            self._scripts.append(script)

    def _add_stream_error(self, after_events: int, frame: bytes) -> None:
        """Send `frame` in place of the next stream's event number `after_events` and end that stream."""
        with self._lock:
            self._stream_errors.append((after_events, frame))

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
        raw = await request.read()
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        recorded = RecordedRequest(request.method, request.path, dict(request.query),
                                   {k.lower(): v for k, v in request.headers.items()}, payload, raw)
        with self._lock:
            self._requests.append(recorded)
            script = self._take_script()
        return await self._respond(request, recorded, script)

    def _take_script(self) -> ScriptT | None:
        if not self._scripts:
            return None
        script = self._scripts[0]
        script.times -= 1
        if script.times <= 0:
            self._scripts.popleft()
        return script

    async def _respond(self, request: web.Request, recorded: RecordedRequest,
                       script: ScriptT | None) -> web.StreamResponse:
        """The scripted answer when one is due, else the provider's; override to act before both."""
        if script is not None:
            return await self._scripted(request, recorded, script)
        return await self._answer(request, recorded)

    @abstractmethod
    async def _scripted(self, request: web.Request, recorded: RecordedRequest, script: ScriptT) -> web.StreamResponse:
        """The response `script` asks for; a None body means the provider's own error body for the status."""

    @abstractmethod
    async def _answer(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        """The provider's answer to a request no script claimed: its routes, checks and error bodies."""

    async def _send_stream(self, request: web.Request, headers: dict[str, str], frames: list[bytes],
                           done: bytes = b"") -> web.StreamResponse:
        """Send `frames` then `done`, pausing `chunk_delay_s` between frames. A queued stream error takes the
        place of the rest; a client that leaves before the end counts in `cancelled_streams`."""
        with self._lock:
            broken = self._stream_errors.popleft() if self._stream_errors else None
        response = web.StreamResponse(status=200, headers=headers)
        response.enable_chunked_encoding()
        finished = False
        try:
            await response.prepare(request)
            await self._write_frames(response, frames, broken, done)
            finished = True
            await response.write_eof()
        except ConnectionError:  # aiohttp's ClientConnectionResetError: the client closed mid-stream
            self._count_cancel(finished)
        except asyncio.CancelledError:
            self._count_cancel(finished)
            raise
        return response

    async def _write_frames(self, response: web.StreamResponse, frames: list[bytes],
                            broken: tuple[int, bytes] | None, done: bytes) -> None:
        for index, frame in enumerate(frames):
            if broken is not None and index == broken[0]:
                await response.write(broken[1])
                return
            if index and self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            await response.write(frame)
        if done:
            await response.write(done)

    def _count_cancel(self, finished: bool) -> None:
        if not finished:
            with self._lock:
                self._cancelled_streams += 1
