"""Queries on reusable budgets: look-ups, pages, and who still points at a budget before it may be deleted."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.gateway.db.models import (
    Budget,
    EndUser,
    Organization,
    OrganizationMembership,
    TeamMembership,
    VirtualKey,
)

_REFERRERS = (("organizations", Organization.budget_id), ("keys", VirtualKey.budget_id),
              ("end users", EndUser.budget_id), ("team members", TeamMembership.budget_id),
              ("organisation members", OrganizationMembership.budget_id))


async def budgets_by_ids(session: AsyncSession, budget_ids: Collection[str]) -> dict[str, Budget]:
    if not budget_ids:
        return {}
    rows = await session.scalars(select(Budget).where(Budget.budget_id.in_(set(budget_ids))))
    return {row.budget_id: row for row in rows}


async def list_budgets(session: AsyncSession, *, offset: int, limit: int) -> list[Budget]:
    rows = await session.scalars(select(Budget).order_by(Budget.created_at, Budget.budget_id)
                                 .offset(offset).limit(limit))
    return list(rows)


async def budget_referrers(session: AsyncSession, budget_id: str) -> list[str]:
    """What still uses a budget ("2 organizations", …): one query, a count per kind of row."""
    counts = [select(func.count()).where(column == budget_id).scalar_subquery() for _, column in _REFERRERS]
    row = (await session.execute(select(*counts))).one()
    return [f"{count} {name}" for (name, _), count in zip(_REFERRERS, row, strict=True) if count]


async def delete_budgets(session: AsyncSession, budget_ids: Collection[str]) -> None:
    if budget_ids:
        await session.execute(delete(Budget).where(Budget.budget_id.in_(set(budget_ids))))


async def delete_unreferenced_budgets(session: AsyncSession, budget_ids: Collection[str | None]) -> None:
    """Delete those of `budget_ids` nothing points at any more (a removed member's own budget, …)."""
    ids = {budget_id for budget_id in budget_ids if budget_id}
    if not ids:
        return
    query = delete(Budget).where(Budget.budget_id.in_(ids))
    for _, column in _REFERRERS:
        query = query.where(Budget.budget_id.not_in(select(column).where(column.is_not(None))))
    await session.execute(query)
