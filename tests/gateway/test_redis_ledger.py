"""The admission ledger on a real Redis: two ledgers (two gateway instances) share one set of counters exactly,
and a Redis that goes away degrades to process memory instead of failing requests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from redis import asyncio as redis_asyncio

from sluicegate.errors import RateLimitError
from sluicegate.gateway.admission import BudgetExceededError, Check, Ticket
from sluicegate.gateway.redis_ledger import RedisLedger, ResilientLedger, to_nano
from sluicegate.transport.redis_wire import PipelinedRedis

pytestmark = pytest.mark.redis
NOW = 1_800_000_000.0


@pytest.fixture
async def two_instances(redis_url: str) -> AsyncIterator[tuple[RedisLedger, RedisLedger]]:
    prefix = f"test-{uuid.uuid4().hex[:8]}:ledger:"
    first, second = PipelinedRedis(url=redis_url), PipelinedRedis(url=redis_url)
    yield RedisLedger(first, prefix), RedisLedger(second, prefix)
    admin = redis_asyncio.Redis.from_url(redis_url)
    keys = [key async for key in admin.scan_iter(match=f"{prefix}*")]
    if keys:
        await admin.delete(*keys)
    await admin.aclose()
    await first.aclose()
    await second.aclose()


async def test_rpm_admits_exactly_n_across_instances(two_instances: tuple[RedisLedger, RedisLedger]) -> None:
    a, b = two_instances
    check = Check("key:shared", rpm=10)
    outcomes = await asyncio.gather(*(ledger.admit((check,), Decimal(0), NOW) for ledger in (a, b) * 10),
                                    return_exceptions=True)
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 10
    assert all(isinstance(o, RateLimitError) for o in outcomes if isinstance(o, BaseException))


async def test_concurrent_budget_holds_across_instances(two_instances: tuple[RedisLedger, RedisLedger]) -> None:
    a, b = two_instances
    check = Check("team:t", budget=Decimal("0.01"), base_spend=Decimal("0.002"))
    cost = Decimal("0.000712345678")
    admitted = 0

    async def one(ledger: RedisLedger) -> None:
        nonlocal admitted
        try:
            ticket = await ledger.admit((check,), Decimal("0.001"), NOW)
        except BudgetExceededError:
            return
        admitted += 1
        await ledger.settle(ticket, cost, 5)
        await ledger.release(ticket)

    await asyncio.gather(*(one(ledger) for ledger in (a, b) * 100))
    spent = await a.spent("team:t", "")
    assert spent == Decimal(to_nano(Decimal("0.002")) + admitted * to_nano(cost)) * Decimal("1e-9")
    assert spent is not None
    assert spent < check.budget + cost  # type: ignore[operator]


async def test_parallel_slots_are_shared_and_come_back(two_instances: tuple[RedisLedger, RedisLedger]) -> None:
    a, b = two_instances
    check = Check("key:p", parallel=1)
    ticket = await a.admit((check,), Decimal(0), NOW)
    with pytest.raises(RateLimitError, match="max_parallel_requests"):
        await b.admit((check,), Decimal(0), NOW)
    await a.release(ticket)
    await b.release(await b.admit((check,), Decimal(0), NOW))


async def test_a_redis_outage_falls_back_to_memory() -> None:
    unreachable = PipelinedRedis(host="127.0.0.1", port=1, timeout_s=0.2)
    ledger = ResilientLedger(RedisLedger(unreachable))
    check = Check("key:k", rpm=1)
    ticket = await ledger.admit((check,), Decimal(0), NOW)  # served from memory, not refused
    await ledger.settle(ticket, Decimal(0), 0)
    await ledger.release(ticket)
    with pytest.raises(RateLimitError):  # and memory still enforces the limit meanwhile
        await ledger.admit((check,), Decimal(0), NOW)
    await unreachable.aclose()


async def test_finish_settles_and_releases_in_one_step(two_instances: tuple[RedisLedger, RedisLedger]) -> None:
    a, b = two_instances
    check = Check("key:f", tpm=100, parallel=1, budget=Decimal(1))
    ticket = await a.admit((check,), Decimal("0.5"), NOW)
    await a.finish(ticket, Decimal("0.25"), 100)
    await a.drain()  # finish does not wait for Redis; another instance sees it once Redis has it
    assert await b.spent("key:f", "") == Decimal("0.25")
    with pytest.raises(RateLimitError, match="tpm_limit 100"):  # the tokens were counted
        await b.admit((check,), Decimal(0), NOW + 1)
    await b.finish(await b.admit((Check("key:f", parallel=1),), Decimal(0), NOW), Decimal(0), 0)  # slot was free


async def test_every_counter_expires(two_instances: tuple[RedisLedger, RedisLedger], redis_url: str) -> None:
    """Counters get their EXPIRE when they are created (not on every request): each still has one, so a window's
    counters never outlive it, and a budget's stay for its window."""
    a, _ = two_instances
    check = Check("key:ttl", rpm=100, tpm=1000, parallel=5, budget=Decimal(1), window="w1")
    for _ in range(2):
        await a.finish(await a.admit((check,), Decimal("0.01"), NOW), Decimal("0.001"), 10)
    admin = redis_asyncio.Redis.from_url(redis_url)
    base = f"{a._prefix}{{ledger}}:key:ttl:"
    keys = [key async for key in admin.scan_iter(match=f"{base}*")]
    ttls = {key.decode().removeprefix(base).split(":")[0]: await admin.ttl(key) for key in keys}
    await admin.aclose()
    assert set(ttls) == {"rpm", "tpm", "parallel", "spent", "reserved"}
    assert 0 < ttls["rpm"] <= 120
    assert 0 < ttls["tpm"] <= 120
    assert all(ttl > 0 for ttl in ttls.values()), ttls


async def test_finishes_of_one_iteration_are_one_script_call(two_instances: tuple[RedisLedger, RedisLedger],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """finish returns without waiting for Redis; the tickets finished in one loop iteration are settled together,
    and this instance's next admission already sees them (a parallel slot of 1, taken again at once)."""
    a, b = two_instances
    calls: list[int] = []
    run_soon = a._redis.run_script_soon

    def counted(script: str, keys: list, args: list) -> asyncio.Future:  # type: ignore[type-arg]
        calls.append(len(keys))
        return run_soon(script, keys, args)

    monkeypatch.setattr(a._redis, "run_script_soon", counted)
    checks = (Check("key:batch", parallel=1, budget=Decimal(1), tpm=10**6), Check("user:batch", rpm=1000))
    for _ in range(3):
        ticket = await a.admit(checks, Decimal("0.01"), NOW)
        await a.finish(ticket, Decimal("0.001"), 10)  # the slot of 1 is free for the next admission
    tickets = [await a.admit((Check(f"key:many-{i}", parallel=1),), Decimal(0), NOW) for i in range(20)]
    calls.clear()
    for ticket in tickets:
        await a.finish(ticket, Decimal(0), 0)
    await a.drain()
    assert calls == [20]  # twenty tickets of one check each: one call
    assert await b.spent("key:batch", "") == Decimal("0.003")
    await b.finish(await b.admit(checks, Decimal(0), NOW), Decimal(0), 0)  # every slot came back
    await b.drain()


async def test_a_finish_lost_to_an_outage_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    ledger = RedisLedger(PipelinedRedis(host="127.0.0.1", port=1, timeout_s=0.2))  # nothing listens there
    ticket = Ticket((Check("key:lost", parallel=1),), 0, Decimal(0))
    await ledger.finish(ticket, Decimal("0.5"), 5)
    await ledger.drain()
    assert "could not settle 1 requests in Redis" in caplog.text


async def test_a_settlement_rides_with_the_next_admission_or_goes_after_the_delay(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}:ledger:"
    client, other = PipelinedRedis(url=redis_url), PipelinedRedis(url=redis_url)
    a, b = RedisLedger(client, prefix, settle_delay_s=0.2), RedisLedger(other, prefix)
    check = Check("key:delay", parallel=1, budget=Decimal(1))
    try:
        await a.finish(await a.admit((check,), Decimal("0.1"), NOW), Decimal("0.01"), 1)
        await asyncio.sleep(0.05)
        assert await b.spent("key:delay", "") == Decimal(0)  # not written yet: the other instance holds back
        await a.finish(await a.admit((check,), Decimal("0.1"), NOW), Decimal("0.01"), 1)  # the slot was free
        await asyncio.sleep(0.4)  # no command followed: the delay wrote it
        assert await b.spent("key:delay", "") == Decimal("0.02")
    finally:
        await a.drain()
        await client.aclose()
        await other.aclose()


async def test_a_redis_that_lost_its_data_restarts_budgets_from_the_database(
        two_instances: tuple[RedisLedger, RedisLedger], redis_url: str) -> None:
    """A settlement that arrives after Redis lost its counters neither creates a spend counter from that one cost
    (the next admission starts it from the database's figure) nor drives a reservation below zero."""
    a, b = two_instances
    check = Check("key:lost-data", parallel=10, budget=Decimal(1), base_spend=Decimal("0.4"))
    ticket = await a.admit((check,), Decimal("0.1"), NOW)
    admin = redis_asyncio.Redis.from_url(redis_url)
    keys = [key async for key in admin.scan_iter(match=f"{a._prefix}*")]
    await admin.delete(*keys)  # what a restarted Redis without persistence holds
    await a.finish(ticket, Decimal("0.05"), 0)
    await a.drain()
    assert [key async for key in admin.scan_iter(match=f"{a._prefix}*")] == []
    await admin.aclose()
    await b.finish(await b.admit((check,), Decimal("0.1"), NOW), Decimal("0.05"), 0)
    await b.drain()
    assert await b.spent("key:lost-data", "") == Decimal("0.45")
