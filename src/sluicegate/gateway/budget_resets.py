"""Budget resets in the database: a row whose `budget_reset_at` has passed starts a new window with zero spend.

Admission does not wait for this (admission.py counts a passed window as new at once); the reset keeps the stored
`spend` meaning "spend in the current window", as in LiteLLM, for the management API and for principals loaded
later. Safe with several instances: each UPDATE names the reset time it replaces, so a row is reset once whoever
runs first. Spend that arrives while a reset runs is added after it (`spend = spend + x` on PostgreSQL; SQLite
has one writer), never lost; spend_logs keep every request whatever the resets do.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sluicegate.gateway.db.models import Budget, EndUser, Organization, Team, TeamMembership, User, VirtualKey
from sluicegate.gateway.durations import next_reset, parse_duration

log = logging.getLogger("sluicegate.gateway.budgets")
BATCH = 1000  # rows per table and pass; a backlog larger than this finishes on the next passes
# Rows that point at a budget row keep their spend in their own `spend` column.
_SPENDERS_OF_BUDGET: tuple[Any, ...] = (Organization, TeamMembership, EndUser)


async def reset_due_budgets(sessions: async_sessionmaker[AsyncSession], now: datetime | None = None) -> int:
    """Reset every due budget once (keys, users, teams, and the spenders of shared budget rows); returns how many
    rows started a new window. Rows with a duration but no reset time yet get one, keeping their spend."""
    now = now or datetime.now(UTC)
    changed = 0
    async with sessions() as session:
        for table, key in ((VirtualKey, VirtualKey.token), (User, User.user_id), (Team, Team.team_id)):
            changed += await _reset_table(session, table, key, now)
        changed += await _reset_budget_rows(session, now)
        await session.commit()
    return changed


def _due(table: Any, now: datetime) -> Any:
    return (select(table).where(table.budget_duration.is_not(None))
            .where((table.budget_reset_at.is_(None)) | (table.budget_reset_at <= now)).limit(BATCH))


def _windows(rows: list[Any], key_of: Callable[[Any], Any], now: datetime
             ) -> dict[tuple[str, datetime | None, datetime], list[Any]]:
    """Due rows grouped by (duration, old reset time, new reset time): one UPDATE per group."""
    groups: dict[tuple[str, datetime | None, datetime], list[Any]] = defaultdict(list)
    for row in rows:
        try:
            duration = parse_duration(row.budget_duration)
        except ValueError:  # imported or hand-edited: never reset, said once per pass
            log.warning("budget_duration %r of %s is not a duration: its budget does not reset",
                        row.budget_duration, key_of(row))
            continue
        groups[(row.budget_duration, row.budget_reset_at, next_reset(duration, now, row.budget_reset_at))].append(
            key_of(row))
    return groups


async def _reset_table(session: AsyncSession, table: Any, key: Any, now: datetime) -> int:
    rows = list((await session.scalars(_due(table, now))).all())
    changed = 0
    for (duration, old, new), ids in _windows(rows, lambda row: getattr(row, key.key), now).items():
        values: dict[str, Any] = {"budget_reset_at": new}
        if old is not None:  # a window ended: the next one starts from zero (a new row keeps what it spent)
            values["spend"] = Decimal(0)
        same_window = table.budget_reset_at.is_(None) if old is None else table.budget_reset_at == old
        result = await session.execute(update(table).where(key.in_(ids), table.budget_duration == duration,
                                                           same_window).values(**values))
        changed += result.rowcount or 0  # type: ignore[attr-defined]
    return changed


async def _reset_budget_rows(session: AsyncSession, now: datetime) -> int:
    budgets = list((await session.scalars(_due(Budget, now))).all())
    changed = 0
    for (duration, old, new), ids in _windows(budgets, lambda row: row.budget_id, now).items():
        same_window = Budget.budget_reset_at.is_(None) if old is None else Budget.budget_reset_at == old
        moved = await session.execute(update(Budget).where(Budget.budget_id.in_(ids),
                                                           Budget.budget_duration == duration, same_window)
                                      .values(budget_reset_at=new).returning(Budget.budget_id))
        reset_ids = list(moved.scalars())
        if old is None or not reset_ids:
            continue
        for spender in _SPENDERS_OF_BUDGET:
            result = await session.execute(update(spender).where(spender.budget_id.in_(reset_ids))
                                           .values(spend=Decimal(0)))
            changed += result.rowcount or 0  # type: ignore[attr-defined]
    return changed


async def run_budget_resets(sessions: async_sessionmaker[AsyncSession], on_reset: Callable[[], None],
                            interval_s: float = 60.0) -> None:
    """The gateway's background task: reset due budgets every `interval_s`; `on_reset` runs after any change (it
    empties the principal cache, so the new windows' limits load)."""
    while True:
        try:
            if await reset_due_budgets(sessions):
                on_reset()
        except Exception:  # a background worker: log and try again next time
            log.exception("budget reset pass failed; retrying in %.0f s", interval_s)
        await asyncio.sleep(interval_s)
