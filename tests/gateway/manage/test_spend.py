"""The spend read endpoints on SQLite and PostgreSQL: /spend/logs(/v2), the daily-activity reports, /global/spend…

Spend arrives the way it does in production: records stored by the DatabaseSink, which writes the spend log and
the daily rows the reports read. Who may read what is tested here too (admin, internal user, team member).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

from sluicegate.gateway.db.models import Organization, Team, TeamMembership, User, VirtualKey
from sluicegate.gateway.db.tokens import hash_key
from sluicegate.gateway.manage.schemas.spend import SpendAnalyticsPaginatedResponse
from sluicegate.gateway.spend import SpendRecord
from sluicegate.gateway.spend.db_sink import DatabaseSink
from tests.gateway.manage.principals import add_rows, caller

TODAY = datetime.now(UTC).date()
DAYS = [TODAY - timedelta(days=2), TODAY - timedelta(days=1)]
ALICE_KEY, BOB_KEY = "sk-alice-spend-key", "sk-bob-spend-key"
UNIT = Decimal("0.000123456789012345")


def record(i: int) -> SpendRecord:
    """Even records: alice's key in team-red; odd: bob's key in team-blue. Two days, two models."""
    is_alice = i % 2 == 0
    start = datetime.combine(DAYS[i % 4 // 2], time(12), UTC) + timedelta(seconds=i)
    return SpendRecord(
        request_id=f"req-{i:03d}", model="openai/gpt-4o" if i % 3 else "anthropic/claude", spend_usd=UNIT * (i + 1),
        start_time=start, end_time=start + timedelta(milliseconds=300),
        api_key_hash=hash_key(ALICE_KEY if is_alice else BOB_KEY), user_id="alice" if is_alice else "bob",
        team_id="team-red" if is_alice else "team-blue", org_id="org-1", end_user=f"cust-{i % 3}",
        model_group="gpt-4o" if i % 3 else "claude", provider="openai" if i % 3 else "anthropic",
        prompt_tokens=10, completion_tokens=5, tags=("prod",) if i % 5 else ("prod", "batch"),
    )


RECORDS = [record(i) for i in range(20)]


def total(records: list[SpendRecord]) -> float:
    return float(sum((r.spend_usd for r in records), Decimal(0)))


@pytest.fixture
def client(manage_client: TestClient) -> TestClient:
    add_rows(manage_client, Organization(organization_id="org-1", organization_alias="Org One"),
             User(user_id="bob"), Team(team_id="team-red", team_alias="Red", organization_id="org-1"),
             Team(team_id="team-blue", team_alias="Blue", organization_id="org-1"),
             VirtualKey(token=hash_key(BOB_KEY), key_alias="bob-key", user_id="bob", team_id="team-blue"))
    store(manage_client, RECORDS)
    return manage_client


def store(client: TestClient, records: list[SpendRecord]) -> None:
    """Store `records` as production does: through the DatabaseSink."""
    async def run() -> None:
        opened = await client.app.gateway.db.opened()  # type: ignore[attr-defined]
        await DatabaseSink(opened.sessions).store(records)

    assert client.portal is not None
    client.portal.call(run)


@pytest.fixture
def alice(client: TestClient) -> dict[str, str]:
    """Headers of alice, an internal user in team-red (not in team-blue)."""
    headers = caller(client, "alice")
    add_rows(client, TeamMembership(user_id="alice", team_id="team-red"),
             VirtualKey(token=hash_key(ALICE_KEY), key_alias="alice-key", user_id="alice", team_id="team-red"))
    return headers


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["request_id"] for row in rows]


def test_spend_logs_v2_pages_newest_first(client: TestClient) -> None:
    pages = [client.get("/spend/logs/v2", params={"page": p, "page_size": 7}).json() for p in (1, 2, 3)]

    assert [(p["total"], p["page"], p["page_size"], p["total_pages"]) for p in pages] == [
        (20, 1, 7, 3), (20, 2, 7, 3), (20, 3, 7, 3)]
    rows = [row for p in pages for row in p["data"]]
    assert len(rows) == 20
    assert set(ids(rows)) == {r.request_id for r in RECORDS}
    assert [row["startTime"] for row in rows] == sorted((row["startTime"] for row in rows), reverse=True)
    first = next(row for row in rows if row["request_id"] == "req-004")
    assert first["user"] == "alice"
    assert first["api_key"] == hash_key(ALICE_KEY)
    assert first["spend"] == float(UNIT * 5)
    assert (first["total_tokens"], first["model_group"], first["custom_llm_provider"]) == (15, "gpt-4o", "openai")
    assert first["request_tags"] == ["prod"]
    assert first["request_duration_ms"] == 300


@pytest.mark.parametrize(("params", "expected"), [
    ({"user_id": "bob"}, [r for r in RECORDS if r.user_id == "bob"]),
    ({"team_id": "team-red"}, [r for r in RECORDS if r.team_id == "team-red"]),
    ({"api_key": ALICE_KEY}, [r for r in RECORDS if r.user_id == "alice"]),  # the key itself, hashed here
    ({"api_key": hash_key(BOB_KEY)}, [r for r in RECORDS if r.user_id == "bob"]),
    ({"request_id": "req-007"}, [RECORDS[7]]),
    ({"start_date": DAYS[1].isoformat(), "end_date": DAYS[1].isoformat()},
     [r for r in RECORDS if r.start_time.date() == DAYS[1]]),
    ({"start_date": f"{DAYS[0]} 12:00:05", "end_date": f"{DAYS[0]} 12:00:09"},
     [r for r in RECORDS if r.start_time.date() == DAYS[0] and 5 <= r.start_time.second <= 9]),
])
def test_spend_logs_filters(client: TestClient, params: dict[str, str], expected: list[SpendRecord]) -> None:
    answer = client.get("/spend/logs/v2", params={**params, "page_size": 100}).json()

    assert sorted(ids(answer["data"])) == sorted(r.request_id for r in expected)
    assert answer["total"] == len(expected)
    assert sorted(ids(client.get("/spend/logs", params=params).json())) == sorted(r.request_id for r in expected)


def test_spend_logs_are_bounded(client: TestClient) -> None:
    assert client.get("/spend/logs/v2", params={"page_size": 101}).status_code == 422
    assert client.get("/spend/logs", params={"page_size": 1001}).status_code == 422
    assert len(client.get("/spend/logs", params={"page_size": 3}).json()) == 3
    bad = client.get("/spend/logs/v2", params={"start_date": "yesterday"})
    assert bad.status_code == 400
    assert "start_date" in bad.json()["error"]["message"]


def test_an_internal_user_reads_only_its_own_logs(client: TestClient, alice: dict[str, str]) -> None:
    mine = client.get("/spend/logs/v2", headers=alice, params={"page_size": 100}).json()
    assert sorted(ids(mine["data"])) == sorted(r.request_id for r in RECORDS if r.user_id == "alice")
    in_team = client.get("/spend/logs/v2", headers=alice, params={"team_id": "team-red", "page_size": 100}).json()
    assert in_team["total"] == 10
    assert client.get("/spend/logs", headers=alice, params={"api_key": hash_key(BOB_KEY)}).json() == []

    assert client.get("/spend/logs/v2", headers=alice, params={"user_id": "bob"}).status_code == 404
    assert client.get("/spend/logs/v2", headers=alice, params={"team_id": "team-blue"}).status_code == 404
    assert client.get("/spend/logs/v2", headers=alice, params={"team_id": "no-such-team"}).status_code == 404


def test_a_proxy_admin_viewer_reads_everything(client: TestClient) -> None:
    viewer = caller(client, "vera", "proxy_admin_viewer")
    assert client.get("/spend/logs/v2", headers=viewer).json()["total"] == 20
    assert client.get("/global/spend", headers=viewer).status_code == 200


def test_user_daily_activity(client: TestClient) -> None:
    answer = client.get("/user/daily/activity", params={"start_date": DAYS[0].isoformat(),
                                                        "end_date": TODAY.isoformat()}).json()

    SpendAnalyticsPaginatedResponse.model_validate(answer)  # the documented shape, field for field
    assert [day["date"] for day in answer["results"]] == [d.isoformat() for d in reversed(DAYS)]  # newest first
    meta = answer["metadata"]
    assert meta["total_spend"] == total(RECORDS)
    assert (meta["total_api_requests"], meta["total_tokens"], meta["total_prompt_tokens"]) == (20, 300, 200)
    assert (meta["page"], meta["total_pages"], meta["has_more"]) == (1, 1, False)
    first = answer["results"][1]
    on_day = [r for r in RECORDS if r.start_time.date() == DAYS[0]]
    assert first["metrics"]["spend"] == total(on_day)
    assert first["metrics"]["api_requests"] == first["metrics"]["successful_requests"] == len(on_day)
    breakdown = first["breakdown"]
    assert set(breakdown["models"]) == {"openai/gpt-4o", "anthropic/claude"}
    assert set(breakdown["model_groups"]) == {"gpt-4o", "claude"}
    assert set(breakdown["providers"]) == {"openai", "anthropic"}
    assert set(breakdown["entities"]) == {"alice", "bob"}
    bob_key = breakdown["api_keys"][hash_key(BOB_KEY)]
    assert bob_key["metadata"] == {"key_alias": "bob-key", "team_id": "team-blue"}
    assert bob_key["metrics"]["spend"] == total([r for r in on_day if r.user_id == "bob"])


SPAN = {"start_date": DAYS[0].isoformat(), "end_date": DAYS[1].isoformat()}


def test_daily_activity_pages_daily_rows_newest_first(client: TestClient) -> None:
    """8 daily rows (2 users × 2 days × 2 models), 3 a page: the newer day's 4 rows, then the older day's."""
    pages = [client.get("/user/daily/activity", params={**SPAN, "page_size": 3, "page": p}).json()
             for p in (1, 2, 3, 4)]

    assert [(p["metadata"]["page"], p["metadata"]["total_pages"], p["metadata"]["has_more"]) for p in pages] == [
        (1, 3, True), (2, 3, True), (3, 3, False), (4, 3, False)]
    assert [[day["date"] for day in p["results"]] for p in pages] == [
        [DAYS[1].isoformat()], [DAYS[1].isoformat(), DAYS[0].isoformat()], [DAYS[0].isoformat()], []]
    # A page's figures are its rows' (as LiteLLM's): the pages add up to the range, a split day to the whole day.
    assert sum(p["metadata"]["total_api_requests"] for p in pages) == 20
    assert sum(p["metadata"]["total_spend"] for p in pages) == pytest.approx(total(RECORDS))
    for day in DAYS:
        parts = [d for p in pages for d in p["results"] if d["date"] == day.isoformat()]
        assert sum(d["metrics"]["spend"] for d in parts) == pytest.approx(
            total([r for r in RECORDS if r.start_time.date() == day]))
        assert sum(d["metrics"]["api_requests"] for d in parts) == 10


def test_a_daily_activity_page_reads_only_its_rows(client: TestClient) -> None:
    answer = client.get("/team/daily/activity", params={**SPAN, "page_size": 1, "page": 5}).json()

    assert (answer["metadata"]["total_pages"], answer["metadata"]["has_more"]) == (8, True)
    [day] = answer["results"]  # one daily row: one day, and one entry in every breakdown
    assert day["date"] == DAYS[0].isoformat()
    assert [len(day["breakdown"][field]) for field in ("models", "model_groups", "providers", "api_keys",
                                                       "entities")] == [1, 1, 1, 1, 1]
    [entry] = day["breakdown"]["entities"].values()
    assert entry["metrics"] == day["metrics"]
    assert entry["metadata"]["team_alias"] in ("Red", "Blue")


@pytest.mark.parametrize("params", [{"page": 0}, {"page": -1}, {"page": "two"}, {"page_size": 0},
                                    {"page_size": 1001}, {"page_size": "all"}])
def test_daily_activity_page_bounds(client: TestClient, params: dict[str, object]) -> None:
    assert client.get("/user/daily/activity", params={**SPAN, **params}).status_code == 422
    assert client.get("/tag/daily/activity", params={**SPAN, **params}).status_code == 422


def test_daily_activity_far_pages_are_empty(client: TestClient) -> None:
    default = client.get("/user/daily/activity", params=SPAN).json()
    largest = client.get("/user/daily/activity", params={**SPAN, "page_size": 1000}).json()
    far = client.get("/user/daily/activity", params={**SPAN, "page": 10**12}).json()

    assert default == largest  # 8 rows fit LiteLLM's default page of 50
    assert far["results"] == []
    assert (far["metadata"]["page"], far["metadata"]["total_pages"], far["metadata"]["has_more"]) == (10**12, 1, False)
    assert far["metadata"]["total_spend"] == 0


def test_daily_activity_filters(client: TestClient) -> None:
    span = SPAN
    by_model = client.get("/user/daily/activity", params={**span, "model": "anthropic/claude"}).json()
    assert by_model["metadata"]["total_spend"] == total([r for r in RECORDS if r.model == "anthropic/claude"])
    by_key = client.get("/user/daily/activity", params={**span, "api_key": BOB_KEY}).json()
    assert by_key["metadata"]["total_api_requests"] == 10
    by_user = client.get("/user/daily/activity", params={**span, "user_id": "alice"}).json()
    assert by_user["metadata"]["total_spend"] == total([r for r in RECORDS if r.user_id == "alice"])


@pytest.mark.parametrize(("path", "params", "entities", "alias"), [
    ("/team/daily/activity", {"team_ids": "team-red,team-blue"}, {"team-red", "team-blue"},
     ("team_alias", "team-red", "Red")),
    ("/team/daily/activity", {"team_ids": "team-red"}, {"team-red"}, None),
    ("/team/daily/activity", {"exclude_team_ids": "team-red"}, {"team-blue"}, None),
    ("/organization/daily/activity", {}, {"org-1"}, ("organization_alias", "org-1", "Org One")),
    ("/tag/daily/activity", {"tags": "batch"}, {"batch"}, None),
    ("/tag/daily/activity", {}, {"prod", "batch"}, None),
    ("/customer/daily/activity", {"end_user_ids": "cust-1"}, {"cust-1"}, None),
])
def test_activity_by_entity(client: TestClient, path: str, params: dict[str, str], entities: set[str],
                            alias: tuple[str, str, str] | None) -> None:
    answer = client.get(path, params={"start_date": DAYS[0].isoformat(), "end_date": DAYS[1].isoformat(),
                                      **params}).json()

    seen = {e for day in answer["results"] for e in day["breakdown"]["entities"]}
    assert seen == entities
    if alias is not None:
        label, entity, name = alias
        assert answer["results"][0]["breakdown"]["entities"][entity]["metadata"][label] == name


def test_team_activity_needs_membership(client: TestClient, alice: dict[str, str]) -> None:
    span = {"start_date": DAYS[0].isoformat(), "end_date": DAYS[1].isoformat()}
    mine = client.get("/team/daily/activity", headers=alice, params=span).json()
    assert {e for day in mine["results"] for e in day["breakdown"]["entities"]} == {"team-red"}
    assert client.get("/team/daily/activity", headers=alice,
                      params={**span, "team_ids": "team-blue"}).status_code == 404
    own = client.get("/user/daily/activity", headers=alice, params=span).json()
    assert own["metadata"]["total_spend"] == total([r for r in RECORDS if r.user_id == "alice"])
    assert client.get("/user/daily/activity", headers=alice, params={**span, "user_id": "bob"}).status_code == 404
    assert client.get("/tag/daily/activity", headers=alice, params=span).status_code == 403
    assert client.get("/customer/daily/activity", headers=alice, params=span).status_code == 403
    assert client.get("/organization/daily/activity", headers=alice,
                      params={**span, "organization_ids": "org-1"}).status_code == 404


def test_daily_activity_needs_a_date_range(client: TestClient) -> None:
    assert client.get("/user/daily/activity", params={"start_date": "2026-01-01"}).status_code == 400
    assert client.get("/user/daily/activity", params={"start_date": "2026-02-01",
                                                      "end_date": "2026-01-01"}).status_code == 400
    assert client.get("/team/daily/activity", params={"start_date": "soon", "end_date": "2026-01-01"}
                      ).status_code == 400


AGGREGATED = "/user/daily/activity/aggregated"


@pytest.mark.parametrize(("params", "expected"), [
    ({}, RECORDS),
    ({"model": "anthropic/claude"}, [r for r in RECORDS if r.model == "anthropic/claude"]),
    ({"api_key": BOB_KEY}, [r for r in RECORDS if r.user_id == "bob"]),  # the key itself, hashed here
    ({"api_key": hash_key(ALICE_KEY)}, [r for r in RECORDS if r.user_id == "alice"]),
    ({"user_id": "alice"}, [r for r in RECORDS if r.user_id == "alice"]),
    ({"user_id": "bob", "model": "openai/gpt-4o"},
     [r for r in RECORDS if r.user_id == "bob" and r.model == "openai/gpt-4o"]),
    ({"user_id": "nobody"}, []),
])
def test_aggregated_activity_equals_the_pages(client: TestClient, params: dict[str, str],
                                              expected: list[SpendRecord]) -> None:
    """The aggregated answer is what the paged report says when one page holds the whole range."""
    aggregated = client.get(AGGREGATED, params={**SPAN, **params}).json()
    paged = client.get("/user/daily/activity", params={**SPAN, **params, "page_size": 1000}).json()

    SpendAnalyticsPaginatedResponse.model_validate(aggregated)
    assert paged["metadata"]["total_pages"] == 1
    assert aggregated["results"] == paged["results"]  # day by day, every breakdown entry with its metadata
    assert aggregated["metadata"] == paged["metadata"]
    meta = aggregated["metadata"]
    assert meta["total_spend"] == total(expected)
    assert (meta["total_api_requests"], meta["total_successful_requests"], meta["total_failed_requests"]) == (
        len(expected), len(expected), 0)
    assert (meta["total_prompt_tokens"], meta["total_tokens"]) == (10 * len(expected), 15 * len(expected))
    assert (meta["page"], meta["total_pages"], meta["has_more"]) == (1, 1, False)
    assert [day["date"] for day in aggregated["results"]] == sorted(
        {r.start_time.date().isoformat() for r in expected}, reverse=True)


def test_aggregated_activity_labels_keys(client: TestClient) -> None:
    results = client.get(AGGREGATED, params=SPAN).json()["results"]

    assert [day["date"] for day in results] == [DAYS[1].isoformat(), DAYS[0].isoformat()]
    older = results[1]
    on_day = [r for r in RECORDS if r.start_time.date() == DAYS[0]]
    assert older["metrics"]["spend"] == total(on_day)
    bob_key = older["breakdown"]["api_keys"][hash_key(BOB_KEY)]
    assert bob_key["metadata"] == {"key_alias": "bob-key", "team_id": "team-blue"}
    assert bob_key["metrics"]["spend"] == total([r for r in on_day if r.user_id == "bob"])
    assert set(older["breakdown"]["entities"]) == {"alice", "bob"}
    assert older["breakdown"]["mcp_servers"] == {}


def test_aggregated_activity_folds_a_busy_day_into_one_entry(client: TestClient) -> None:
    """1,040 daily rows on one day (8 users × 130 models), more than the largest page: one entry, whole totals."""
    busy = [replace(RECORDS[0], request_id=f"busy-{u}-{m}", user_id=f"user-{u}", model=f"openai/model-{m}",
                    start_time=datetime.combine(TODAY, time(9), UTC), end_time=datetime.combine(TODAY, time(9), UTC))
            for u in range(8) for m in range(130)]
    store(client, busy)
    day = {"start_date": TODAY.isoformat(), "end_date": TODAY.isoformat()}

    aggregated = client.get(AGGREGATED, params=day).json()
    pages = [client.get("/user/daily/activity", params={**day, "page_size": 1000, "page": p}).json() for p in (1, 2)]

    [entry] = aggregated["results"]
    assert entry["date"] == TODAY.isoformat()
    assert entry["metrics"]["api_requests"] == aggregated["metadata"]["total_api_requests"] == 1040
    assert entry["metrics"]["spend"] == aggregated["metadata"]["total_spend"] == total(busy)
    breakdown = entry["breakdown"]
    assert (len(breakdown["models"]), len(breakdown["entities"]), len(breakdown["api_keys"])) == (130, 8, 1)
    assert breakdown["entities"]["user-3"]["metrics"]["api_requests"] == 130
    assert breakdown["models"]["openai/model-7"]["metrics"]["api_requests"] == 8
    assert (aggregated["metadata"]["total_pages"], aggregated["metadata"]["has_more"]) == (1, False)
    # the paged report needs two pages for the day; its halves add up to the aggregated entry
    assert [p["metadata"]["has_more"] for p in pages] == [True, False]
    assert sum(p["results"][0]["metrics"]["api_requests"] for p in pages) == 1040


def test_aggregated_activity_of_an_internal_user(client: TestClient, alice: dict[str, str]) -> None:
    mine = client.get(AGGREGATED, headers=alice, params=SPAN).json()
    assert mine["metadata"]["total_spend"] == total([r for r in RECORDS if r.user_id == "alice"])
    assert {e for day in mine["results"] for e in day["breakdown"]["entities"]} == {"alice"}
    assert mine["results"][0]["breakdown"]["api_keys"][hash_key(ALICE_KEY)]["metadata"] == {
        "key_alias": "alice-key", "team_id": "team-red"}
    assert client.get(AGGREGATED, headers=alice, params={**SPAN, "user_id": "alice"}).json() == mine
    assert client.get(AGGREGATED, headers=alice, params={**SPAN, "api_key": BOB_KEY}).json()["results"] == []
    assert client.get(AGGREGATED, headers=alice, params={**SPAN, "user_id": "bob"}).status_code == 404

    viewer = caller(client, "vera", "proxy_admin_viewer")
    assert client.get(AGGREGATED, headers=viewer, params=SPAN).json()["metadata"]["total_api_requests"] == 20


@pytest.mark.parametrize("params", [{}, {"start_date": DAYS[0].isoformat()}, {"end_date": DAYS[0].isoformat()},
                                    {"start_date": "soon", "end_date": DAYS[0].isoformat()},
                                    {"start_date": DAYS[1].isoformat(), "end_date": DAYS[0].isoformat()}])
def test_aggregated_activity_needs_a_date_range(client: TestClient, params: dict[str, str]) -> None:
    answer = client.get(AGGREGATED, params=params)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] in ("start_date", "end_date")


def test_global_spend_views(client: TestClient, alice: dict[str, str]) -> None:
    assert client.get("/global/spend").json() == {"spend": total(RECORDS), "max_budget": None}

    keys = client.get("/global/spend/keys", params={"limit": 5}).json()
    bob = [r for r in RECORDS if r.user_id == "bob"]
    assert keys[0] == {"api_key": hash_key(BOB_KEY), "total_spend": total(bob), "key_alias": "bob-key",
                       "key_name": None}  # bob's records cost more (odd i)
    assert [k["api_key"] for k in client.get("/global/spend/keys", params={"limit": 1}).json()] == [hash_key(BOB_KEY)]

    models = client.get("/global/spend/models").json()
    assert models == sorted(models, key=lambda m: -m["total_spend"])
    assert {m["model"]: m["total_spend"] for m in models} == {
        model: total([r for r in RECORDS if r.model == model]) for model in ("openai/gpt-4o", "anthropic/claude")}

    teams = client.get("/global/spend/teams").json()
    assert teams["teams"] == ["Blue", "Red"]
    assert teams["total_spend_per_team"][0] == {"team_id": "Blue", "total_spend": total(bob)}
    assert [row["date"] for row in teams["daily_spend"]] == [d.isoformat() for d in DAYS]
    assert set(teams["daily_spend"][0]) == {"date", "Blue", "Red"}

    for path in ("/global/spend", "/global/spend/keys", "/global/spend/models", "/global/spend/teams"):
        assert client.get(path, headers=alice).status_code == 403, path
