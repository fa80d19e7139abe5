"""The admission ledger on Redis, shared by every gateway instance; and `ResilientLedger`, which falls back to
process memory (with a logged warning) while Redis is unreachable, so an outage never fails a request.

One Lua script admits (all checks of a request compared and claimed at once, or none) and one settles: two
round trips per limited request. Money is counted in whole nano-dollars (exact in Lua's numbers up to $9M per
counter); the database keeps the exact Decimal spend. All keys share one hash tag, so the scripts stay valid on
Redis Cluster. A budget counter starts from the spend the database reported when the key was loaded (SET NX),
so a flushed Redis picks up where the database stands.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sluicegate.gateway.admission import (
    WINDOW_S,
    Check,
    Ledger,
    MemoryLedger,
    Ticket,
    over_budget,
    parallel_limited,
    rate_limited,
)
from sluicegate.router.redis_state import outage_errors
from sluicegate.transport.redis_wire import Arg, PipelinedRedis, Segment, segment

log = logging.getLogger("sluicegate.gateway.admission")
NANO = Decimal("1e-9")
MINUTE_TTL_S = 2 * WINDOW_S
IN_FLIGHT_TTL_S = 3600  # a crashed instance's slots free themselves after this
WINDOW_TTL_S = 400 * 86_400  # a budget window's counters outlive any budget_duration in use
MAX_SEGMENTS = 10_000

# KEYS per check: requests, tokens, in flight, spent, reserved. ARGV: reserve, then per check: rpm, tpm,
# parallel, budget, base spend ('' = not limited), ttl of the budget counters. Returns {kind, index, used} or {}.
_ADMIT = """
local reserve = tonumber(ARGV[1])
local n = #KEYS / 5
for i = 0, n - 1 do
  local k, a = i * 5, 2 + i * 6
  if ARGV[a + 3] ~= '' then
    redis.call('SET', KEYS[k + 4], ARGV[a + 4], 'NX', 'EX', ARGV[a + 5])
    local spent = tonumber(redis.call('GET', KEYS[k + 4]))
    local held = tonumber(redis.call('GET', KEYS[k + 5]) or '0')
    if spent + held >= tonumber(ARGV[a + 3]) then return {'budget', i, tostring(spent)} end
  end
  if ARGV[a] ~= '' then
    local used = tonumber(redis.call('GET', KEYS[k + 1]) or '0')
    if used + 1 > tonumber(ARGV[a]) then return {'rpm', i, tostring(used)} end
  end
  if ARGV[a + 1] ~= '' then
    local used = tonumber(redis.call('GET', KEYS[k + 2]) or '0')
    if used >= tonumber(ARGV[a + 1]) then return {'tpm', i, tostring(used)} end
  end
  if ARGV[a + 2] ~= '' then
    local used = tonumber(redis.call('GET', KEYS[k + 3]) or '0')
    if used >= tonumber(ARGV[a + 2]) then return {'parallel', i, tostring(used)} end
  end
end
for i = 0, n - 1 do
  local k, a = i * 5, 2 + i * 6
  if ARGV[a] ~= '' or ARGV[a + 1] ~= '' then
    redis.call('INCR', KEYS[k + 1]); redis.call('EXPIRE', KEYS[k + 1], MINUTE_TTL)
  end
  if ARGV[a + 2] ~= '' then
    redis.call('INCR', KEYS[k + 3]); redis.call('EXPIRE', KEYS[k + 3], IN_FLIGHT_TTL)
  end
  if ARGV[a + 3] ~= '' then
    redis.call('INCRBY', KEYS[k + 5], reserve); redis.call('EXPIRE', KEYS[k + 5], ARGV[a + 5])
  end
end
return {}
""".replace("MINUTE_TTL", str(MINUTE_TTL_S)).replace("IN_FLIGHT_TTL", str(IN_FLIGHT_TTL_S))

# KEYS as for admit. ARGV: reserve, cost, tokens, release (1/0), then per check: has budget, has tpm, has parallel.
_SETTLE = """
local n = #KEYS / 5
for i = 0, n - 1 do
  local k, a = i * 5, 5 + i * 3
  if ARGV[a] == '1' then
    redis.call('DECRBY', KEYS[k + 5], ARGV[1])
    if tonumber(ARGV[2]) > 0 then redis.call('INCRBY', KEYS[k + 4], ARGV[2]) end
  end
  if ARGV[a + 1] == '1' and tonumber(ARGV[3]) > 0 then
    redis.call('INCRBY', KEYS[k + 2], ARGV[3]); redis.call('EXPIRE', KEYS[k + 2], MINUTE_TTL)
  end
  if ARGV[4] == '1' and ARGV[a + 2] == '1' then
    if tonumber(redis.call('DECR', KEYS[k + 3])) < 0 then redis.call('SET', KEYS[k + 3], 0) end
  end
end
return 1
""".replace("MINUTE_TTL", str(MINUTE_TTL_S))


def to_nano(amount: Decimal) -> int:
    """Whole nano-dollars, rounded up: a reservation or a cost is never counted as less than it is."""
    return int((amount / NANO).to_integral_value(rounding=ROUND_CEILING))


class RedisLedger:
    """`Ledger` on a `PipelinedRedis` (transport/redis_wire.py: two script calls per request are most of what a
    virtual key costs, and redis-py spent six times the CPU on each); every instance on the same Redis and prefix
    shares it."""

    def __init__(self, client: PipelinedRedis, prefix: str = "sluicegate:ledger:") -> None:
        self._redis = client
        self._prefix = prefix
        self._segments: dict[tuple[Any, ...], Segment] = {}  # a request's checks, encoded once per minute

    def _encoded(self, key: tuple[Any, ...], make: Callable[[], list[Arg]]) -> Segment:
        found = self._segments.get(key)
        if found is None:
            if len(self._segments) >= MAX_SEGMENTS:  # keys and windows move on: start over rather than grow
                self._segments.clear()
            found = self._segments[key] = segment(make())
        return found

    def _keys(self, check: Check, minute: int) -> Segment:
        def make() -> list[Arg]:
            base = f"{self._prefix}{{ledger}}:{check.entity}"
            return [f"{base}:rpm:{minute}", f"{base}:tpm:{minute}", f"{base}:parallel",
                    f"{base}:spent:{check.window}", f"{base}:reserved:{check.window}"]

        return self._encoded(("keys", check.entity, check.window, minute), make)

    def _limits(self, check: Check) -> Segment:
        return self._encoded(("limits", check.rpm, check.tpm, check.parallel, check.budget, check.soft_budget,
                              check.base_spend), lambda: [_arg(check.rpm), _arg(check.tpm), _arg(check.parallel),
                                                          _arg(_budget_arg(check)), to_nano(check.base_spend),
                                                          WINDOW_TTL_S])

    def _settled(self, check: Check) -> Segment:
        return self._encoded(("settled", check.is_counting_spend, check.tpm is not None, check.parallel is not None),
                             lambda: [int(check.is_counting_spend), int(check.tpm is not None),
                                      int(check.parallel is not None)])

    async def admit(self, checks: tuple[Check, ...], reserve: Decimal, now: float) -> Ticket:
        minute = int(now // WINDOW_S)
        keys = [self._keys(check, minute) for check in checks]
        args: list[Arg | Segment] = [to_nano(reserve), *(self._limits(check) for check in checks)]
        refused = await self._redis.run_script(_ADMIT, keys, args)
        if refused:
            kind, index, used = (part.decode() if isinstance(part, bytes) else part for part in refused)
            check = checks[int(index)]
            if kind == "budget":
                raise over_budget(check, Decimal(int(Decimal(used))) * NANO)
            if kind == "parallel":
                raise parallel_limited(check)
            limit = check.rpm if kind == "rpm" else check.tpm
            raise rate_limited(check, kind, int(limit or 0), int(Decimal(used)), now)
        return Ticket(checks, minute, reserve)

    async def settle(self, ticket: Ticket, cost: Decimal, tokens: int) -> None:
        await self._run_settle(ticket, cost, tokens, release=False)
        ticket.reserved = Decimal(0)

    async def release(self, ticket: Ticket) -> None:
        if ticket.released:
            return
        ticket.released = True
        await self._run_settle(ticket, Decimal(0), 0, release=True)
        ticket.reserved = Decimal(0)

    async def finish(self, ticket: Ticket, cost: Decimal, tokens: int) -> None:
        """Settle and release in one script call: a limited request costs two round trips in all."""
        if ticket.released:
            return
        ticket.released = True
        await self._run_settle(ticket, cost, tokens, release=True)
        ticket.reserved = Decimal(0)

    async def _run_settle(self, ticket: Ticket, cost: Decimal, tokens: int, *, release: bool) -> None:
        keys = [self._keys(check, ticket.minute) for check in ticket.checks]
        args: list[Arg | Segment] = [to_nano(ticket.reserved), to_nano(cost), tokens, int(release),
                                     *(self._settled(check) for check in ticket.checks)]
        await self._redis.run_script(_SETTLE, keys, args)

    async def spent(self, entity: str, window: str) -> Decimal | None:
        raw = await self._redis.execute("GET", f"{self._prefix}{{ledger}}:{entity}:spent:{window}")
        return None if raw is None else Decimal(int(raw)) * NANO


def _budget_arg(check: Check) -> int | None:
    """The budget the script compares against; a soft budget alone counts spend but never refuses."""
    if check.budget is not None:
        return to_nano(check.budget)
    return _NEVER if check.soft_budget is not None else None


_NEVER = 2**52  # nano-dollars: a budget no counter reaches


def _arg(value: int | None) -> int | str:
    return "" if value is None else value


class ResilientLedger:
    """Redis while it answers; this process's memory while it does not (logged once per outage). A ticket is
    settled where it was admitted."""

    def __init__(self, shared: RedisLedger, retry_after_s: float = 5.0) -> None:
        self.shared = shared
        self.local = MemoryLedger()
        self._retry_after_s = retry_after_s
        self._down_until = 0.0
        self._local_tickets: set[int] = set()

    async def admit(self, checks: tuple[Check, ...], reserve: Decimal, now: float) -> Ticket:
        if time.monotonic() >= self._down_until:
            try:
                return await self.shared.admit(checks, reserve, now)
            except outage_errors() as error:
                self._went_down(error)
        ticket = await self.local.admit(checks, reserve, now)
        self._local_tickets.add(id(ticket))
        return ticket

    def _went_down(self, error: BaseException) -> None:
        if self._down_until == 0.0 or time.monotonic() >= self._down_until:
            log.warning("Redis is unreachable (%s): budgets and limits are counted in this process until it "
                        "answers again", type(error).__name__)
        self._down_until = time.monotonic() + self._retry_after_s

    def _ledger_of(self, ticket: Ticket) -> Ledger:
        return self.local if id(ticket) in self._local_tickets else self.shared

    async def settle(self, ticket: Ticket, cost: Decimal, tokens: int) -> None:
        try:
            await self._ledger_of(ticket).settle(ticket, cost, tokens)
        except Exception as error:  # a settle lost to an outage: the database still gets the spend record
            log.warning("could not settle a request in Redis (%s); its spend is still recorded", error)

    async def finish(self, ticket: Ticket, cost: Decimal, tokens: int) -> None:
        try:
            await self._ledger_of(ticket).finish(ticket, cost, tokens)
        except Exception as error:  # the spend record still reaches the database; the slot expires on its own
            log.warning("could not settle a request in Redis (%s); its spend is still recorded", error)
        finally:
            self._local_tickets.discard(id(ticket))

    async def release(self, ticket: Ticket) -> None:
        try:
            await self._ledger_of(ticket).release(ticket)
        except Exception as error:
            log.warning("could not release a parallel slot in Redis (%s); it expires on its own", error)
        finally:
            self._local_tickets.discard(id(ticket))

    async def spent(self, entity: str, window: str) -> Decimal | None:
        try:
            return await self.shared.spent(entity, window)
        except outage_errors():  # this process's own count, if it has one
            return await self.local.spent(entity, window)
