"""The default async transport: a lean HTTP/1.1 client on asyncio Protocols and httptools, keep-alive pools per
upstream. Deliberately not: redirects (a provider key must not follow a 3xx), cookies, proxies (a process with
HTTP(S)_PROXY set uses the aiohttp transport instead, see pool.py), HTTP/2, codings other than gzip/deflate.

Why it exists: aiohttp's client was ~39 % of the gateway's CPU under load (py-spy, 16 concurrent chat calls to a
fast mock), mostly generality we do not use. With this client the SDK's CPU per call at 50 concurrent calls fell
from 0.61 to 0.22 ms, and at 1 from 0.43 to 0.26 ms (medians of 4 runs of `benchmarks/sdk_overhead.py --quick
--only sluicegate --skip-import`, against the same with SLUICEGATE_HTTP_CLIENT=aiohttp).
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

from sluicegate.errors import APIConnectionError, Timeout
from sluicegate.providers.base import HttpRequest
from sluicegate.transport.base import USER_AGENT, HttpResponse, Timeouts
from sluicegate.transport.http11_connection import Connection, expire

_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^#]*)")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # these send content-length: 0 when they have no body


@dataclass(frozen=True, slots=True)
class _Origin:
    key: tuple[str, str, int]  # (scheme, host, port): one pool each
    host: str  # for DNS and TLS (no brackets around an IPv6 address)
    authority: str  # host[:port] as the URL wrote it, for the host header and error messages
    basic_auth: str | None  # from user:password@ in the URL, as aiohttp and httpx honour it


def _origin(scheme: str, netloc: str) -> _Origin:
    scheme = scheme.lower()
    userinfo, _, authority = netloc.rpartition("@")
    if scheme not in _DEFAULT_PORTS:
        raise APIConnectionError(f"cannot connect to {authority or netloc}: unsupported URL scheme {scheme!r}")
    try:
        parts = urllib.parse.urlsplit(f"{scheme}://{authority}")
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError as error:
        raise APIConnectionError(f"cannot connect to {authority}: {error}") from error
    if not parts.hostname:
        raise APIConnectionError(f"cannot connect to {netloc!r}: the URL has no host")
    if parts.port == _DEFAULT_PORTS[scheme]:
        authority = authority.rsplit(":", 1)[0]  # as aiohttp and botocore's SigV4 do: no default port in host
    auth = None
    if userinfo:
        plain = urllib.parse.unquote(userinfo if ":" in userinfo else userinfo + ":")
        auth = "Basic " + base64.b64encode(plain.encode()).decode()
    return _Origin((scheme, parts.hostname, port), parts.hostname, authority, auth)


def _head(method: str, target: str, origin: _Origin, headers: dict[str, str], body: bytes | None,
          is_json: bool) -> bytes:
    """The request line and headers. The caller's headers win over our defaults, compared case-insensitively."""
    fields = {"host": origin.authority, "user-agent": USER_AGENT, "accept": "*/*",
              "accept-encoding": "identity"}  # so bodies arrive as they are, with nothing to decompress
    if is_json:
        fields["content-type"] = "application/json"
    if origin.basic_auth is not None:
        fields["authorization"] = origin.basic_auth
    for name, value in headers.items():
        fields[name.lower()] = value
    if body is not None or method in _BODY_METHODS:
        fields["content-length"] = str(len(body) if body else 0)
    fields.pop("transfer-encoding", None)  # the body is always sent whole, with its length
    lines = [f"{method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in fields.items())]
    text = "\r\n".join(lines) + "\r\n\r\n"
    # One line per header and nothing else: a CR or LF inside a value would let it forge a header.
    if text.count("\n") != len(lines) + 1 or text.count("\r") != len(lines) + 1:
        bad = sorted(name for name, value in fields.items() if "\r" in f"{name}{value}" or "\n" in f"{name}{value}")
        raise ValueError(f"line break in the request line or header(s) {bad or ''}: refusing to send it")
    return text.encode()


class Http11Stream:
    """A response whose body is read as it arrives; closing it before the end closes the connection (which is
    how a client disconnect cancels the upstream), reading it to the end returns the connection to the pool."""

    __slots__ = ("_conn", "_pool", "_read_s", "headers", "status")

    def __init__(self, pool: Http11Transport, conn: Connection, read_s: float) -> None:
        self._pool = pool
        self._conn: Connection | None = conn
        self._read_s = read_s
        self.status = conn.status
        self.headers = conn.headers

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        while True:
            piece = conn.take()
            if piece:
                yield piece
            elif conn.is_done:
                break
            else:
                await conn.wait(conn.loop.time() + self._read_s)
        await self.aclose()

    async def aread(self) -> bytes:
        conn = self._conn
        if conn is None:
            return b""
        pieces = []
        while True:
            pieces.append(conn.take())  # taking resumes a paused socket
            if conn.is_done:
                break
            await conn.wait(conn.loop.time() + self._read_s)
        await self.aclose()
        return b"".join(pieces)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool._check_in(conn)

    def __del__(self) -> None:
        # A stream dropped unread (an async generator never started never runs its finally) must not hold its
        # connection, and its slot under max_connections, for ever.
        conn = self._conn
        if conn is not None and not conn.loop.is_closed():
            self._pool._check_in(conn)


class Http11Transport:
    """Keep-alive pools per (scheme, host, port): idle connections reused newest first, closed after
    `keepalive_s` idle; at most `max_connections` requests in flight (more wait for a slot, within their timeout).

    A pooled connection the server had already closed (EOF or reset before any response byte) is retried once
    on a fresh connection: the request never reached the server's handler. Nothing is retried once a response
    byte arrived.
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, max_connections: int = 1000,
                 max_idle_per_host: int = 100, keepalive_s: float = 15.0) -> None:
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._max_idle_per_host = max_idle_per_host
        self._keepalive_s = keepalive_s
        self._origins: dict[str, _Origin] = {}
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._in_use = 0
        self._slot_waiters: deque[asyncio.Future[bool]] = deque()
        self._closed = False

    async def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeouts.total
        conn = await self._open(request, deadline, timeouts.connect, is_stream=False)
        try:
            while not conn.is_done:
                await conn.wait(deadline)
        except BaseException:
            self._check_in(conn)
            raise
        response = HttpResponse(conn.status, conn.headers, conn.take())
        self._check_in(conn)
        return response

    async def open_stream(self, request: HttpRequest, timeouts: Timeouts) -> Http11Stream:
        """Returns once the headers arrived (within `timeouts.total`); each wait for more of the body is bounded
        by `timeouts.read`."""
        deadline = asyncio.get_running_loop().time() + timeouts.total
        conn = await self._open(request, deadline, timeouts.connect, is_stream=True)
        return Http11Stream(self, conn, timeouts.read)

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.abort()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports' connection_lost callbacks close their sockets

    async def _open(self, request: HttpRequest, deadline: float, connect_s: float, *, is_stream: bool) -> Connection:
        """Send the request and wait for the response headers, retrying once on a fresh connection when a pooled
        one turns out to have been closed by the server."""
        origin, target = self._route(request.url)
        if request.json is not None:
            body: bytes | None = orjson.dumps(request.json)
        else:
            body = request.content
        head = _head(request.method, target, origin, request.headers, body, request.json is not None)
        expects_body = request.method != "HEAD"
        is_fresh = False
        while True:
            conn, is_reused = await self._check_out(origin, deadline, connect_s, is_fresh=is_fresh)
            try:
                conn.start(head, body, expects_body=expects_body, is_stream=is_stream)
                while not conn.is_head_done:
                    await conn.wait(deadline)
                return conn
            except APIConnectionError as error:
                self._check_in(conn)
                if is_reused and not is_fresh and not conn.got_bytes and not isinstance(error, Timeout):
                    is_fresh = True
                    continue
                raise
            except BaseException:
                self._check_in(conn)
                raise

    def _route(self, url: str) -> tuple[_Origin, str]:
        """The origin and the request target: path and query exactly as the URL has them (already encoded, so
        a SigV4 signature over the path still matches)."""
        match = _URL.match(url)
        if match is None:
            raise APIConnectionError(f"cannot connect to {url[:80]!r}: not an absolute http(s) URL")
        scheme, netloc, target = match.groups()
        prefix = url[:match.end(2)]
        origin = self._origins.get(prefix)
        if origin is None:
            if len(self._origins) >= 1024:  # a cache, not a registry: callers may name any number of hosts
                self._origins.clear()
            origin = self._origins[prefix] = _origin(scheme, netloc)
        if not target.startswith("/"):
            target = "/" + target
        return origin, target

    async def _check_out(self, origin: _Origin, deadline: float, connect_s: float, *,
                         is_fresh: bool) -> tuple[Connection, bool]:
        """A connection for one exchange, and whether it was pooled; takes a slot under max_connections."""
        if self._in_use >= self._max_connections:
            await self._wait_for_slot(origin, deadline)
        self._in_use += 1
        try:
            if not is_fresh and (conn := self._pooled(origin.key)) is not None:
                return conn, True
            return await self._connect(origin, deadline, connect_s), False
        except BaseException:
            self._free_slot()
            raise

    def _pooled(self, key: tuple[str, str, int]) -> Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        oldest_allowed = asyncio.get_running_loop().time() - self._keepalive_s
        while idle:
            conn = idle.pop()
            if conn.idle_since < oldest_allowed:  # the newest is too old, so are all before it
                conn.abort()
                for older in idle:
                    older.abort()
                idle.clear()
                return None
            if conn.is_reusable and not conn.is_closed:
                return conn
            conn.abort()
        return None

    def _check_in(self, conn: Connection) -> None:
        """Back to the pool if its response was read to the end and it may be reused; closed otherwise."""
        self._free_slot()
        conn.finish_exchange()
        if not (conn.is_done and conn.is_reusable and not conn.is_closed) or self._closed:
            conn.abort()
            return
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= self._max_idle_per_host:
            idle.pop(0).abort()  # the oldest goes
        conn.idle_since = conn.loop.time()
        idle.append(conn)

    async def _connect(self, origin: _Origin, deadline: float, connect_s: float) -> Connection:
        loop = asyncio.get_running_loop()
        conn = Connection(loop, origin.authority, origin.key)
        scheme, host, port = origin.key
        context = self._tls_context() if scheme == "https" else None
        try:
            async with asyncio.timeout_at(min(deadline, loop.time() + connect_s)):
                await loop.create_connection(lambda: conn, host, port, ssl=context,
                                             server_hostname=host if context is not None else None)
        except TimeoutError as error:
            raise Timeout(f"connection to {origin.authority} timed out") from error
        except OSError as error:  # refused, reset, DNS (gaierror), TLS (SSLError)
            raise APIConnectionError(f"connection to {origin.authority} failed: {type(error).__name__}: {error}"
                                     ) from error
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()  # loading the CA store costs ms: once, when needed
        return self._ssl_context

    async def _wait_for_slot(self, origin: _Origin, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while self._in_use >= self._max_connections:
            waiter: asyncio.Future[bool] = loop.create_future()
            self._slot_waiters.append(waiter)
            timer = loop.call_at(deadline, expire, waiter)
            try:
                is_woken = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.result():
                    self._wake_slot_waiter()  # the slot we were given goes to the next in line
                raise
            finally:
                timer.cancel()
            if not is_woken:
                raise Timeout(f"request to {origin.authority} timed out waiting for a free connection "
                              f"({self._max_connections} in use)")

    def _free_slot(self) -> None:
        self._in_use -= 1
        if self._slot_waiters:
            self._wake_slot_waiter()

    def _wake_slot_waiter(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
