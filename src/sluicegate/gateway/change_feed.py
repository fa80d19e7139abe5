"""Tells every gateway instance on the shared Redis that keys, users, teams or budgets changed.

Each instance caches principals (principals.py) for `user_api_key_cache_ttl`. Without this feed, a key blocked or
a budget lowered through one instance takes effect on the others only when their cached copy expires. With it,
a management change publishes one message, and every instance subscribed empties its cache at once.

The feed is best effort and the TTL stays the bound: a publish that fails is logged, not raised (the change is
committed already), and an instance whose subscription dropped empties its cache when it subscribes again,
because it may have missed messages meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sluicegate.router.redis_state import outage_errors

log = logging.getLogger("sluicegate.gateway")
RETRY_S = 2.0  # after the subscription drops, try again this often
LISTEN_POLL_S = 1.0


class ChangeFeed:
    """A Redis pub/sub channel of "principals changed" messages (the message body is unused)."""

    def __init__(self, client: Any, channel: str, *, retry_s: float = RETRY_S) -> None:
        self._redis = client
        self.channel = channel
        self._retry_s = retry_s
        self._publishing: set[asyncio.Task[None]] = set()  # held until done: the loop keeps weak references only

    def announce(self) -> None:
        """Publish a change, without waiting for Redis (called after the change is committed)."""
        task = asyncio.get_running_loop().create_task(self._publish())
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish(self) -> None:
        try:
            await self._redis.publish(self.channel, b"changed")
        except outage_errors() as error:
            log.warning("could not tell other instances of a management change (Redis: %s: %s); they see it "
                        "within user_api_key_cache_ttl", type(error).__name__, error)

    async def flush(self) -> None:
        """Wait for the announcements under way (tests, shutdown)."""
        if self._publishing:
            await asyncio.gather(*self._publishing, return_exceptions=True)

    async def listen(self, on_change: Callable[[], None]) -> None:
        """Call `on_change` for every message, until cancelled; subscribe again after an outage."""
        must_forget = False  # after an outage: what was announced meanwhile never reached this instance
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    if must_forget:
                        log.info("change feed: subscribed again; cached principals forgotten")
                        on_change()
                        must_forget = False
                    while True:  # a bounded wait: the client's socket timeout is shorter than a quiet hour
                        if await pubsub.get_message(timeout=LISTEN_POLL_S) is not None:
                            on_change()
            except outage_errors() as error:
                if not must_forget:
                    log.warning("change feed: no Redis subscription (%s: %s); trying again every %.0f s, "
                                "changes made elsewhere show within user_api_key_cache_ttl meanwhile",
                                type(error).__name__, error, self._retry_s)
                must_forget = True
                await asyncio.sleep(self._retry_s)
