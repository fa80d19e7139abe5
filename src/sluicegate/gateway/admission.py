"""Admission: a virtual key's request passes every budget and rate limit of its key, user, team, member and
organisation — atomically — or is refused before any upstream call.

Reserve before the call, settle after it: admission counts the request (rpm), takes a parallel slot and reserves
an upper bound of its cost against every budget; settling replaces the reservation with the real cost and adds
the real tokens (tpm); releasing gives the slot back, whatever ended the request. A request is admitted while
spend + reservations stay under the budget, so concurrent requests cannot jointly overspend by more than the one
admitted last. Cost per request: a few dict operations (`MemoryLedger`); with Redis, the same in-process for most
requests, which are admitted from a lease claimed ahead (`redis_ledger.py`, `ledger_leases.py`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from sluicegate.errors import BadRequestError, RateLimitError
from sluicegate.gateway.access import Limits
from sluicegate.gateway.durations import first_reset, next_reset, parse_duration

if TYPE_CHECKING:
    from sluicegate.gateway.ledger_leases import Lease

WINDOW_S = 60  # rpm and tpm count per clock minute, as LiteLLM's limits do


class BudgetExceededError(BadRequestError):
    """LiteLLM answers a spent budget with 400 and type budget_exceeded; clients match on both."""

    type = "budget_exceeded"


@dataclass(frozen=True, slots=True)
class Check:
    """One entity's limits as they apply to one request (a per-model limit is an entity of its own)."""

    entity: str
    rpm: int | None = None
    tpm: int | None = None
    parallel: int | None = None
    budget: Decimal | None = None
    soft_budget: Decimal | None = None  # crossing it raises an alert event; it refuses nothing
    window: str = ""  # the budget window this request falls in ("" = never resets)
    base_spend: Decimal = Decimal(0)  # the window's spend as the database knew it when the limits were loaded
    _hash: int = field(default=0, init=False, repr=False, compare=False)
    counts_spend: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts_spend", self.budget is not None or self.soft_budget is not None)

    def __hash__(self) -> int:
        """Computed once: a request's checks are looked up by value (leases), and hashing eight fields, Decimals
        among them, on every request was a measurable part of it."""
        found = self._hash
        if not found:
            found = hash((self.entity, self.rpm, self.tpm, self.parallel, self.budget, self.soft_budget, self.window,
                          self.base_spend))
            object.__setattr__(self, "_hash", found)
        return found


@dataclass(slots=True)
class Ticket:
    """An admitted request's claims: the minute it was counted in, its reservation, its parallel slots."""

    checks: tuple[Check, ...]
    minute: int
    reserved: Decimal
    released: bool = False
    lease: Lease | None = None  # admitted from this instance's lease (ledger_leases.py), not by Redis


class Ledger(Protocol):
    """Where the counters live: this process (`MemoryLedger`) or Redis, shared by every instance."""

    async def admit(self, checks: tuple[Check, ...], reserve: Decimal, now: float) -> Ticket: ...

    async def settle(self, ticket: Ticket, cost: Decimal, tokens: int) -> None: ...

    async def release(self, ticket: Ticket) -> None: ...

    async def finish(self, ticket: Ticket, cost: Decimal, tokens: int) -> None:
        """`settle` then `release`, in one step where the ledger can (one Redis round trip)."""

    async def spent(self, entity: str, window: str) -> Decimal | None: ...

    async def drain(self) -> None:
        """Wait for every `finish` so far to be counted (a ledger may settle them in the background)."""


def budget_window(limits: Limits, now: datetime) -> tuple[str, Decimal]:
    """The budget window `now` falls in (named by when it ends, "" for a budget that never resets), and the spend
    the loaded row says it already holds.

    Windows are named by when they end. Past the stored `budget_reset_at` the row's spend belongs to an earlier
    window, so the current one starts from zero (the database's own reset catches up in the background). A row
    with a duration but no reset time yet (the reset job sets one) counts in windows anchored at a fixed epoch,
    so every request of the same window names it alike."""
    if not limits.budget_duration:
        return "", limits.spend
    reset_at = limits.budget_reset_at
    if reset_at is not None and now < reset_at:
        return reset_at.isoformat(), limits.spend
    duration = parse_duration(limits.budget_duration)
    if reset_at is None:
        return first_reset(duration, now).isoformat(), limits.spend
    return next_reset(duration, now, reset_at).isoformat(), Decimal(0)


def checks_for(limits: tuple[Limits, ...], model_group: str, *, now: datetime | None = None) -> tuple[Check, ...]:
    """Every check a request to `model_group` must pass: each entity's own limits, then its per-model limits."""
    return checks_until(limits, model_group, now or datetime.now(UTC))[0]


def checks_until(limits: tuple[Limits, ...], model_group: str, now: datetime) -> tuple[tuple[Check, ...],
                                                                                        datetime | None]:
    """`checks_for`, and until when they hold: the end of the first budget window to end (None: no window ends)."""
    checks: list[Check] = []
    until: datetime | None = None
    for entity in limits:
        window, base = budget_window(entity, now)
        if window:
            ends = datetime.fromisoformat(window)
            until = ends if until is None else min(until, ends)
        if (entity.max_budget is not None or entity.soft_budget is not None or entity.rpm_limit is not None
                or entity.tpm_limit is not None or entity.max_parallel_requests is not None):
            checks.append(Check(entity.entity, rpm=entity.rpm_limit, tpm=entity.tpm_limit,
                                parallel=entity.max_parallel_requests, budget=entity.max_budget,
                                soft_budget=entity.soft_budget, window=window, base_spend=base))
        model_budget = entity.model_max_budget.get(model_group)
        model_rpm, model_tpm = entity.model_rpm_limit.get(model_group), entity.model_tpm_limit.get(model_group)
        if model_budget is not None or model_rpm is not None or model_tpm is not None:
            # The per-model budget has no stored spend of its own: it counts from what this ledger has seen.
            checks.append(Check(f"{entity.entity}:model:{model_group}", rpm=model_rpm, tpm=model_tpm,
                                budget=model_budget, window=window))
    return tuple(checks), until


def rate_limited(check: Check, what: str, limit: int, used: int, now: float) -> RateLimitError:
    """429 naming the limit, with Retry-After and OpenAI's x-ratelimit headers for the window it hit."""
    reset_s = max(1, math.ceil(WINDOW_S - now % WINDOW_S))
    kind = "requests" if what == "rpm" else "tokens"
    headers = {"retry-after": str(reset_s), f"x-ratelimit-limit-{kind}": str(limit),
               f"x-ratelimit-remaining-{kind}": str(max(0, limit - used)), f"x-ratelimit-reset-{kind}": f"{reset_s}s"}
    return RateLimitError(f"Rate limit reached for {describe_entity(check.entity)}: {what}_limit {limit}, used {used} "
                          f"in the current minute. Retry after {reset_s}s", headers=headers,
                          code=f"{what}_limit_exceeded")


def parallel_limited(check: Check) -> RateLimitError:
    return RateLimitError(f"Max parallel requests reached for {describe_entity(check.entity)}: max_parallel_requests "
                          f"{check.parallel} already in flight", headers={"retry-after": "1"},
                          code="max_parallel_requests_exceeded")


def over_budget(check: Check, spent: Decimal) -> BudgetExceededError:
    return BudgetExceededError(f"Budget has been exceeded for {describe_entity(check.entity)}: current cost {spent}, "
                               f"max budget {check.budget}", code="budget_exceeded")


def describe_entity(entity: str) -> str:
    """A check's entity for a message: the kind and id, never a key's hash in full."""
    kind, _, rest = entity.partition(":")
    if kind == "key":
        ident, _, model = rest.partition(":model:")
        return f"key {ident[:8]}…" + (f" on model {model}" if model else "")
    return f"{kind} {rest}"


@dataclass(slots=True)
class _Rates:
    """One entity's rate counters in this process: the minute they count, and its requests and tokens."""

    minute: int = -1
    requests: int = 0
    tokens: int = 0
    in_flight: int = 0


@dataclass(slots=True)
class _Budget:
    """One entity's spend and reservations in one budget window."""

    spent: Decimal
    reserved: Decimal = Decimal(0)


class MemoryLedger:
    """The counters in this process: exact for one gateway process (several workers need Redis). One lookup per
    entity and step: an object per entity (rates) and per entity and budget window (spend)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._rates: dict[str, _Rates] = {}
        self._budgets: dict[tuple[str, str], _Budget] = {}
        self._minute = -1

    def _rates_of(self, check: Check, minute: int) -> _Rates:
        rates = self._rates.get(check.entity)
        if rates is None:
            rates = self._rates[check.entity] = _Rates(minute)
        elif minute > rates.minute:  # a new minute: its rpm and tpm start from zero
            rates.minute, rates.requests, rates.tokens = minute, 0, 0
        return rates

    def _budget_of(self, check: Check) -> _Budget:
        slot = (check.entity, check.window)
        budget = self._budgets.get(slot)
        if budget is None:
            budget = self._budgets[slot] = _Budget(check.base_spend)
        return budget

    async def admit(self, checks: tuple[Check, ...], reserve: Decimal, now: float) -> Ticket:
        minute = int(now // WINDOW_S)
        if minute > self._minute:
            self._forget_before(minute)
        found = [(self._rates_of(check, minute), self._budget_of(check) if check.counts_spend else None)
                 for check in checks]
        # Every check first, then every claim: nothing to undo when one refuses.
        for check, (rates, budget) in zip(checks, found, strict=True):
            self._check(check, rates, budget, now)
        for check, (rates, budget) in zip(checks, found, strict=True):
            if check.rpm is not None or check.tpm is not None:
                rates.requests += 1
            if check.parallel is not None:
                rates.in_flight += 1
            if budget is not None:
                budget.reserved += reserve
        return Ticket(checks, minute, reserve)

    @staticmethod
    def _check(check: Check, rates: _Rates, budget: _Budget | None, now: float) -> None:
        if check.budget is not None and budget is not None and budget.spent + budget.reserved >= check.budget:
            raise over_budget(check, budget.spent)
        if check.rpm is not None and rates.requests + 1 > check.rpm:
            raise rate_limited(check, "rpm", check.rpm, rates.requests, now)
        if check.tpm is not None and rates.tokens >= check.tpm:
            raise rate_limited(check, "tpm", check.tpm, rates.tokens, now)
        if check.parallel is not None and rates.in_flight >= check.parallel:
            raise parallel_limited(check)

    async def settle(self, ticket: Ticket, cost: Decimal, tokens: int) -> None:
        for check in ticket.checks:
            if check.counts_spend:
                budget = self._budget_of(check)
                budget.reserved -= ticket.reserved
                budget.spent += cost
            if check.tpm is not None and tokens:
                rates = self._rates_of(check, ticket.minute)
                if rates.minute == ticket.minute:  # tokens of a minute gone by limit nothing any more
                    rates.tokens += tokens
        ticket.reserved = Decimal(0)

    async def release(self, ticket: Ticket) -> None:
        if ticket.released:
            return
        ticket.released = True
        if ticket.reserved:  # never settled (the call failed before any usage): the reservation goes back
            await self.settle(ticket, Decimal(0), 0)
        for check in ticket.checks:
            if check.parallel is not None:
                rates = self._rates.get(check.entity)
                if rates is not None and rates.in_flight > 0:
                    rates.in_flight -= 1

    async def finish(self, ticket: Ticket, cost: Decimal, tokens: int) -> None:
        await self.settle(ticket, cost, tokens)
        await self.release(ticket)

    async def spent(self, entity: str, window: str) -> Decimal | None:
        budget = self._budgets.get((entity, window))
        return None if budget is None else budget.spent

    async def drain(self) -> None:
        """Nothing to wait for: memory counts at once."""

    def in_flight(self, entity: str) -> int:
        rates = self._rates.get(entity)
        return 0 if rates is None else rates.in_flight

    def _forget_before(self, minute: int) -> None:
        """Once a minute: drop the rates of entities idle since before the last minute (bounded memory whatever
        the number of keys and end users)."""
        self._minute = minute
        idle = [entity for entity, rates in self._rates.items() if rates.minute < minute - 1 and not rates.in_flight]
        for entity in idle:
            del self._rates[entity]
