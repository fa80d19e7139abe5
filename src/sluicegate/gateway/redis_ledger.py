"""The admission ledger on Redis, shared by every gateway instance; and `ResilientLedger`, which falls back to
process memory (with a logged warning) while Redis is unreachable, so an outage never fails a request.

One Lua script admits (all checks of a request compared and claimed at once, or none) and, far from every limit,
claims a lease of more admissions in the same step (ledger_leases.py), so most requests make no round trip; one
script settles, riding along with a later command. Money is counted in whole nano-dollars (exact in Lua's numbers
up to $9M per counter); the database keeps the exact Decimal spend. All keys share one hash tag, so the scripts
stay valid on Redis Cluster. A budget counter starts from the spend the database reported when the key was loaded
(SET NX), so a flushed Redis picks up where the database stands.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
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
from sluicegate.gateway.ledger_leases import MARGIN, Giveback, Lease, Leases, unsettled
from sluicegate.router.redis_state import outage_errors
from sluicegate.transport.redis_wire import Arg, PipelinedRedis, Segment, segment

log = logging.getLogger("sluicegate.gateway.admission")
NANO = Decimal("1e-9")
MINUTE_TTL_S = 2 * WINDOW_S
IN_FLIGHT_TTL_S = 3600  # a crashed instance's slots free themselves after this
WINDOW_TTL_S = 400 * 86_400  # a budget window's counters outlive any budget_duration in use
MAX_SEGMENTS = 10_000
SETTLE_DELAY_S = 0.02  # the longest a finished request's settlement waits for a command to ride along with
LEASE_UNITS = 32  # admissions a lease claims at a time (one Redis round trip per this many requests, far from limits)
LEASE_TTL_S = 0.1  # a lease ends this long after its grant at the latest, giving back what it did not use
# A lease asks for more while it holds fewer than this many claims' worth: the requests of one event-loop iteration
# (up to the concurrency) can use many units before the answer is read, and a lease that runs dry sends every
# request that arrives meanwhile to Redis.
RENEW_BELOW = 2

# Parallel slots a lease holds are not in the in-flight counter but in a hash per entity, one field per instance:
# "count:expiry (ms, Redis's clock)", renewed with each claim. The slots of an instance that died go away with its
# field a moment later, instead of holding the counter up (it never expires while the key is busy).
_SLOTS = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function held_slots(key, now)
  local fields, total = redis.call('HGETALL', key), 0
  for j = 1, #fields, 2 do
    local count, expiry = string.match(fields[j + 1], '^(%-?%d+):(%d+)$')
    if tonumber(expiry) <= now then redis.call('HDEL', key, fields[j]) else total = total + tonumber(count) end
  end
  return total
end
local function mine(key, who, now)
  local found = redis.call('HGET', key, who)
  if not found then return 0, now end
  local count, expiry = string.match(found, '^(%-?%d+):(%d+)$')
  if tonumber(expiry) <= now then return 0, now end
  return tonumber(count), tonumber(expiry)
end
local function leasing(key, who)
  local fields = redis.call('HGETALL', key)
  local t, mine = now_ms(), false
  for j = 1, #fields, 2 do
    if tonumber(fields[j + 1]) > t then
      if fields[j] ~= who then return '2' end
      mine = true
    end
  end
  return mine and '1' or '0'
end
local function set_mine(key, who, count, expiry)
  if count <= 0 then redis.call('HDEL', key, who) else redis.call('HSET', key, who, count .. ':' .. expiry) end
end
"""

# KEYS per check: requests, tokens, in flight, spent, reserved, the instances that may hold a lease on them (a
# hash: instance → until when, ms), the slots leases hold. ARGV: reserve, lease units (0: none wanted), lease
# budget, how long a lease may be out after its claim (ms), 1 to admit a request (0: only claim a lease), this
# instance's id, then per check: rpm, tpm, parallel, budget, base spend ('' = not limited), ttl of the budget
# counters. Returns {} (admitted; or no lease), {'lease', tokens of each check} (admitted if asked, and a lease
# claimed: ledger_leases.py) or, refused, {kind, index, used, leasing}, where leasing is '2' if another instance
# may hold a lease on the refused check's counters, '1' if only this one, '0' if none.
# Each check reads its counters with one MGET, and a counter gets its EXPIRE when it is created (INCR/INCRBY
# answered the increment itself), not on every request: each redis.call costs Redis about 1.5 µs. The in-flight
# count keeps its EXPIRE per request: a busy key must not expire.
_ADMIT = _SLOTS + """
local reserve, units, lease_budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local admit, who = ARGV[5] == '1', ARGV[6]
local n = #KEYS / 7
local seen, now = {}, nil
for i = 0, n - 1 do
  local k, a = i * 7, 7 + i * 6
  local got = redis.call('MGET', KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5])
  local spent = got[4]
  if ARGV[a + 3] ~= '' then
    if not spent then
      redis.call('SET', KEYS[k + 4], ARGV[a + 4], 'NX', 'EX', ARGV[a + 5])
      spent = redis.call('GET', KEYS[k + 4])
    end
    if admit and tonumber(spent) + tonumber(got[5] or '0') >= tonumber(ARGV[a + 3]) then
      return {'budget', i, spent, leasing(KEYS[k + 6], who)}
    end
  end
  local requests, tokens, flight = tonumber(got[1] or '0'), tonumber(got[2] or '0'), tonumber(got[3] or '0')
  if ARGV[a + 2] ~= '' then
    now = now or now_ms()
    flight = flight + held_slots(KEYS[k + 7], now)
  end
  if admit then
    local refused
    if ARGV[a] ~= '' and requests + 1 > tonumber(ARGV[a]) then refused = {'rpm', i, tostring(requests)}
    elseif ARGV[a + 1] ~= '' and tokens >= tonumber(ARGV[a + 1]) then refused = {'tpm', i, tostring(tokens)}
    elseif ARGV[a + 2] ~= '' and flight >= tonumber(ARGV[a + 2]) then refused = {'parallel', i, tostring(flight)}
    end
    if refused then
      refused[4] = leasing(KEYS[k + 6], who)
      return refused
    end
  end
  seen[i] = {requests, tokens, flight, tonumber(spent or '0') + tonumber(got[5] or '0')}
end
for i = 0, n - 1 do
  local k, a = i * 7, 7 + i * 6
  if not admit then break end
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
if units == 0 then return {} end
local room = MARGIN * units
for i = 0, n - 1 do
  local a, s = 7 + i * 6, seen[i]
  if ARGV[a] ~= '' and s[1] + 1 + room > tonumber(ARGV[a]) then return {} end
  if ARGV[a + 1] ~= '' and s[2] * 2 >= tonumber(ARGV[a + 1]) then return {} end
  if ARGV[a + 2] ~= '' and s[3] + 1 + room > tonumber(ARGV[a + 2]) then return {} end
  if ARGV[a + 3] ~= '' and s[4] + reserve + MARGIN * lease_budget > tonumber(ARGV[a + 3]) then return {} end
end
local lease, life = {'lease'}, tonumber(ARGV[4])
now = now or now_ms()
for i = 0, n - 1 do
  local k, a = i * 7, 7 + i * 6
  if ARGV[a] ~= '' or ARGV[a + 1] ~= '' then
    if redis.call('INCRBY', KEYS[k + 1], units) == units then redis.call('EXPIRE', KEYS[k + 1], MINUTE_TTL) end
  end
  if ARGV[a + 2] ~= '' then
    local count = mine(KEYS[k + 7], who, now)
    set_mine(KEYS[k + 7], who, count + units, now + life)
    redis.call('PEXPIRE', KEYS[k + 7], life)
  end
  if ARGV[a + 3] ~= '' and lease_budget > 0 then
    if redis.call('INCRBY', KEYS[k + 5], lease_budget) == lease_budget then
      redis.call('EXPIRE', KEYS[k + 5], ARGV[a + 5])
    end
  end
  redis.call('HSET', KEYS[k + 6], who, now + life)
  redis.call('PEXPIRE', KEYS[k + 6], life)
  lease[i + 2] = tostring(seen[i][2])
end
return lease
""".replace("MINUTE_TTL", str(MINUTE_TTL_S)).replace("IN_FLIGHT_TTL", str(IN_FLIGHT_TTL_S)).replace(
    "MARGIN", str(MARGIN))

# Settles any number of entries (a finished request, or an ended lease giving back what it did not use): KEYS,
# seven per check, entry after entry; ARGV: this instance's id, then per entry: its number of checks, reservation
# to give back, cost, tokens, slots to release, requests to give back, lease slots to drop, lease requests still
# in flight (their slots move to the in-flight counter), then per check: counts spend, has tpm, has parallel,
# counts requests. Spend is added only to a counter that exists: the admission creates it from the database's
# figure (a Redis that lost its data must not restart a budget from this one cost), and no counter goes below 0.
_SETTLE = _SLOTS + """
local who, a, k, now = ARGV[1], 2, 0, nil
while a <= #ARGV do
  local n, reserve = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local cost, tokens = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local slots, requests = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local claimed, carried = tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7])
  a = a + 8
  for i = 1, n do
    if ARGV[a] == '1' then
      if reserve > 0 and redis.call('DECRBY', KEYS[k + 5], reserve) < 0 then redis.call('DEL', KEYS[k + 5]) end
      if cost > 0 and redis.call('EXISTS', KEYS[k + 4]) == 1 then redis.call('INCRBY', KEYS[k + 4], cost) end
    end
    if ARGV[a + 1] == '1' and tokens > 0 then
      if redis.call('INCRBY', KEYS[k + 2], tokens) == tokens then redis.call('EXPIRE', KEYS[k + 2], MINUTE_TTL) end
    end
    if ARGV[a + 2] == '1' then
      if slots > 0 and redis.call('DECRBY', KEYS[k + 3], slots) < 0 then redis.call('DEL', KEYS[k + 3]) end
      if carried > 0 then
        redis.call('INCRBY', KEYS[k + 3], carried); redis.call('EXPIRE', KEYS[k + 3], IN_FLIGHT_TTL)
      end
      if claimed > 0 then
        now = now or now_ms()
        local count, expiry = mine(KEYS[k + 7], who, now)
        set_mine(KEYS[k + 7], who, count - claimed, expiry)
      end
    end
    if requests > 0 and ARGV[a + 3] == '1' then
      if redis.call('DECRBY', KEYS[k + 1], requests) < 0 then redis.call('DEL', KEYS[k + 1]) end
    end
    a, k = a + 4, k + 7
  end
end
return 1
""".replace("MINUTE_TTL", str(MINUTE_TTL_S)).replace("IN_FLIGHT_TTL", str(IN_FLIGHT_TTL_S))


def to_nano(amount: Decimal) -> int:
    """Whole nano-dollars, rounded up: a reservation or a cost is never counted as less than it is."""
    return int(amount.scaleb(9).to_integral_value(rounding=ROUND_CEILING))


class RedisLedger:
    """`Ledger` on a `PipelinedRedis` (transport/redis_wire.py: the script calls are most of what a virtual key
    costs, and redis-py spent six times the CPU on each); every instance on the same Redis and prefix shares it.

    Far from its limits, a request admitted by Redis also claims a lease of `lease_units` more admissions for the
    same checks, and the requests after it are admitted from the lease in this process, without a round trip
    (ledger_leases.py: why no limit moves). `lease_units=0` turns leases off.

    `finish`, a request's last step, does not wait for Redis: finished tickets are settled by one script call that
    goes out with this ledger's next command to Redis, or after `settle_delay_s` when no command follows sooner. A
    round trip costs both sides a system call and a wake-up whatever it carries (benchmarks/virtual_keys.py).
    Other instances see a settle up to `settle_delay_s` later, which only makes them stricter meanwhile: the
    reservation (an upper bound of the cost) and the parallel slot are still held.
    """

    def __init__(self, client: PipelinedRedis, prefix: str = "sluicegate:ledger:", *,
                 settle_delay_s: float = SETTLE_DELAY_S, lease_units: int = LEASE_UNITS,
                 lease_ttl_s: float = LEASE_TTL_S) -> None:
        self._redis = client
        self._prefix = prefix
        self._settle_delay_s = settle_delay_s
        self._lease_units = lease_units
        self._lease_ttl_s = lease_ttl_s
        # A refusal that finds another instance's lease out on its counters waits this long for it to give back.
        self._lease_wait_s = lease_ttl_s + settle_delay_s + 0.05
        self._leased_mark_ms = str(int(self._lease_wait_s * 1000))
        self._leases = Leases()
        self._instance = uuid.uuid4().hex[:16]  # names the parallel slots this instance's leases hold
        self._asking: set[tuple[Check, ...]] = set()  # checks whose admission in Redis is claiming a lease
        self._renewals: set[asyncio.Future[Any]] = set()
        self._unsettled_leases: list[Lease] = []  # leases whose finished requests' cost is not written yet
        self._lease_timer: asyncio.TimerHandle | None = None
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
                    f"{base}:spent:{check.window}", f"{base}:reserved:{check.window}", f"{base}:leased",
                    f"{base}:slots"]

        return self._encoded(("keys", check.entity, check.window, minute), make)

    def _limits(self, check: Check) -> Segment:
        return self._encoded(("limits", check.rpm, check.tpm, check.parallel, check.budget, check.soft_budget,
                              check.base_spend), lambda: [_arg(check.rpm), _arg(check.tpm), _arg(check.parallel),
                                                          _arg(_budget_arg(check)), to_nano(check.base_spend),
                                                          WINDOW_TTL_S])

    def _settled(self, check: Check) -> Segment:
        counts_requests = check.rpm is not None or check.tpm is not None
        return self._encoded(("settled", check.counts_spend, check.tpm is not None, check.parallel is not None,
                              counts_requests),
                             lambda: [int(check.counts_spend), int(check.tpm is not None),
                                      int(check.parallel is not None), int(counts_requests)])

    async def admit(self, checks: tuple[Check, ...], reserve: Decimal, now: float) -> Ticket:
        minute = int(now // WINDOW_S)
        reserve_nano = to_nano(reserve)
        lease = self._leases.get(checks)
        if lease is not None:
            if lease.covers(reserve_nano, minute, time.monotonic()):
                lease.take(reserve_nano)
                if lease.units_left < RENEW_BELOW * self._lease_units and not lease.is_renewing:
                    self._renew(lease, reserve_nano)
                return Ticket(checks, minute, reserve, lease=lease)
            self._give_back(self._leases.end(lease))
        return await self._admit_in_redis(checks, reserve, reserve_nano, now, minute)

    def _script_args(self, checks: tuple[Check, ...], reserve_nano: int, units: int, *,
                     admit: bool) -> list[Arg | Segment]:
        return [reserve_nano, units, units * reserve_nano, self._leased_mark_ms, int(admit), self._instance,
                *(self._limits(check) for check in checks)]

    async def _admit_in_redis(self, checks: tuple[Check, ...], reserve: Decimal, reserve_nano: int, now: float,
                              minute: int, *, is_retry: bool = False) -> Ticket:
        self._write_finished()  # this instance's finished requests count before it admits another
        asks = not is_retry and self._may_lease(checks, reserve_nano) and checks not in self._asking
        units = self._lease_units if asks else 0
        if asks:  # the requests that come meanwhile go to Redis as well, but do not each claim a lease
            self._asking.add(checks)
        try:
            answer = await self._redis.run_script(_ADMIT, [self._keys(check, minute) for check in checks],
                                                  self._script_args(checks, reserve_nano, units, admit=True))
        finally:
            if asks:
                self._asking.discard(checks)
        if not answer:
            return Ticket(checks, minute, reserve)
        kind, *parts = (part.decode() if isinstance(part, bytes) else part for part in answer)
        if kind == "lease":
            self._grant(checks, minute, units, units * reserve_nano, parts)
            return Ticket(checks, minute, reserve)
        index, used, leased = parts
        check = checks[int(index)]
        if leased != "0" and not is_retry:  # a lease is out on these counters: its unused units may admit this
            self._give_back_all(self._leases.end_touching(check.entity))  # written before the retry
            if leased == "2":  # another instance's: it gives back when its lease ends
                await asyncio.sleep(self._lease_wait_s)
                now += self._lease_wait_s  # on the caller's clock (a test's is not the wall clock)
            return await self._admit_in_redis(checks, reserve, reserve_nano, now, int(now // WINDOW_S),
                                              is_retry=True)
        if kind == "budget":
            raise over_budget(check, Decimal(int(Decimal(used))) * NANO)
        if kind == "parallel":
            raise parallel_limited(check)
        limit = check.rpm if kind == "rpm" else check.tpm
        raise rate_limited(check, kind, int(limit or 0), int(Decimal(used)), now)

    def _may_lease(self, checks: tuple[Check, ...], reserve_nano: int) -> bool:
        """A budget needs a reservation to lease against (a request of unknown price is admitted one by one)."""
        return self._lease_units > 0 and (reserve_nano > 0 or not any(c.budget is not None for c in checks))

    def _renew(self, lease: Lease, reserve_nano: int) -> None:
        """Claim more units for `lease` before it runs out, in the background: no request waits for it."""
        if not self._may_lease(lease.checks, reserve_nano):
            return
        lease.is_renewing = True
        self._write_finished()  # Redis's tokens then include this instance's finished requests
        units = self._lease_units
        answer = self._redis.run_script_soon(_ADMIT, [self._keys(check, lease.minute) for check in lease.checks],
                                             self._script_args(lease.checks, reserve_nano, units, admit=False))
        self._renewals.add(answer)
        answer.add_done_callback(partial(self._renewed, lease, units, units * reserve_nano))

    def _renewed(self, lease: Lease, units: int, budget_nano: int, answer: asyncio.Future[Any]) -> None:
        self._renewals.discard(answer)
        if answer.exception() is not None:  # Redis did not answer: the next admission may ask again
            lease.is_renewing = False
            return
        reply = answer.result()
        if reply and reply[0] == b"lease":
            lease.is_renewing = False
            self._grant(lease.checks, lease.minute, units, budget_nano, reply[1:])
        # else near a limit now: no more asking; the lease runs out, then its requests go to Redis one by one

    def _grant(self, checks: tuple[Check, ...], minute: int, units: int, budget_nano: int,
               tokens: list[Any]) -> None:
        self._give_back(self._leases.grant(checks, minute, units, budget_nano, tuple(int(t) for t in tokens),
                                           time.monotonic() + self._lease_ttl_s))
        if self._lease_timer is None:
            self._lease_timer = asyncio.get_running_loop().call_later(self._lease_ttl_s, self._end_expired_leases)

    def _end_expired_leases(self) -> None:
        self._lease_timer = None
        now = time.monotonic()
        self._give_back_all(self._leases.end_expired(now))
        soonest = self._leases.next_expiry()
        if soonest is not None:
            self._lease_timer = asyncio.get_running_loop().call_later(max(0.0, soonest - now) + 0.001,
                                                                      self._end_expired_leases)

    def _give_back_all(self, givebacks: list[Giveback]) -> None:
        for back in givebacks:
            self._give_back(back)

    def _give_back(self, back: Giveback | None) -> None:
        if back is None:
            return
        self._queue(self._entry(back.checks, back.minute, reserve_nano=back.reserve_nano, cost_nano=back.cost_nano,
                                tokens=back.tokens, requests=back.requests, lease_slots=back.slots,
                                carried=back.carried))

    async def settle(self, ticket: Ticket, cost: Decimal, tokens: int) -> None:
        await self._settle_now(ticket, cost, tokens, release=False)

    async def release(self, ticket: Ticket) -> None:
        if ticket.released:
            return
        ticket.released = True
        await self._settle_now(ticket, Decimal(0), 0, release=True)

    async def _settle_now(self, ticket: Ticket, cost: Decimal, tokens: int, *, release: bool) -> None:
        self._write_finished()  # after what this instance finished before
        settlement = self._settlement(ticket, cost, tokens, release=release)
        if settlement is not None:
            keys, args = settlement
            await self._redis.run_script(_SETTLE, keys, [self._instance, *args])

    async def finish(self, ticket: Ticket, cost: Decimal, tokens: int) -> None:
        """Settle and release without waiting for Redis (class docstring); `drain` waits for every one."""
        if ticket.released:
            return
        ticket.released = True
        settlement = self._settlement(ticket, cost, tokens, release=True)
        if settlement is not None:
            self._queue(settlement)

    def _settlement(self, ticket: Ticket, cost: Decimal, tokens: int, *,
                    release: bool) -> tuple[list[Segment], list[Arg | Segment]] | None:
        """The script's entry for `ticket` (None: nothing for Redis to do now). A request of a lease that has
        not ended gives its reservation and slot back to the lease, which returns them to Redis when it ends, and
        adds its cost and tokens to the lease's, written as one entry with the next write."""
        reserve, slots, cost_nano = to_nano(ticket.reserved), int(release), to_nano(cost)
        ticket.reserved = Decimal(0)
        lease = ticket.lease
        if lease is not None and not lease.ended:
            if lease.settle(reserve, cost_nano, tokens, release=release):
                self._unsettled_leases.append(lease)
                self._set_timer()
            return None
        if tokens and (live := self._leases.get(ticket.checks)) is not None:
            live.tokens += tokens  # a request admitted by Redis: its lease's tpm check counts its tokens too
        if not (reserve or cost_nano or tokens or slots):
            return None
        return self._entry(ticket.checks, ticket.minute, reserve_nano=reserve, cost_nano=cost_nano, tokens=tokens,
                           slots=slots)

    def _entry(self, checks: tuple[Check, ...], minute: int, *, reserve_nano: int = 0, cost_nano: int = 0,
               tokens: int = 0, slots: int = 0, requests: int = 0, lease_slots: int = 0,
               carried: int = 0) -> tuple[list[Segment], list[Arg | Segment]]:
        """One entry of the settlement script (_SETTLE says what each number does)."""
        return ([self._keys(check, minute) for check in checks],
                [len(checks), reserve_nano, cost_nano, tokens, slots, requests, lease_slots, carried,
                 *(self._settled(check) for check in checks)])

    def _queue(self, settlement: tuple[list[Segment], list[Arg | Segment]]) -> None:
        self._set_timer()
        self._finished.append(settlement)

    def _set_timer(self) -> None:
        if not self._is_timer_set:
            self._is_timer_set = True
            asyncio.get_running_loop().call_later(self._settle_delay_s, self._on_timer)

    def _on_timer(self) -> None:
        self._is_timer_set = False
        self._write_finished()

    def _write_finished(self) -> None:
        if self._unsettled_leases:
            leases, self._unsettled_leases = self._unsettled_leases, []
            for lease in leases:
                cost_nano, tokens = unsettled(lease)
                if cost_nano or tokens:
                    self._finished.append(self._entry(lease.checks, lease.minute, cost_nano=cost_nano, tokens=tokens))
        if not self._finished:
            return
        finished, self._finished = self._finished, []
        keys = [key for ticket_keys, _ in finished for key in ticket_keys]
        args = [self._instance, *(arg for _, ticket_args in finished for arg in ticket_args)]
        answer = self._redis.run_script_soon(_SETTLE, keys, args)
        self._unanswered.add(answer)
        answer.add_done_callback(partial(self._answered, len(finished)))

    def _answered(self, count: int, answer: asyncio.Future[Any]) -> None:
        self._unanswered.discard(answer)
        error = answer.exception()
        if error is not None:  # the spend records still reach the database; slots expire on their own
            log.warning("could not settle %d requests in Redis (%s); their spend is still recorded", count, error)

    async def drain(self) -> None:
        """End every lease and wait until Redis has answered every finish so far (at shutdown, before the
        connection closes)."""
        if self._renewals:  # units still on their way: they must be given back too
            await asyncio.gather(*self._renewals, return_exceptions=True)
        self._give_back_all(self._leases.end_all())
        if self._lease_timer is not None:
            self._lease_timer.cancel()
            self._lease_timer = None
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
