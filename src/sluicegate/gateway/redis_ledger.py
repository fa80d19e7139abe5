"""The admission ledger on Redis, shared by every gateway instance; and `ResilientLedger`, which falls back to
process memory (with a logged warning) while Redis is unreachable, so an outage never fails a request.

One Lua script admits (all checks of a request compared and claimed at once, or none) and one settles; a request
waits for its admission only, and its settlement rides along with a later command (`RedisLedger`). Money is counted
in whole nano-dollars (exact in Lua's numbers up to $9M per counter); the database keeps the exact Decimal spend.
All keys share one hash tag, so the scripts stay valid on Redis Cluster. A budget counter starts from the spend the
database reported when the key was loaded (SET NX), so a flushed Redis picks up where the database stands.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal
from functools import partial
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
SETTLE_DELAY_S = 0.02  # the longest a finished request's settlement waits for a command to ride along with

# KEYS per check: requests, tokens, in flight, spent, reserved. ARGV: reserve, then per check: rpm, tpm,
# parallel, budget, base spend ('' = not limited), ttl of the budget counters. Returns {kind, index, used} or {}.
# Each check reads its five counters with one MGET, and a counter gets its EXPIRE when it is created (INCR/INCRBY
# answered the increment itself), not on every request: a third of the commands the first version sent, and each
# redis.call costs Redis about 1.5 µs. The in-flight count keeps its EXPIRE per request: a busy key must not expire.
_ADMIT = """
local reserve = tonumber(ARGV[1])
local n = #KEYS / 5
for i = 0, n - 1 do
  local k, a = i * 5, 2 + i * 6
  local now = redis.call('MGET', KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5])
  if ARGV[a + 3] ~= '' then
    local spent = now[4]
    if not spent then
      redis.call('SET', KEYS[k + 4], ARGV[a + 4], 'NX', 'EX', ARGV[a + 5])
      spent = redis.call('GET', KEYS[k + 4])
    end
    if tonumber(spent) + tonumber(now[5] or '0') >= tonumber(ARGV[a + 3]) then return {'budget', i, spent} end
  end
  if ARGV[a] ~= '' then
    local used = tonumber(now[1] or '0')
    if used + 1 > tonumber(ARGV[a]) then return {'rpm', i, tostring(used)} end
  end
  if ARGV[a + 1] ~= '' then
    local used = tonumber(now[2] or '0')
    if used >= tonumber(ARGV[a + 1]) then return {'tpm', i, tostring(used)} end
  end
  if ARGV[a + 2] ~= '' then
    local used = tonumber(now[3] or '0')
    if used >= tonumber(ARGV[a + 2]) then return {'parallel', i, tostring(used)} end
  end
end
for i = 0, n - 1 do
  local k, a = i * 5, 2 + i * 6
  if ARGV[a] ~= '' or ARGV[a + 1] ~= '' then
    if redis.call('INCR', KEYS[k + 1]) == 1 then redis.call('EXPIRE', KEYS[k + 1], MINUTE_TTL) end
  end
  if ARGV[a + 2] ~= '' then
    redis.call('INCR', KEYS[k + 3]); redis.call('EXPIRE', KEYS[k + 3], IN_FLIGHT_TTL)
  end
  if ARGV[a + 3] ~= '' and reserve > 0 then
    if redis.call('INCRBY', KEYS[k + 5], reserve) == reserve then redis.call('EXPIRE', KEYS[k + 5], ARGV[a + 5]) end
  end
end
return {}
""".replace("MINUTE_TTL", str(MINUTE_TTL_S)).replace("IN_FLIGHT_TTL", str(IN_FLIGHT_TTL_S))

# Settles any number of tickets: KEYS, five per check, ticket after ticket; ARGV per ticket: its number of checks,
# reserve, cost, tokens, release (1/0), then per check: has budget, has tpm, has parallel.
_SETTLE = """
local a, k = 1, 0
while a <= #ARGV do
  local n, reserve = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local cost, tokens = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local release = ARGV[a + 4] == '1'
  a = a + 5
  for i = 1, n do
    if ARGV[a] == '1' then
      if reserve > 0 then redis.call('DECRBY', KEYS[k + 5], reserve) end
      if cost > 0 then redis.call('INCRBY', KEYS[k + 4], cost) end
    end
    if ARGV[a + 1] == '1' and tokens > 0 then
      if redis.call('INCRBY', KEYS[k + 2], tokens) == tokens then redis.call('EXPIRE', KEYS[k + 2], MINUTE_TTL) end
    end
    if release and ARGV[a + 2] == '1' then
      if redis.call('DECR', KEYS[k + 3]) < 0 then redis.call('SET', KEYS[k + 3], 0) end
    end
    a, k = a + 3, k + 5
  end
end
return 1
""".replace("MINUTE_TTL", str(MINUTE_TTL_S))


def to_nano(amount: Decimal) -> int:
    """Whole nano-dollars, rounded up: a reservation or a cost is never counted as less than it is."""
    return int(amount.scaleb(9).to_integral_value(rounding=ROUND_CEILING))


class RedisLedger:
    """`Ledger` on a `PipelinedRedis` (transport/redis_wire.py: the script calls are most of what a virtual key
    costs, and redis-py spent six times the CPU on each); every instance on the same Redis and prefix shares it.

    `finish`, a request's last step, does not wait for Redis: finished tickets are settled by one script call that
    goes out with this ledger's next command (so this instance's next admission, and any `spent`, already count
    them), or after `settle_delay_s` when no command follows sooner. A round trip costs both sides a system call
    and a wake-up whatever it carries (benchmarks/virtual_keys.py): under load the settles ride along with the
    admissions, one write per request instead of two. Other instances see a settle up to `settle_delay_s` later,
    which only makes them stricter meanwhile: the reservation (an upper bound of the cost) and the parallel slot
    are still held.
    """

    def __init__(self, client: PipelinedRedis, prefix: str = "sluicegate:ledger:", *,
                 settle_delay_s: float = SETTLE_DELAY_S) -> None:
        self._redis = client
        self._prefix = prefix
        self._settle_delay_s = settle_delay_s
        self._is_timer_set = False
        self._segments: dict[tuple[Any, ...], Segment] = {}  # a request's checks, encoded once per minute
        self._finished: list[tuple[list[Segment], list[Arg | Segment]]] = []  # settles not written yet
        self._unanswered: set[asyncio.Future[Any]] = set()

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
        self._write_finished()  # this instance's finished requests count before it admits another
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
        await self._settle_now(ticket, cost, tokens, release=False)

    async def release(self, ticket: Ticket) -> None:
        if ticket.released:
            return
        ticket.released = True
        await self._settle_now(ticket, Decimal(0), 0, release=True)

    async def _settle_now(self, ticket: Ticket, cost: Decimal, tokens: int, *, release: bool) -> None:
        self._write_finished()  # after what this instance finished before
        keys, args = self._settlement(ticket, cost, tokens, release=release)
        ticket.reserved = Decimal(0)
        await self._redis.run_script(_SETTLE, keys, args)

    async def finish(self, ticket: Ticket, cost: Decimal, tokens: int) -> None:
        """Settle and release without waiting for Redis (class docstring); `drain` waits for every one."""
        if ticket.released:
            return
        ticket.released = True
        if not self._is_timer_set:
            self._is_timer_set = True
            asyncio.get_running_loop().call_later(self._settle_delay_s, self._on_timer)
        self._finished.append(self._settlement(ticket, cost, tokens, release=True))
        ticket.reserved = Decimal(0)

    def _settlement(self, ticket: Ticket, cost: Decimal, tokens: int, *,
                    release: bool) -> tuple[list[Segment], list[Arg | Segment]]:
        keys = [self._keys(check, ticket.minute) for check in ticket.checks]
        args: list[Arg | Segment] = [len(ticket.checks), to_nano(ticket.reserved), to_nano(cost), tokens,
                                     int(release), *(self._settled(check) for check in ticket.checks)]
        return keys, args

    def _on_timer(self) -> None:
        self._is_timer_set = False
        self._write_finished()

    def _write_finished(self) -> None:
        if not self._finished:
            return
        finished, self._finished = self._finished, []
        keys = [key for ticket_keys, _ in finished for key in ticket_keys]
        args = [arg for _, ticket_args in finished for arg in ticket_args]
        answer = self._redis.run_script_soon(_SETTLE, keys, args)
        self._unanswered.add(answer)
        answer.add_done_callback(partial(self._answered, len(finished)))

    def _answered(self, count: int, answer: asyncio.Future[Any]) -> None:
        self._unanswered.discard(answer)
        error = answer.exception()
        if error is not None:  # the spend records still reach the database; slots expire on their own
            log.warning("could not settle %d requests in Redis (%s); their spend is still recorded", count, error)

    async def drain(self) -> None:
        """Wait until Redis has answered every finish so far (at shutdown, before the connection closes)."""
        self._write_finished()
        if self._unanswered:
            await asyncio.gather(*self._unanswered, return_exceptions=True)

    async def spent(self, entity: str, window: str) -> Decimal | None:
        self._write_finished()
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

    async def drain(self) -> None:
        await self.shared.drain()

    async def spent(self, entity: str, window: str) -> Decimal | None:
        try:
            return await self.shared.spent(entity, window)
        except outage_errors():  # this process's own count, if it has one
            return await self.local.spent(entity, window)
