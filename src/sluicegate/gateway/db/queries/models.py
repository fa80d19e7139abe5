"""Queries on models stored through /model/new: the whole catalog, and the cheap version check polls make first.

The catalog is read whole on purpose: every instance serves every stored model. It is small (one row per
deployment), and it is read only when its version changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.gateway.db.models import ProxyModel, utcnow

CatalogVersion = tuple[int, datetime | None]  # (rows, latest updated_at): changes with every write
_TICK = timedelta(microseconds=1)


async def all_models(session: AsyncSession, *, is_locking: bool = False) -> list[ProxyModel]:
    """Every stored model, oldest first. `is_locking`: hold the rows until the transaction ends (PostgreSQL's
    SELECT … FOR UPDATE; SQLite lets one writer at a time commit anyway), so two read-modify-writes of the same
    rows cannot lose one another's change."""
    query = select(ProxyModel).order_by(ProxyModel.created_at, ProxyModel.model_id)
    rows = await session.scalars(query.with_for_update() if is_locking else query)
    return list(rows)


async def catalog_version(session: AsyncSession) -> CatalogVersion:
    """One aggregate query: how many models are stored and when the latest write happened."""
    count, latest = (await session.execute(select(func.count(), func.max(ProxyModel.updated_at))
                                           .select_from(ProxyModel))).one()
    return int(count), latest


async def next_write_time(session: AsyncSession) -> datetime:
    """The `updated_at` for a write: now, or just after the latest stored one when another instance's clock ran
    ahead, so every write moves `catalog_version` forward whatever the clocks say."""
    latest = await session.scalar(select(func.max(ProxyModel.updated_at)))
    now = utcnow()
    return now if latest is None or latest < now else latest + _TICK
