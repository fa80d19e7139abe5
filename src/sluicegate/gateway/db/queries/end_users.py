"""Queries on end users (LiteLLM's customers): look-ups, pages and deletion in bulk."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.gateway.db.models import EndUser


async def end_users_by_ids(session: AsyncSession, user_ids: Collection[str]) -> dict[str, EndUser]:
    if not user_ids:
        return {}
    rows = await session.scalars(select(EndUser).where(EndUser.user_id.in_(set(user_ids))))
    return {row.user_id: row for row in rows}


async def list_end_users(session: AsyncSession, *, offset: int, limit: int) -> list[EndUser]:
    rows = await session.scalars(select(EndUser).order_by(EndUser.created_at, EndUser.user_id)
                                 .offset(offset).limit(limit))
    return list(rows)


async def delete_end_users(session: AsyncSession, user_ids: Collection[str]) -> None:
    if user_ids:
        await session.execute(delete(EndUser).where(EndUser.user_id.in_(set(user_ids))))
