"""Budgets and rate limits under concurrency, end to end: a burst on one gateway process, then on two processes sharing
PostgreSQL and Redis, never overspends by more than one request nor admits more than the rpm limit; a Redis restart
fails no request; and `max_parallel_requests` slots come back however a request ends."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
import redis
from starlette.testclient import TestClient

from sluicegate.gateway.admission import MemoryLedger
from sluicegate.gateway.db.tokens import hash_key
from tests.gateway.conftest import gateway_client
from tests.gateway.processes import (
    CHAT,
    STREAM,
    Answer,
    GatewayInDir,
    RedisServer,
    add_rows,
    burst,
    gateway_config,
    mixed_bodies,
    models_yaml,
    new_key,
    served_ids,
    service_url,
    stored_spend,
    throwaway_postgres_database,
    wait_for_rows,
)
from tests.gateway.server import free_port
from tests.simulators.openai import OpenAISimulator

BUDGET = Decimal("0.0002")  # about forty requests of the bodies below
RPM = 40
LEDGER_FALLBACK = "budgets and limits are counted in this process"  # gateway/redis_ledger.py's warning
LEDGER_RETRY_AFTER_S = 5.0  # ResilientLedger's pause before it tries Redis again


@dataclass
class Gateways:
    processes: list[GatewayInDir]
    database_url: str

    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.processes]

    def logs(self) -> str:
        return "\n".join(p.log() for p in self.processes)

    def fallbacks(self) -> int:
        """How often a ledger has fallen back from Redis to process memory (one warning per outage)."""
        return self.logs().count(LEDGER_FALLBACK)


@contextlib.contextmanager
def run_database(engine: str, tmp: Path) -> Iterator[str]:
    """A fresh database for a module's gateways: a SQLite file, or a PostgreSQL database dropped after."""
    if engine == "sqlite":
        yield f"sqlite:///{tmp / 'limits.db'}"
        return
    maintenance_url = service_url("PostgreSQL", "SLUICEGATE_TEST_POSTGRES_URL",
                                  "postgresql://postgres@127.0.0.1:5432/test")
    with throwaway_postgres_database(maintenance_url) as url:
        yield url


@contextlib.contextmanager
def running(configs: list[str], workdir: Path) -> Iterator[list[GatewayInDir]]:
    """Gateway processes for `configs`, started together, ready, and stopped (SIGTERM) on exit."""
    processes: list[GatewayInDir] = []
    try:
        for i, config in enumerate(configs):
            processes.append(GatewayInDir(config, workdir / f"gw{i}"))
        for process in processes:
            process.wait_ready()
        yield processes
    finally:
        for process in processes:
            process.stop(signal.SIGTERM)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def one_gateway(request: pytest.FixtureRequest, openai_sim_server: OpenAISimulator,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    """One gateway process (its ledger in memory) on SQLite, and on PostgreSQL, for the tests of this module."""
    tmp = tmp_path_factory.mktemp("one")
    with run_database(request.param, tmp) as database_url, \
            running([gateway_config(openai_sim_server, database_url)], tmp) as processes:
        yield Gateways(processes, database_url)


@pytest.fixture(scope="module")
def two_gateways(openai_sim_server: OpenAISimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    """Two gateway processes sharing one PostgreSQL database and one Redis (a namespace of their own)."""
    redis_url = service_url("Redis", "SLUICEGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    namespace = f"test-limits-{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("two")
    shared = f"  redis_url: {redis_url}\n  redis_namespace: {namespace}\n"
    try:
        with run_database("postgres", tmp) as database_url:
            config = gateway_config(openai_sim_server, database_url, router_settings=shared)
            with running([config, config], tmp) as processes:
                gateways = Gateways(processes, database_url)
                asyncio.run(warm_up(gateways))
                yield gateways
    finally:
        client = redis.Redis.from_url(redis_url)
        stale = list(client.scan_iter(match=f"{namespace}:*"))
        if stale:
            client.delete(*stale)
        client.close()


async def warm_up(gateways: Gateways) -> None:
    """A few requests through each gateway's ledger, so that its database and Redis connections are open."""
    await add_rows(gateways.database_url, new_key("sk-warm-up", rpm_limit=100_000))
    for _ in range(3):
        answers = await burst(gateways.urls, "sk-warm-up", [CHAT] * 10)
        assert [a.error for a in answers if a.status != 200] == []


def budget_bodies(count: int) -> list[dict[str, Any]]:
    """Small answers (max_tokens keeps each reservation near its cost), every other one streamed."""
    return [{**body, "max_tokens": 10} for body in mixed_bodies(count)]


async def assert_budget_holds(gateways: Gateways, count: int, *, attempts: int = 2) -> None:
    """`count` concurrent requests on a key with a small budget spend at most one request's cost beyond it."""
    for _ in range(attempts):
        key, answers, is_shared = await burst_on_fresh_key(gateways, budget_bodies(count), max_budget=BUDGET)
        if is_shared:
            break
    assert is_shared, f"a gateway's ledger fell back to process memory during the burst:\n{gateways.logs()}"
    served = served_ids(answers)
    stored = await wait_for_rows(gateways.database_url, key, len(served))
    assert stored.key_spend is not None
    assert stored.key_spend == sum((r.spend for r in stored.rows), Decimal(0))
    assert stored.key_spend <= BUDGET + max(r.spend for r in stored.rows)
    assert {r.request_id for r in stored.rows} == served
    refused = [a for a in answers if a.status != 200]
    assert [a.error for a in refused if '"budget_exceeded"' not in a.error] == []
    assert {a.status for a in refused} == {400}
    assert 2 <= len(served) < len(answers)  # several were admitted at once, and the budget stopped the rest


async def assert_rpm_admits_exactly(gateways: Gateways, rpm: int = RPM) -> None:
    """An rpm limit of N admits exactly N of a concurrent burst (again with a fresh key if the minute turned)."""
    for _ in range(2):
        minute = int(time.time() // 60)
        _, answers, is_shared = await burst_on_fresh_key(gateways, [CHAT] * (rpm + 30), rpm_limit=rpm)
        if is_shared and int(time.time() // 60) == minute:
            break
    assert is_shared, f"a gateway's ledger fell back to process memory during the burst:\n{gateways.logs()}"
    statuses = sorted(a.status for a in answers)
    assert statuses == [200] * rpm + [429] * 30
    assert all('"rpm_limit_exceeded"' in a.error for a in answers if a.status == 429)


async def burst_on_fresh_key(gateways: Gateways, bodies: list[dict[str, Any]],
                             **limits: Any) -> tuple[str, list[Answer], bool]:
    """A new key with `limits`, the burst on it, and whether every gateway's ledger stayed on Redis meanwhile.

    After a fallback the ledger leaves Redis alone for a while (5 s): a caller that repeats waits that out."""
    key = f"sk-limited-{uuid.uuid4().hex[:8]}"
    await add_rows(gateways.database_url, new_key(key, **limits))
    before = gateways.fallbacks()
    answers = await burst(gateways.urls, key, bodies)
    is_shared = gateways.fallbacks() == before
    if not is_shared:
        await asyncio.sleep(LEDGER_RETRY_AFTER_S)
    return key, answers, is_shared


async def test_concurrent_requests_never_overspend_a_budget(one_gateway: Gateways) -> None:
    await assert_budget_holds(one_gateway, 500)


async def test_an_rpm_limit_admits_exactly_n_per_minute(one_gateway: Gateways) -> None:
    await assert_rpm_admits_exactly(one_gateway)


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_gateways_admit_exactly_n_per_minute_together(two_gateways: Gateways) -> None:
    await assert_rpm_admits_exactly(two_gateways)


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_gateways_admit_exactly_n_with_leases_out(two_gateways: Gateways) -> None:
    """A limit far enough from the first requests that each gateway leases admissions ahead (redis_ledger.py):
    the units a gateway holds and does not use go back in time for the other to admit exactly N together."""
    await assert_rpm_admits_exactly(two_gateways, rpm=600)


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_gateways_never_overspend_a_shared_budget(two_gateways: Gateways) -> None:
    await assert_budget_holds(two_gateways, 160)  # 80 at once per gateway: under its Redis pool's 100


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_gateways_never_overspend_a_shared_budget_at_500_at_once(two_gateways: Gateways) -> None:
    await assert_budget_holds(two_gateways, 500, attempts=1)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own (the shared one must not be restarted)."""
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def waves(count: int) -> list[list[dict[str, Any]]]:
    """`count` requests in waves of ten at once."""
    bodies = mixed_bodies(count)
    return [bodies[i:i + 10] for i in range(0, count, 10)]


@pytest.mark.redis
async def test_a_redis_restart_fails_no_request(tmp_path: Path, openai_sim: OpenAISimulator,
                                                private_redis: RedisServer) -> None:
    database_url = f"sqlite:///{tmp_path / 'spend.db'}"
    config = gateway_config(openai_sim, database_url, router_settings=f"  redis_url: {private_redis.url}\n")
    key = "sk-through-redis-restart"
    answers: list[Answer] = []
    with running([config], tmp_path) as (gateway,):
        await add_rows(database_url, new_key(key, rpm_limit=100_000, max_parallel_requests=1000,
                                              max_budget=Decimal(1)))
        for wave in waves(30):
            answers += await burst(gateway.url, key, wave)
        assert ledger_keys(private_redis) > 0  # the counters live in this Redis

        def kill_redis_after_five(so_far: list[Answer]) -> None:
            if len(so_far) == 5:
                private_redis.stop()

        answers += await burst(gateway.url, key, mixed_bodies(10), on_answer=kill_redis_after_five)
        for wave in waves(30):  # Redis is down for all of these
            answers += await burst(gateway.url, key, wave)
        private_redis.start()
        for wave in waves(30):
            answers += await burst(gateway.url, key, wave)
        answers += await back_on_redis(gateway.url, key, private_redis)
        assert [a.error for a in answers if a.status != 200] == []
        assert all(a.is_complete for a in answers)
        gateway.stop(signal.SIGTERM)
        assert LEDGER_FALLBACK in gateway.log()  # the warning an operator sees
    stored = await stored_spend(database_url, key)
    assert sorted(r.request_id for r in stored.rows) == sorted(a.request_id for a in answers)


@pytest.mark.redis
def test_a_redis_that_stops_answering_fails_no_request(tmp_path: Path, openai_sim: OpenAISimulator,
                                                       private_redis: RedisServer) -> None:
    database_url = f"sqlite:///{tmp_path / 'spend.db'}"
    config = models_yaml(openai_sim) + f"router_settings:\n  redis_url: {private_redis.url}\n"
    with gateway_client(tmp_path, database_url, extra_config=config) as client:
        asyncio.run(add_rows(database_url, new_key("sk-one-at-a-time", rpm_limit=100_000)))
        assert chat(client, CHAT).status_code == 200
        private_redis.send_signal(signal.SIGSTOP)  # its connections stay open; nothing answers them
        try:
            hung = [chat(client, CHAT) for _ in range(2)]
        finally:
            private_redis.send_signal(signal.SIGCONT)
        assert [a.text for a in hung if a.status_code != 200] == []


def test_a_soft_budget_key_is_served_and_charged_while_redis_is_down(tmp_path: Path,
                                                                     openai_sim: OpenAISimulator) -> None:
    database_url = f"sqlite:///{tmp_path / 'spend.db'}"
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    config = models_yaml(openai_sim) + f"router_settings:\n  redis_url: {nothing_listens}\n"
    with gateway_client(tmp_path, database_url, extra_config=config) as client:
        asyncio.run(add_rows(database_url, new_key("sk-one-at-a-time", soft_budget=Decimal("0.000001"))))
        assert chat(client, CHAT).status_code == 200
        spend = client.app.gateway.spend  # type: ignore[attr-defined]
        assert client.portal is not None
        client.portal.call(spend.flush)
    assert len(asyncio.run(stored_spend(database_url, "sk-one-at-a-time")).rows) == 1


def ledger_keys(redis_server: RedisServer) -> int:
    client = redis.Redis.from_url(redis_server.url)
    try:
        return len(list(client.scan_iter(match="sluicegate:ledger:*")))
    finally:
        client.close()


async def back_on_redis(url: str, key: str, redis_server: RedisServer, timeout_s: float = 15.0) -> list[Answer]:
    """Requests until the restarted (empty) Redis holds counters again: the gateway went back to it on its own."""
    answers: list[Answer] = []
    deadline = time.monotonic() + timeout_s
    while not ledger_keys(redis_server):
        assert time.monotonic() < deadline, f"the gateway did not use the restarted Redis within {timeout_s}s"
        answers += await burst(url, key, [CHAT] * 5)
        await asyncio.sleep(0.2)
    return answers


@pytest.fixture
def slot_client(tmp_path: Path, openai_sim: OpenAISimulator) -> Iterator[TestClient]:
    """An in-process gateway whose deployment times out after 1 s, with a key allowed one request at a time."""
    database_url = f"sqlite:///{tmp_path / 'slots.db'}"
    models = models_yaml(openai_sim, litellm_params="      timeout: 1\n      stream_timeout: 1\n")
    with gateway_client(tmp_path, database_url, extra_config=models) as client:
        asyncio.run(add_rows(database_url, new_key("sk-one-at-a-time", max_parallel_requests=1)))
        yield client


def chat(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-one-at-a-time"})


def assert_slot_came_back(client: TestClient) -> None:
    ledger = client.app.gateway.enforcement.ledger  # type: ignore[attr-defined]
    assert isinstance(ledger, MemoryLedger)
    assert ledger.in_flight(f"key:{hash_key('sk-one-at-a-time')}") == 0
    assert chat(client, CHAT).status_code == 200


async def disconnect_after_first_chunk(app: Callable[..., Awaitable[None]], body: dict[str, Any]) -> list[bytes]:
    """Drive the ASGI app as a client that reads the stream's first chunk, then hangs up; the chunks it got."""
    payload = orjson.dumps(body)
    got_chunk = anyio.Event()
    chunks: list[bytes] = []
    is_body_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal is_body_sent
        if not is_body_sent:
            is_body_sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await got_chunk.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            chunks.append(message["body"])
            got_chunk.set()

    scope = {"type": "http", "http_version": "1.1", "method": "POST", "scheme": "http", "path": "/v1/chat/completions",
             "raw_path": b"/v1/chat/completions", "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80), "headers": [(b"authorization", b"Bearer sk-one-at-a-time"),
                                                      (b"content-type", b"application/json"),
                                                      (b"content-length", str(len(payload)).encode())]}
    await app(scope, receive, send)
    return chunks


def test_a_parallel_slot_comes_back_after_a_client_hangs_up_mid_stream(slot_client: TestClient,
                                                                       openai_sim: OpenAISimulator) -> None:
    openai_sim.chunk_delay_s = 0.2  # the stream is still going when the client leaves
    assert slot_client.portal is not None
    chunks = slot_client.portal.call(disconnect_after_first_chunk, slot_client.app, STREAM)
    assert chunks
    assert b"[DONE]" not in b"".join(chunks)
    openai_sim.chunk_delay_s = 0.0
    assert_slot_came_back(slot_client)


def test_a_parallel_slot_comes_back_after_upstream_5xx(slot_client: TestClient, openai_sim: OpenAISimulator) -> None:
    openai_sim.script(500)
    assert chat(slot_client, CHAT).status_code == 500
    assert_slot_came_back(slot_client)
    openai_sim.script(503)
    assert chat(slot_client, STREAM).status_code == 503  # refused before the stream's first byte
    assert_slot_came_back(slot_client)
    openai_sim.script_stream_error(after_chunks=2)
    broken = chat(slot_client, STREAM)
    assert broken.status_code == 200
    assert '"error"' in broken.text  # the failure travels as the stream's last event
    assert_slot_came_back(slot_client)


def test_a_parallel_slot_comes_back_after_timeouts(slot_client: TestClient, openai_sim: OpenAISimulator) -> None:
    openai_sim.response_delay_s = 2.0  # beyond the deployment's 1 s timeout
    assert chat(slot_client, CHAT).status_code in (408, 504)
    assert chat(slot_client, STREAM).status_code in (408, 504)
    openai_sim.response_delay_s = 0.0
    assert_slot_came_back(slot_client)
    openai_sim.chunk_delay_s = 2.0  # the stream starts, then stalls past the timeout
    stalled = chat(slot_client, STREAM)
    assert stalled.status_code == 200
    assert "[DONE]" not in stalled.text
    openai_sim.chunk_delay_s = 0.0
    assert_slot_came_back(slot_client)

