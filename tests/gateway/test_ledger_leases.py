"""Leases (ledger_leases.py): admissions claimed from Redis ahead of time and spent in this process. On a real
Redis with two ledgers (two gateway instances): far from the limits most admissions make no round trip, yet every
counter ends exact, an rpm limit still admits exactly N, a shared budget is never overspent, every parallel slot
comes back, and a lease's unused units go back to Redis when it ends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
from redis import asyncio as redis_asyncio

from sluicegate.errors import RateLimitError
from sluicegate.gateway.admission import BudgetExceededError, Check, Ticket
from sluicegate.gateway.ledger_leases import Giveback, Lease, Leases
from sluicegate.gateway.redis_ledger import RedisLedger, to_nano
from sluicegate.transport.redis_wire import PipelinedRedis

NOW = 1_800_000_000.0
MINUTE = int(NOW // 60)

MakeLedger = Callable[..., RedisLedger]


@pytest.fixture
async def ledgers(redis_url: str) -> AsyncIterator[tuple[MakeLedger, Callable[[], Any]]]:
    """A maker of ledgers (one connection each, one prefix for all: instances of one gateway), and a reader of
    every counter they share, by name (`key:x:rpm`, …)."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:ledger:"
    clients: list[PipelinedRedis] = []
    made: list[RedisLedger] = []
    admin = redis_asyncio.Redis.from_url(redis_url)

    def make(**options: Any) -> RedisLedger:
        clients.append(PipelinedRedis(url=redis_url))
        made.append(RedisLedger(clients[-1], prefix, **options))
        return made[-1]

    async def counters() -> dict[str, int]:
        """Every counter; `…:slots` is the parallel slots leases hold, every instance's together."""
        found = {}
        async for key in admin.scan_iter(match=f"{prefix}*"):
            name = key.decode().removeprefix(f"{prefix}{{ledger}}:").removesuffix(f":{MINUTE}").removesuffix(":")
            if name.endswith(":slots"):
                found[name] = sum(int(v.split(b":")[0]) for v in (await admin.hgetall(key)).values())
            elif not name.endswith(":leased"):
                found[name] = int(await admin.get(key))
        return found

    yield make, counters
    for ledger in made:
        await ledger.drain()
    keys = [key async for key in admin.scan_iter(match=f"{prefix}*")]
    if keys:
        await admin.delete(*keys)
    await admin.aclose()
    for client in clients:
        await client.aclose()


def count_script_calls(ledger: RedisLedger, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every admission script call the ledger makes, awaited ('admit') or in the background ('renew')."""
    calls: list[str] = []
    run_script, run_soon = ledger._redis.run_script, ledger._redis.run_script_soon

    async def awaited(script: str, keys: list[Any], args: list[Any]) -> Any:
        if "MGET" in script:
            calls.append("admit")
        return await run_script(script, keys, args)

    def background(script: str, keys: list[Any], args: list[Any]) -> asyncio.Future[Any]:
        if "MGET" in script:
            calls.append("renew")
        return run_soon(script, keys, args)

    monkeypatch.setattr(ledger._redis, "run_script", awaited)
    monkeypatch.setattr(ledger._redis, "run_script_soon", background)
    return calls


pytestmark = pytest.mark.redis


def record_lease_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits of refused admissions for other instances' leases (sleeps of 0.1 s and longer)."""
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def recording(delay: float, result: Any = None) -> Any:
        if delay >= 0.1:
            waits.append(delay)
        return await real_sleep(delay, result)

    monkeypatch.setattr(asyncio, "sleep", recording)
    return waits


async def test_far_from_the_limits_most_admissions_make_no_round_trip(
        ledgers: tuple[MakeLedger, Callable[[], Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    make, counters = ledgers
    ledger = make(lease_units=8)
    calls = count_script_calls(ledger, monkeypatch)
    checks = (Check("key:far", rpm=10_000, tpm=10**9, parallel=1000, budget=Decimal(100)),
              Check("team:far", rpm=10_000, budget=Decimal(100)))
    cost = Decimal("0.000123456789")
    for _ in range(200):
        await ledger.finish(await ledger.admit(checks, Decimal("0.001"), NOW), cost, 7)
        await asyncio.sleep(0.001)  # the upstream call: a renewal has time to come back
    await ledger.drain()
    assert calls.count("admit") <= 3  # the first request, and any that found the lease between renewals
    assert calls.count("renew") <= 200 // 4 + 1  # units claimed 8 at a time, renewed at half
    assert await counters() == {  # exact once the leases ended: every unused unit and reservation went back
        "key:far:rpm": 200, "key:far:tpm": 200 * 7, "key:far:parallel": 0, "key:far:spent": 200 * to_nano(cost),
        "key:far:reserved": 0, "team:far:rpm": 200, "team:far:spent": 200 * to_nano(cost), "team:far:reserved": 0}


@pytest.mark.parametrize(("units", "check"), [
    pytest.param(8, Check("key:near", rpm=8 * 8), id="near a limit: no room for eight leases of eight"),
    pytest.param(8, Check("key:free", budget=Decimal(1)),
                 id="a budget and no reservation: a lease of nothing would let requests through unbounded"),
    pytest.param(0, Check("key:off", rpm=10**6), id="leases turned off"),
])
async def test_where_no_lease_is_granted_every_admission_goes_to_redis(
        ledgers: tuple[MakeLedger, Callable[[], Any]], monkeypatch: pytest.MonkeyPatch, units: int,
        check: Check) -> None:
    make, _ = ledgers
    ledger = make(lease_units=units)
    calls = count_script_calls(ledger, monkeypatch)
    for _ in range(20):
        await ledger.finish(await ledger.admit((check,), Decimal(0), NOW), Decimal(0), 0)
    assert calls == ["admit"] * 20
    assert len(ledger._leases) == 0


async def test_approaching_a_limit_a_lease_stops_renewing_and_the_limit_holds(
        ledgers: tuple[MakeLedger, Callable[[], Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    make, counters = ledgers
    ledger = make(lease_units=8)
    calls = count_script_calls(ledger, monkeypatch)
    waits = record_lease_waits(monkeypatch)
    check = Check("key:approach", rpm=80)  # room for eight leases of eight at first, then not
    for _ in range(80):
        await ledger.finish(await ledger.admit((check,), Decimal(0), NOW), Decimal(0), 0)
        await asyncio.sleep(0.001)
    with pytest.raises(RateLimitError):  # the 81st: its own lease is all there is, given back, and no wait
        await ledger.admit((check,), Decimal(0), NOW)
    assert waits == []
    assert calls.count("renew") <= 2  # granted once, refused once: no renewal after that
    await ledger.drain()
    assert (await counters())["key:approach:rpm"] == 80


async def test_an_rpm_limit_admits_exactly_n_while_another_instance_holds_unused_units(
        ledgers: tuple[MakeLedger, Callable[[], Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    make, counters = ledgers
    waits = record_lease_waits(monkeypatch)
    a, b = make(lease_units=8, lease_ttl_s=0.2), make(lease_units=8, lease_ttl_s=0.2)
    check = Check("key:exact", rpm=300)
    for _ in range(100):
        await a.finish(await a.admit((check,), Decimal(0), NOW), Decimal(0), 0)
        await asyncio.sleep(0)
    lease = a._leases.get((check,))
    assert lease is not None
    assert lease.units_left > 0
    outcomes = await asyncio.gather(*(b.admit((check,), Decimal(0), NOW) for _ in range(300)),
                                    return_exceptions=True)
    admitted = [o for o in outcomes if isinstance(o, Ticket)]
    assert all(isinstance(o, RateLimitError) for o in outcomes if not isinstance(o, Ticket))
    assert 100 + len(admitted) == 300
    assert waits  # b's refusals waited for a's lease to end
    await a.drain()
    await b.drain()
    assert (await counters())["key:exact:rpm"] == 300


async def test_a_shared_budget_is_not_overspent_with_leases(ledgers: tuple[MakeLedger, Callable[[], Any]]) -> None:
    make, counters = ledgers
    a, b = make(lease_units=16, lease_ttl_s=0.05), make(lease_units=16, lease_ttl_s=0.05)
    check = Check("team:budget", budget=Decimal("0.5"), base_spend=Decimal("0.1"))
    cost, reserve = Decimal("0.000712345678"), Decimal("0.001")
    admitted = 0

    async def one(ledger: RedisLedger) -> None:
        nonlocal admitted
        for _ in range(40):
            try:
                ticket = await ledger.admit((check,), reserve, NOW)
            except BudgetExceededError:
                return
            admitted += 1
            await asyncio.sleep(0.001)  # the upstream call
            await ledger.finish(ticket, cost, 5)

    await asyncio.gather(*(one(ledger) for ledger in (a, b) * 20))
    await a.drain()
    await b.drain()
    spent = await a.spent("team:budget", "")
    assert spent == Decimal(to_nano(Decimal("0.1")) + admitted * to_nano(cost)) * Decimal("1e-9")
    assert spent < check.budget + cost  # type: ignore[operator]
    assert admitted > 400  # the budget was used up, not refused early by held units
    assert (await counters())["team:budget:reserved"] == 0


async def test_parallel_slots_come_back_when_a_lease_ends_with_requests_in_flight(
        ledgers: tuple[MakeLedger, Callable[[], Any]]) -> None:
    make, counters = ledgers
    ledger = make(lease_units=4, lease_ttl_s=0.05)
    check = Check("key:slots", parallel=1000, budget=Decimal(10))
    tickets = [await ledger.admit((check,), Decimal("0.01"), NOW) for _ in range(10)]
    assert any(ticket.lease is not None for ticket in tickets)
    await asyncio.sleep(0.2)  # every lease ended meanwhile: its requests in flight keep their slot and reservation
    assert len(ledger._leases) == 0
    held = await counters()
    assert held["key:slots:parallel"] == 10
    assert held["key:slots:reserved"] == 10 * to_nano(Decimal("0.01"))
    for ticket in tickets:
        await ledger.finish(ticket, Decimal("0.002"), 0)
    await ledger.drain()
    after = await counters()
    assert (after["key:slots:parallel"], after["key:slots:reserved"]) == (0, 0)
    assert after["key:slots:spent"] == 10 * to_nano(Decimal("0.002"))


async def test_the_slots_a_dead_instances_lease_held_free_themselves(
        ledgers: tuple[MakeLedger, Callable[[], Any]]) -> None:
    """Leased parallel slots live in a field of their instance that expires unless renewed: an instance that dies
    holding a lease does not hold the key's parallel limit down for good (its requests in flight died with it)."""
    make, counters = ledgers
    a, b = make(lease_units=8, lease_ttl_s=0.05), make(lease_units=8, lease_ttl_s=0.05)
    check = Check("key:dead", parallel=1 + 8 * 8 + 8)  # room for a lease of eight after the first request
    first = await a.admit((check,), Decimal(0), NOW)
    assert (await counters())["key:dead:slots"] == 8
    assert a._lease_timer is not None
    a._lease_timer.cancel()  # a dies: its lease never gives back, its request never finishes
    a._leases = Leases()
    tickets = [await b.admit((check,), Decimal(0), NOW) for _ in range(73 - 1 - 8)]
    tickets += [await b.admit((check,), Decimal(0), NOW) for _ in range(8)]  # a's 8 slots, once they expired
    with pytest.raises(RateLimitError, match="max_parallel_requests"):
        await b.admit((check,), Decimal(0), NOW)  # a's unfinished request still holds its own slot
    assert len(tickets) == 72
    assert "key:dead:slots" not in await counters()
    for ticket in [*tickets, first]:
        await b.finish(ticket, Decimal(0), 0)
    await b.drain()
    assert (await counters())["key:dead:parallel"] == 0


async def test_a_lease_stops_at_the_tpm_limit_its_own_requests_reach(
        ledgers: tuple[MakeLedger, Callable[[], Any]]) -> None:
    make, _ = ledgers
    ledger = make(lease_units=8)
    check = Check("key:tpm", tpm=1000)
    first = await ledger.admit((check,), Decimal(0), NOW)
    second = await ledger.admit((check,), Decimal(0), NOW)
    assert second.lease is not None  # admitted from the lease the first one claimed
    await ledger.finish(first, Decimal(0), 600)
    await ledger.finish(second, Decimal(0), 400)
    with pytest.raises(RateLimitError, match="tpm_limit 1000"):  # the lease saw them: Redis decides, and refuses
        await ledger.admit((check,), Decimal(0), NOW)


def lease(units: int = 4, *, tpm: int | None = None, budget_nano: int = 0, expires: float = 10.0) -> Lease:
    return Lease((Check("key:l", tpm=tpm),), MINUTE, units, budget_nano, (0,), expires)


def test_a_lease_covers_while_it_has_units_time_budget_and_tokens() -> None:
    assert lease().covers(0, MINUTE, 1.0)
    assert not lease().covers(0, MINUTE + 1, 1.0)  # another minute: other counters
    assert not lease(expires=1.0).covers(0, MINUTE, 1.0)
    assert not lease(budget_nano=10).covers(11, MINUTE, 1.0)
    tokens = lease(tpm=100)
    tokens.tokens = 100
    assert not tokens.covers(0, MINUTE, 1.0)
    spent = lease(units=1)
    spent.take(0)
    assert not spent.covers(0, MINUTE, 1.0)


def test_an_ended_lease_gives_back_what_its_requests_in_flight_do_not_hold() -> None:
    leases = Leases()
    assert leases.grant((Check("key:l"),), MINUTE, 8, 800, (0,), 10.0) is None
    held = leases.get((Check("key:l"),))
    assert held is not None
    for _ in range(5):
        held.take(100)
    held.in_flight -= 2  # two finished
    held.reserved_in_flight_nano -= 200
    assert leases.end(held) == Giveback(held.checks, MINUTE, 3, 8, 3, 500)  # 3 in flight keep slot and reserve
    assert leases.end(held) is None  # once
    assert len(leases) == 0


def test_a_grant_answered_after_its_minute_goes_back_at_once() -> None:
    leases = Leases()
    checks = (Check("key:l"),)
    leases.grant(checks, MINUTE + 1, 8, 0, (0,), 10.0)
    assert leases.grant(checks, MINUTE, 8, 80, (0,), 10.0) == Giveback(checks, MINUTE, 8, 8, 0, 80)
    current = leases.get(checks)
    assert current is not None
    assert current.minute == MINUTE + 1
    assert current.units == 8


def test_a_grant_extends_the_live_lease_of_its_minute() -> None:
    leases = Leases()
    checks = (Check("key:l", tpm=1000),)
    leases.grant(checks, MINUTE, 8, 80, (10,), 1.0)
    first = leases.get(checks)
    assert first is not None
    first.take(10)
    first.tokens = 50
    assert leases.grant(checks, MINUTE, 8, 80, (60,), 2.0) is None
    assert (first.units, first.units_left, first.budget_left_nano, first.tokens_base, first.tokens,
            first.expires) == (16, 15, 150, (60,), 0, 2.0)
