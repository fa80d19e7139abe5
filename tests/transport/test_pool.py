"""The pooled clients: one per event loop (async) or process (sync), reused, closed only at shutdown."""

import asyncio
import gc
import sys
import warnings

import sluicegate
from sluicegate.transport import pool


def test_one_async_transport_per_loop_reused_across_calls_and_closed_with_the_loop(openai_sim):
    seen = []

    async def two_calls():
        for _ in range(2):
            await sluicegate.acompletion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
                                         api_base=openai_sim.base_url, api_key="sk-test")
            seen.append(await pool.async_transport())

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)  # an unclosed aiohttp session would warn here
        asyncio.run(two_calls())
        gc.collect()
    assert seen[0] is seen[1]
    assert seen[0]._closed  # closed by asyncio.run's shutdown of async generators

    async def one_more():
        return await pool.async_transport()

    assert asyncio.run(one_more()) is not seen[0]  # a new loop gets its own pool


def test_sync_transport_is_shared_and_aclose_is_idempotent():
    assert pool.sync_transport() is pool.sync_transport()

    async def close_twice():
        await pool.async_transport()
        await sluicegate.aclose()
        await sluicegate.aclose()

    asyncio.run(close_twice())


def test_use_transport_overrides_and_restores():
    class Recorder:
        def send(self, request, timeouts):
            raise AssertionError("not used here")

    recorder = Recorder()
    pool.use_transport(sync=recorder)
    try:
        assert pool.sync_transport() is recorder
    finally:
        pool.use_transport()
    assert pool.sync_transport() is not recorder


def test_proxies_come_from_the_environment_once_and_no_proxy_is_honoured(monkeypatch):
    from sluicegate.transport.async_client import AiohttpTransport

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1,.corp.example")

    async def proxies():
        transport = AiohttpTransport()
        try:
            return (transport._proxy("https://api.openai.com/v1/chat/completions"),
                    transport._proxy("https://llm.corp.example/v1/x"), transport._proxy("http://127.0.0.1:9/v1"))
        finally:
            await transport.aclose()

    assert asyncio.run(proxies()) == ("http://proxy.internal:3128", None, None)


def test_the_async_client_is_ours_unless_a_proxy_is_set_or_aiohttp_is_asked_for(monkeypatch):
    from sluicegate.transport.async_client import AiohttpTransport
    from sluicegate.transport.http11 import Http11Transport

    async def kind():
        transport = pool._new_async_transport()
        await transport.aclose()
        return type(transport)

    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert asyncio.run(kind()) is Http11Transport
    monkeypatch.setenv("SLUICEGATE_HTTP_CLIENT", "aiohttp")
    assert asyncio.run(kind()) is AiohttpTransport
    monkeypatch.delenv("SLUICEGATE_HTTP_CLIENT")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert asyncio.run(kind()) is AiohttpTransport


def test_without_httptools_the_async_client_is_aiohttp(monkeypatch):
    from sluicegate.transport.async_client import AiohttpTransport

    monkeypatch.setitem(sys.modules, "httptools", None)  # as if not installed
    for name in ("sluicegate.transport.http11", "sluicegate.transport.http11_connection"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    async def kind():
        transport = pool._new_async_transport()
        await transport.aclose()
        return type(transport)

    assert asyncio.run(kind()) is AiohttpTransport
