"""Admission: reserve before the call, settle after it — budgets, rpm, tpm and parallel slots, exact under
concurrency, on an injected clock."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sluicegate.errors import RateLimitError
from sluicegate.gateway.access import Access, Limits
from sluicegate.gateway.admission import BudgetExceededError, Check, MemoryLedger, budget_window, checks_for
from sluicegate.gateway.auth import Principal
from sluicegate.gateway.enforcement import Enforcement

NOW = 1_800_000_000.0  # a minute boundary plus nothing: tests stay inside one window


async def test_concurrent_requests_never_overspend_by_more_than_one_request() -> None:
    ledger = MemoryLedger()
    budget = Check("key:k", budget=Decimal("0.010"))
    cost = Decimal("0.0007")  # each request's real cost; the reservation bounds it from above
    admitted = refused = 0

    async def one() -> None:
        nonlocal admitted, refused
        try:
            ticket = await ledger.admit((budget,), Decimal("0.001"), NOW)
        except BudgetExceededError:
            refused += 1
            return
        admitted += 1
        await asyncio.sleep(0)  # the call: other requests are admitted meanwhile
        await ledger.settle(ticket, cost, 10)
        await ledger.release(ticket)

    await asyncio.gather(*(one() for _ in range(500)))
    spent = await ledger.spent("key:k", "")
    assert spent is not None
    assert spent == cost * admitted
    assert spent < budget.budget + cost  # over by at most the last admitted request
    assert admitted + refused == 500
    assert refused > 0


async def test_rpm_admits_exactly_n_per_minute_and_says_when_to_retry() -> None:
    ledger = MemoryLedger()
    check = Check("user:u", rpm=3)
    for _ in range(3):
        await ledger.release(await ledger.admit((check,), Decimal(0), NOW + 5))
    with pytest.raises(RateLimitError) as refused:
        await ledger.admit((check,), Decimal(0), NOW + 5)
    assert refused.value.headers["retry-after"] == "55"
    assert refused.value.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.value.code == "rpm_limit_exceeded"
    await ledger.admit((check,), Decimal(0), NOW + 60)  # the next minute starts afresh


async def test_tpm_counts_the_tokens_settled() -> None:
    ledger = MemoryLedger()
    check = Check("team:t", tpm=100)
    ticket = await ledger.admit((check,), Decimal(0), NOW)
    await ledger.settle(ticket, Decimal(0), 100)
    with pytest.raises(RateLimitError, match="tpm_limit 100"):
        await ledger.admit((check,), Decimal(0), NOW + 1)


async def test_parallel_slots_always_come_back() -> None:
    ledger = MemoryLedger()
    check = Check("key:k", parallel=2)
    first = await ledger.admit((check,), Decimal(0), NOW)
    second = await ledger.admit((check,), Decimal(0), NOW)
    with pytest.raises(RateLimitError, match="max_parallel_requests 2"):
        await ledger.admit((check,), Decimal(0), NOW)
    await ledger.release(first)
    await ledger.release(first)  # twice (e.g. a disconnect after the end): counted once
    await ledger.release(second)
    assert ledger.in_flight("key:k") == 0


async def test_a_refused_check_claims_nothing_from_the_others() -> None:
    ledger = MemoryLedger()
    key, team = Check("key:k", rpm=10, parallel=5), Check("team:t", budget=Decimal(1), base_spend=Decimal(1))
    with pytest.raises(BudgetExceededError):
        await ledger.admit((key, team), Decimal("0.1"), NOW)
    assert ledger.in_flight("key:k") == 0
    for _ in range(10):  # the refused request did not use up one of the key's requests
        ledger_ticket = await ledger.admit((key,), Decimal(0), NOW)
        await ledger.release(ledger_ticket)


async def test_an_unsettled_failure_gives_its_reservation_back() -> None:
    ledger = MemoryLedger()
    check = Check("key:k", budget=Decimal("1"))
    ticket = await ledger.admit((check,), Decimal("0.99"), NOW)
    await ledger.release(ticket)  # the upstream failed: no usage, nothing spent
    assert await ledger.spent("key:k", "") == 0
    await ledger.admit((check,), Decimal("0.99"), NOW)


def test_a_budget_window_past_its_reset_starts_from_zero() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    current = Limits("key:k", spend=Decimal(5), max_budget=Decimal(10), budget_duration="1d",
                     budget_reset_at=now + timedelta(hours=3))
    assert budget_window(current, now) == ((now + timedelta(hours=3)).isoformat(), Decimal(5))
    passed = Limits("key:k", spend=Decimal(5), max_budget=Decimal(10), budget_duration="1d",
                    budget_reset_at=now - timedelta(hours=1))
    assert budget_window(passed, now) == ((now + timedelta(hours=23)).isoformat(), Decimal(0))
    assert budget_window(Limits("key:k", spend=Decimal(2)), now) == ("", Decimal(2))


def test_checks_include_per_model_limits_of_each_entity() -> None:
    limits = (Limits("key:k", rpm_limit=5, model_rpm_limit={"gpt-4o": 1},
                     model_max_budget={"gpt-4o": Decimal("0.5")}),
              Limits("user:u"))
    checks = checks_for(limits, "gpt-4o", now=datetime(2026, 1, 1, tzinfo=UTC))
    assert [(c.entity, c.rpm, c.budget) for c in checks] == [
        ("key:k", 5, None), ("key:k:model:gpt-4o", 1, Decimal("0.5"))]
    assert [c.entity for c in checks_for(limits, "other", now=datetime(2026, 1, 1, tzinfo=UTC))] == ["key:k"]


def test_a_budget_without_a_reset_time_yet_names_one_window_per_period() -> None:
    limits = Limits("key:k", spend=Decimal(1), max_budget=Decimal(10), budget_duration="1h")
    first = budget_window(limits, datetime(2026, 11, 23, 12, 5, tzinfo=UTC))
    assert first == (datetime(2026, 11, 23, 13, 0, tzinfo=UTC).isoformat(), Decimal(1))
    assert budget_window(limits, datetime(2026, 11, 23, 12, 59, tzinfo=UTC)) == first
    monthly = Limits("key:k", max_budget=Decimal(10), budget_duration="1mo")
    assert budget_window(monthly, datetime(2026, 11, 23, tzinfo=UTC))[0] == datetime(
        2026, 12, 1, tzinfo=UTC).isoformat()


async def test_crossing_a_soft_budget_raises_one_alert_event(caplog: pytest.LogCaptureFixture) -> None:
    enforcement = Enforcement(MemoryLedger(), ())
    limits = (Limits("team:t", soft_budget=Decimal("0.5")),)
    principal = Principal(is_admin=False, key_hash="h", access=Access(
        key_alias=None, key_name=None, blocked=False, expires=None, model_lists=(), aliases={}, limits=limits))
    with caplog.at_level(logging.WARNING, logger="sluicegate.gateway.alerts"):
        for _ in range(4):  # 0.3, 0.6 (crossed), 0.9, 1.2: one alert, and nothing refused
            admitted = await enforcement.admit(principal, "m", {}, 10)
            await enforcement.finish(admitted, Decimal("0.3"), 1)
    crossed = [r for r in caplog.records if getattr(r, "event", None) == "soft_budget_crossed"]
    assert len(crossed) == 1
    assert "team t has spent 0.6" in crossed[0].getMessage()


def key_principal(*limits: Limits) -> Principal:
    return Principal(is_admin=False, key_hash="h", access=Access(
        key_alias=None, key_name=None, blocked=False, expires=None, model_lists=(), aliases={}, limits=limits))


async def test_a_keys_checks_are_built_once_until_a_budget_window_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same checks, object for object, while the key's limits are the same object and no budget window ended;
    new ones for another model, for changed limits, and once the window has ended."""
    ledger = MemoryLedger()
    seen: list[tuple[Check, ...]] = []
    admit = ledger.admit

    async def recording(checks: tuple[Check, ...], reserve: Decimal, now: float) -> object:
        seen.append(checks)
        return await admit(checks, reserve, now)

    monkeypatch.setattr(ledger, "admit", recording)
    enforcement = Enforcement(ledger, ())
    reset_at = datetime.now(UTC) + timedelta(seconds=1)
    principal = key_principal(Limits("key:c", max_budget=Decimal(1), budget_duration="1d", budget_reset_at=reset_at),
                              Limits("team:c", rpm_limit=100, model_rpm_limit={"other": 5}))
    for model in ("m", "m", "other"):
        await enforcement.admit(principal, model, {}, 10)
    assert seen[0] is seen[1]
    assert seen[2] is not seen[0]
    assert seen[2][-1].entity == "team:c:model:other"
    await enforcement.admit(key_principal(*principal.access.limits), "m", {}, 10)  # type: ignore[union-attr]
    assert seen[3] == seen[0]
    assert seen[3] is not seen[0]
    await asyncio.sleep(1.1)  # the budget window ended: the next request counts in the next one
    await enforcement.admit(principal, "m", {}, 10)
    assert seen[4][0].window != seen[0][0].window
    assert hash(seen[4][0]) != hash(seen[0][0])
    assert hash(seen[3][0]) == hash(seen[0][0])


async def test_memory_forgets_the_rates_of_idle_entities_not_those_in_flight() -> None:
    ledger = MemoryLedger()
    busy, idle = Check("key:busy", parallel=5, rpm=10), Check("key:idle", rpm=10)
    ticket = await ledger.admit((busy,), Decimal(0), 0.0)
    await ledger.finish(await ledger.admit((idle,), Decimal(0), 0.0), Decimal(0), 0)
    await ledger.admit((Check("key:other", rpm=1),), Decimal(0), 180.0)  # two minutes later
    assert set(ledger._rates) == {"key:busy", "key:other"}
    await ledger.finish(ticket, Decimal(0), 0)
    assert ledger.in_flight("key:busy") == 0
    assert ledger.in_flight("key:idle") == 0
