"""Reading spend: pages of the spend log, daily activity from `daily_spend`, and the top-N views of /global/spend.

Every query is bounded (a page, a LIMIT, or one row per day and dimension) and served by an index of
db/models.py: spend_logs (start_time, request_id) and (user_id | team_id | api_key, start_time); daily_spend's
unique (entity_type, entity_id, date, …) and (date). Access control is not here: callers pass the filters
manage/spend.py decided on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, and_, cast, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.gateway.db.models import DailySpend, Organization, SpendLog, Team, VirtualKey
from sluicegate.gateway.db.types import money_sum

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


@dataclass(slots=True)
class Usage:
    """Summed daily_spend counters (LiteLLM's SpendMetrics, less total_tokens, which is prompt + completion)."""

    spend: Decimal = Decimal(0)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    api_requests: int = 0
    successful_requests: int = 0
    failed_requests: int = 0

    def add(self, other: Usage) -> None:
        for name in _USAGE_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_USAGE_FIELDS = tuple(f.name for f in fields(Usage))
# SUM of a BIGINT is a NUMERIC in PostgreSQL: cast back, or the driver builds a Decimal for every count.
_USAGE_SUMS = (money_sum(DailySpend.spend), *(cast(func.coalesce(func.sum(getattr(DailySpend, name)), 0), BigInteger)
                                              for name in _USAGE_FIELDS[1:]))


def _usage(values: Sequence[Any]) -> Usage:
    spend, prompt, completion, cache_read, cache_creation, requests, successes, failures = values
    return Usage(spend or Decimal(0), int(prompt), int(completion), int(cache_read), int(cache_creation),
                 int(requests), int(successes), int(failures))


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


BREAKDOWN_DIMENSIONS = ("model", "model_group", "custom_llm_provider", "api_key", "entity_id")


async def daily_activity(session: AsyncSession, where: ActivityFilter) -> list[tuple[date, str | None, str, Usage]]:
    """Summed usage per day, and per day and value of each BREAKDOWN_DIMENSION: (day, dimension, value, usage),
    where dimension None is the day's total. At most (1 + distinct values) rows per day of the range.

    PostgreSQL reads the rows once (GROUPING SETS); SQLite, which has none, once per dimension.
    """
    columns = [getattr(DailySpend, d) for d in BREAKDOWN_DIMENSIONS]
    if session.get_bind().dialect.name == "postgresql":
        # Tens of thousands of groups (every key × day of a month) would spill to disk at the default 4 MB.
        await session.execute(text("SET LOCAL work_mem = '32MB'"))
        sets = [tuple_(DailySpend.date)] + [tuple_(DailySpend.date, c) for c in columns]
        query = _activity(select(DailySpend.date, *columns, *_USAGE_SUMS), where).group_by(func.grouping_sets(*sets))
        rows = []
        for row in await session.execute(query):
            # Dimensions are NOT NULL, so the one non-NULL among them names the grouping set (none: the day).
            found = next(((d, v) for d, v in zip(BREAKDOWN_DIMENSIONS, row[1:6], strict=True) if v is not None),
                         (None, ""))
            rows.append((row[0], found[0], found[1], _usage(row[6:])))
        return rows
    totals = _activity(select(DailySpend.date, *_USAGE_SUMS), where).group_by(DailySpend.date)
    rows = [(row[0], None, "", _usage(row[1:])) for row in await session.execute(totals)]
    for dimension, column in zip(BREAKDOWN_DIMENSIONS, columns, strict=True):
        query = _activity(select(DailySpend.date, column, *_USAGE_SUMS), where).group_by(DailySpend.date, column)
        rows.extend((row[0], dimension, row[1], _usage(row[2:])) for row in await session.execute(query))
    return rows


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
