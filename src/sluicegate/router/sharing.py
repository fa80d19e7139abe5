"""`PartlyShared`: the router's state on Redis for what instances must agree on, in memory for the rest.

Every Redis round trip is paid on the request path, so a router shares only what some instance reads back:
- cooldowns and failure counts, always (one instance's failing deployment is every instance's);
- per-minute usage, when a usage-based strategy ranks by it or rpm/tpm limits are enforced;
- in-flight counts, for `least-busy`; latency samples, for `latency-based-routing`.
What no strategy reads stays in this process's memory (still shown by /router/deployments, per instance).

Cooldowns are read on every pick, so they are read from a snapshot of all cooldowns, refreshed at most every
`cooldown_refresh_s` (default 1 s): one round trip per second per instance instead of one per request. A cooldown
this instance sets is in its snapshot at once; one set by another instance is seen within `cooldown_refresh_s`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sluicegate.router.state import MemoryState, RouterState, Usage
from sluicegate.router.strategies import USAGE_STRATEGIES

DEFAULT_COOLDOWN_REFRESH_S = 1.0


@dataclass(frozen=True, slots=True)
class Shares:
    """Which counts besides cooldowns and failures go to the shared state."""

    usage: bool = True
    in_flight: bool = True
    latencies: bool = True

    @classmethod
    def read_by(cls, strategy: str, *, enforces_limits: bool) -> Shares:
        """What a router with `strategy` (and rpm/tpm limits enforced or not) reads back on the request path."""
        return cls(usage=enforces_limits or strategy in USAGE_STRATEGIES, in_flight=strategy == "least-busy",
                   latencies=strategy == "latency-based-routing")


class PartlyShared:
    """A `RouterState` over a shared one (Redis) and this process's memory, as `Shares` says (module docstring)."""

    def __init__(self, shared: RouterState, shares: Shares, *, local: RouterState | None = None,
                 cooldown_refresh_s: float = DEFAULT_COOLDOWN_REFRESH_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.shared = shared
        self.local = local or MemoryState()
        self.shares = shares
        self._refresh_s = cooldown_refresh_s
        self._monotonic = monotonic
        self._cooldowns: dict[str, float] = {}  # id → until (router clock), as last read, plus this instance's own
        self._stale_at = 0.0  # monotonic time after which the snapshot is read again

    # Cooldowns and failures: always shared; cooldowns read through the snapshot.

    async def add_failure(self, deployment_id: str, minute: int) -> int:
        return await self.shared.add_failure(deployment_id, minute)

    async def cooldown(self, deployment_id: str, until: float) -> None:
        await self.shared.cooldown(deployment_id, until)
        self._cooldowns[deployment_id] = max(until, self._cooldowns.get(deployment_id, until))

    async def _snapshot(self, now: float) -> dict[str, float]:
        if self._monotonic() >= self._stale_at:
            self._stale_at = self._monotonic() + self._refresh_s  # others read the current snapshot meanwhile
            self._cooldowns = await self.shared.all_cooling_down(now)
        return self._cooldowns

    async def cooling_down(self, deployment_ids: Iterable[str], now: float) -> dict[str, float]:
        snapshot = await self._snapshot(now)
        return {i: until for i in deployment_ids if (until := snapshot.get(i)) is not None and until > now}

    async def all_cooling_down(self, now: float) -> dict[str, float]:
        return {i: until for i, until in (await self._snapshot(now)).items() if until > now}

    # Usage, in-flight counts and latencies: where `shares` puts them.

    async def reserve(self, deployment_id: str, minute: int, tokens: int, *, rpm: int | None = None,
                      tpm: int | None = None) -> bool:
        state = self.shared if self.shares.usage else self.local
        return await state.reserve(deployment_id, minute, tokens, rpm=rpm, tpm=tpm)

    async def add_tokens(self, deployment_id: str, minute: int, tokens: int) -> None:
        await (self.shared if self.shares.usage else self.local).add_tokens(deployment_id, minute, tokens)

    async def usage(self, deployment_ids: Iterable[str], minute: int) -> dict[str, Usage]:
        return await (self.shared if self.shares.usage else self.local).usage(deployment_ids, minute)

    async def record_latency(self, deployment_id: str, latency_s: float, now: float) -> None:
        await (self.shared if self.shares.latencies else self.local).record_latency(deployment_id, latency_s, now)

    async def latencies(self, deployment_ids: Iterable[str], since: float) -> dict[str, list[float]]:
        return await (self.shared if self.shares.latencies else self.local).latencies(deployment_ids, since)

    async def add_in_flight(self, deployment_id: str, delta: int) -> int:
        return await (self.shared if self.shares.in_flight else self.local).add_in_flight(deployment_id, delta)

    async def in_flight(self, deployment_ids: Iterable[str]) -> dict[str, int]:
        return await (self.shared if self.shares.in_flight else self.local).in_flight(deployment_ids)
