"""Where the SDK's pooled clients live: one async transport per event loop, one sync transport per process.

Clients are closed only at shutdown — when their event loop shuts down (asyncio.run does this), at interpreter
exit, or by `sluicegate.aclose()` — never on eviction, because an evicted client may still serve a request.
Tests and embedders may install their own transport with `use_transport()`.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sluicegate.transport.base import AsyncTransport, SyncTransport

_async_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncTransport] = (
    weakref.WeakKeyDictionary())
_keepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, object] = weakref.WeakKeyDictionary()
_sync: SyncTransport | None = None
_sync_lock = threading.Lock()
_override_async: AsyncTransport | None = None
_override_sync: SyncTransport | None = None


async def _close_with_loop(transport: AsyncTransport) -> AsyncIterator[None]:
    # An async generator suspended here is closed by the loop's shutdown_asyncgens(), which asyncio.run()
    # calls before it closes the loop: that is the hook that lets the session close on its own loop.
    try:
        yield
    finally:
        await transport.aclose()


async def async_transport() -> AsyncTransport:
    if _override_async is not None:
        return _override_async
    loop = asyncio.get_running_loop()
    transport = _async_by_loop.get(loop)
    if transport is None:
        transport = _new_async_transport()
        _async_by_loop[loop] = transport
        keeper = _close_with_loop(transport)
        await keeper.__anext__()
        _keepers[loop] = keeper
    return transport


def _new_async_transport() -> AsyncTransport:
    """Our HTTP/1.1 client (transport/http11.py), unless the environment sets a proxy (it speaks to upstreams
    directly only), httptools is not installed (it comes with the gateway extra), or SLUICEGATE_HTTP_CLIENT=aiohttp
    asks for aiohttp."""
    if os.environ.get("SLUICEGATE_HTTP_CLIENT", "").strip().lower() != "aiohttp" and not _has_proxy():
        try:
            from sluicegate.transport.http11 import Http11Transport
        except ImportError:  # no httptools
            pass
        else:
            return Http11Transport()
    from sluicegate.transport.async_client import AiohttpTransport

    return AiohttpTransport()


def _has_proxy() -> bool:
    import urllib.request  # ~40 ms of imports (http.client, email …): only when the first call needs a client

    proxies = urllib.request.getproxies()  # HTTP(S)_PROXY, as AiohttpTransport reads them
    return bool(proxies.get("http") or proxies.get("https"))


def sync_transport() -> SyncTransport:
    global _sync
    if _override_sync is not None:
        return _override_sync
    if _sync is None:
        with _sync_lock:
            if _sync is None:
                from sluicegate.transport.sync_client import HttpxTransport

                _sync = HttpxTransport()
                atexit.register(_sync.close)
    return _sync


async def aclose() -> None:
    """Close this event loop's pooled connections (and the process's sync ones). Safe to call twice."""
    global _sync
    loop = asyncio.get_running_loop()
    transport = _async_by_loop.pop(loop, None)
    _keepers.pop(loop, None)
    if transport is not None:
        await transport.aclose()
    if _sync is not None:
        _sync.close()
        _sync = None


def use_transport(*, sync: SyncTransport | None = None, async_: AsyncTransport | None = None) -> None:
    """Route every SDK call through these transports (None restores the pooled defaults)."""
    global _override_async, _override_sync
    _override_sync, _override_async = sync, async_
