"""Leases: a block of admissions an instance claimed in Redis ahead of time, spent here without a round trip.

Far from every limit, the admission script (redis_ledger.py) claims, besides the request it admits, `units` more
requests of each rpm counter, as many parallel slots (held under this instance's name, with an expiry) and
`units` × the request's reservation of each budget, in the same atomic step that checks them. The next requests
with the same checks are admitted from that claim in this process: no Redis round trip, which was most of what a
limited virtual key cost the gateway. A lease running low claims more in the background. Its requests' costs and
tokens still reach Redis, summed per lease, in the settlement batches.

Why no limit moves: a lease's units are counted in Redis as used from the moment they are claimed, so instances
together can never admit more than the limit (the claim is refused like any admission when it would not fit), and
no budget is overspent by more than the reservation already allowed. What a lease can do is the opposite: hold
units another instance could have used. So leases are granted only while every limit has `MARGIN` claims' worth
of room left (near a limit every request goes to Redis, as without leases), a lease lives `LEASE_TTL_S` past its last
claim at most and gives back what it did not use when it ends, and a refusal that finds a lease recently granted
on its counters waits for the leases to end and asks once more (redis_ledger.py) — so an rpm limit of N still
admits exactly N.

The tpm check reads the tokens Redis had at the last claim plus those this lease's requests used since: other
instances' tokens show up at the next claim. Leases are granted only while tokens are under half the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from sluicegate.gateway.admission import Check

MARGIN = 8  # a lease is granted while every limit has room for this many more leases of the same size


@dataclass(slots=True, eq=False)
class Lease:
    """Units claimed for one set of checks in one minute; `in_flight` of them are admitted and not finished yet."""

    checks: tuple[Check, ...]
    minute: int
    units: int  # claimed: requests per rpm counter, slots per parallel counter
    budget_nano: int  # claimed from every budget's reservations
    tokens_base: tuple[int, ...]  # each check's tokens this minute, as Redis had them at the grant
    expires: float  # monotonic
    units_left: int = 0
    budget_left_nano: int = 0
    in_flight: int = 0
    reserved_in_flight_nano: int = 0  # the reservations of the requests in flight: they keep them past the end
    tokens: int = 0  # used by this lease's requests since the grant
    unsettled_cost_nano: int = 0  # what its finished requests cost and used, not written to Redis yet: one entry
    unsettled_tokens: int = 0  # per lease per write, however many requests it admitted
    is_renewing: bool = False  # a claim of more units is on its way to Redis (or was refused: none again)
    ended: bool = False

    def __post_init__(self) -> None:
        self.units_left = self.units
        self.budget_left_nano = self.budget_nano

    def covers(self, reserve_nano: int, minute: int, now: float) -> bool:
        """Whether one more request fits this lease: a unit left, its reservation, every tpm under its limit."""
        if self.units_left <= 0 or minute != self.minute or now >= self.expires:
            return False
        if reserve_nano > self.budget_left_nano:
            return False
        for check, base in zip(self.checks, self.tokens_base, strict=True):
            if check.tpm is not None and base + self.tokens >= check.tpm:
                return False
        return True

    def extend(self, units: int, budget_nano: int, tokens_base: tuple[int, ...], expires: float) -> None:
        """More units granted for the same checks and minute (Redis's tokens now include this lease's so far)."""
        self.units += units
        self.units_left += units
        self.budget_nano += budget_nano
        self.budget_left_nano += budget_nano
        self.tokens_base, self.tokens = tokens_base, 0
        self.expires = expires

    def take(self, reserve_nano: int) -> None:
        self.units_left -= 1
        self.budget_left_nano -= reserve_nano
        self.in_flight += 1
        self.reserved_in_flight_nano += reserve_nano

    def settle(self, reserve_nano: int, cost_nano: int, tokens: int, *, release: bool) -> bool:
        """One of its requests settled (and, with `release`, ended): its reservation and slot come back to the
        lease, its cost and tokens wait for the next write. True when the lease had nothing unsettled before."""
        self.reserved_in_flight_nano -= reserve_nano
        self.tokens += tokens
        if release:
            self.in_flight -= 1
        was_settled = not (self.unsettled_cost_nano or self.unsettled_tokens)
        self.unsettled_cost_nano += cost_nano
        self.unsettled_tokens += tokens
        return was_settled and bool(cost_nano or tokens)


class Giveback(NamedTuple):
    """What an ended lease returns to Redis: its unused requests, its slots (those of its requests still in flight
    move to the shared in-flight count: they release them one by one), the reservations of no request in flight;
    and the cost and tokens it has not settled yet."""

    checks: tuple[Check, ...]
    minute: int
    requests: int
    slots: int
    carried: int
    reserve_nano: int
    cost_nano: int = 0
    tokens: int = 0


def unsettled(lease: Lease) -> tuple[int, int]:
    """The cost and tokens the lease's finished requests have not written to Redis yet; from now on, none."""
    found = lease.unsettled_cost_nano, lease.unsettled_tokens
    lease.unsettled_cost_nano = lease.unsettled_tokens = 0
    return found


def giveback(lease: Lease) -> Giveback:
    """End `lease`: its requests still in flight keep their slot and reservation, and return them themselves."""
    lease.ended = True
    return Giveback(lease.checks, lease.minute, lease.units_left, lease.units, lease.in_flight,
                    lease.budget_nano - lease.reserved_in_flight_nano, *unsettled(lease))


class Leases:
    """This instance's live leases, one per set of checks (a key's request checks its key, user, team…)."""

    def __init__(self) -> None:
        self._by_checks: dict[tuple[Check, ...], Lease] = {}

    def __len__(self) -> int:
        return len(self._by_checks)

    def get(self, checks: tuple[Check, ...]) -> Lease | None:
        return self._by_checks.get(checks)

    def grant(self, checks: tuple[Check, ...], minute: int, units: int, budget_nano: int,
              tokens_base: tuple[int, ...], expires: float) -> Giveback | None:
        """Units Redis granted: they extend the live lease of the same checks and minute, or start a new one (the
        lease of an earlier minute ends and gives back)."""
        lease = self._by_checks.get(checks)
        if lease is not None and lease.minute == minute:
            lease.extend(units, budget_nano, tokens_base, expires)
            return None
        if lease is not None and lease.minute > minute:  # a late answer for a minute gone by: back at once
            return Giveback(checks, minute, units, units, 0, budget_nano)
        self._by_checks[checks] = Lease(checks, minute, units, budget_nano, tokens_base, expires)
        return giveback(lease) if lease is not None else None

    def end(self, lease: Lease) -> Giveback | None:
        if lease.ended:
            return None
        if self._by_checks.get(lease.checks) is lease:
            del self._by_checks[lease.checks]
        return giveback(lease)

    def end_expired(self, now: float) -> list[Giveback]:
        return [back for lease in [lease for lease in self._by_checks.values() if now >= lease.expires]
                if (back := self.end(lease)) is not None]

    def end_touching(self, entity: str) -> list[Giveback]:
        """End every lease that counts against `entity` (a refusal there wants their units back now)."""
        touching = [lease for lease in self._by_checks.values() if any(c.entity == entity for c in lease.checks)]
        return [back for lease in touching if (back := self.end(lease)) is not None]

    def end_all(self) -> list[Giveback]:
        return [back for lease in list(self._by_checks.values()) if (back := self.end(lease)) is not None]

    def next_expiry(self) -> float | None:
        return min((lease.expires for lease in self._by_checks.values()), default=None)
