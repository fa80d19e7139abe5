"""One HTTP/1.1 client connection: an asyncio Protocol that writes a request and parses its response with
httptools (llhttp), one exchange at a time.

Not a pool, a retry policy or a URL parser (those are in transport/http11.py); it never pipelines.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

import httptools

from sluicegate.errors import APIConnectionError, Timeout

MAX_HEAD_BYTES = 128 * 1024  # status line and headers of one response; more is a broken or hostile server
_PAUSE_AT_BYTES = 256 * 1024  # a stream's unread body beyond this stops reading the socket until it is taken


def expire(waiter: asyncio.Future[bool]) -> None:
    """A timer's callback: wake a waiter with False (no news in time)."""
    if not waiter.done():
        waiter.set_result(False)


def _decompressor(encoding: str) -> Any:
    """We send `accept-encoding: identity`, but a server may compress anyway: gzip and zlib-wrapped deflate
    are undone here (wbits 32 + 15 detects which), anything else is passed on as it came."""
    if encoding.strip().lower() in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(32 + zlib.MAX_WBITS)
    return None


class _StrayResponse(Exception):  # raised inside the parser only, to stop it
    pass


class Connection(asyncio.Protocol):
    """A keep-alive connection to one origin. `start` sends a request; `wait` returns when the parser has news
    (headers, body, the end) and raises APIConnectionError / Timeout; `take` hands over the body read so far.

    A stream's body is delivered as it arrives (reading pauses while too much is unread); a whole-body
    exchange wakes its waiter at the headers and at the end only.
    """

    __slots__ = ("_buffered", "_chunks", "_decompressor", "_error", "_expects_body", "_head_bytes", "_is_active",
                 "_is_interim", "_is_paused", "_is_stream", "_parser", "_reads_until_close", "_waiter",
                 "authority", "got_bytes", "headers", "idle_since", "is_closed", "is_done", "is_head_done",
                 "is_reusable", "key", "loop", "status", "transport")

    def __init__(self, loop: asyncio.AbstractEventLoop, authority: str, key: tuple[str, str, int]) -> None:
        self.loop = loop
        self.authority = authority  # how errors name the server: host[:port] as in the URL
        self.key = key  # (scheme, host, port): the pool this connection belongs to
        self.transport: asyncio.Transport | None = None
        self.is_closed = False
        self.is_reusable = True
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[bool] | None = None
        self._is_active = False
        self._reset(expects_body=True, is_stream=False)

    def _reset(self, *, expects_body: bool, is_stream: bool) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.got_bytes = False  # any byte of this exchange's response arrived
        self.is_head_done = False
        self.is_done = False
        self._expects_body = expects_body  # False for HEAD, which llhttp cannot know about
        self._is_stream = is_stream
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._head_bytes = 0
        self._is_interim = False
        self._is_paused = False
        self._reads_until_close = False
        self._decompressor: Any = None
        self._error: APIConnectionError | None = None

    def start(self, head: bytes, body: bytes | None, *, expects_body: bool = True, is_stream: bool = False) -> None:
        """Send a request (the pool hands out only connections whose previous response was read to the end)."""
        if self.transport is None or self._is_active:  # the pool never does this; a bug must not corrupt a body
            raise RuntimeError("a connection carries one exchange at a time")
        self._reset(expects_body=expects_body, is_stream=is_stream)
        self._is_active = True
        if body and len(body) > 65536:
            self.transport.write(head)  # a large body is not copied just to save a syscall
            self.transport.write(body)
        else:
            self.transport.write(head + body if body else head)

    async def wait(self, deadline: float) -> None:
        """Until the response has news or `deadline` (loop time) passes (Timeout)."""
        if self._error is not None:
            raise self._error
        waiter: asyncio.Future[bool] = self.loop.create_future()
        self._waiter = waiter
        timer = self.loop.call_at(deadline, expire, waiter)
        try:
            has_news = await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self._error is not None:
            raise self._error
        if not has_news:
            raise Timeout(f"request to {self.authority} timed out")

    def take(self) -> bytes:
        """The body bytes received since the last `take`."""
        chunks = self._chunks
        if not chunks:
            return b""
        self._chunks = []
        self._buffered = 0
        if self._is_paused and self.transport is not None:
            self._is_paused = False
            self.transport.resume_reading()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def finish_exchange(self) -> None:
        self._is_active = False
        if self._is_paused and self.transport is not None:
            self._is_paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        """Close now, whatever is in flight (a server reading our request sees the connection go)."""
        self.is_reusable = False
        if self.transport is not None and not self.is_closed:
            self.transport.abort()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def _fail(self, error: APIConnectionError) -> None:
        self.abort()
        if self._is_active and not self.is_done and self._error is None:
            self._error = error
            self._wake()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # create_connection gives a stream transport

    def data_received(self, data: bytes) -> None:
        if not self._is_active or self.is_done:
            self.abort()  # bytes nobody asked for: this connection's framing can no longer be trusted
            return
        self.got_bytes = True
        if not self.is_head_done:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as error:
            self._fail(APIConnectionError(f"malformed response from {self.authority}: {error}".rstrip(": ")))
            return
        if not self.is_head_done and self._head_bytes > MAX_HEAD_BYTES:
            self._fail(APIConnectionError(f"malformed response from {self.authority}: "
                                          f"headers longer than {MAX_HEAD_BYTES} bytes"))

    def eof_received(self) -> bool:
        self._closed_by_server(None)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_closed = True
        self.is_reusable = False
        self._closed_by_server(exc)

    def _closed_by_server(self, exc: Exception | None) -> None:
        self.is_reusable = False
        if not self._is_active or self.is_done or self._error is not None:
            return
        if exc is None and self.is_head_done and self._reads_until_close:
            self._complete()  # a body without length or chunks ends when the server closes
            return
        what = "was complete" if self.got_bytes else "arrived"
        reason = f": {type(exc).__name__}: {exc}".rstrip(": ") if exc is not None else ""
        self._error = APIConnectionError(f"connection to {self.authority} closed before the response {what}"
                                         f"{reason}")
        self._wake()

    def _complete(self) -> None:
        if self._decompressor is not None:
            self._add_body(self._decompressor.flush())
        self.is_done = True
        self._wake()

    def _add_body(self, body: bytes) -> None:
        if body:
            self._chunks.append(body)
            self._buffered += len(body)

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self.is_done:
            raise _StrayResponse  # a second response to one request
        self.headers = {}

    def on_header(self, name: bytes, value: bytes) -> None:
        # latin-1 never fails and round-trips any byte; repeated headers are joined as RFC 9110 allows.
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self.headers.get(key)
        self.headers[key] = text if previous is None else f"{previous}, {text}"

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            self._is_interim = True  # 1xx (103 Early Hints …): the real response follows
            return
        self.status = status
        self.is_head_done = True
        headers = self.headers
        if not self._parser.should_keep_alive():
            self.is_reusable = False
        if not self._expects_body:
            self.is_reusable = False  # llhttp would read a HEAD response's content-length as a body
            self._complete()
            return
        if "content-encoding" in headers:
            self._decompressor = _decompressor(headers["content-encoding"])
        self._reads_until_close = (status not in (204, 304) and "content-length" not in headers
                                   and "chunked" not in headers.get("transfer-encoding", "").lower())
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.is_done or self._error is not None:
            return
        if self._decompressor is not None:
            try:
                body = self._decompressor.decompress(body)
            except zlib.error as error:
                self._fail(APIConnectionError(f"malformed response from {self.authority}: "
                                              f"cannot decompress the body: {error}"))
                return
        self._add_body(body)
        if self._is_stream and body:
            self._wake()
            if self._buffered > _PAUSE_AT_BYTES and not self._is_paused and self.transport is not None:
                self._is_paused = True
                self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self._is_interim:
            self._is_interim = False
            return
        if not self.is_done and self._error is None:
            self._complete()
