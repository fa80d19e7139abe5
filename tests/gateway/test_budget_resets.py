"""Budget resets in the database, on SQLite and PostgreSQL: due rows start a new window, once, whoever runs the
pass; rows not due, and spend outside budgets, are untouched; spend of the new window stored before, during or
after the pass is never lost, however the pass and concurrent spend batches interleave."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sluicegate.gateway.access import Limits
from sluicegate.gateway.admission import budget_window
from sluicegate.gateway.budget_resets import reset_due_budgets
from sluicegate.gateway.db.engine import create_engine, create_session_factory
from sluicegate.gateway.db.migrate import upgrade
from sluicegate.gateway.db.models import (
    Budget,
    EndUser,
    Organization,
    SpendLog,
    Team,
    TeamMembership,
    User,
    VirtualKey,
)
from sluicegate.gateway.durations import first_reset, parse_duration
from sluicegate.gateway.spend import SpendRecord
from sluicegate.gateway.spend.db_sink import DatabaseSink

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade(database_url)
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def test_due_budgets_reset_once_and_others_keep_their_spend(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    spent = Decimal("1.234567890123456789")
    async with sessions() as session:
        session.add_all([
            VirtualKey(token="a" * 64, spend=spent, budget_duration="1d", budget_reset_at=NOW - timedelta(hours=1)),
            VirtualKey(token="b" * 64, spend=spent, budget_duration="1d", budget_reset_at=NOW + timedelta(hours=1)),
            VirtualKey(token="c" * 64, spend=spent),  # no budget window: spend is a running total
            User(user_id="new", spend=spent, budget_duration="7d"),  # no reset time yet: one is set, spend kept
            Team(team_id="t", spend=spent, budget_duration="1h", budget_reset_at=NOW - timedelta(minutes=1)),
            Budget(budget_id="shared", budget_duration="30d", budget_reset_at=NOW - timedelta(days=1)),
        ])
        await session.flush()
        session.add_all([Organization(organization_id="o", organization_alias="o", budget_id="shared", spend=spent),
                         EndUser(user_id="customer", budget_id="shared", spend=spent)])
        await session.commit()

    assert await reset_due_budgets(sessions, NOW) == 5  # key a, team t, user new (set), org o, end user
    assert await reset_due_budgets(sessions, NOW) == 0  # a second pass (another instance) finds nothing due

    async with sessions() as session:
        key_a, key_b, key_c = [await session.get(VirtualKey, t * 64) for t in "abc"]
        user, team = await session.get(User, "new"), await session.get(Team, "t")
        budget, org = await session.get(Budget, "shared"), await session.get(Organization, "o")
        end_user = await session.get(EndUser, "customer")
    assert (key_a.spend, key_a.budget_reset_at) == (0, NOW + timedelta(hours=23))
    assert (key_b.spend, key_c.spend) == (spent, spent)
    # A first window ends where the admission ledger's window for a row without a reset time ends: same counter.
    assert (user.spend, user.budget_reset_at) == (spent, first_reset(parse_duration("7d"), NOW))
    assert (team.spend, team.budget_reset_at) == (0, NOW + timedelta(minutes=59))  # no drift
    assert budget.budget_reset_at == NOW + timedelta(days=29)
    assert (org.spend, end_user.spend) == (0, 0)


# Spend around a reset. A window ends at BOUNDARY; the pass runs at PASS_AT, later (every 60 s in the gateway).
# Spend of requests started at or after BOUNDARY belongs to the new window, whenever it is stored: before the pass,
# during it or after it.

BOUNDARY = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PASS_AT = BOUNDARY + timedelta(seconds=30)
NEXT = BOUNDARY + timedelta(hours=1)
IMPORTED = Decimal("5")  # spend of the old window that no spend log explains (e.g. imported from LiteLLM)
TINY = Decimal("0.000000123456789012")  # 18 decimals: every digit must survive
KEYS = [c * 64 for c in "def"]
USERS = ["ann", "ben"]
TEAMS = ["red", "blue"]
ORGS = ["org-red", "org-blue"]
CUSTOMERS = ["cust-1", "cust-2"]
_ENTITIES = ((VirtualKey, (VirtualKey.token,)), (User, (User.user_id,)), (Team, (Team.team_id,)),
             (Organization, (Organization.organization_id,)),
             (TeamMembership, (TeamMembership.user_id, TeamMembership.team_id)), (EndUser, (EndUser.user_id,)))


async def _hourly_rows(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Keys, users and teams with hourly budgets, and organisations, members and end users on a shared hourly
    budget row: every window ends at BOUNDARY, every row holds IMPORTED."""
    window = {"budget_duration": "1h", "budget_reset_at": BOUNDARY}
    async with sessions() as session, session.begin():
        session.add(Budget(budget_id="hourly", **window))
        session.add_all([VirtualKey(token=k, spend=IMPORTED, **window) for k in KEYS])
        session.add_all([User(user_id=u, spend=IMPORTED, **window) for u in USERS])
        await session.flush()
        session.add_all([Organization(organization_id=o, organization_alias=o, budget_id="hourly", spend=IMPORTED)
                         for o in ORGS])
        await session.flush()
        session.add_all([Team(team_id=t, organization_id=o, spend=IMPORTED, **window)
                         for t, o in zip(TEAMS, ORGS, strict=True)])
        await session.flush()
        session.add_all([TeamMembership(user_id=u, team_id=t, budget_id="hourly", spend=IMPORTED)
                         for u in USERS for t in TEAMS])
        session.add_all([EndUser(user_id=c, budget_id="hourly", spend=IMPORTED) for c in CUSTOMERS])


def _spend(i: int, start: datetime, prefix: str) -> SpendRecord:
    """Request `i`, started at `start`: rotates through keys, users, teams (and their orgs) and end users."""
    team = (i // 2) % 2
    return SpendRecord(request_id=f"{prefix}-{i}", model="openai/gpt-4o-mini", spend_usd=TINY * (i + 1),
                       start_time=start, end_time=start + timedelta(seconds=1), api_key_hash=KEYS[i % 3],
                       user_id=USERS[i % 2], team_id=TEAMS[team], org_id=ORGS[team], end_user=CUSTOMERS[i % 2])


def _expected(records: list[SpendRecord]) -> dict[tuple[str, tuple[str, ...]], Decimal]:
    """Every budgeted row's spend when its window holds exactly `records`."""
    totals = {(table.__tablename__, ident): Decimal(0) for table, ident in _all_rows()}
    for r in records:
        for name, ident in (("virtual_keys", (r.api_key_hash,)), ("users", (r.user_id,)), ("teams", (r.team_id,)),
                            ("organizations", (r.org_id,)), ("team_memberships", (r.user_id, r.team_id)),
                            ("end_users", (r.end_user,))):
            totals[(name, ident)] += r.spend_usd
    return totals


def _all_rows() -> list[tuple[Any, tuple[str, ...]]]:
    return ([(VirtualKey, (k,)) for k in KEYS] + [(User, (u,)) for u in USERS] + [(Team, (t,)) for t in TEAMS]
            + [(Organization, (o,)) for o in ORGS] + [(TeamMembership, (u, t)) for u in USERS for t in TEAMS]
            + [(EndUser, (c,)) for c in CUSTOMERS])


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, tuple[str, ...]], Decimal]:
    stored = {}
    async with sessions() as session:
        for table, pk in _ENTITIES:
            for row in await session.execute(select(*pk, table.spend)):
                stored[(table.__tablename__, tuple(row[:-1]))] = row[-1]
    return stored


async def _logs(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Decimal]:
    async with sessions() as session:
        return {r: s for r, s in await session.execute(select(SpendLog.request_id, SpendLog.spend))}


async def _windows_end(sessions: async_sessionmaker[AsyncSession]) -> set[datetime | None]:
    async with sessions() as session:
        return {at for table in (VirtualKey, User, Team, Budget) for at in await session.scalars(
            select(table.budget_reset_at))}


async def test_spend_of_the_new_window_stored_before_the_pass_survives_it(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await _hourly_rows(sessions)
    sink = DatabaseSink(sessions)
    old = [_spend(i, BOUNDARY - timedelta(minutes=10), "old") for i in range(6)]
    new = [_spend(i, BOUNDARY + timedelta(seconds=i), "new") for i in range(12)]
    await sink.store(old)
    await sink.store(new)  # flushed between the boundary and the pass
    before = await _logs(sessions)

    assert await reset_due_budgets(sessions, PASS_AT) == 15
    assert await _stored(sessions) == _expected(new)
    assert await _windows_end(sessions) == {NEXT}
    assert await _logs(sessions) == before  # the reset never touches a spend log

    # The ledger has counted the new window since BOUNDARY, under the name a principal reloaded after the reset
    # (or a restarted gateway) also uses, from the spend the database now holds.
    key = KEYS[0]
    async with sessions() as session:
        row = await session.get(VirtualKey, key)
    assert row is not None
    loaded_before = Limits(f"key:{key}", spend=IMPORTED, budget_duration="1h", budget_reset_at=BOUNDARY)
    loaded_after = Limits(f"key:{key}", spend=row.spend, budget_duration="1h", budget_reset_at=row.budget_reset_at)
    window, base = budget_window(loaded_before, PASS_AT)
    assert base == 0
    assert budget_window(loaded_after, PASS_AT) == (window, _expected(new)[("virtual_keys", (key,))])

    # A request of the old window stored only after the pass counts in the new one: too much, never too little.
    late = _spend(0, BOUNDARY - timedelta(seconds=1), "late")
    await sink.store([late])
    assert await _stored(sessions) == _expected([*new, late])


class _Gate:
    """Marks when a session's transaction has run its first statement starting with `statement`; with `hold`, also
    stops the transaction there (keeping its locks) until the test opens the gate."""

    def __init__(self, statement: str, *, hold: bool) -> None:
        self.statement = statement.upper()
        self.hold = hold
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()

    def sessions(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        gate = self

        class GatedSession(AsyncSession):
            async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
                result = await super().execute(statement, *args, **kwargs)
                if not gate.reached.is_set() and str(statement).lstrip().upper().startswith(gate.statement):
                    gate.reached.set()
                    if gate.hold:
                        await gate.opened.wait()
                return result

        return async_sessionmaker(engine, class_=GatedSession, expire_on_commit=False)


async def _until_one_waits_for_a_lock(engine: AsyncEngine) -> None:
    """PostgreSQL: return once a transaction in this database waits for a row lock (the interleaving under test
    has happened). SQLite has no such view; there the writers are serialised by the database's one write lock."""
    if engine.dialect.name != "postgresql":
        return
    query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                 "AND wait_event_type = 'Lock'")
    for _ in range(2000):
        async with engine.connect() as connection:  # a new transaction each time: the view is cached per one
            if await connection.scalar(query):
                return
        await asyncio.sleep(0.005)
    raise AssertionError("no transaction ever waited for a lock")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def test_a_pass_waits_for_a_batch_holding_the_rows_and_keeps_its_spend(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    await _hourly_rows(sessions)
    await DatabaseSink(sessions).store([_spend(i, BOUNDARY - timedelta(minutes=1), "old") for i in range(4)])
    new = [_spend(i, BOUNDARY + timedelta(seconds=1), "new") for i in range(8)]
    batch_gate = _Gate("INSERT INTO daily_spend", hold=True)  # its last statement: every lock is held
    reset_gate = _Gate("SELECT", hold=False)

    async with asyncio.timeout(30), asyncio.TaskGroup() as tasks:
        tasks.create_task(DatabaseSink(batch_gate.sessions(engine)).store(new))
        await batch_gate.reached.wait()
        resetting = tasks.create_task(reset_due_budgets(reset_gate.sessions(engine), PASS_AT))
        await reset_gate.reached.wait()  # it has read what is due, without the batch
        await _until_one_waits_for_a_lock(engine)
        batch_gate.opened.set()
    assert resetting.result() == 15

    assert await _stored(sessions) == _expected(new)
    assert await _windows_end(sessions) == {NEXT}


async def test_a_batch_arriving_while_a_pass_holds_the_rows_is_added_after_it(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    await _hourly_rows(sessions)
    await DatabaseSink(sessions).store([_spend(i, BOUNDARY - timedelta(minutes=1), "old") for i in range(4)])
    new = [_spend(i, BOUNDARY + timedelta(seconds=1), "new") for i in range(8)]
    reset_gate = _Gate("UPDATE virtual_keys", hold=True)

    async with asyncio.timeout(30), asyncio.TaskGroup() as tasks:
        resetting = tasks.create_task(reset_due_budgets(reset_gate.sessions(engine), PASS_AT))
        await reset_gate.reached.wait()
        tasks.create_task(DatabaseSink(sessions).store(new))
        await _until_one_waits_for_a_lock(engine)
        reset_gate.opened.set()
    assert resetting.result() == 15

    assert await _stored(sessions) == _expected(new)


async def test_no_spend_is_lost_to_passes_racing_many_batches(engine: AsyncEngine) -> None:
    """Four writers (as after a restart, or several instances) store 40 batches of the new window while two
    instances run the pass; every row ends holding exactly its share of the new window's spend logs."""
    sessions = create_session_factory(engine)
    await _hourly_rows(sessions)
    old = [_spend(i, BOUNDARY - timedelta(minutes=5), "old") for i in range(30)]
    await DatabaseSink(sessions).store(old)
    new = [_spend(i, BOUNDARY + timedelta(milliseconds=i), "new") for i in range(200)]
    batches = [new[i:i + 5] for i in range(0, len(new), 5)]
    some_stored = asyncio.Event()
    stored = 0

    async def writer(mine: list[list[SpendRecord]]) -> None:
        nonlocal stored
        sink = DatabaseSink(sessions)
        for batch in mine:
            await sink.store(batch)
            stored += 1
            if stored == len(batches) // 4:
                some_stored.set()

    async def instance() -> int:
        await some_stored.wait()
        return await reset_due_budgets(sessions, PASS_AT)

    async with asyncio.timeout(50), asyncio.TaskGroup() as tasks:
        for w in range(4):
            tasks.create_task(writer(batches[w::4]))
        passes = [tasks.create_task(instance()) for _ in range(2)]

    assert sorted(p.result() for p in passes) == [0, 15]  # one instance reset each row, once
    assert await _stored(sessions) == _expected(new)
    assert await _logs(sessions) == {r.request_id: r.spend_usd for r in [*old, *new]}
