"""The one Redis every gateway instance shares: the router's state and the virtual keys' budgets and limits.

LiteLLM users name their Redis in one of three places, and sluicegate reads whichever is set, first found wins:
`router_settings.redis_url` / `redis_host` (with `redis_port`, `redis_password`, `redis_db`), then
`litellm_settings.cache_params` with `type: redis` (`host`, `port`, `password`, `db`), then the environment
(`REDIS_URL`, or `REDIS_HOST` / `REDIS_PORT` / `REDIS_PASSWORD`). Configured once, it serves the router's state,
the budget ledger and the change feed alike, so no counter silently stays per process because its Redis was
configured under another name. Each process holds a redis-py pool (router state, change feed) and one pipelined
connection for the ledger, whose two calls per request are the hot path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sluicegate.gateway.config import GatewayConfig
from sluicegate.transport.redis_wire import PipelinedRedis


@dataclass(frozen=True, slots=True)
class SharedRedis:
    """Where the shared Redis is and which setting named it (for messages; never the password)."""

    source: str
    url: str | None = field(default=None, repr=False)  # may carry the password
    host: str | None = None
    port: int | None = None
    password: str | None = field(default=None, repr=False)
    db: int | None = None
    namespace: str | None = None  # router_settings.redis_namespace: a prefix for every key

    def client(self) -> Any:
        """A redis-py asyncio client on its own pool (router/redis_state.py's timeouts): the router's state and
        the change feed; one per process."""
        from sluicegate.router.redis_state import redis_client

        return redis_client(url=self.url, host=None if self.url else self.host, port=self.port,
                            password=self.password, db=self.db)

    def pipelined(self) -> PipelinedRedis:
        """One pipelined connection for the budget ledger's two script calls per request (transport/redis_wire.py)."""
        return PipelinedRedis(url=self.url, host=None if self.url else self.host, port=self.port,
                              password=self.password, db=self.db)


def shared_redis(config: GatewayConfig, environ: Mapping[str, str] | None = None) -> SharedRedis | None:
    """The Redis the config (or the environment) names, or None: then every count lives in process memory."""
    environ = os.environ if environ is None else environ
    router = config.router_settings
    namespace = router.get("redis_namespace")
    if router.get("redis_url") or router.get("redis_host"):
        return SharedRedis("router_settings", url=router.get("redis_url"), host=router.get("redis_host"),
                           port=_port(router.get("redis_port")), password=router.get("redis_password"),
                           db=router.get("redis_db"), namespace=namespace)
    cache = config.litellm_settings.get("cache_params") or {}
    if cache.get("type") == "redis" and (cache.get("host") or cache.get("url")):
        return SharedRedis("litellm_settings.cache_params", url=cache.get("url"), host=cache.get("host"),
                           port=_port(cache.get("port")), password=cache.get("password"), db=cache.get("db"),
                           namespace=namespace)
    if environ.get("REDIS_URL") or environ.get("REDIS_HOST"):
        return SharedRedis("REDIS_URL" if environ.get("REDIS_URL") else "REDIS_HOST", url=environ.get("REDIS_URL"),
                           host=environ.get("REDIS_HOST"), port=_port(environ.get("REDIS_PORT")),
                           password=environ.get("REDIS_PASSWORD"), namespace=namespace)
    return None


def _port(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"the Redis port must be a whole number (got {value!r})") from None
