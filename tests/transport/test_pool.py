"""The pooled clients: one per event loop (async) or process (sync), reused, closed only at shutdown."""

import asyncio
import gc
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
    assert seen[0]._session.closed  # closed by asyncio.run's shutdown of async generators

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
