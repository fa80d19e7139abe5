"""`RouterState` on Redis, so every gateway instance sees the same cooldowns, usage, in-flight counts and latencies;
and `ResilientState`, which falls back to process memory while Redis is unreachable.

Each method is one round trip: a MULTI/EXEC pipeline, one Lua script (`reserve`, which must compare and count
atomically), or a read-only pipeline. Keys carry the deployment id in a hash tag (`{id}`), so one deployment's keys
live in one Redis Cluster slot and the Lua script stays valid there. Every key expires on its own: nothing to
clean up, and a crashed instance's in-flight counts age out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from sluicegate.router.state import MAX_LATENCY_SAMPLES, MemoryState, RouterState, Usage

log = logging.getLogger("sluicegate.router")
T = TypeVar("T")

WINDOW_TTL_S = 120  # a minute window outlives its minute, for readers late by a few seconds
LATENCY_TTL_S = 3600
IN_FLIGHT_TTL_S = 600  # longer than any call; a dead instance's +1 disappears after this
_COOLDOWNS = "cooldowns"

# KEYS: requests key, tokens key. ARGV: tokens, rpm ('' = none), tpm ('' = none), ttl.
_RESERVE = """
local requests = tonumber(redis.call('GET', KEYS[1]) or '0')
local tokens = tonumber(redis.call('GET', KEYS[2]) or '0')
local wanted = tonumber(ARGV[1])
if ARGV[2] ~= '' and requests + 1 > tonumber(ARGV[2]) then return 0 end
if ARGV[3] ~= '' and tokens + wanted > tonumber(ARGV[3]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('INCRBY', KEYS[2], wanted)
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""


class RedisState:
    """`RouterState` on a redis-py asyncio client (a plain client, Sentinel's or a cluster client)."""

    def __init__(self, client: Any, prefix: str = "sluicegate:router:") -> None:
        self._redis = client
        self._prefix = prefix
        self._reserve = client.register_script(_RESERVE)

    def _key(self, deployment_id: str, kind: str, minute: int | None = None) -> str:
        suffix = "" if minute is None else f":{minute}"
        return f"{self._prefix}{{{deployment_id}}}:{kind}{suffix}"

    async def add_failure(self, deployment_id: str, minute: int) -> int:
        key = self._key(deployment_id, "fails", minute)
        async with self._redis.pipeline(transaction=True) as pipe:
            count, _ = await pipe.incr(key).expire(key, WINDOW_TTL_S).execute()
        return int(count)

    async def cooldown(self, deployment_id: str, until: float) -> None:
        # GT: a later `until` moves the mark, an earlier one never shortens it; a new member is added as is.
        await self._redis.zadd(self._prefix + _COOLDOWNS, {deployment_id: until}, gt=True)

    async def cooling_down(self, deployment_ids: Iterable[str], now: float) -> dict[str, float]:
        ids = list(deployment_ids)
        if not ids:
            return {}
        key = self._prefix + _COOLDOWNS
        async with self._redis.pipeline(transaction=True) as pipe:
            _, scores = await pipe.zremrangebyscore(key, "-inf", now).zmscore(key, ids).execute()
        return {i: float(score) for i, score in zip(ids, scores, strict=True) if score is not None and score > now}

    async def all_cooling_down(self, now: float) -> dict[str, float]:
        key = self._prefix + _COOLDOWNS
        async with self._redis.pipeline(transaction=True) as pipe:  # prune what is over, read the rest
            _, found = await (pipe.zremrangebyscore(key, "-inf", now)
                              .zrangebyscore(key, f"({now!r}", "+inf", withscores=True).execute())
        return {(i.decode() if isinstance(i, bytes) else i): float(until) for i, until in found}

    async def reserve(self, deployment_id: str, minute: int, tokens: int, *, rpm: int | None = None,
                      tpm: int | None = None) -> bool:
        keys = [self._key(deployment_id, "rpm", minute), self._key(deployment_id, "tpm", minute)]
        args = [tokens, "" if rpm is None else rpm, "" if tpm is None else tpm, WINDOW_TTL_S]
        return bool(await self._reserve(keys=keys, args=args))

    async def add_tokens(self, deployment_id: str, minute: int, tokens: int) -> None:
        key = self._key(deployment_id, "tpm", minute)
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.incrby(key, tokens).expire(key, WINDOW_TTL_S).execute()

    async def usage(self, deployment_ids: Iterable[str], minute: int) -> dict[str, Usage]:
        ids = list(deployment_ids)
        async with self._redis.pipeline(transaction=False) as pipe:  # GETs, not MGET: keys span cluster slots
            for i in ids:
                pipe.get(self._key(i, "rpm", minute)).get(self._key(i, "tpm", minute))
            values = await pipe.execute()
        return {i: Usage(int(values[2 * n] or 0), int(values[2 * n + 1] or 0)) for n, i in enumerate(ids)}

    async def record_latency(self, deployment_id: str, latency_s: float, now: float) -> None:
        key = self._key(deployment_id, "latency")
        async with self._redis.pipeline(transaction=True) as pipe:
            await (pipe.lpush(key, f"{now!r}:{latency_s!r}").ltrim(key, 0, MAX_LATENCY_SAMPLES - 1)
                   .expire(key, LATENCY_TTL_S).execute())

    async def latencies(self, deployment_ids: Iterable[str], since: float) -> dict[str, list[float]]:
        ids = list(deployment_ids)
        async with self._redis.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.lrange(self._key(i, "latency"), 0, -1)
            lists = await pipe.execute()
        found: dict[str, list[float]] = {}
        for i, samples in zip(ids, lists, strict=True):
            pairs = (_sample(raw) for raw in samples)
            found[i] = [latency for taken, latency in pairs if taken > since]
        return found

    async def add_in_flight(self, deployment_id: str, delta: int) -> int:
        key = self._key(deployment_id, "inflight")
        async with self._redis.pipeline(transaction=True) as pipe:
            count, _ = await pipe.incrby(key, delta).expire(key, IN_FLIGHT_TTL_S).execute()
        return max(int(count), 0)  # a count that expired mid-call may dip below zero

    async def in_flight(self, deployment_ids: Iterable[str]) -> dict[str, int]:
        ids = list(deployment_ids)
        async with self._redis.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.get(self._key(i, "inflight"))
            values = await pipe.execute()
        return {i: max(int(v or 0), 0) for i, v in zip(ids, values, strict=True)}


def _sample(raw: bytes | str) -> tuple[float, float]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    taken, _, latency = text.partition(":")
    return float(taken), float(latency)


class ResilientState:
    """Redis while it answers; process memory while it does not — a Redis outage must never fail a request.

    After a failure Redis is left alone for `retry_after_s` (so an outage costs no timeout per request), then
    tried again. One warning per outage, one info line when it is back. Counts taken in memory during an
    outage stay local: limits are per instance until Redis returns.
    """

    def __init__(self, primary: RouterState, fallback: RouterState | None = None, *, retry_after_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.primary = primary
        self.fallback = fallback or MemoryState()
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._down_until: float | None = None

    async def _run(self, call: Callable[[RouterState], Awaitable[T]]) -> T:
        now = self._clock()
        if self._down_until is not None and now < self._down_until:
            return await call(self.fallback)
        try:
            result = await call(self.primary)
        except outage_errors() as error:
            if self._down_until is None:
                log.warning("router state: Redis is unreachable (%s: %s); using this process's memory until it "
                            "answers again", type(error).__name__, error)
            self._down_until = now + self._retry_after_s
            return await call(self.fallback)
        if self._down_until is not None:
            log.info("router state: Redis answers again; shared state resumed")
            self._down_until = None
        return result

    @property
    def is_degraded(self) -> bool:
        return self._down_until is not None

    async def add_failure(self, deployment_id: str, minute: int) -> int:
        return await self._run(lambda s: s.add_failure(deployment_id, minute))

    async def cooldown(self, deployment_id: str, until: float) -> None:
        await self._run(lambda s: s.cooldown(deployment_id, until))

    async def cooling_down(self, deployment_ids: Iterable[str], now: float) -> dict[str, float]:
        ids = list(deployment_ids)
        return await self._run(lambda s: s.cooling_down(ids, now))

    async def all_cooling_down(self, now: float) -> dict[str, float]:
        return await self._run(lambda s: s.all_cooling_down(now))

    async def reserve(self, deployment_id: str, minute: int, tokens: int, *, rpm: int | None = None,
                      tpm: int | None = None) -> bool:
        return await self._run(lambda s: s.reserve(deployment_id, minute, tokens, rpm=rpm, tpm=tpm))

    async def add_tokens(self, deployment_id: str, minute: int, tokens: int) -> None:
        await self._run(lambda s: s.add_tokens(deployment_id, minute, tokens))

    async def usage(self, deployment_ids: Iterable[str], minute: int) -> dict[str, Usage]:
        ids = list(deployment_ids)
        return await self._run(lambda s: s.usage(ids, minute))

    async def record_latency(self, deployment_id: str, latency_s: float, now: float) -> None:
        await self._run(lambda s: s.record_latency(deployment_id, latency_s, now))

    async def latencies(self, deployment_ids: Iterable[str], since: float) -> dict[str, list[float]]:
        ids = list(deployment_ids)
        return await self._run(lambda s: s.latencies(ids, since))

    async def add_in_flight(self, deployment_id: str, delta: int) -> int:
        return await self._run(lambda s: s.add_in_flight(deployment_id, delta))

    async def in_flight(self, deployment_ids: Iterable[str]) -> dict[str, int]:
        ids = list(deployment_ids)
        return await self._run(lambda s: s.in_flight(ids))


def outage_errors() -> tuple[type[Exception], ...]:
    """What a Redis outage raises: socket errors, and every redis-py failure (connection refused, a timeout when
    Redis hangs, the pool exhausted, an error reply). Shared with the gateway's budget ledger."""
    from redis.exceptions import RedisError  # the optional extra's

    from sluicegate.transport.redis_wire import RedisReplyError

    return (OSError, TimeoutError, RedisError, RedisReplyError)


MAX_CONNECTIONS = 256  # per process; more requests at once wait for a free connection instead of failing


def redis_client(*, host: str | None = None, port: int | None = None, password: str | None = None,
                 url: str | None = None, db: int | None = None, timeout_s: float = 0.5) -> Any:
    """A redis-py asyncio client on a blocking pool: short socket timeouts (a hung Redis costs `timeout_s` once per
    outage), and a burst beyond the pool's size queues for a connection (for `timeout_s`) rather than failing."""
    try:
        from redis import asyncio as redis_asyncio
    except ImportError as error:
        raise ImportError("shared state needs redis-py: pip install 'sluicegate[redis]'") from error
    options: dict[str, Any] = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s,
                               "max_connections": MAX_CONNECTIONS, "timeout": timeout_s}
    if url:
        pool = redis_asyncio.BlockingConnectionPool.from_url(url, **options)
    else:
        pool = redis_asyncio.BlockingConnectionPool(host=host or "localhost", port=int(port or 6379),
                                                    password=password, db=int(db or 0), **options)
    return redis_asyncio.Redis(connection_pool=pool)


def redis_state(*, host: str | None = None, port: int | None = None, password: str | None = None,
                url: str | None = None, db: int | None = None, prefix: str = "sluicegate:router:",
                timeout_s: float = 0.5, client: Any = None) -> ResilientState:
    """The router state for LiteLLM's `redis_host`/`redis_port`/`redis_password` or `redis_url` settings, or on
    `client` (a redis-py asyncio client the caller shares with other users of the same Redis).

    Short socket timeouts: a Redis that hangs costs at most `timeout_s` once per outage, then memory serves."""
    if client is None:
        client = redis_client(host=host, port=port, password=password, url=url, db=db, timeout_s=timeout_s)
    return ResilientState(RedisState(client, prefix))
