"""Reading spend: pages of the spend log, daily activity from `daily_spend`, and the top-N views of /global/spend.

Every query is bounded (a page, a LIMIT, or one row per day and entity) and served by an index of db/models.py:
spend_logs (start_time, request_id) and (user_id | team_id | api_key, start_time); daily_spend's unique
(entity_type, entity_id, date, …) and (date). Access control is not here: callers pass the filters
manage/spend.py decided on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, ColumnElement, Select, and_, cast, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.gateway.db.models import DailySpend, Organization, SpendLog, Team, VirtualKey
from sluicegate.gateway.db.types import money_sum

ZERO = Decimal(0)
GLOBAL = "global"  # daily_spend's whole-gateway rows (written by spend/db_sink.py), entity_id ""


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which spend-log rows: every field that is not None must match; `end` is exclusive."""

    api_key: str | None = None
    user_id: str | None = None
    request_id: str | None = None
    team_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def _log_conditions(where: LogFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for column, value in ((SpendLog.api_key, where.api_key), (SpendLog.user_id, where.user_id),
                          (SpendLog.request_id, where.request_id), (SpendLog.team_id, where.team_id)):
        if value is not None:
            conditions.append(column == value)
    if where.start is not None:
        conditions.append(SpendLog.start_time >= where.start)
    if where.end is not None:
        conditions.append(SpendLog.start_time < where.end)
    return conditions


async def spend_logs(session: AsyncSession, where: LogFilter, *, offset: int, limit: int) -> list[SpendLog]:
    """One page of matching rows, newest first (start_time, then request_id, both descending)."""
    query = (select(SpendLog).where(*_log_conditions(where))
             .order_by(SpendLog.start_time.desc(), SpendLog.request_id.desc()).offset(offset).limit(limit))
    return list(await session.scalars(query))


async def count_spend_logs(session: AsyncSession, where: LogFilter) -> int:
    query = select(func.count()).select_from(SpendLog).where(*_log_conditions(where))
    return int(await session.scalar(query) or 0)


class DailyRow(NamedTuple):
    """One daily_spend row as the activity reports read it: its day, dimensions and counters."""

    date: date
    entity_id: str
    api_key: str
    model: str
    model_group: str
    custom_llm_provider: str
    spend: Decimal
    prompt_tokens: int
    completion_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    api_requests: int
    successful_requests: int
    failed_requests: int


_DAILY_COLUMNS = tuple(getattr(DailySpend, name) for name in DailyRow._fields)


@dataclass(frozen=True, slots=True)
class ActivityFilter:
    """Which daily rows: one entity type, optionally some of its entities, an inclusive date range, and filters."""

    entity_type: str  # key, user, team, organization, end_user, tag, global
    start: date
    end: date
    entity_ids: Sequence[str] | None = None  # None: every entity of the type
    exclude_ids: Sequence[str] = ()
    model: str | None = None
    api_key: str | None = None


def _activity(query: Select[*tuple[Any, ...]], where: ActivityFilter) -> Select[*tuple[Any, ...]]:
    query = query.where(DailySpend.entity_type == where.entity_type, DailySpend.date >= where.start,
                        DailySpend.date <= where.end)
    if where.entity_ids is not None:
        query = query.where(DailySpend.entity_id.in_(where.entity_ids))
    if where.exclude_ids:
        query = query.where(DailySpend.entity_id.not_in(where.exclude_ids))
    if where.model is not None:
        query = query.where(DailySpend.model == where.model)
    if where.api_key is not None:
        query = query.where(DailySpend.api_key == where.api_key)
    return query


async def daily_page(session: AsyncSession, where: ActivityFilter, *, offset: int,
                     limit: int) -> tuple[int, list[DailyRow]]:
    """How many daily rows match, and one page of them: newest day first, then by id (so pages never overlap),
    as LiteLLM pages its daily tables.

    The page's ids are chosen from (date, id) alone and only those rows are read whole, so a deep page sorts
    narrow pairs rather than every matching row. Nothing is read past the last row.
    """
    await _custom_plans(session)
    total = int(await session.scalar(_activity(select(func.count()).select_from(DailySpend), where)) or 0)
    if offset >= total:
        return total, []
    page = (_activity(select(DailySpend.id), where)
            .order_by(DailySpend.date.desc(), DailySpend.id).offset(offset).limit(limit))
    query = (select(*_DAILY_COLUMNS).where(DailySpend.id.in_(page.scalar_subquery()))
             .order_by(DailySpend.date.desc(), DailySpend.id))
    return total, [DailyRow(*row) for row in await session.execute(query)]


class DailySum(NamedTuple):
    """The summed counters of one day's matching daily rows, or of those with one value of a dimension."""

    date: date
    value: str  # the dimension's value ('' when summed per day only)
    spend: Decimal
    prompt_tokens: int
    completion_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    api_requests: int
    successful_requests: int
    failed_requests: int


# Cast back to BIGINT: PostgreSQL's SUM of a BIGINT is a NUMERIC, which asyncpg would hand over as a Decimal.
_COUNTS = tuple(cast(func.sum(getattr(DailySpend, name)), BigInteger) for name in DailySum._fields[3:])


async def daily_sums(session: AsyncSession, where: ActivityFilter,
                     dimensions: Sequence[str]) -> dict[str | None, list[DailySum]]:
    """The matching daily rows summed per day (under None), and per day and value of each of `dimensions` (model,
    model_group, custom_llm_provider, api_key, entity_id): newest day first, at most one sum per day and value,
    however many rows there are.

    PostgreSQL does it in one pass (GROUP BY GROUPING SETS: 91 ms where six queries took 560 ms over a month of
    200 users' rows, benchmarks/spend_queries.py); SQLite, which has no grouping sets, in one query each."""
    await _custom_plans(session)
    if session.get_bind().dialect.name != "postgresql":
        return {dimension: await _sums_by(session, where, dimension) for dimension in (None, *dimensions)}
    columns = [getattr(DailySpend, dimension) for dimension in dimensions]
    sets = [[DailySpend.date], *([DailySpend.date, column] for column in columns)]
    which = func.grouping(*columns).label("which")  # a bit per dimension, set when the row is not grouped by it
    query = (_activity(select(DailySpend.date, *columns, which, money_sum(DailySpend.spend), *_COUNTS), where)
             .group_by(func.grouping_sets(*(tuple_(*keys) for keys in sets))))
    every = (1 << len(columns)) - 1
    by_bits = {every: None, **{every ^ (1 << (len(columns) - 1 - i)): d for i, d in enumerate(dimensions)}}
    sums: dict[str | None, list[DailySum]] = {dimension: [] for dimension in (None, *dimensions)}
    position = {dimension: 1 + i for i, dimension in enumerate(dimensions)}
    which_at = 1 + len(columns)
    for row in await session.execute(query):  # 20,000 rows for a month of every user: kept lean
        dimension = by_bits[row[which_at]]
        value = "" if dimension is None else row[position[dimension]]
        sums[dimension].append(DailySum(row[0], value, row[which_at + 1] or ZERO, *row[which_at + 2:]))
    for found in sums.values():  # newest day first, then by value, as _sums_by orders them
        found.sort(key=lambda one: one.value)
        found.sort(key=lambda one: one.date, reverse=True)
    return sums


async def _sums_by(session: AsyncSession, where: ActivityFilter, dimension: str | None) -> list[DailySum]:
    keys = [DailySpend.date] if dimension is None else [DailySpend.date, getattr(DailySpend, dimension)]
    query = (_activity(select(*keys, money_sum(DailySpend.spend), *_COUNTS), where)
             .group_by(*keys).order_by(DailySpend.date.desc(), *keys[1:]))
    sums = []
    for row in await session.execute(query):
        value = row[1] if dimension else ""
        sums.append(DailySum(row[0], value, row[len(keys)] or ZERO, *row[len(keys) + 1:]))
    return sums


async def _custom_plans(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # asyncpg prepares statements; after five runs PostgreSQL may switch to a generic plan, which cannot see
        # that a month of one entity type is a seventh of the month's rows and reads them all (4-7× slower).
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


async def key_labels(session: AsyncSession, api_keys: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """key hash → (key_alias, team_id) for the keys that still exist."""
    if not api_keys:
        return {}
    query = select(VirtualKey.token, VirtualKey.key_alias, VirtualKey.team_id).where(VirtualKey.token.in_(api_keys))
    return {token: (alias, team) for token, alias, team in await session.execute(query)}


async def entity_aliases(session: AsyncSession, entity_type: str, ids: Sequence[str]) -> dict[str, str | None]:
    """Display names of teams and organisations (other entity types have none)."""
    if not ids:
        return {}
    if entity_type == "team":
        query = select(Team.team_id, Team.team_alias).where(Team.team_id.in_(ids))
    elif entity_type == "organization":
        query = select(Organization.organization_id, Organization.organization_alias).where(
            Organization.organization_id.in_(ids))
    else:
        return {}
    return {ident: alias for ident, alias in await session.execute(query)}


async def global_spend(session: AsyncSession, since: date) -> Decimal:
    """Everything the gateway spent from `since` (inclusive) on."""
    query = select(money_sum(DailySpend.spend)).where(DailySpend.entity_type == GLOBAL, DailySpend.date >= since)
    return await session.scalar(query) or Decimal(0)


async def top_spenders(session: AsyncSession, entity_type: str, dimension: str, since: date,
                       limit: int) -> list[tuple[str, Decimal]]:
    """The `limit` values of `dimension` (entity_id, model, …) that spent most since `since`, in `entity_type` rows."""
    column = getattr(DailySpend, dimension)
    total = money_sum(DailySpend.spend).label("total")
    query = (select(column, total).where(DailySpend.entity_type == entity_type, DailySpend.date >= since)
             .group_by(column).order_by(total.desc(), column).limit(limit))
    return [(value, spend or Decimal(0)) for value, spend in await session.execute(query)]


async def daily_spend_of(session: AsyncSession, entity_type: str, ids: Sequence[str],
                         since: date) -> list[tuple[date, str, Decimal]]:
    """(day, entity id, spend) for the given entities since `since`, by day."""
    if not ids:
        return []
    query = (select(DailySpend.date, DailySpend.entity_id, money_sum(DailySpend.spend))
             .where(and_(DailySpend.entity_type == entity_type, DailySpend.entity_id.in_(ids),
                         DailySpend.date >= since))
             .group_by(DailySpend.date, DailySpend.entity_id).order_by(DailySpend.date))
    return [(day, ident, spend or Decimal(0)) for day, ident, spend in await session.execute(query)]


async def key_names(session: AsyncSession, api_keys: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """key hash → (key_alias, key_name) for the keys that still exist."""
    if not api_keys:
        return {}
    query = select(VirtualKey.token, VirtualKey.key_alias, VirtualKey.key_name).where(VirtualKey.token.in_(api_keys))
    return {token: (alias, name) for token, alias, name in await session.execute(query)}
