"""Budget resets in the database: a row whose `budget_reset_at` has passed starts a new window, holding only the
spend of requests started in that window.

Admission does not wait for this (admission.py counts a passed window as new at once); the reset keeps the stored
`spend` meaning "spend in the current window", as in LiteLLM, for the management API and for principals loaded
later. The pass runs after the boundary (every 60 s), so the new window has often been spent in already: a reset
row's spend becomes the sum of its spend logs started since the window began, not 0. Safe with several instances
(each UPDATE names the reset time it replaces, so a row is reset once whoever runs first) and with spend batches
stored meanwhile (db_sink.py): the pass locks its rows before summing the logs — PostgreSQL row locks taken in
the sink's order (table, then key), SQLite's one write lock taken by the pass's first statement — so a batch is
either committed and summed, or added after the pass. spend_logs are only read. A request started before the
boundary but stored after the pass counts in the new window: too much, never too little.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
from sluicegate.gateway.db.types import money_sum
from sluicegate.gateway.durations import Duration, first_reset, next_reset, parse_duration

log = logging.getLogger("sluicegate.gateway.budgets")
BATCH = 1000  # rows per table and pass; a backlog larger than this finishes on the next passes
# Tables with a budget of their own, in the order the spend sink locks them.
_BUDGETED: tuple[Any, ...] = (VirtualKey, User, Team)
# Rows that point at a budget row keep their spend in their own `spend` column; in the sink's lock order too.
_SPENDERS_OF_BUDGET: tuple[Any, ...] = (TeamMembership, Organization, EndUser)
# Where each table's spend comes from: the spend_logs columns the sink attributes a record by.
_LOG_COLUMNS: dict[Any, tuple[Any, ...]] = {
    VirtualKey: (SpendLog.api_key,), User: (SpendLog.user_id,), Team: (SpendLog.team_id,),
    TeamMembership: (SpendLog.user_id, SpendLog.team_id), Organization: (SpendLog.organization_id,),
    EndUser: (SpendLog.end_user,),
}
_Window = tuple[str, datetime | None, datetime]  # duration, old reset time, new reset time


async def reset_due_budgets(sessions: async_sessionmaker[AsyncSession], now: datetime | None = None) -> int:
    """Reset every due budget once (keys, users, teams, and the spenders of shared budget rows); returns how many
    rows started a new window. Rows with a duration but no reset time yet get one, keeping their spend."""
    now = now or datetime.now(UTC)
    async with sessions() as session:  # what is due, read without locks: the UPDATEs below check it again
        due = {table: _windows(list((await session.scalars(_due(table, now))).all()), table, now)
               for table in (*_BUDGETED, Budget)}
    changed = 0
    async with sessions() as session, session.begin():
        # No read before the first write: on SQLite that write takes the lock (waiting for a batch to finish);
        # a read first would make it fail instead ("database is locked") whenever a batch was being stored.
        for table in _BUDGETED:
            changed += await _reset_table(session, table, due[table])
        changed += await _reset_budget_rows(session, due[Budget])
    return changed


def _due(table: Any, now: datetime) -> Any:
    return (select(table).where(table.budget_duration.is_not(None))
            .where((table.budget_reset_at.is_(None)) | (table.budget_reset_at <= now)).limit(BATCH))


def _windows(rows: list[Any], table: Any, now: datetime) -> dict[_Window, list[tuple[Any, ...]]]:
    """Due rows' keys grouped by (duration, old reset time, new reset time): one UPDATE per group."""
    groups: dict[_Window, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        ident = table.__mapper__.primary_key_from_instance(row)
        try:
            duration = parse_duration(row.budget_duration)
        except ValueError:  # imported or hand-edited: never reset, said once per pass
            log.warning("budget_duration %r of %s %s is not a duration: its budget does not reset",
                        row.budget_duration, table.__tablename__, ident[0])
            continue
        old = row.budget_reset_at  # None: a first window, named as the admission ledger names it
        new = next_reset(duration, now, old) if old is not None else first_reset(duration, now)
        groups[(row.budget_duration, old, new)].append(tuple(ident))
    return groups


def _window_start(duration: Duration, old: datetime, new: datetime) -> datetime:
    """When the window ending at `new` began: the boundary before it, counted from `old` as `next_reset` counts."""
    if duration.unit != "mo":
        return new - (duration.after(old) - old)
    start = old
    while (following := duration.after(start)) < new:
        start = following
    return start


async def _reset_table(session: AsyncSession, table: Any, groups: dict[_Window, list[tuple[Any, ...]]]) -> int:
    if not groups:
        return 0
    (key,) = table.__mapper__.primary_key
    await _lock(session, table, key.in_([ident[0] for ids in groups.values() for ident in ids]))
    restarted: dict[datetime, list[tuple[Any, ...]]] = defaultdict(list)
    changed = 0
    for (duration, old, new), ids in groups.items():
        values: dict[str, Any] = {"budget_reset_at": new}
        if old is not None:  # a window ended: the next one starts from what was spent in it (a new row keeps all)
            values["spend"] = Decimal(0)
        same_window = table.budget_reset_at.is_(None) if old is None else table.budget_reset_at == old
        result = await session.execute(update(table).where(key.in_([ident[0] for ident in ids]),
                                                           table.budget_duration == duration, same_window)
                                       .values(**values).returning(key))
        reset = [(ident,) for ident in result.scalars()]
        changed += len(reset)
        if old is not None:
            restarted[_window_start(parse_duration(duration), old, new)] += reset
    await _add_window_spend(session, table, restarted)
    return changed


async def _reset_budget_rows(session: AsyncSession, groups: dict[_Window, list[tuple[Any, ...]]]) -> int:
    starts: dict[str, datetime] = {}  # budget row → when its new window began (rows that had a window only)
    for (duration, old, new), ids in groups.items():
        same_window = Budget.budget_reset_at.is_(None) if old is None else Budget.budget_reset_at == old
        moved = await session.execute(update(Budget).where(Budget.budget_id.in_([ident[0] for ident in ids]),
                                                           Budget.budget_duration == duration, same_window)
                                      .values(budget_reset_at=new).returning(Budget.budget_id))
        if old is not None:
            starts.update(dict.fromkeys(moved.scalars(), _window_start(parse_duration(duration), old, new)))
    if not starts:
        return 0
    changed = 0
    for spender in _SPENDERS_OF_BUDGET:  # every spender table at once, so that each is locked in key order
        pk = spender.__mapper__.primary_key
        await _lock(session, spender, spender.budget_id.in_(list(starts)))
        result = await session.execute(update(spender).where(spender.budget_id.in_(list(starts)))
                                       .values(spend=Decimal(0)).returning(spender.budget_id, *pk))
        restarted: dict[datetime, list[tuple[Any, ...]]] = defaultdict(list)
        for budget_id, *ident in result:
            restarted[starts[budget_id]].append(tuple(ident))
            changed += 1
        await _add_window_spend(session, spender, restarted)
    return changed


async def _lock(session: AsyncSession, table: Any, where: ColumnElement[bool]) -> None:
    """PostgreSQL: lock the rows in the order a spend batch locks them (primary key, code-point order = "C"), so a
    pass and a batch never deadlock. SQLite: nothing to do; the pass's first UPDATE took the one write lock."""
    if session.get_bind().dialect.name != "postgresql":
        return
    pk = table.__mapper__.primary_key
    await session.execute(select(*pk).where(where).order_by(*(c.collate("C") for c in pk)).with_for_update())


async def _add_window_spend(session: AsyncSession, table: Any,
                            restarted: dict[datetime, list[tuple[Any, ...]]]) -> None:
    """Give rows just set to 0 the spend their new window already holds: their spend logs started since it began.

    The rows are locked (by the UPDATE that reset them), so every batch that added to them has committed and its
    logs are visible here; a batch still running adds to them after this transaction commits."""
    pk = [column.key for column in table.__mapper__.primary_key]
    columns = _LOG_COLUMNS[table]
    amounts: list[dict[str, Any]] = []
    for start, idents in restarted.items():
        for chunk in _chunks(idents, BATCH):
            query = (select(*columns, money_sum(SpendLog.spend)).where(_matches(columns, chunk))
                     .where(SpendLog.start_time >= start).group_by(*columns))
            for *ident, spend in await session.execute(query):
                amounts.append({**dict(zip(pk, ident, strict=True)), "spend": spend})
    if amounts:
        await session.execute(update(table), amounts)  # by primary key


def _matches(columns: tuple[Any, ...], idents: Sequence[tuple[Any, ...]]) -> ColumnElement[bool]:
    if len(columns) == 1:
        return columns[0].in_([ident[0] for ident in idents])
    return tuple_(*columns).in_(idents)


def _chunks(items: list[tuple[Any, ...]], size: int) -> list[list[tuple[Any, ...]]]:
    return [items[start:start + size] for start in range(0, len(items), size)]


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
