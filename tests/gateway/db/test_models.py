"""The tables on real SQLite and PostgreSQL: exact money, unique spend records, JSON, UTC times, cascades."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sluicegate.gateway.db.engine import create_engine, create_session_factory
from sluicegate.gateway.db.migrate import upgrade
from sluicegate.gateway.db.models import (
    DailySpend,
    SpendLog,
    Team,
    TeamMembership,
    User,
    VirtualKey,
)
from sluicegate.gateway.db.tokens import hash_key, key_name
from sluicegate.gateway.db.types import money_sum

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with create_session_factory(engine)() as session:
        yield session


def _spend_row(request_id: str, spend: Decimal, **extra: object) -> dict[str, object]:
    return {"request_id": request_id, "api_key": hash_key("sk-test-key"), "spend": spend, "start_time": T0,
            "end_time": T0, "model": "gpt-4o-mini", **extra}


async def test_tiny_spends_sum_exactly_over_many_rows(session: AsyncSession) -> None:
    tiny = Decimal("0.000000123456789")  # a float cannot hold this; 10,000 float additions drift
    await session.execute(insert(SpendLog), [_spend_row(f"req-{i}", tiny) for i in range(10_000)])
    await session.commit()

    total = await session.scalar(select(money_sum(SpendLog.spend)))
    assert total == Decimal("0.001234567890000000")
    assert total == tiny * 10_000
    assert await session.scalar(select(func.count()).select_from(SpendLog)) == 10_000


async def test_money_round_trips_every_digit(session: AsyncSession) -> None:
    amount = Decimal("12345678901234567890.123456789012345678")  # NUMERIC(38, 18) to the last digit
    session.add(User(user_id="u1", spend=amount, max_budget=Decimal("0.000000000000000001")))
    await session.commit()
    session.expunge_all()

    user = await session.get(User, "u1")
    assert user is not None
    assert user.spend == amount
    assert user.max_budget == Decimal("0.000000000000000001")


async def test_money_orders_and_compares_numerically_in_sql(session: AsyncSession) -> None:
    for user_id, spend, budget in (("nine", "9", "10"), ("ten", "10", "9.5"), ("half", "0.5", "0.5")):
        session.add(User(user_id=user_id, spend=Decimal(spend), max_budget=Decimal(budget)))
    await session.commit()

    by_spend = (await session.scalars(select(User.user_id).order_by(User.spend.desc()))).all()
    over_budget = (await session.scalars(select(User.user_id).where(User.spend >= User.max_budget)
                                         .order_by(User.user_id))).all()
    above_one = (await session.scalars(select(User.user_id).where(User.spend > Decimal(1))
                                       .order_by(User.user_id))).all()
    assert by_spend == ["ten", "nine", "half"]
    assert over_budget == ["half", "ten"]
    assert above_one == ["nine", "ten"]


async def test_money_sum_over_no_rows_is_null(session: AsyncSession) -> None:
    assert await session.scalar(select(money_sum(SpendLog.spend))) is None


async def test_a_replayed_spend_record_is_rejected(session: AsyncSession) -> None:
    await session.execute(insert(SpendLog), [_spend_row("req-1", Decimal("0.01"))])
    await session.commit()

    with pytest.raises(IntegrityError):
        await session.execute(insert(SpendLog), [_spend_row("req-1", Decimal("0.01"))])
    await session.rollback()
    assert await session.scalar(select(money_sum(SpendLog.spend))) == Decimal("0.01")


async def test_daily_spend_has_one_row_per_entity_day_and_dimensions(session: AsyncSession) -> None:
    row = {"entity_type": "team", "entity_id": "t1", "date": dt.date(2025, 3, 1), "api_key": hash_key("sk-a"),
           "spend": Decimal("1.5")}
    await session.execute(insert(DailySpend), [row])
    await session.execute(insert(DailySpend), [{**row, "model": "gpt-4o"}])  # another dimension: another row
    await session.commit()

    with pytest.raises(IntegrityError):  # absent dimensions are '' (not NULL), so they collide as they should
        await session.execute(insert(DailySpend), [row])
    await session.rollback()


async def test_key_row_keeps_json_lists_dicts_and_utc_times(session: AsyncSession) -> None:
    token = hash_key("sk-abcdefgh1234")
    expires = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    session.add(VirtualKey(
        token=token, key_name=key_name("sk-abcdefgh1234"), key_alias="ci", models=["gpt-4o", "claude-*"],
        metadata_={"env": "prod", "nested": {"n": 1}}, model_max_budget={"gpt-4o": {"budget_limit": "5.0"}},
        tags=["team-a"], permissions={"allow_pii": False}, expires=expires, tpm_limit=10_000_000_000,
    ))
    await session.commit()
    session.expunge_all()

    key = await session.get(VirtualKey, token)
    assert key is not None
    assert key.key_name == "sk-...1234"
    assert key.models == ["gpt-4o", "claude-*"]
    assert key.metadata_ == {"env": "prod", "nested": {"n": 1}}
    assert key.model_max_budget == {"gpt-4o": {"budget_limit": "5.0"}}
    assert key.expires == expires
    assert key.expires.tzinfo is UTC
    assert key.tpm_limit == 10_000_000_000  # BIGINT, as LiteLLM's tpm_limit
    assert key.spend == Decimal(0)
    assert key.blocked is False
    assert key.created_at.tzinfo is UTC


async def test_key_repr_never_shows_the_whole_hash(session: AsyncSession) -> None:
    token = hash_key("sk-secret-canary")
    key = VirtualKey(token=token, key_alias="a")

    assert token not in repr(key)
    assert "sk-secret-canary" not in repr(key)


async def test_deleting_a_team_removes_its_memberships(session: AsyncSession) -> None:
    session.add_all([User(user_id="u1"), Team(team_id="t1", team_alias="core")])
    await session.flush()
    session.add(TeamMembership(user_id="u1", team_id="t1", role="admin", spend=Decimal("0.25")))
    await session.commit()

    await session.execute(delete(Team).where(Team.team_id == "t1"))
    await session.commit()

    assert await session.scalar(select(func.count()).select_from(TeamMembership)) == 0


async def test_foreign_keys_are_enforced(session: AsyncSession) -> None:
    session.add(TeamMembership(user_id="nobody", team_id="no-team"))

    with pytest.raises(IntegrityError):
        await session.commit()
