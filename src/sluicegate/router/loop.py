"""The event loop behind the router's sync methods: one daemon thread per router, started on first use.

The router is async inside (its state may be Redis); `completion()` runs `acompletion()` on this loop and waits,
so a sync caller gets the same retries, fallbacks and cooldowns, and a sync stream pulls chunk by chunk.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the router's loop and wait for its result (its exception is raised here)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._started()).result()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="sluicegate-router", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


class SyncRoutedStream:
    """A routed stream for sync callers: `for chunk in stream`; each chunk is pulled on the router's loop."""

    def __init__(self, stream: Any, loop: LoopThread) -> None:
        self._stream = stream
        self._loop = loop
        self._hidden_params: dict[str, Any] = stream._hidden_params
        self.response_headers: dict[str, str] = stream.response_headers

    @property
    def usage(self) -> Any:
        return self._stream.usage

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        try:
            return self._loop.run(_next(self._stream))
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        self._loop.run(self._stream.aclose())

    def __enter__(self) -> SyncRoutedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _next(stream: Any) -> Any:
    return await stream.__anext__()
