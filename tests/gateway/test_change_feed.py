"""The change feed: a management change on one instance empties every instance's principal cache at once, and an
instance that lost its subscription forgets what it cached when it subscribes again."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from sluicegate.gateway.change_feed import ChangeFeed
from sluicegate.router.redis_state import redis_client
from tests.gateway.conftest import MASTER_KEY, gateway_client
from tests.gateway.processes import RedisServer
from tests.gateway.test_enforcement import CHAT, _models, add_rows, chat, new_key
from tests.simulators.openai import OpenAISimulator


async def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


async def until_subscribed(client: object, channel: str, count: int) -> None:
    for _ in range(500):
        if await client.pubsub_numsub(channel) == [(channel.encode(), count)]:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} subscriber(s) of {channel} not within 10 s")


async def test_an_announcement_reaches_every_listener(redis_url: str) -> None:
    channel = f"test-feed-{uuid.uuid4().hex}"
    clients = [redis_client(url=redis_url) for _ in range(3)]
    feeds = [ChangeFeed(client, channel) for client in clients]
    heard = [0, 0]
    listeners = [asyncio.create_task(feeds[n].listen(lambda n=n: heard.__setitem__(n, heard[n] + 1)))
                 for n in range(2)]
    try:
        await until_subscribed(clients[2], channel, 2)
        feeds[2].announce()
        await feeds[2].flush()
        await eventually(lambda: heard == [1, 1])
        await asyncio.sleep(1.5)  # quiet for longer than the client's socket timeout: still subscribed
        feeds[0].announce()
        await eventually(lambda: heard == [2, 2])
    finally:
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        for client in clients:
            await client.aclose()


async def test_a_lost_subscription_forgets_the_cache_when_it_comes_back(tmp_path: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    server = RedisServer(tmp_path).start()
    client = redis_client(url=server.url)
    forgotten = 0

    def forget() -> None:
        nonlocal forgotten
        forgotten += 1

    feed = ChangeFeed(client, "principals", retry_s=0.1)
    listener = asyncio.create_task(feed.listen(forget))
    try:
        await until_subscribed(client, "principals", 1)
        with caplog.at_level(logging.WARNING, logger="sluicegate.gateway"):
            server.stop()
            await asyncio.sleep(0.5)  # several failed attempts: one warning
            feed.announce()  # Redis is down: logged, never raised
            await feed.flush()
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("no Redis subscription" in w for w in warnings) == 1
        assert any("could not tell other instances" in w for w in warnings)
        assert forgotten == 0
        server.start()
        await eventually(lambda: forgotten == 1)  # messages sent while away are lost: forget everything
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await client.aclose()
        server.stop()


def test_a_key_blocked_through_one_instance_is_refused_by_the_other_at_once(
        tmp_path: Path, database_url: str, redis_url: str, openai_sim: OpenAISimulator) -> None:
    redis = f"router_settings:\n  redis_url: {redis_url}\n  redis_namespace: feed-{uuid.uuid4().hex[:8]}\n"
    config = _models(openai_sim) + redis
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ttl = "  user_api_key_cache_ttl: 3600\n"  # without the feed, instance b would serve its cached copy for an hour
    with gateway_client(tmp_path / "a", database_url, extra_config=config, general=ttl) as first, \
            gateway_client(tmp_path / "b", database_url, extra_config=config, general=ttl) as second:
        add_rows(database_url, new_key("sk-feed"))
        assert chat(second, "sk-feed").status_code == 200  # b caches the key's principal
        feed = second.app.gateway.db.feed  # type: ignore[attr-defined]
        assert feed is not None
        admin = {"authorization": f"Bearer {MASTER_KEY}"}
        blocked = first.post("/key/block", json={"key": "sk-feed"}, headers=admin)
        assert blocked.status_code == 200, blocked.text
        answers = []
        for _ in range(250):  # the announcement travels through Redis: allow it a moment, boundedly
            answers.append(chat(second, "sk-feed", CHAT).status_code)
            if answers[-1] != 200:
                break
            second.portal.call(asyncio.sleep, 0.02)  # type: ignore[union-attr]
        assert answers[-1] == 401
