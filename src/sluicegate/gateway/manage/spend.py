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
from sluicegate.gateway.db.queries.spend import ActivityFilter, LogFilter, Usage
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
    """Daily metrics with breakdowns by model, model group, provider, key and entity; `page_size` days per page.

    The metadata's totals cover every page; days without activity are left out. Returned as plain JSON-ready
    dicts in the shape of SpendAnalyticsPaginatedResponse: a month of every user's activity has tens of
    thousands of breakdown entries, too many to validate one model at a time.
    """
    start, end = _day(query.start_date, "start_date"), _day(query.end_date, "end_date")
    if start > end:
        raise BadRequestError("start_date is after end_date", param="start_date", code="invalid_date")
    api_key = hash_key(query.api_key) if query.api_key and not is_key_hash(query.api_key) else query.api_key
    where = ActivityFilter(entity_type=query.entity_type, start=start, end=end,
                           entity_ids=await _visible_entities(manage, query.entity_type, query.entity_ids),
                           exclude_ids=query.exclude_ids, model=query.model, api_key=api_key)
    rows = await queries.daily_activity(manage.session, where)
    days = sorted(((day, usage) for day, dimension, _, usage in rows if dimension is None), key=lambda d: d[0])
    total = Usage()
    for _, usage in days:
        total.add(usage)
    total_pages = max(1, math.ceil(len(days) / page_size))
    shown = days[(page - 1) * page_size:page * page_size]
    return {"results": await _results(manage, where.entity_type, shown, rows),
            "metadata": _metadata(total, page=page, total_pages=total_pages)}


_BREAKDOWN_FIELDS = {"model": "models", "model_group": "model_groups", "custom_llm_provider": "providers",
                     "api_key": "api_keys", "entity_id": "entities"}


async def _results(manage: Manage, entity_type: str, days: list[tuple[date, Usage]],
                   rows: list[tuple[date, str | None, str, Usage]]) -> list[dict[str, Any]]:
    results: dict[date, dict[str, Any]] = {
        day: {"date": day.isoformat(), "metrics": _metrics(usage),
              "breakdown": {"models": {}, "model_groups": {}, "mcp_servers": {}, "providers": {}, "api_keys": {},
                            "entities": {}}}
        for day, usage in days}
    for day, dimension, value, usage in rows:
        entry = results.get(day)
        if entry is not None and dimension is not None and value:
            entry["breakdown"][_BREAKDOWN_FIELDS[dimension]][value] = {"metrics": _metrics(usage), "metadata": {}}
    breakdowns = [entry["breakdown"] for entry in results.values()]
    labels = await queries.key_labels(manage.session, sorted({k for b in breakdowns for k in b["api_keys"]}))
    aliases = await queries.entity_aliases(manage.session, entity_type,
                                           sorted({e for b in breakdowns for e in b["entities"]}))
    alias_field = "team_alias" if entity_type == "team" else "organization_alias"
    for breakdown in breakdowns:
        for key, entry in breakdown["api_keys"].items():
            alias, team_id = labels.get(key, (None, None))
            entry["metadata"] = {"key_alias": alias, "team_id": team_id}
        if aliases:
            for ident, entry in breakdown["entities"].items():
                entry["metadata"] = {alias_field: aliases.get(ident)}
    return list(results.values())


def _metrics(usage: Usage) -> dict[str, Any]:
    """LiteLLM's SpendMetrics; spend as a JSON number, as LiteLLM sends it."""
    return {"spend": float(usage.spend), "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens, "cache_read_input_tokens": usage.cache_read_input_tokens,
            "cache_creation_input_tokens": usage.cache_creation_input_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            "successful_requests": usage.successful_requests, "failed_requests": usage.failed_requests,
            "api_requests": usage.api_requests}


def _metadata(total: Usage, *, page: int, total_pages: int) -> dict[str, Any]:
    return {"total_spend": float(total.spend), "total_prompt_tokens": total.prompt_tokens,
            "total_completion_tokens": total.completion_tokens,
            "total_tokens": total.prompt_tokens + total.completion_tokens,
            "total_api_requests": total.api_requests, "total_successful_requests": total.successful_requests,
            "total_failed_requests": total.failed_requests,
            "total_cache_read_input_tokens": total.cache_read_input_tokens,
            "total_cache_creation_input_tokens": total.cache_creation_input_tokens,
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

