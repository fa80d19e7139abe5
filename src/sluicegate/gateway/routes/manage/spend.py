"""Spend endpoints (LiteLLM's paths and parameters): /spend/logs, the daily-activity reports, /global/spend views."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from sluicegate.gateway.deps import ManageDep
from sluicegate.gateway.manage import spend
from sluicegate.gateway.manage.schemas.spend import (
    GlobalSpend,
    KeySpend,
    ModelSpend,
    SpendAnalyticsPaginatedResponse,
    SpendLogPublic,
    SpendLogsPage,
    TeamsSpend,
)

router = APIRouter(tags=["spend"])

Page = Annotated[int, Query(ge=1)]
Optional = Annotated[str | None, Query()]
# LiteLLM's bounds and default: daily rows (entity × day × key × model …) per page, not days
DailyRowsPage = Annotated[int, Query(ge=1, le=1000, description="daily rows per page")]
TopN = Annotated[int, Query(ge=1, le=1000)]


def _json(payload: dict[str, Any]) -> Response:
    """Already JSON-shaped (see manage/spend.py's `activity`): serialised as is, not validated again."""
    return Response(orjson.dumps(payload), media_type="application/json")


def _ids(value: str | None) -> list[str] | None:
    """LiteLLM's comma-separated id lists ("team-1,team-2")."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


@router.get("/spend/logs/v2", response_model=SpendLogsPage)
async def spend_logs_page(manage: ManageDep, api_key: Optional = None, user_id: Optional = None,
                          request_id: Optional = None, team_id: Optional = None, start_date: Optional = None,
                          end_date: Optional = None, page: Page = 1,
                          page_size: Annotated[int, Query(ge=1, le=100)] = 50) -> SpendLogsPage:
    query = spend.LogQuery(api_key, user_id, request_id, team_id, start_date, end_date)
    return await spend.log_page(manage, query, page=page, page_size=page_size)


@router.get("/spend/logs", response_model=list[SpendLogPublic])
async def spend_logs(manage: ManageDep, api_key: Optional = None, user_id: Optional = None,
                     request_id: Optional = None, team_id: Optional = None, start_date: Optional = None,
                     end_date: Optional = None, page: Page = 1,
                     page_size: Annotated[int, Query(ge=1, le=1000)] = 1000) -> list[SpendLogPublic]:
    query = spend.LogQuery(api_key, user_id, request_id, team_id, start_date, end_date)
    return await spend.log_list(manage, query, page=page, page_size=page_size)


@router.get("/user/daily/activity", response_model=SpendAnalyticsPaginatedResponse)
async def user_daily_activity(manage: ManageDep, start_date: Optional = None, end_date: Optional = None,
                              model: Optional = None, api_key: Optional = None, user_id: Optional = None,
                              page: Page = 1, page_size: DailyRowsPage = 50) -> Response:
    query = spend.ActivityQuery("user", [user_id] if user_id else None, start_date, end_date, model, api_key)
    return _json(await spend.activity(manage, query, page=page, page_size=page_size))


@router.get("/user/daily/activity/aggregated", response_model=SpendAnalyticsPaginatedResponse)
async def user_daily_activity_aggregated(manage: ManageDep, start_date: Optional = None, end_date: Optional = None,
                                         model: Optional = None, api_key: Optional = None,
                                         user_id: Optional = None) -> Response:
    """The whole range in one answer, one entry per day (what LiteLLM's "Your Usage" page asks for)."""
    query = spend.ActivityQuery("user", [user_id] if user_id else None, start_date, end_date, model, api_key)
    return _json(await spend.aggregated_activity(manage, query))


@router.get("/team/daily/activity", response_model=SpendAnalyticsPaginatedResponse)
async def team_daily_activity(manage: ManageDep, start_date: Optional = None, end_date: Optional = None,
                              model: Optional = None, api_key: Optional = None, team_ids: Optional = None,
                              exclude_team_ids: Optional = None, page: Page = 1,
                              page_size: DailyRowsPage = 50) -> Response:
    query = spend.ActivityQuery("team", _ids(team_ids), start_date, end_date, model, api_key,
                                _ids(exclude_team_ids) or ())
    return _json(await spend.activity(manage, query, page=page, page_size=page_size))


@router.get("/organization/daily/activity", response_model=SpendAnalyticsPaginatedResponse)
async def organization_daily_activity(manage: ManageDep, start_date: Optional = None, end_date: Optional = None,
                                      model: Optional = None, api_key: Optional = None,
                                      organization_ids: Optional = None, page: Page = 1,
                                      page_size: DailyRowsPage = 50) -> Response:
    query = spend.ActivityQuery("organization", _ids(organization_ids), start_date, end_date, model, api_key)
    return _json(await spend.activity(manage, query, page=page, page_size=page_size))


@router.get("/tag/daily/activity", response_model=SpendAnalyticsPaginatedResponse)
async def tag_daily_activity(manage: ManageDep, start_date: Optional = None, end_date: Optional = None,
                             model: Optional = None, api_key: Optional = None, tags: Optional = None,
                             page: Page = 1, page_size: DailyRowsPage = 50) -> Response:
    query = spend.ActivityQuery("tag", _ids(tags), start_date, end_date, model, api_key)
    return _json(await spend.activity(manage, query, page=page, page_size=page_size))


@router.get("/customer/daily/activity", response_model=SpendAnalyticsPaginatedResponse)
async def customer_daily_activity(manage: ManageDep, start_date: Optional = None, end_date: Optional = None,
                                  model: Optional = None, api_key: Optional = None, end_user_ids: Optional = None,
                                  page: Page = 1, page_size: DailyRowsPage = 50) -> Response:
    query = spend.ActivityQuery("end_user", _ids(end_user_ids), start_date, end_date, model, api_key)
    return _json(await spend.activity(manage, query, page=page, page_size=page_size))


@router.get("/global/spend", response_model=GlobalSpend)
async def global_spend(manage: ManageDep) -> GlobalSpend:
    return await spend.global_total(manage)


@router.get("/global/spend/keys", response_model=list[KeySpend])
async def global_spend_keys(manage: ManageDep, limit: TopN = 10) -> list[KeySpend]:
    return await spend.top_keys(manage, limit=limit)


@router.get("/global/spend/models", response_model=list[ModelSpend])
async def global_spend_models(manage: ManageDep, limit: TopN = 10) -> list[ModelSpend]:
    return await spend.top_models(manage, limit=limit)


@router.get("/global/spend/teams", response_model=TeamsSpend)
async def global_spend_teams(manage: ManageDep, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> TeamsSpend:
    return await spend.top_teams(manage, limit=limit)
