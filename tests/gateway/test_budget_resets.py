"""Budget resets in the database, on SQLite and PostgreSQL: due rows start a new window at zero, once, whoever
runs the pass; rows not due, and spend outside budgets, are untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sluicegate.gateway.budget_resets import reset_due_budgets
from sluicegate.gateway.db.engine import create_engine, create_session_factory
from sluicegate.gateway.db.migrate import upgrade
from sluicegate.gateway.db.models import Budget, EndUser, Organization, Team, User, VirtualKey

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
    assert (user.spend, user.budget_reset_at) == (spent, NOW + timedelta(days=7))
    assert (team.spend, team.budget_reset_at) == (0, NOW + timedelta(minutes=59))  # no drift
    assert budget.budget_reset_at == NOW + timedelta(days=29)
    assert (org.spend, end_user.spend) == (0, 0)
