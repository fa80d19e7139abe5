"""Spend tracking end to end, on real gateway processes: every served request leaves exactly one spend-log row whose
cost is the upstream usage at the catalog's prices, and no way of stopping the gateway (SIGTERM, kill -9) or
dropping its database connections loses a row of a response the client received."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from sluicegate.catalog.lookup import ModelInfo, find_model
from sluicegate.gateway.db.models import SpendLog, Team, User
from tests.gateway.conftest import gateway_client, postgres_database
from tests.gateway.processes import (
    CHAT,
    Answer,
    GatewayInDir,
    add_rows,
    burst,
    gateway_config,
    mixed_bodies,
    models_yaml,
    new_key,
    served_ids,
    stored_spend,
    wait_for_rows,
)
from tests.simulators.openai import OpenAISimulator

KEY = "sk-durable-spender"
CACHED_PROMPT_TOKENS, CACHED_TOKENS, CACHED_COMPLETION_TOKENS = 1200, 1024, 9


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "gw"


@pytest.fixture
def started(workdir: Path) -> Iterator[list[GatewayInDir]]:
    """Every gateway a test starts, stopped at the end whatever happened."""
    gateways: list[GatewayInDir] = []
    yield gateways
    for gateway in gateways:
        gateway.stop(signal.SIGKILL)


def start(started: list[GatewayInDir], config: str, workdir: Path) -> GatewayInDir:
    gateway = GatewayInDir(config, workdir)
    started.append(gateway)
    gateway.wait_ready()
    return gateway


def assert_graceful(gateway: GatewayInDir) -> None:
    """SIGTERM, and the gateway exits on its own (uvicorn re-raises the signal after its graceful shutdown)."""
    assert gateway.stop(signal.SIGTERM) in (0, -signal.SIGTERM), gateway.log()


def catalog_price() -> ModelInfo:
    info = find_model("gpt-4o-mini", "openai")
    assert info is not None
    assert info.input_cost_per_token
    assert info.output_cost_per_token
    assert info.cache_read_input_token_cost is not None
    assert info.cache_read_input_token_cost != info.input_cost_per_token  # so a wrong rate shows
    return info


def expected_cost(row: SpendLog, info: ModelInfo) -> Decimal:
    """Usage × catalog price: cached prompt tokens at the cache-read rate, the rest at the input rate."""
    assert info.input_cost_per_token is not None
    assert info.output_cost_per_token is not None
    assert info.cache_read_input_token_cost is not None
    uncached = row.prompt_tokens - row.cache_read_input_tokens
    return (uncached * info.input_cost_per_token + row.cache_read_input_tokens * info.cache_read_input_token_cost
            + row.completion_tokens * info.output_cost_per_token)


def cached_answer() -> dict[str, Any]:
    """A chat completion whose usage reports a prompt mostly read from OpenAI's prompt cache (the simulator's own
    answers report cached_tokens 0, so these are scripted)."""
    return {
        "id": "chatcmpl-cached", "object": "chat.completion", "created": int(time.time()), "model": "gpt-4o-mini",
        "system_fingerprint": "fp_sim",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": "from the cache", "refusal": None}}],
        "usage": {"prompt_tokens": CACHED_PROMPT_TOKENS, "completion_tokens": CACHED_COMPLETION_TOKENS,
                  "total_tokens": CACHED_PROMPT_TOKENS + CACHED_COMPLETION_TOKENS,
                  "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
    }


def assert_one_row_each(answers: list[Answer], rows: list[SpendLog]) -> None:
    """Every response the client received whole has exactly one row (request_id is the primary key, so no row
    is ever doubled; a row without a served response may exist only for a request cut short)."""
    served = served_ids(answers)
    stored = [row.request_id for row in rows]
    assert len(stored) == len(set(stored))
    missing = served - set(stored)
    assert not missing, f"{len(missing)} of {len(served)} served requests have no spend-log row"


async def test_spend_is_conserved_through_a_burst(database_url: str, openai_sim: OpenAISimulator, workdir: Path,
                                                  started: list[GatewayInDir]) -> None:
    gateway = start(started, gateway_config(openai_sim, database_url), workdir)
    await add_rows(database_url, User(user_id="u-burst"), Team(team_id="t-burst"),
                   new_key(KEY, user_id="u-burst", team_id="t-burst"))
    answers = await burst(gateway.url, KEY, mixed_bodies(200))
    cached_count = 20
    openai_sim.script(200, cached_answer(), times=cached_count)  # scripted answers are JSON: no streams here
    answers += await burst(gateway.url, KEY, [CHAT] * cached_count)
    assert [a.error for a in answers if a.status != 200] == []
    assert all(a.is_complete for a in answers)
    assert_graceful(gateway)

    stored = await stored_spend(database_url, KEY, "u-burst", "t-burst")
    assert sorted(r.request_id for r in stored.rows) == sorted(a.request_id for a in answers)
    info = catalog_price()
    for row in stored.rows:
        assert row.status == "success"
        assert row.prompt_tokens > 0
        assert row.completion_tokens > 0
        assert row.spend == expected_cost(row, info), row.request_id
    cached_rows = [r for r in stored.rows if r.cache_read_input_tokens]
    assert len(cached_rows) == cached_count
    assert {(r.prompt_tokens, r.cache_read_input_tokens) for r in cached_rows} == {
        (CACHED_PROMPT_TOKENS, CACHED_TOKENS)}
    total = sum((r.spend for r in stored.rows), Decimal(0))
    assert stored.key_spend == stored.user_spend == stored.team_spend == total


def test_a_stream_without_usage_requested_is_still_charged(tmp_path: Path, openai_sim: OpenAISimulator) -> None:
    database_url = f"sqlite:///{tmp_path / 'spend.db'}"
    with gateway_client(tmp_path, database_url, extra_config=models_yaml(openai_sim)) as client:
        asyncio.run(add_rows(database_url, new_key(KEY)))
        streamed = client.post("/v1/chat/completions", json={**CHAT, "stream": True},
                               headers={"authorization": f"Bearer {KEY}"})
        assert streamed.text.endswith("data: [DONE]\n\n")
        spend = client.app.gateway.spend  # type: ignore[attr-defined]
        assert client.portal is not None
        client.portal.call(spend.flush)
    (row,) = asyncio.run(stored_spend(database_url, KEY)).rows
    assert row.completion_tokens > 0
    assert row.spend > 0


async def test_sigterm_under_load_stores_every_answered_request(
        tmp_path: Path, openai_sim: OpenAISimulator, workdir: Path, started: list[GatewayInDir]) -> None:
    database_url = f"sqlite:///{tmp_path / 'spend.db'}"  # the flush at exit is the same code on PostgreSQL
    gateway = start(started, gateway_config(openai_sim, database_url), workdir)
    await add_rows(database_url, new_key(KEY))
    assert (await burst(gateway.url, KEY, [CHAT]))[0].status == 200  # warm: the key is cached
    openai_sim.response_delay_s = 0.3  # so that SIGTERM finds requests in flight

    answered_before: set[str] = set()

    def terminate_after_twenty(so_far: list[Answer]) -> None:
        if len(so_far) == 20:
            gateway.process.send_signal(signal.SIGTERM)
            answered_before.update(a.request_id for a in so_far)

    answers = await burst(gateway.url, KEY, mixed_bodies(150), on_answer=terminate_after_twenty)
    gateway.process.wait(20)  # it exits on its own: a second SIGTERM would make uvicorn skip the graceful part
    assert_graceful(gateway)
    assert served_ids(answers) - answered_before, "no request in flight at SIGTERM was answered"
    stored = await stored_spend(database_url, KEY)
    assert_one_row_each(answers, stored.rows)
    assert stored.key_spend == sum((r.spend for r in stored.rows), Decimal(0))


@pytest.mark.postgres
async def test_kill_9_under_load_loses_no_answered_request(
        postgres_url: str, openai_sim: OpenAISimulator, workdir: Path, started: list[GatewayInDir]) -> None:
    async with postgres_database(postgres_url) as database_url:  # the production engine; SIGTERM's test has SQLite
        await kill_9_and_restart(database_url, openai_sim, workdir, started)


async def kill_9_and_restart(database_url: str, openai_sim: OpenAISimulator, workdir: Path,
                             started: list[GatewayInDir]) -> None:
    config = gateway_config(openai_sim, database_url)
    gateway = start(started, config, workdir)
    await add_rows(database_url, new_key(KEY))
    assert (await burst(gateway.url, KEY, [CHAT]))[0].status == 200
    openai_sim.chunk_delay_s = 0.002  # streams take a while: the kill finds some mid-stream
    answers: list[Answer] = []

    def kill_after_150_served(so_far: list[Answer]) -> None:
        if sum(a.status == 200 for a in answers + so_far) == 150:
            gateway.process.send_signal(signal.SIGKILL)

    for _ in range(20):  # waves of 40 until the kill lands, mid-wave
        answers += await burst(gateway.url, KEY, mixed_bodies(40), on_answer=kill_after_150_served)
        if gateway.process.poll() is not None:
            break
    assert gateway.process.wait(10) == -signal.SIGKILL
    stored_before = {r.request_id for r in (await stored_spend(database_url, KEY)).rows}
    served = served_ids(answers)
    assert served - stored_before, "every served request was stored before the kill: nothing left to replay"
    restarted = start(started, config, workdir)  # same cwd: it takes over ./sluicegate-spend/0 and replays it
    assert_graceful(restarted)

    stored = await stored_spend(database_url, KEY)
    assert_one_row_each(answers, stored.rows)
    assert stored.key_spend == sum((r.spend for r in stored.rows), Decimal(0))  # a replay never counts twice


@pytest.mark.postgres
async def test_dropped_database_connections_lose_nothing_and_fail_no_request(
        postgres_url: str, openai_sim: OpenAISimulator, workdir: Path, started: list[GatewayInDir]) -> None:
    async with postgres_database(postgres_url) as database_url:
        gateway = start(started, gateway_config(openai_sim, database_url), workdir)
        await add_rows(database_url, User(user_id="u-pg"), new_key(KEY, user_id="u-pg"))
        answers: list[Answer] = []
        dropped = 0
        for _ in range(3):
            answers += await burst(gateway.url, KEY, mixed_bodies(40))
            await wait_for_rows(database_url, KEY, len(answers))  # stored: the sink's connection is in its pool
            dropped += await drop_connections(database_url)
            ended, wave = await asyncio.gather(drop_connections(database_url), burst(gateway.url, KEY,
                                                                                     mixed_bodies(40)))
            dropped, answers = dropped + ended, answers + wave
        assert dropped >= 3  # the gateway held connections, and lost them
        assert [a.error for a in answers if a.status != 200] == []
        assert_graceful(gateway)
        stored = await stored_spend(database_url, KEY, "u-pg")
        assert sorted(r.request_id for r in stored.rows) == sorted(a.request_id for a in answers)
        total = sum((r.spend for r in stored.rows), Decimal(0))
        assert stored.key_spend == stored.user_spend == total


async def drop_connections(database_url: str) -> int:
    """pg_terminate_backend every other session on the test's database; how many it ended."""
    url = make_url(database_url)
    connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        return int(await connection.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()) AS ended", url.database))
    finally:
        await connection.close()

