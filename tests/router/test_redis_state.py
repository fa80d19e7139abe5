"""RouterState on a real Redis: two instances share cooldowns, usage and latencies; limits hold under concurrency;
an outage falls back to memory without failing a call. Two routers on one Redis see each other's cooldowns."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as redis_asyncio

from sluicegate.router import Router
from sluicegate.router.redis_state import IN_FLIGHT_TTL_S, WINDOW_TTL_S, RedisState, ResilientState, redis_state
from sluicegate.router.state import MemoryState, Usage
from tests.gateway.processes import RedisServer
from tests.router.conftest import MESSAGES, FakeClock, deployment

pytestmark = pytest.mark.redis
MINUTE = 28_333_333


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"sluicegate-test:{uuid.uuid4().hex}:"
    yield name
    client = redis_asyncio.Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=name + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def two_states(redis_url: str, prefix: str) -> AsyncIterator[tuple[RedisState, RedisState]]:
    """Two states with their own connections, as two gateway instances would have."""
    clients = [redis_asyncio.Redis.from_url(redis_url) for _ in range(2)]
    yield RedisState(clients[0], prefix), RedisState(clients[1], prefix)
    for client in clients:
        await client.aclose()


async def test_two_instances_see_each_others_cooldowns_and_failures(two_states):
    a, b = two_states
    assert await a.add_failure("dep-1", MINUTE) == 1
    assert await b.add_failure("dep-1", MINUTE) == 2
    assert await b.add_failure("dep-1", MINUTE + 1) == 1  # a new minute counts afresh
    await a.cooldown("dep-1", until=1000.0)
    await b.cooldown("dep-1", until=900.0)  # an earlier end never shortens a cooldown
    assert await b.cooling_down(["dep-1", "dep-2"], now=500.0) == {"dep-1": 1000.0}
    await a.cooldown("wild:openai/gpt-4o", until=600.0)
    assert await b.all_cooling_down(now=500.0) == {"dep-1": 1000.0, "wild:openai/gpt-4o": 600.0}
    assert await b.all_cooling_down(now=600.0) == {"dep-1": 1000.0}  # over at its end
    assert await a.cooling_down(["dep-1"], now=1000.0) == {}  # over at its end


async def test_usage_latency_and_in_flight_are_shared(two_states):
    a, b = two_states
    assert await a.reserve("dep-1", MINUTE, 100)
    assert await b.reserve("dep-1", MINUTE, 50)
    await a.add_tokens("dep-1", MINUTE, -20)  # settled: the call used less than reserved
    assert await b.usage(["dep-1", "dep-2"], MINUTE) == {"dep-1": Usage(2, 130), "dep-2": Usage(0, 0)}
    await a.record_latency("dep-1", 0.25, now=10.0)
    await b.record_latency("dep-1", 0.5, now=20.0)
    assert await a.latencies(["dep-1", "dep-2"], since=15.0) == {"dep-1": [0.5], "dep-2": []}
    assert await a.add_in_flight("dep-1", 1) == 1
    assert await b.add_in_flight("dep-1", 1) == 2
    await a.add_in_flight("dep-1", -1)
    assert await b.in_flight(["dep-1"]) == {"dep-1": 1}


async def test_rpm_holds_across_instances_under_concurrency(two_states):
    a, b = two_states
    attempts = [state.reserve("dep-1", MINUTE, 10, rpm=10) for _ in range(20) for state in (a, b)]
    granted = await asyncio.gather(*attempts)
    assert granted.count(True) == 10
    assert await a.usage(["dep-1"], MINUTE) == {"dep-1": Usage(10, 100)}
    assert not await b.reserve("dep-2", MINUTE, 501, tpm=500)  # one call larger than the tpm left: refused
    assert await b.usage(["dep-2"], MINUTE) == {"dep-2": Usage(0, 0)}  # and nothing counted


async def test_every_key_expires_on_its_own(two_states, redis_url, prefix):
    a, _ = two_states
    await a.add_failure("dep-1", MINUTE)
    await a.reserve("dep-1", MINUTE, 5)
    await a.add_in_flight("dep-1", 1)
    await a.record_latency("dep-1", 0.1, now=1.0)
    client = redis_asyncio.Redis.from_url(redis_url)
    ttls = {key.decode().removeprefix(prefix): await client.ttl(key)
            async for key in client.scan_iter(match=prefix + "*")}
    await client.aclose()
    assert 0 < ttls[f"{{dep-1}}:fails:{MINUTE}"] <= WINDOW_TTL_S
    assert 0 < ttls[f"{{dep-1}}:rpm:{MINUTE}"] <= WINDOW_TTL_S
    assert 0 < ttls["{dep-1}:inflight"] <= IN_FLIGHT_TTL_S
    assert ttls["{dep-1}:latency"] > 0


async def test_an_unreachable_redis_falls_back_to_memory_with_one_warning(caplog):
    clock = FakeClock()
    state = redis_state(url="redis://127.0.0.1:1/0", timeout_s=0.2)  # nothing listens on port 1
    state._clock = clock
    with caplog.at_level(logging.WARNING, logger="sluicegate.router"):
        assert await state.reserve("dep-1", MINUTE, 10, rpm=1)
        assert not await state.reserve("dep-1", MINUTE, 10, rpm=1)  # memory still enforces the limit here
        await state.cooldown("dep-1", until=clock() + 30)
        assert await state.cooling_down(["dep-1"], clock()) == {"dep-1": clock() + 30}
    assert state.is_degraded
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "Redis is unreachable" in caplog.records[0].message


class _Flaky(MemoryState):
    """A primary that fails until told otherwise."""

    down = True

    async def add_in_flight(self, deployment_id: str, delta: int) -> int:
        if self.down:
            raise ConnectionRefusedError("connection refused")
        return await super().add_in_flight(deployment_id, delta)


async def test_redis_is_tried_again_after_a_pause_and_resumes(caplog):
    clock = FakeClock()
    primary = _Flaky()
    state = ResilientState(primary, retry_after_s=5.0, clock=clock)
    assert await state.add_in_flight("dep-1", 1) == 1  # from memory
    primary.down = False
    clock.advance(4)
    assert await state.add_in_flight("dep-1", 1) == 2  # still memory: Redis is left alone for 5 s
    clock.advance(1)
    with caplog.at_level(logging.INFO, logger="sluicegate.router"):
        assert await state.add_in_flight("dep-1", 1) == 1  # Redis again (its own count)
    assert not state.is_degraded
    assert "answers again" in caplog.records[-1].message


async def test_two_routers_on_one_redis_share_a_cooldown(openai_sim, second_sim, redis_url, prefix):
    clock = FakeClock()
    model_list = [deployment(second_sim, "gpt", id="flaky", order=1),
                  deployment(openai_sim, "gpt", id="steady", order=2)]
    namespace = prefix.rstrip(":")
    first, second = (Router(model_list, redis_url=redis_url, redis_namespace=namespace, clock=clock,
                            cooldown_time=30) for _ in range(2))
    try:
        second_sim.script(429, times=1)
        await first.acompletion(model="gpt", messages=MESSAGES)  # flaky answers 429 and cools down; steady serves
        assert await second.cooling_down() == {"flaky": clock() + 30}
        answer = await second.acompletion(model="gpt", messages=MESSAGES)
        assert answer._hidden_params["model_id"] == "steady"  # the other instance never tries flaky
        assert len(second_sim.requests) == 1
    finally:
        first.close()
        second.close()


def _commands(server: RedisServer) -> dict[str, int]:
    """Calls per command so far, not counting this probe's own connection set-up and INFO."""
    import redis

    client = redis.Redis.from_url(server.url)
    try:
        stats = client.info("commandstats")
        return {k: int(v["calls"]) for k, v in stats.items()
                if k not in ("cmdstat_info", "cmdstat_hello") and not k.startswith("cmdstat_client")}
    finally:
        client.close()


def _sent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


async def test_simple_shuffle_sends_redis_nothing_per_request_but_least_busy_shares_in_flight(
        openai_sim, tmp_path) -> None:
    """Round trips are paid on the request path: a router on Redis shares what its strategy reads, and cooldowns
    are read from a snapshot refreshed once a second, so simple-shuffle requests cost Redis no command."""
    server = RedisServer(tmp_path).start()
    shuffle = Router([deployment(openai_sim, "gpt", id="a"), deployment(openai_sim, "gpt", id="b")],
                     redis_url=server.url)
    busy = Router([deployment(openai_sim, "gpt", id="a"), deployment(openai_sim, "gpt", id="b")],
                  redis_url=server.url, routing_strategy="least-busy")
    try:
        await shuffle.acompletion(model="gpt", messages=MESSAGES)  # reads the cooldown snapshot once
        before = _commands(server)
        for _ in range(20):
            await shuffle.acompletion(model="gpt", messages=MESSAGES)
        assert _sent(before, _commands(server)) == {}
        before = _commands(server)
        await busy.acompletion(model="gpt", messages=MESSAGES)
        assert sum(_sent(before, _commands(server)).values()) >= 3  # in-flight read, +1 and -1, shared
    finally:
        shuffle.close()
        busy.close()
        server.stop()
