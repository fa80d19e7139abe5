"""The transport's small interface: send a request, get status, headers and a body or a byte stream.

It knows nothing about providers. Tests swap in another implementation; errors it raises are already
sluicegate's (`APIConnectionError`, `Timeout`), without provider or model (the caller adds them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sluicegate.providers.base import HttpRequest

USER_AGENT = "sluicegate/0.1.0"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. `total` bounds a whole non-stream call, and a stream up to its first byte; `read` bounds each
    wait for more bytes of a stream (a stream may run longer than `total` while it keeps sending)."""

    total: float
    connect: float
    read: float

    @classmethod
    def from_arg(cls, timeout: Any, *, default_total: float, default_connect: float) -> Timeouts:
        """Accept what callers pass as `timeout`: seconds, an httpx.Timeout-like object, or a Timeouts."""
        if timeout is None:
            return cls(default_total, min(default_connect, default_total), default_total)
        if isinstance(timeout, Timeouts):
            return timeout
        if isinstance(timeout, int | float):
            total = float(timeout)
            return cls(total, min(default_connect, total), total)
        # httpx.Timeout / openai's: connect, read, write, pool attributes (None means unbounded).
        read = getattr(timeout, "read", None)
        connect = getattr(timeout, "connect", None)
        total = float(read) if read is not None else default_total
        return cls(total, float(connect) if connect is not None else min(default_connect, total), total)


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


class AsyncStreamResponse(Protocol):
    status: int
    headers: dict[str, str]

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...

    async def aread(self) -> bytes: ...

    async def aclose(self) -> None: ...


class SyncStreamResponse(Protocol):
    status: int
    headers: dict[str, str]

    def iter_bytes(self) -> Iterator[bytes]: ...

    def read(self) -> bytes: ...

    def close(self) -> None: ...


class AsyncTransport(Protocol):
    async def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResponse: ...

    async def open_stream(self, request: HttpRequest, timeouts: Timeouts) -> AsyncStreamResponse: ...

    async def aclose(self) -> None: ...


class SyncTransport(Protocol):
    def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResponse: ...

    def open_stream(self, request: HttpRequest, timeouts: Timeouts) -> SyncStreamResponse: ...

    def close(self) -> None: ...
