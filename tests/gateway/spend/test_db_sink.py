"""DatabaseSink on real SQLite and PostgreSQL: rows = records, replays count once, totals = sum of rows, exactly."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sluicegate.gateway.db.engine import create_engine, create_session_factory
from sluicegate.gateway.db.migrate import upgrade
from sluicegate.gateway.db.models import (
    DailySpend,
    EndUser,
    Organization,
    SpendLog,
    Team,
    TeamMembership,
    User,
    VirtualKey,
)
from sluicegate.gateway.db.types import money_sum
from sluicegate.gateway.spend import Journal, SpendRecord, SpendWriter
from sluicegate.gateway.spend.db_sink import DatabaseSink

DAY1 = datetime(2026, 2, 27, 23, 59, 59, 900000, tzinfo=UTC)
DAY2 = datetime(2026, 2, 28, 0, 0, 0, 100000, tzinfo=UTC)
TINY = Decimal("0.000000123456789012")  # 18 decimals: every digit must survive every sum
KEYS = [f"{c}" * 64 for c in "abcd"]
USERS = ["alice", "bob", "carol"]
TEAMS = ["team-red", "team-blue"]
ORGS = ["org-1", "org-2"]
END_USERS = ["cust-1", "cust-2", "cust-3"]
MODELS = [("openai/gpt-4o-mini", "gpt-4o-mini", "openai"), ("anthropic/claude-sonnet-4-5", "claude", "anthropic")]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    sessions = create_session_factory(engine)
    async with sessions() as session, session.begin():
        session.add_all([Organization(organization_id=o, organization_alias=o) for o in ORGS])
        session.add_all([User(user_id=u) for u in USERS])
        session.add_all([Team(team_id=t, organization_id=ORGS[i]) for i, t in enumerate(TEAMS)])
        await session.flush()
        session.add_all([TeamMembership(user_id=u, team_id=t) for u in USERS[:2] for t in TEAMS])
        session.add_all([VirtualKey(token=k, key_alias=f"key-{i}") for i, k in enumerate(KEYS[:3])])  # not KEYS[3]
        session.add(EndUser(user_id="cust-1", spend=Decimal("1.5")))
    return sessions


def record(i: int, *, prefix: str = "req", status: str = "success") -> SpendRecord:
    """Record number `i`, attributed by rotating through keys, users, teams, orgs, end users, models and tags."""
    model, group, provider = MODELS[i % 2]
    start = (DAY1 if i % 3 else DAY2) + timedelta(microseconds=i)
    return SpendRecord(
        request_id=f"{prefix}-{i}", model=model, spend_usd=TINY * (i + 1), start_time=start,
        end_time=start + timedelta(milliseconds=250 + i),
        api_key_hash=KEYS[i % 4], user_id=USERS[i % 3] if i % 5 else None, team_id=TEAMS[i % 2],
        org_id=ORGS[i % 2], end_user=END_USERS[i % 3] if i % 4 else None, model_group=group,
        deployment_id=f"dep-{i % 2}", provider=provider, prompt_tokens=10 + i, completion_tokens=2 * i,
        cached_tokens=i % 7, cache_creation_tokens=i % 3, status=status,
        tags=("batch", f"job-{i % 2}") if i % 6 else (), metadata={"cost": Decimal("0.1"), "n": i},
    )


def records(count: int, *, prefix: str = "req") -> list[SpendRecord]:
    return [record(i, prefix=prefix, status="failure" if i % 10 == 9 else "success") for i in range(count)]


async def spend_log_rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, SpendLog]:
    async with sessions() as session:
        return {row.request_id: row for row in await session.scalars(select(SpendLog))}


async def stored_spend(sessions: async_sessionmaker[AsyncSession], model: Any, column: Any) -> dict[Any, Decimal]:
    async with sessions() as session:
        return {ident: spend for ident, spend in await session.execute(select(column, model.spend))}


async def log_sums(sessions: async_sessionmaker[AsyncSession], column: Any) -> dict[Any, Decimal]:
    """Sum of spend_logs.spend per value of `column`, summed by the database."""
    async with sessions() as session:
        query = select(column, money_sum(SpendLog.spend)).where(column.is_not(None)).group_by(column)
        return {ident: spend for ident, spend in await session.execute(query)}


def python_sums(batch: list[SpendRecord], attribute: str) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for r in batch:
        if getattr(r, attribute):
            sums[getattr(r, attribute)] += r.spend_usd
    return dict(sums)


async def test_each_record_becomes_one_row_with_the_mapped_columns(sessions: async_sessionmaker[AsyncSession]) -> None:
    batch = records(12)
    await DatabaseSink(sessions).store(batch)

    rows = await spend_log_rows(sessions)
    assert set(rows) == {r.request_id for r in batch}
    r, row = batch[7], rows[batch[7].request_id]
    assert (row.api_key, row.user_id, row.team_id, row.organization_id, row.end_user) == (
        r.api_key_hash, r.user_id, r.team_id, r.org_id, r.end_user)
    assert (row.model, row.model_group, row.model_id, row.custom_llm_provider) == (
        r.model, r.model_group, r.deployment_id, r.provider)
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (17, 14, 31)
    assert (row.cache_read_input_tokens, row.cache_creation_input_tokens) == (r.cached_tokens, r.cache_creation_tokens)
    assert row.spend == TINY * 8
    assert (row.start_time, row.end_time, row.request_duration_ms) == (r.start_time, r.end_time, 257)
    assert row.status == "success"
    assert row.request_tags == ["batch", "job-1"]
    assert row.metadata_ == {"cost": "0.1", "n": 7}


async def test_a_batch_stored_twice_counts_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    sink = DatabaseSink(sessions)
    batch = records(40)
    await sink.store(batch[:30])
    await sink.store(batch)  # a replay overlapping the first batch
    await sink.store(batch)
    await sink.store(batch[5:6] * 3)  # the same request_id three times in one batch

    assert len(await spend_log_rows(sessions)) == 40
    keys = await stored_spend(sessions, VirtualKey, VirtualKey.token)
    assert keys[KEYS[0]] == python_sums(batch, "api_key_hash")[KEYS[0]]
    async with sessions() as session:
        assert await session.scalar(select(func.sum(DailySpend.api_requests)).where(
            DailySpend.entity_type == "global")) == 40


async def test_every_total_equals_the_sum_of_its_rows_exactly(sessions: async_sessionmaker[AsyncSession]) -> None:
    sink = DatabaseSink(sessions)
    batch = records(300)
    for start in range(0, 300, 70):
        await sink.store(batch[start:start + 70])

    keys = await stored_spend(sessions, VirtualKey, VirtualKey.token)
    users = await stored_spend(sessions, User, User.user_id)
    teams = await stored_spend(sessions, Team, Team.team_id)
    orgs = await stored_spend(sessions, Organization, Organization.organization_id)
    end_users = await stored_spend(sessions, EndUser, EndUser.user_id)
    expected_keys = python_sums(batch, "api_key_hash")
    assert keys == {k: expected_keys[k] for k in KEYS[:3]}  # KEYS[3] has no row: its spend is in the logs only
    assert keys == {k: v for k, v in (await log_sums(sessions, SpendLog.api_key)).items() if k in keys}
    assert users == python_sums(batch, "user_id") == await log_sums(sessions, SpendLog.user_id)
    assert teams == python_sums(batch, "team_id") == await log_sums(sessions, SpendLog.team_id)
    assert orgs == python_sums(batch, "org_id") == await log_sums(sessions, SpendLog.organization_id)
    expected_end_users = python_sums(batch, "end_user")
    expected_end_users["cust-1"] += Decimal("1.5")  # what it had before
    assert end_users == expected_end_users  # cust-2 and cust-3 were created
    assert teams["team-red"] == TINY * sum(range(1, 300, 2))  # 150 amounts of 18 decimals, not one digit lost


async def test_memberships_and_model_spend_add_up(sessions: async_sessionmaker[AsyncSession]) -> None:
    batch = records(100)
    await DatabaseSink(sessions).store(batch)

    async with sessions() as session:
        memberships = {(m.user_id, m.team_id): m.spend for m in await session.scalars(select(TeamMembership))}
        key = await session.get(VirtualKey, KEYS[1])
    for (user, team), spend in memberships.items():
        assert spend == sum((r.spend_usd for r in batch if (r.user_id, r.team_id) == (user, team)), Decimal(0))
    assert key is not None
    by_group: dict[str, Decimal] = defaultdict(Decimal)
    for r in batch:
        if r.api_key_hash == KEYS[1]:
            by_group[r.model_group or r.model] += r.spend_usd
    assert {m: Decimal(v) for m, v in key.model_spend.items()} == by_group
    assert sum(by_group.values()) == key.spend


async def test_daily_rows_fold_records_per_entity_day_and_dimensions(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    batch = records(60)
    sink = DatabaseSink(sessions)
    await sink.store(batch[:25])
    await sink.store(batch[25:])  # the second batch adds to the first one's rows

    async with sessions() as session:
        daily = list(await session.scalars(select(DailySpend)))
    assert {d.entity_type for d in daily} == {"key", "user", "team", "organization", "end_user", "tag", "global"}
    for entity_type, attribute in (("key", "api_key_hash"), ("user", "user_id"), ("team", "team_id"),
                                   ("organization", "org_id"), ("end_user", "end_user")):
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for d in daily:
            if d.entity_type == entity_type:
                totals[d.entity_id] += d.spend
        assert totals == python_sums(batch, attribute), entity_type
    tags = [d for d in daily if d.entity_type == "tag" and d.entity_id == "batch"]
    tagged = [r for r in batch if "batch" in r.tags]
    assert sum(d.spend for d in tags) == sum(r.spend_usd for r in tagged)
    assert sum(d.api_requests for d in tags) == len(tagged)

    rows = [d for d in daily if d.entity_type == "team" and d.entity_id == "team-blue"]
    keys = {(d.date, d.api_key, d.model, d.model_group, d.custom_llm_provider) for d in rows}
    assert len(keys) == len(rows)  # one row per day and dimensions, never split
    expected = [r for r in batch if r.team_id == "team-blue"]
    assert {d.date for d in rows} == {DAY1.date(), DAY2.date()}
    assert sum(d.prompt_tokens for d in rows) == sum(r.prompt_tokens for r in expected)
    assert sum(d.completion_tokens for d in rows) == sum(r.completion_tokens for r in expected)
    assert sum(d.cache_read_input_tokens for d in rows) == sum(r.cached_tokens for r in expected)
    assert sum(d.cache_creation_input_tokens for d in rows) == sum(r.cache_creation_tokens for r in expected)
    assert sum(d.api_requests for d in rows) == len(expected)
    assert sum(d.failed_requests for d in rows) == sum(r.status == "failure" for r in expected) > 0
    assert sum(d.successful_requests for d in rows) == sum(r.status == "success" for r in expected)
    global_rows = [d for d in daily if d.entity_type == "global"]
    assert sum(d.spend for d in global_rows) == sum(r.spend_usd for r in batch)


async def test_money_stays_exact_text_on_sqlite(sessions: async_sessionmaker[AsyncSession], database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's storage classes only")
    await DatabaseSink(sessions).store(records(30))
    await DatabaseSink(sessions).store(records(30, prefix="again"))

    async with sessions() as session:
        for table in ("virtual_keys", "users", "teams", "team_memberships", "organizations", "end_users",
                      "daily_spend", "spend_logs"):
            kinds = set((await session.execute(text(f"SELECT DISTINCT typeof(spend) FROM {table}"))).scalars())  # noqa: S608
            assert kinds == {"text"}, table


async def test_a_record_with_an_impossible_cost_does_not_block_the_batch(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    good = record(1)
    bad = SpendRecord(request_id="negative", model="m", spend_usd=Decimal("-1"), start_time=DAY1, end_time=DAY1,
                      api_key_hash=KEYS[0])
    await DatabaseSink(sessions).store([good, bad])

    rows = await spend_log_rows(sessions)
    assert rows["negative"].spend == 0
    assert rows["negative"].metadata_["invalid_spend_usd"] == "-1"
    assert rows[good.request_id].spend == good.spend_usd


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()[:3]))

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_a_batch_of_2000_records_is_a_handful_of_statements(
        engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], statements: list[str]) -> None:
    batch = records(2000)
    await DatabaseSink(sessions).store(batch)

    # One INSERT for the whole batch (PostgreSQL: one JSON parameter; SQLite: one executemany), never one per row.
    assert statements.count("INSERT INTO spend_logs") == 1
    assert len(statements) < 30, statements  # per entity, not per record
    assert len(await spend_log_rows(sessions)) == 2000
    assert await log_sums(sessions, SpendLog.team_id) == await stored_spend(sessions, Team, Team.team_id)

    statements.clear()
    await DatabaseSink(sessions).store(batch)  # all known: nothing is added anywhere
    writes = [s for s in statements if not s.startswith(("BEGIN", "select", "SELECT"))]
    if engine.dialect.name == "postgresql":
        assert writes == ["INSERT INTO spend_logs"]  # ON CONFLICT DO NOTHING inserts none of them
    else:
        assert writes == ["DELETE FROM spend_logs"]  # the write lock (a no-op); the ids are all stored already


async def test_the_spend_writer_stores_through_the_sink(sessions: async_sessionmaker[AsyncSession],
                                                        tmp_path: Path) -> None:
    batch = records(1000)
    writer = SpendWriter(Journal(tmp_path / "journal"), DatabaseSink(sessions), batch_size=128,
                         flush_interval_s=3600.0)
    await writer.start()
    for r in batch:
        writer.record(r)
    await writer.aclose()

    assert len(await spend_log_rows(sessions)) == 1000
    assert await stored_spend(sessions, User, User.user_id) == python_sums(batch, "user_id")
    async with sessions() as session:
        total = await session.scalar(select(money_sum(DailySpend.spend)).where(DailySpend.entity_type == "global"))
    assert total == sum(r.spend_usd for r in batch) == TINY * 500500


async def test_a_stored_row_is_exactly_what_the_orm_would_store(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The sink writes spend logs around the ORM (one JSON parameter on PostgreSQL, executemany on SQLite): the stored
    values, as the database holds them, equal those of the same row added through the ORM."""
    sunk = SpendRecord(request_id="sunk", model="openai/gpt-4o", spend_usd=Decimal("0.000123456789012345678"),
                       start_time=DAY1 + timedelta(microseconds=123456), end_time=DAY1 + timedelta(seconds=2),
                       api_key_hash=KEYS[0], user_id="u1", team_id="t1", org_id="o1", end_user="e1",
                       model_group="gpt-4o", provider="openai", deployment_id="d1", prompt_tokens=7,
                       completion_tokens=3, cached_tokens=2, cache_creation_tokens=1, status="failure",
                       tags=("a", "b"), metadata={"note": "é", "amount": Decimal("1.50")})
    await DatabaseSink(sessions).store([sunk])
    async with sessions() as session, session.begin():
        stored = await session.get(SpendLog, "sunk")
        assert stored is not None
        twin = SpendLog(**{c.key: getattr(stored, c.key) for c in SpendLog.__mapper__.column_attrs})
        twin.request_id = "twin"
        session.expunge(stored)
        session.add(twin)
    async with sessions() as session:
        raw = {row[0]: row[1:] for row in await session.execute(text(
            "SELECT request_id, call_type, api_key, user_id, team_id, organization_id, end_user, model, model_group, "
            "model_id, custom_llm_provider, prompt_tokens, completion_tokens, total_tokens, cache_read_input_tokens, "
            "cache_creation_input_tokens, CAST(spend AS TEXT), CAST(start_time AS TEXT), CAST(end_time AS TEXT), "
            "request_duration_ms, status, cache_hit, CAST(request_tags AS TEXT), CAST(metadata AS TEXT) "
            "FROM spend_logs WHERE request_id IN ('sunk', 'twin')"))}
    assert raw["sunk"] == raw["twin"]
    assert stored.spend == Decimal("0.000123456789012346")  # rounded to the column's 18 decimals, as the ORM does
    assert stored.start_time == sunk.start_time
    assert stored.request_tags == ["a", "b"]
    assert stored.metadata_ == {"note": "é", "amount": "1.50"}
