"""Spend reports: who may read which spend rows, and the LiteLLM-shaped answers built from db/queries/spend.py.

Proxy admins and proxy admin viewers read everything. Anyone else reads only rows with its own user_id, and a
team filter names a team it belongs to (otherwise: 404, as for a team that does not exist). Reports by tag and by
customer are for readers of everything only. Read-only: nothing here changes a row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sluicegate.errors import BadRequestError, PermissionDeniedError
from sluicegate.gateway.db.queries import spend as queries
from sluicegate.gateway.db.queries.spend import ActivityFilter, DailyRow, DailySum, LogFilter
from sluicegate.gateway.db.tokens import hash_key, is_key_hash
from sluicegate.gateway.deps import Manage
from sluicegate.gateway.manage.access import is_org_admin, not_found, require_reader, team_role, teams_of
from sluicegate.gateway.manage.schemas.spend import (
    GlobalSpend,
    KeySpend,
    ModelSpend,
    SpendLogPublic,
    SpendLogsPage,
    TeamSpend,
    TeamsSpend,
)

GLOBAL_WINDOW_DAYS = 30  # /global/spend… cover the last 30 days, as LiteLLM's views do


@dataclass(frozen=True, slots=True)
class LogQuery:
    """The filters of /spend/logs as the client sent them (dates unparsed, the key plain or hashed)."""

    api_key: str | None = None
    user_id: str | None = None
    request_id: str | None = None
    team_id: str | None = None
    start_date: str | None = None
    end_date: str | None = None


async def log_page(manage: Manage, query: LogQuery, *, page: int, page_size: int) -> SpendLogsPage:
    """/spend/logs/v2: a page of the caller's visible rows and their total count."""
    where = await _visible_logs(manage, _log_filter(query))
    total = await queries.count_spend_logs(manage.session, where)
    rows = await queries.spend_logs(manage.session, where, offset=(page - 1) * page_size, limit=page_size)
    return SpendLogsPage(data=[SpendLogPublic.of(r) for r in rows], total=total, page=page, page_size=page_size,
                         total_pages=math.ceil(total / page_size))


async def log_list(manage: Manage, query: LogQuery, *, page: int, page_size: int) -> list[SpendLogPublic]:
    """/spend/logs: LiteLLM's bare list, bounded to one page."""
    where = await _visible_logs(manage, _log_filter(query))
    rows = await queries.spend_logs(manage.session, where, offset=(page - 1) * page_size, limit=page_size)
    return [SpendLogPublic.of(r) for r in rows]


def _log_filter(query: LogQuery) -> LogFilter:
    api_key = query.api_key
    if api_key and not is_key_hash(api_key):
        api_key = hash_key(api_key)  # LiteLLM takes the key or its hash
    return LogFilter(api_key=api_key, user_id=query.user_id, request_id=query.request_id, team_id=query.team_id,
                     start=_moment(query.start_date, "start_date", is_end=False),
                     end=_moment(query.end_date, "end_date", is_end=True))


async def _visible_logs(manage: Manage, where: LogFilter) -> LogFilter:
    caller = manage.caller
    if caller.may_read_all:
        return where
    user_id = _own_user(manage)
    if where.user_id not in (None, user_id):
        raise not_found("user", str(where.user_id))
    if where.team_id is not None and await team_role(manage.session, caller, where.team_id) is None:
        raise not_found("team", where.team_id)
    return replace(where, user_id=user_id)


def _own_user(manage: Manage) -> str:
    if manage.caller.user_id is None:
        raise PermissionDeniedError("Spend reports need a key that belongs to a user (or a proxy admin)",
                                    code="no_user")
    return manage.caller.user_id


def _moment(value: str | None, name: str, *, is_end: bool) -> datetime | None:
    """A date ("2026-02-27": the whole day) or a time ("2026-02-27 13:45:00", ISO 8601), in UTC unless it says
    otherwise; an end becomes the exclusive bound just after it."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1) if is_end else day, time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequestError(f"{name} {value!r} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DD HH:MM:SS)",
                              param=name, code="invalid_date") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment + timedelta(microseconds=1) if is_end else moment


def _day(value: str | None, name: str) -> date:
    if not value:
        raise BadRequestError(f"{name} is required (YYYY-MM-DD)", param=name, code="missing_date")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise BadRequestError(f"{name} {value!r} is not a date (YYYY-MM-DD)", param=name,
                              code="invalid_date") from None


@dataclass(frozen=True, slots=True)
class ActivityQuery:
    """A daily-activity request: which entities (None: all the caller may see) and the common filters."""

    entity_type: str  # user, team, organization, tag, end_user
    entity_ids: Sequence[str] | None
    start_date: str | None
    end_date: str | None
    model: str | None = None
    api_key: str | None = None
    exclude_ids: Sequence[str] = ()


async def activity(manage: Manage, query: ActivityQuery, *, page: int, page_size: int) -> dict[str, Any]:
    """Daily metrics with breakdowns by model, model group, provider, key and entity, in LiteLLM's pages.

    A page is `page_size` daily rows (one per entity, day, key, model, model group and provider), newest day
    first, folded into per-day entries; its metrics and the metadata's totals sum that page's rows only, so
    summing pages (as LiteLLM's dashboard does) gives the range's totals, and a day may continue on the next page.
    The work per page is one count and one page of rows, however many entities there are. Returned as plain
    JSON-ready dicts in the shape of SpendAnalyticsPaginatedResponse (validating each entry would cost more
    than building it).
    """
    where = await _activity_filter(manage, query)
    total_rows, rows = await queries.daily_page(manage.session, where, offset=(page - 1) * page_size,
                                                limit=page_size)
    days, page_total = _fold(rows)
    await _label(manage, where.entity_type, days)
    total_pages = max(1, math.ceil(total_rows / page_size))
    return {"results": _results(days), "metadata": _metadata(page_total, page=page, total_pages=total_pages)}


async def aggregated_activity(manage: Manage, query: ActivityQuery) -> dict[str, Any]:
    """The whole range in one answer (LiteLLM's /user/daily/activity/aggregated): `activity`'s shape, one entry
    per day, totals over the range, and always page 1 of 1.

    The database does the folding: one sum per day, and one per day and value of each breakdown's dimension (one
    pass with grouping sets on PostgreSQL, six queries on SQLite), at most days × distinct values rows each,
    however many daily rows there are.
    """
    where = await _activity_filter(manage, query)
    days: dict[date, Day] = {}
    total = _zero()
    sums = await queries.daily_sums(manage.session, where, [dimension for _, dimension in _BREAKDOWNS])
    for row in sums[None]:
        days[row.date] = (_counters(row), _breakdown())
        _add(total, row)
    for field, dimension in _BREAKDOWNS:
        for row in sums[dimension]:
            # '' gets no entry, as in `_fold`; on SQLite (a query per dimension) a day first written after the
            # per-day query is left for the next request
            if row.value and row.date in days:
                days[row.date][1][field][row.value] = _counters(row)
    await _label(manage, where.entity_type, days)
    return {"results": _results(days), "metadata": _metadata(total, page=1, total_pages=1)}


async def _activity_filter(manage: Manage, query: ActivityQuery) -> ActivityFilter:
    """The daily rows `query` asks for and the caller may read; 400 for a missing, malformed or reversed range."""
    start, end = _day(query.start_date, "start_date"), _day(query.end_date, "end_date")
    if start > end:
        raise BadRequestError("start_date is after end_date", param="start_date", code="invalid_date")
    api_key = hash_key(query.api_key) if query.api_key and not is_key_hash(query.api_key) else query.api_key
    return ActivityFilter(entity_type=query.entity_type, start=start, end=end,
                          entity_ids=await _visible_entities(manage, query.entity_type, query.entity_ids),
                          exclude_ids=query.exclude_ids, model=query.model, api_key=api_key)


# Running sums of a set of daily rows, in DailyRow's order from spend on: spend, prompt, completion, cache read,
# cache creation, requests, successes, failures. A list, not an object: a page folds each row into six of them.
Counters = list[Any]
Day = tuple[Counters, dict[str, Any]]  # a day's counters; its breakdown, field → value → counters (→ entry)
_BREAKDOWNS = (("models", "model"), ("model_groups", "model_group"), ("providers", "custom_llm_provider"),
               ("api_keys", "api_key"), ("entities", "entity_id"))


def _fold(rows: list[DailyRow]) -> tuple[dict[date, Day], Counters]:
    """Each day's counters and breakdown, in the rows' order (newest first); and the counters of all the rows."""
    days: dict[date, Day] = {}
    total = _zero()
    for row in rows:
        day = days.get(row.date)
        if day is None:
            day = days[row.date] = (_zero(), _breakdown())
        _add(total, row)
        _add(day[0], row)
        breakdown = day[1]
        for field, dimension in _BREAKDOWNS:
            value = getattr(row, dimension)
            if value:  # '' stands for none (the columns are NOT NULL) and gets no entry
                entries = breakdown[field]
                counters = entries.get(value)
                if counters is None:
                    counters = entries[value] = _zero()
                _add(counters, row)
    return days, total


def _breakdown() -> dict[str, Any]:
    return {"models": {}, "model_groups": {}, "mcp_servers": {}, "providers": {}, "api_keys": {}, "entities": {}}


def _zero() -> Counters:
    return [Decimal(0), 0, 0, 0, 0, 0, 0, 0]


def _counters(row: DailySum) -> Counters:
    counters = _zero()
    _add(counters, row)
    return counters


def _add(counters: Counters, row: DailyRow | DailySum) -> None:
    counters[0] += row.spend
    counters[1] += row.prompt_tokens
    counters[2] += row.completion_tokens
    counters[3] += row.cache_read_input_tokens
    counters[4] += row.cache_creation_input_tokens
    counters[5] += row.api_requests
    counters[6] += row.successful_requests
    counters[7] += row.failed_requests


async def _label(manage: Manage, entity_type: str, days: dict[date, Day]) -> None:
    """Turn each breakdown entry's counters into LiteLLM's {"metrics", "metadata"}: keys get their alias and team,
    teams and organisations their alias (looked up for this page's keys and entities only)."""
    breakdowns = [breakdown for _, breakdown in days.values()]
    labels = await queries.key_labels(manage.session, sorted({k for b in breakdowns for k in b["api_keys"]}))
    aliases = await queries.entity_aliases(manage.session, entity_type,
                                           sorted({e for b in breakdowns for e in b["entities"]}))
    alias_field = "team_alias" if entity_type == "team" else "organization_alias"
    for breakdown in breakdowns:
        for field, entries in breakdown.items():
            for value, counters in entries.items():
                if field == "api_keys":
                    alias, team_id = labels.get(value, (None, None))
                    metadata: dict[str, Any] = {"key_alias": alias, "team_id": team_id}
                elif field == "entities" and aliases:
                    metadata = {alias_field: aliases.get(value)}
                else:
                    metadata = {}
                entries[value] = {"metrics": _metrics(counters), "metadata": metadata}


def _results(days: dict[date, Day]) -> list[dict[str, Any]]:
    return [{"date": day.isoformat(), "metrics": _metrics(counters), "breakdown": breakdown}
            for day, (counters, breakdown) in days.items()]


def _metrics(counters: Counters) -> dict[str, Any]:
    """LiteLLM's SpendMetrics; spend as a JSON number, as LiteLLM sends it."""
    spend, prompt, completion, cache_read, cache_creation, requests, successes, failures = counters
    return {"spend": float(spend), "prompt_tokens": prompt, "completion_tokens": completion,
            "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_creation,
            "total_tokens": prompt + completion, "successful_requests": successes, "failed_requests": failures,
            "api_requests": requests}


def _metadata(total: Counters, *, page: int, total_pages: int) -> dict[str, Any]:
    spend, prompt, completion, cache_read, cache_creation, requests, successes, failures = total
    return {"total_spend": float(spend), "total_prompt_tokens": prompt, "total_completion_tokens": completion,
            "total_tokens": prompt + completion, "total_api_requests": requests,
            "total_successful_requests": successes, "total_failed_requests": failures,
            "total_cache_read_input_tokens": cache_read, "total_cache_creation_input_tokens": cache_creation,
            "page": page, "total_pages": total_pages, "has_more": page < total_pages}


async def _visible_entities(manage: Manage, entity_type: str, ids: Sequence[str] | None) -> Sequence[str] | None:
    caller = manage.caller
    if caller.may_read_all:
        return ids
    if entity_type == "user":
        user_id = _own_user(manage)
        if ids is not None and any(i != user_id for i in ids):
            raise not_found("user", next(i for i in ids if i != user_id))
        return [user_id]
    if entity_type == "team":
        if ids is None:
            return await teams_of(manage.session, _own_user(manage))
        for team_id in ids:
            if await team_role(manage.session, caller, team_id) is None:
                raise not_found("team", team_id)
        return ids
    if entity_type == "organization" and ids:
        for organization_id in ids:
            if not await is_org_admin(manage.session, caller, organization_id):
                raise not_found("organization", organization_id)
        return ids
    require_reader(caller, f"read the {entity_type.replace('_', ' ')} activity of every {entity_type}")
    return ids


async def global_total(manage: Manage) -> GlobalSpend:
    require_reader(manage.caller, "read the gateway's total spend")
    return GlobalSpend(spend=await queries.global_spend(manage.session, _window_start()))


async def top_keys(manage: Manage, *, limit: int) -> list[KeySpend]:
    require_reader(manage.caller, "read every key's spend")
    top = await queries.top_spenders(manage.session, "key", "entity_id", _window_start(), limit)
    names = await queries.key_names(manage.session, [key for key, _ in top])
    return [KeySpend(api_key=key, total_spend=spend, key_alias=names.get(key, (None, None))[0],
                     key_name=names.get(key, (None, None))[1]) for key, spend in top]


async def top_models(manage: Manage, *, limit: int) -> list[ModelSpend]:
    require_reader(manage.caller, "read every model's spend")
    top = await queries.top_spenders(manage.session, queries.GLOBAL, "model", _window_start(), limit)
    return [ModelSpend(model=model, total_spend=spend) for model, spend in top]


async def top_teams(manage: Manage, *, limit: int) -> TeamsSpend:
    require_reader(manage.caller, "read every team's spend")
    since = _window_start()
    top = await queries.top_spenders(manage.session, "team", "entity_id", since, limit)
    ids = [team_id for team_id, _ in top]
    aliases = await queries.entity_aliases(manage.session, "team", ids)
    names = {team_id: aliases.get(team_id) or team_id for team_id in ids}
    per_day: dict[date, dict[str, Decimal]] = {}
    for day, team_id, spend in await queries.daily_spend_of(manage.session, "team", ids, since):
        per_day.setdefault(day, {})[names[team_id]] = spend
    daily = [{"date": day.isoformat(), **{name: float(spend) for name, spend in spends.items()}}
             for day, spends in sorted(per_day.items())]
    return TeamsSpend(daily_spend=daily, teams=[names[t] for t in ids],
                      total_spend_per_team=[TeamSpend(team_id=names[t], total_spend=s) for t, s in top])


def _window_start() -> date:
    return datetime.now(UTC).date() - timedelta(days=GLOBAL_WINDOW_DAYS)

