"""`PipelinedRedis`: a small Redis client for the request path — one connection, every command pipelined on it.

The budget ledger sends two Lua script calls per limited request. Through redis-py each call took about 0.35 ms
of gateway CPU (pool checkout, an asyncio timeout per read, generic argument encoding, RESP3 parsing): a third of
the gateway's time with virtual keys on Redis (profiled with py-spy, benchmarks/virtual_keys.py). Here a call
is one encoded write and one future: Redis answers the commands of a connection in order, so replies are matched
to callers first in, first out, and any number of concurrent requests share one connection with no pool and no
lock.

Commands sent in the same event-loop iteration go out in one write, and their replies usually arrive in one read.
Timeouts are per connection, not per call: while replies are awaited, a watchdog checks that the oldest one is
younger than `timeout_s`, and otherwise drops the connection, failing every waiting call with `TimeoutError`. A
lost connection fails its calls with `ConnectionError`; the next call connects again. Both are `OSError`s (a
Redis outage to the ledger, which then counts in memory). Error replies raise `RedisReplyError`.

RESP2 only, the commands the ledger needs (EVALSHA with its EVAL fallback, GET); `redis://` and `rediss://` URLs
or host/port, with AUTH and SELECT on connect.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

DEFAULT_TIMEOUT_S = 0.5


class RedisReplyError(Exception):
    """Redis answered a command with an error reply (`-ERR …`)."""


class _Incomplete(Exception):
    """The buffer does not hold a whole reply yet."""


Arg = str | bytes | int


@dataclass(frozen=True, slots=True)
class Segment:
    """Several arguments encoded once and reused across commands (the ledger's keys and limits of one entity):
    encoding is most of what a command with thirty arguments costs in Python."""

    data: bytes
    count: int


def _bulk(arg: Arg) -> bytes:
    data = arg.encode() if isinstance(arg, str) else (b"%d" % arg if isinstance(arg, int) else arg)
    return b"$%d\r\n%s\r\n" % (len(data), data)


def segment(args: Sequence[Arg]) -> Segment:
    return Segment(b"".join(_bulk(arg) for arg in args), len(args))


def encode_command(args: Sequence[Arg | Segment]) -> bytes:
    """One command in RESP: an array of bulk strings."""
    count = 0
    parts = [b""]
    for arg in args:
        if isinstance(arg, Segment):
            parts.append(arg.data)
            count += arg.count
        else:
            parts.append(_bulk(arg))
            count += 1
    parts[0] = b"*%d\r\n" % count
    return b"".join(parts)


def parse_reply(buffer: bytes | bytearray, start: int = 0) -> tuple[Any, int]:
    """The reply that begins at `start`, and where the next one begins; `_Incomplete` if it has not all arrived.
    Error replies come back as `RedisReplyError` values (raised by the caller of that command, not here)."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        raise _Incomplete
    kind, line = buffer[start:start + 1], bytes(buffer[start + 1:end])
    after = end + 2
    if kind == b"+":
        return line.decode(), after
    if kind == b"-":
        return RedisReplyError(line.decode(errors="replace")), after
    if kind == b":":
        return int(line), after
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            raise _Incomplete
        return bytes(buffer[after:after + size]), after + size + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, after
        items = []
        for _ in range(count):
            item, after = parse_reply(buffer, after)
            items.append(item)
        return items, after
    raise ValueError(f"not a RESP reply: {bytes(buffer[start:start + 16])!r}")


class _Connection(asyncio.Protocol):
    """One TCP connection: writes commands, resolves the waiting futures in order as replies arrive."""

    def __init__(self, timeout_s: float) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()  # (future, when sent)
        self._buffer = bytearray()
        self._timeout_s = timeout_s
        self._watchdog: asyncio.TimerHandle | None = None
        self._unsent: list[bytes] = []  # commands of this loop iteration, written together (one system call)
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def send(self, command: bytes) -> asyncio.Future[Any]:
        """Queue `command` for this loop iteration's write; the future resolves with its reply."""
        if self.closed or self.transport is None:
            raise ConnectionError("the Redis connection is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.waiting.append((future, loop.time()))
        if not self._unsent:
            loop.call_soon(self._write)
        self._unsent.append(command)
        if self._watchdog is None:
            self._watchdog = loop.call_later(self._timeout_s, self._check_timeout)
        return future

    def _write(self) -> None:
        unsent, self._unsent = self._unsent, []
        if self.transport is not None and not self.closed:
            self.transport.write(b"".join(unsent))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        start = 0
        try:
            while start < len(self._buffer) and self.waiting:
                reply, start = parse_reply(self._buffer, start)
                future, _ = self.waiting.popleft()
                if not future.done():
                    future.set_result(reply)
        except _Incomplete:
            pass
        except ValueError as error:  # a stream we cannot read: nothing after this can be matched to a caller
            del self._buffer[:start]
            self._fail(ConnectionError(f"unreadable reply from Redis: {error}"))
            return
        del self._buffer[:start]

    def _check_timeout(self) -> None:
        self._watchdog = None
        if not self.waiting:
            return
        loop = asyncio.get_running_loop()
        oldest = self.waiting[0][1]
        if loop.time() - oldest >= self._timeout_s:
            self._fail(TimeoutError(f"Redis did not answer within {self._timeout_s} s"))
        else:
            self._watchdog = loop.call_at(oldest + self._timeout_s, self._check_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError(f"the Redis connection was lost ({exc or 'closed by the server'})"))

    def _fail(self, error: Exception) -> None:
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.abort()


class PipelinedRedis:
    """Commands to one Redis over one pipelined connection (module docstring). Use from one event loop."""

    def __init__(self, *, url: str | None = None, host: str | None = None, port: int | None = None,
                 password: str | None = None, db: int | None = None, username: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._tls = False
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("redis", "rediss"):
                raise ValueError("a Redis URL starts with redis:// or rediss://")
            self._tls = parts.scheme == "rediss"
            host, port = parts.hostname, parts.port
            username = unquote(parts.username) if parts.username else None
            password = unquote(parts.password) if parts.password else password
            path = parts.path.strip("/")
            db = int(path) if path else db
        self._host = host or "localhost"
        self._port = int(port or 6379)
        self._username = username
        self._password = password
        self._db = int(db or 0)
        self._timeout_s = timeout_s
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None
        self._shas: dict[str, str] = {}  # script → its SHA1

    async def _connected(self) -> _Connection:
        connection = self._connection
        if connection is not None and not connection.closed:
            return connection
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        context = ssl.create_default_context() if self._tls else None
        _, connection = await asyncio.wait_for(
            loop.create_connection(lambda: _Connection(self._timeout_s), self._host, self._port, ssl=context),
            self._timeout_s)
        setup: list[tuple[str, list[Arg]]] = []
        if self._password is not None:
            setup.append(("AUTH", ["AUTH", self._username, self._password] if self._username
                          else ["AUTH", self._password]))
        if self._db:
            setup.append(("SELECT", ["SELECT", self._db]))
        for name, command in setup:
            reply = await connection.send(encode_command(command))
            if isinstance(reply, RedisReplyError):
                connection._fail(ConnectionError("Redis refused the connection's setup"))
                raise ConnectionError(f"Redis refused {name}: {reply}")  # the reply, never the password
        self._connection = connection
        return connection

    async def execute(self, *args: Arg | Segment) -> Any:
        """Send one command and return its reply (raises `RedisReplyError` for an error reply)."""
        reply = await (await self._connected()).send(encode_command(args))
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    async def run_script(self, script: str, keys: Sequence[Arg | Segment], args: Sequence[Arg | Segment]) -> Any:
        """EVALSHA, falling back to EVAL (which caches the script in Redis) when Redis does not know it yet."""
        sha, key_count = self._sha(script), _count(keys)
        try:
            return await self.execute("EVALSHA", sha, key_count, *keys, *args)
        except RedisReplyError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        return await self.execute("EVAL", script, key_count, *keys, *args)

    def run_script_soon(self, script: str, keys: Sequence[Arg | Segment],
                        args: Sequence[Arg | Segment]) -> asyncio.Future[Any]:
        """`run_script` for a caller that does not wait for the answer: no coroutine or task of its own while
        connected (awaiting a reply costs a request a suspension and a wake-up). It goes out with this loop
        iteration's other commands, before those sent after it; the future holds the reply or the error."""
        connection = self._connection
        if connection is None or connection.closed:
            return asyncio.ensure_future(self.run_script(script, keys, args))
        result: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        key_count = _count(keys)
        try:
            sent = connection.send(encode_command(("EVALSHA", self._sha(script), key_count, *keys, *args)))
        except ConnectionError as error:
            result.set_exception(error)
            return result

        def answered(future: asyncio.Future[Any]) -> None:
            error = future.exception()
            reply = error if error is not None else future.result()
            if isinstance(reply, RedisReplyError) and str(reply).startswith("NOSCRIPT"):
                retry = asyncio.ensure_future(self.execute("EVAL", script, key_count, *keys, *args))
                retry.add_done_callback(lambda done: _copy(done, result))
            elif isinstance(reply, BaseException):
                result.set_exception(reply)
            else:
                result.set_result(reply)

        sent.add_done_callback(answered)
        return result

    def _sha(self, script: str) -> str:
        sha = self._shas.get(script)
        if sha is None:
            sha = self._shas[script] = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324  # Redis's script id
        return sha

    async def aclose(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
        self._connection = None


def _count(args: Sequence[Arg | Segment]) -> int:
    return sum(arg.count if isinstance(arg, Segment) else 1 for arg in args)


def _copy(source: asyncio.Future[Any], target: asyncio.Future[Any]) -> None:
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())
