"""What the router remembers between requests: cooldowns, failures and usage per minute, in-flight counts, latencies.

One small async interface, `RouterState`, so the same router runs on process memory (`MemoryState`, here) or on
Redis shared by every gateway instance (the Redis implementation fills the same methods). Each method is one
atomic step; its docstring names the Redis operation that implements it. Times are the router clock's seconds
(wall-clock, so several machines agree); usage windows are whole minutes, `minute = int(now // 60)`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

MAX_LATENCY_SAMPLES = 10  # LiteLLM's `max_latency_list_size`


@dataclass(frozen=True, slots=True)
class Usage:
    """A deployment's usage in one minute window."""

    requests: int = 0
    tokens: int = 0


class RouterState(Protocol):
    """The router's shared memory. Every method is atomic on its own; none needs a lock around several."""

    async def add_failure(self, deployment_id: str, minute: int) -> int:
        """Count a failure in `minute`; the count so far this minute.

        Redis: MULTI INCR fails:{id}:{minute}; EXPIRE … 120 EXEC."""
        ...

    async def cooldown(self, deployment_id: str, until: float) -> None:
        """Skip the deployment until `until` (an earlier `until` never shortens a longer cooldown).

        Redis: ZADD cooldowns GT {until} {id}."""
        ...

    async def cooling_down(self, deployment_ids: Iterable[str], now: float) -> dict[str, float]:
        """The deployments among `deployment_ids` cooling down at `now`, with when each frees up.

        Redis: ZMSCORE cooldowns id…; ids whose score > now (expired members are pruned by a periodic
        ZREMRANGEBYSCORE cooldowns -inf now)."""
        ...

    async def all_cooling_down(self, now: float) -> dict[str, float]:
        """Every deployment cooling down at `now`, known ids or not (a wildcard group's models get ids per request).

        Redis: ZRANGEBYSCORE cooldowns (now +inf WITHSCORES."""
        ...

    async def reserve(self, deployment_id: str, minute: int, tokens: int, *, rpm: int | None = None,
                      tpm: int | None = None) -> bool:
        """Count one request and `tokens` in `minute`, unless that would pass `rpm` or `tpm`: then count nothing.

        Redis: one Lua script: GET rpm and tpm keys, compare, INCR / INCRBY and EXPIRE 120 when under."""
        ...

    async def add_tokens(self, deployment_id: str, minute: int, tokens: int) -> None:
        """Settle a reservation: add the tokens a call really used beyond its estimate (may be negative).

        Redis: MULTI INCRBY tpm:{id}:{minute} {tokens}; EXPIRE … 120 EXEC."""
        ...

    async def usage(self, deployment_ids: Iterable[str], minute: int) -> dict[str, Usage]:
        """Requests and tokens counted in `minute` for each deployment.

        Redis: MGET rpm:{id}:{minute} tpm:{id}:{minute} … (one round trip for all ids)."""
        ...

    async def record_latency(self, deployment_id: str, latency_s: float, now: float) -> None:
        """Remember one latency sample (seconds, taken at `now`); only the last MAX_LATENCY_SAMPLES are kept.

        Redis: MULTI LPUSH latency:{id} "{now}:{latency_s}"; LTRIM … 0 9; EXPIRE … 3600 EXEC."""
        ...

    async def latencies(self, deployment_ids: Iterable[str], since: float) -> dict[str, list[float]]:
        """Each deployment's remembered latency samples taken after `since`, newest first.

        Redis: LRANGE latency:{id} 0 -1 for each id in one pipeline (read-only, so no MULTI needed)."""
        ...

    async def add_in_flight(self, deployment_id: str, delta: int) -> int:
        """Change the count of calls running on the deployment by `delta` (+1 at start, -1 at end); the new count.

        Redis: INCRBY inflight:{id} {delta} (plus EXPIRE, so a crashed instance's calls age out)."""
        ...

    async def in_flight(self, deployment_ids: Iterable[str]) -> dict[str, int]:
        """Calls running now on each deployment.

        Redis: MGET inflight:{id} …"""
        ...


class MemoryState:
    """`RouterState` in this process's memory: correct for one process (threads included), lost on restart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the sync API runs the router on its own thread's event loop
        self._failures: dict[tuple[str, int], int] = {}
        self._cooldowns: dict[str, float] = {}
        self._usage: dict[tuple[str, int], Usage] = {}
        self._latencies: dict[str, deque[tuple[float, float]]] = {}
        self._in_flight: dict[str, int] = {}

    async def add_failure(self, deployment_id: str, minute: int) -> int:
        with self._lock:
            _forget_before(self._failures, minute - 1)
            count = self._failures.get((deployment_id, minute), 0) + 1
            self._failures[(deployment_id, minute)] = count
            return count

    async def cooldown(self, deployment_id: str, until: float) -> None:
        with self._lock:
            self._cooldowns[deployment_id] = max(until, self._cooldowns.get(deployment_id, until))

    async def cooling_down(self, deployment_ids: Iterable[str], now: float) -> dict[str, float]:
        with self._lock:
            for expired in [i for i, until in self._cooldowns.items() if until <= now]:
                del self._cooldowns[expired]
            return {i: self._cooldowns[i] for i in deployment_ids if i in self._cooldowns}

    async def all_cooling_down(self, now: float) -> dict[str, float]:
        with self._lock:
            return {i: until for i, until in self._cooldowns.items() if until > now}

    async def reserve(self, deployment_id: str, minute: int, tokens: int, *, rpm: int | None = None,
                      tpm: int | None = None) -> bool:
        with self._lock:
            _forget_before(self._usage, minute - 1)
            used = self._usage.get((deployment_id, minute), Usage())
            if rpm is not None and used.requests + 1 > rpm:
                return False
            if tpm is not None and used.tokens + tokens > tpm:
                return False
            self._usage[(deployment_id, minute)] = Usage(used.requests + 1, used.tokens + tokens)
            return True

    async def add_tokens(self, deployment_id: str, minute: int, tokens: int) -> None:
        with self._lock:
            used = self._usage.get((deployment_id, minute), Usage())
            self._usage[(deployment_id, minute)] = Usage(used.requests, used.tokens + tokens)

    async def usage(self, deployment_ids: Iterable[str], minute: int) -> dict[str, Usage]:
        with self._lock:
            return {i: self._usage.get((i, minute), Usage()) for i in deployment_ids}

    async def record_latency(self, deployment_id: str, latency_s: float, now: float) -> None:
        with self._lock:
            samples = self._latencies.setdefault(deployment_id, deque(maxlen=MAX_LATENCY_SAMPLES))
            samples.appendleft((now, latency_s))

    async def latencies(self, deployment_ids: Iterable[str], since: float) -> dict[str, list[float]]:
        with self._lock:
            return {i: [s for t, s in self._latencies.get(i, ()) if t > since] for i in deployment_ids}

    async def add_in_flight(self, deployment_id: str, delta: int) -> int:
        with self._lock:
            count = max(self._in_flight.get(deployment_id, 0) + delta, 0)
            self._in_flight[deployment_id] = count
            return count

    async def in_flight(self, deployment_ids: Iterable[str]) -> dict[str, int]:
        with self._lock:
            return {i: self._in_flight.get(i, 0) for i in deployment_ids}


def _forget_before(windows: dict[tuple[str, int], Any], minute: int) -> None:
    """Drop windows older than `minute` (what EXPIRE does in Redis), so memory stays bounded."""
    if len(windows) > 1024:
        for key in [k for k in windows if k[1] < minute]:
            del windows[key]
