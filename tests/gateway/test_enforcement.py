"""Virtual keys on the LLM routes, end to end in-process against the OpenAI simulator: a usable key, allowed
models, budgets and limits enforced, slots given back, spend journaled, and no database query once warm."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from starlette.testclient import TestClient

from sluicegate.catalog.lookup import find_model
from sluicegate.gateway.db.engine import create_engine, create_session_factory
from sluicegate.gateway.db.models import Budget, EndUser, SpendLog, Team, User, VirtualKey
from sluicegate.gateway.db.tokens import hash_key, key_name
from sluicegate.gateway.pipeline import GatewayState
from tests.gateway.conftest import MASTER_KEY, PROVIDER_KEY, gateway_client
from tests.simulators.openai import OpenAISimulator

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _models(sim: OpenAISimulator) -> str:
    return f"""model_list:
  - model_name: gpt-4o-mini
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{sim.base_url}", api_key: {PROVIDER_KEY}}}
  - model_name: text-embedding-3-small
    litellm_params: {{model: openai/text-embedding-3-small, api_base: "{sim.base_url}", api_key: {PROVIDER_KEY}}}
    model_info: {{access_groups: [embeddings]}}
litellm_settings: {{num_retries: 0}}
"""


def add_rows(database_url: str, *rows: Any) -> None:
    async def write() -> None:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                session.add_all(rows)
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(write())


def new_key(plain: str, **fields: Any) -> VirtualKey:
    return VirtualKey(token=hash_key(plain), key_name=key_name(plain), **fields)


@pytest.fixture
def client(tmp_path: Path, database_url: str, openai_sim: OpenAISimulator) -> Iterator[TestClient]:
    config = tmp_path / "cfg"
    config.mkdir()
    with gateway_client(config, database_url, extra_config=_models(openai_sim)) as c:
        yield c


def state_of(client: TestClient) -> GatewayState:
    return client.app.gateway  # type: ignore[attr-defined,no-any-return]


def chat(client: TestClient, key: str, body: dict[str, Any] | None = None) -> Any:
    return client.post("/v1/chat/completions", json=body or CHAT, headers={"authorization": f"Bearer {key}"})


def test_a_key_reaches_its_models_and_no_others(client: TestClient, database_url: str) -> None:
    add_rows(database_url, new_key("sk-chat-only", models=["gpt-4o-mini"]),
             new_key("sk-by-group", models=["embeddings"]))
    assert chat(client, "sk-chat-only").status_code == 200
    refused = client.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"},
                          headers={"authorization": "Bearer sk-chat-only"})
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "key_model_access_denied"
    opened = client.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"},
                         headers={"authorization": "Bearer sk-by-group"})
    assert opened.status_code == 200, opened.text
    assert chat(client, "sk-by-group").status_code == 401
    listed = client.get("/v1/models", headers={"authorization": "Bearer sk-by-group"}).json()
    assert [m["id"] for m in listed["data"]] == ["text-embedding-3-small"]


def test_team_models_narrow_the_keys(client: TestClient, database_url: str) -> None:
    add_rows(database_url, Team(team_id="t1", models=["text-embedding-3-small"]),
             new_key("sk-team-key", team_id="t1"))
    assert chat(client, "sk-team-key").json()["error"]["code"] == "key_model_access_denied"


def test_blocked_expired_and_unknown_keys_are_refused(client: TestClient, database_url: str) -> None:
    add_rows(database_url, new_key("sk-blocked", blocked=True),
             new_key("sk-expired", expires=datetime.now(UTC) - timedelta(seconds=1)))
    assert chat(client, "sk-blocked").json()["error"]["code"] == "key_blocked"
    assert chat(client, "sk-expired").json()["error"]["code"] == "key_expired"
    unknown = chat(client, "sk-never-issued")
    assert unknown.status_code == 401
    assert "sk-never-issued" not in unknown.text


def test_a_spent_budget_refuses_with_litellms_status_and_type(client: TestClient, database_url: str) -> None:
    add_rows(database_url, User(user_id="u1", max_budget=Decimal("0.000001")),
             new_key("sk-user-budget", user_id="u1"))
    assert chat(client, "sk-user-budget").status_code == 200  # the first request fits; it spends the budget
    refused = chat(client, "sk-user-budget")
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "budget_exceeded"
    assert "user u1" in refused.json()["error"]["message"]


def test_rpm_limit_answers_429_with_retry_after(client: TestClient, database_url: str) -> None:
    add_rows(database_url, new_key("sk-rpm-1", rpm_limit=2), new_key("sk-rpm-2", rpm_limit=2))
    for key in ("sk-rpm-1", "sk-rpm-2"):  # the second only if the minute turned during the first
        minute = int(time.time() // 60)
        statuses = [chat(client, key).status_code for _ in range(3)]
        refused = chat(client, key)
        if int(time.time() // 60) == minute:
            break
    assert statuses == [200, 200, 429]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"


def test_parallel_slots_come_back_after_success_and_upstream_failure(client: TestClient, database_url: str,
                                                                     openai_sim: OpenAISimulator) -> None:
    add_rows(database_url, new_key("sk-parallel", max_parallel_requests=1))
    ledger = state_of(client).enforcement.ledger
    entity = f"key:{hash_key('sk-parallel')}"
    assert chat(client, "sk-parallel").status_code == 200
    openai_sim.script(500)
    assert chat(client, "sk-parallel").status_code == 500
    streamed = chat(client, "sk-parallel", {**CHAT, "stream": True})
    assert streamed.status_code == 200
    assert streamed.text.endswith("data: [DONE]\n\n")
    assert ledger.in_flight(entity) == 0  # type: ignore[attr-defined]


def test_the_warm_path_reads_the_database_once_per_key(client: TestClient, database_url: str) -> None:
    add_rows(database_url, new_key("sk-warm", rpm_limit=1000))
    principals = client.portal.call(state_of(client).db.opened).principals  # type: ignore[union-attr]
    before = principals.loads
    for _ in range(5):
        assert chat(client, "sk-warm").status_code == 200
    assert principals.loads == before + 1


def test_spend_reaches_the_database_once_per_request_exactly(client: TestClient, database_url: str) -> None:
    add_rows(database_url, User(user_id="u-spend"), Team(team_id="t-spend"),
             new_key("sk-spender", user_id="u-spend", team_id="t-spend"))
    answers = [chat(client, "sk-spender"), chat(client, "sk-spender", {**CHAT, "stream": True,
                                                                        "stream_options": {"include_usage": True}}),
               chat(client, "sk-spender", {**CHAT, "user": "end-user-7"})]
    assert [a.status_code for a in answers] == [200, 200, 200]
    client.portal.call(state_of(client).spend.flush)  # type: ignore[union-attr]

    async def read() -> tuple[list[SpendLog], VirtualKey | None, User | None, Team | None, EndUser | None]:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                rows = list((await session.scalars(select(SpendLog))).all())
                return (rows, await session.get(VirtualKey, hash_key("sk-spender")),
                        await session.get(User, "u-spend"), await session.get(Team, "t-spend"),
                        await session.get(EndUser, "end-user-7"))
        finally:
            await engine.dispose()

    rows, key, user, team, end_user = asyncio.run(read())
    assert len(rows) == 3
    assert len({r.request_id for r in rows}) == 3
    info = find_model("gpt-4o-mini", "openai")
    assert info is not None
    assert info.input_cost_per_token
    assert info.output_cost_per_token
    for row in rows:
        assert row.api_key == hash_key("sk-spender")
        assert row.model_group == "gpt-4o-mini"
        assert row.prompt_tokens > 0
        assert row.completion_tokens > 0
        assert row.spend == row.prompt_tokens * info.input_cost_per_token \
            + row.completion_tokens * info.output_cost_per_token
    total = sum((r.spend for r in rows), Decimal(0))
    assert key is not None
    assert user is not None
    assert team is not None
    assert end_user is not None
    assert key.spend == user.spend == team.spend == total
    assert end_user.spend == next(r.spend for r in rows if r.end_user == "end-user-7")


def test_spend_rows_carry_the_requests_and_the_keys_tags(client: TestClient, database_url: str) -> None:
    add_rows(database_url, new_key("sk-tagged", tags=["team-search", "prod"]))
    bodies = [{**CHAT, "tags": ["job-7", "prod"]}, {**CHAT, "metadata": {"tags": ["nightly"]}}, CHAT,
              {**CHAT, "tags": "not-a-list"}]
    assert [chat(client, "sk-tagged", body).status_code for body in bodies] == [200, 200, 200, 200]
    client.portal.call(state_of(client).spend.flush)  # type: ignore[union-attr]

    async def read() -> list[list[str]]:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                rows = (await session.scalars(select(SpendLog).order_by(SpendLog.start_time))).all()
                return [list(r.request_tags) for r in rows]
        finally:
            await engine.dispose()

    assert asyncio.run(read()) == [["job-7", "prod", "team-search"], ["nightly", "team-search", "prod"],
                                   ["team-search", "prod"], ["team-search", "prod"]]
    report = client.get("/tag/daily/activity", params={"start_date": "2000-01-01", "end_date": "2100-01-01"},
                        headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert report.status_code == 200, report.text
    assert report.json()["metadata"]["total_api_requests"] == 10  # one per tag of each request


def test_end_users_have_budgets_and_can_be_blocked(client: TestClient, database_url: str) -> None:
    add_rows(database_url, Budget(budget_id="b-tiny", max_budget=Decimal("0.000001")),
             EndUser(user_id="customer-1", budget_id="b-tiny"), EndUser(user_id="customer-2", blocked=True),
             new_key("sk-app"))
    body = {**CHAT, "user": "customer-1"}
    assert chat(client, "sk-app", body).status_code == 200
    spent = chat(client, "sk-app", body)
    assert spent.status_code == 400
    assert "end_user customer-1" in spent.json()["error"]["message"]
    assert chat(client, "sk-app", CHAT).status_code == 200  # the key itself is not limited
    blocked = chat(client, "sk-app", {**CHAT, "user": "customer-2"})
    assert blocked.status_code == 403
    assert blocked.json()["error"]["type"] == "end_user_blocked"


def test_a_requests_fallbacks_may_name_only_models_its_key_may_call(client: TestClient, database_url: str,
                                                                    openai_sim: OpenAISimulator) -> None:
    add_rows(database_url, new_key("sk-narrow", models=["gpt-4o-mini"]))
    refused = chat(client, "sk-narrow", {**CHAT, "fallbacks": ["text-embedding-3-small"]})
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "key_model_access_denied"
    assert openai_sim.requests == []  # refused before any upstream call


def test_default_litellm_params_go_under_the_deployments_and_the_requests(
        tmp_path: Path, database_url: str, openai_sim: OpenAISimulator) -> None:
    config = _models(openai_sim) + "router_settings:\n  default_litellm_params: {temperature: 0.25, top_p: 0.5}\n"
    with gateway_client(tmp_path, database_url, extra_config=config) as gateway:
        gateway.headers["authorization"] = f"Bearer {MASTER_KEY}"
        assert gateway.post("/v1/chat/completions", json=CHAT).status_code == 200
        assert gateway.post("/v1/chat/completions", json={**CHAT, "temperature": 1.0}).status_code == 200
    sent = [r.json for r in openai_sim.requests]
    assert [(body["temperature"], body["top_p"]) for body in sent] == [(0.25, 0.5), (1.0, 0.5)]


def test_the_warm_hot_path_sends_no_query_to_the_database(tmp_path: Path, database_url: str,
                                                          openai_sim: OpenAISimulator) -> None:
    with gateway_client(tmp_path, database_url, extra_config=_models(openai_sim),
                        general="  proxy_batch_write_at: 3600\n") as gateway:  # no spend flush meanwhile
        add_rows(database_url, User(user_id="u-warm", max_budget=Decimal(100)),
                 Team(team_id="t-warm", rpm_limit=1000),
                 new_key("sk-counted", user_id="u-warm", team_id="t-warm", tpm_limit=10**9, max_parallel_requests=50))
        statements: list[str] = []
        engine = gateway.portal.call(state_of(gateway).db.opened).engine  # type: ignore[union-attr]
        assert chat(gateway, "sk-counted", {**CHAT, "user": "someone"}).status_code == 200  # warms the caches

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            for body in (CHAT, {**CHAT, "stream": True}, {**CHAT, "user": "someone"}) * 5:
                assert chat(gateway, "sk-counted", body).status_code == 200
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert statements == []


def test_a_personal_key_is_bounded_by_its_users_models_and_blocked_keys_list_nothing(
        client: TestClient, database_url: str) -> None:
    add_rows(database_url, User(user_id="u-models", models=["text-embedding-3-small"]),
             new_key("sk-personal", user_id="u-models"), new_key("sk-blocked-lister", blocked=True))
    assert chat(client, "sk-personal").json()["error"]["type"] == "key_model_access_denied"
    listed = client.get("/v1/models", headers={"authorization": "Bearer sk-personal"}).json()
    assert [m["id"] for m in listed["data"]] == ["text-embedding-3-small"]
    hidden = client.get("/v1/models/gpt-4o-mini", headers={"authorization": "Bearer sk-personal"})
    assert hidden.status_code == 404
    blocked = client.get("/v1/models", headers={"authorization": "Bearer sk-blocked-lister"})
    assert blocked.status_code == 401
    assert blocked.json()["error"]["code"] == "key_blocked"
