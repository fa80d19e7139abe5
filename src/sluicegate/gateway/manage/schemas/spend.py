"""Response shapes of the spend endpoints, with LiteLLM's field names (SpendLogs rows, SpendAnalyticsPaginatedResponse,
/global/spend views). Amounts are exact Decimals inside and JSON numbers on the wire, as LiteLLM sends them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer

from sluicegate.gateway.db.models import SpendLog

USD = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class SpendLogPublic(BaseModel):
    """One spend-log row as LiteLLM's /spend/logs returns it (`user`, `startTime`, `endTime` included)."""

    request_id: str
    call_type: str
    api_key: str  # the key's hash
    spend: USD
    total_tokens: int
    prompt_tokens: int
    completion_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    startTime: datetime
    endTime: datetime
    completionStartTime: datetime | None
    request_duration_ms: int | None
    model: str
    model_id: str | None
    model_group: str | None
    custom_llm_provider: str | None
    api_base: str | None
    user: str | None
    team_id: str | None
    organization_id: str | None
    end_user: str | None
    status: str
    cache_hit: str  # LiteLLM sends "True" / "False"
    session_id: str | None
    requester_ip_address: str | None
    request_tags: list[str]
    metadata: dict[str, Any]

    @classmethod
    def of(cls, row: SpendLog) -> SpendLogPublic:
        return cls(
            request_id=row.request_id, call_type=row.call_type, api_key=row.api_key, spend=row.spend,
            total_tokens=row.total_tokens, prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens,
            cache_read_input_tokens=row.cache_read_input_tokens,
            cache_creation_input_tokens=row.cache_creation_input_tokens, startTime=row.start_time,
            endTime=row.end_time, completionStartTime=row.completion_start_time,
            request_duration_ms=row.request_duration_ms, model=row.model, model_id=row.model_id,
            model_group=row.model_group, custom_llm_provider=row.custom_llm_provider, api_base=row.api_base,
            user=row.user_id, team_id=row.team_id, organization_id=row.organization_id, end_user=row.end_user,
            status=row.status, cache_hit=str(row.cache_hit), session_id=row.session_id,
            requester_ip_address=row.requester_ip_address, request_tags=list(row.request_tags or []),
            metadata=dict(row.metadata_ or {}),
        )


class SpendLogsPage(BaseModel):
    """/spend/logs/v2: one page of rows, newest first, and how many match in all."""

    data: list[SpendLogPublic]
    total: int
    page: int
    page_size: int
    total_pages: int


class SpendMetrics(BaseModel):
    spend: USD = Decimal(0)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    total_tokens: int = 0
    successful_requests: int = 0
    failed_requests: int = 0
    api_requests: int = 0


class MetricWithMetadata(BaseModel):
    metrics: SpendMetrics
    metadata: dict[str, Any] = Field(default_factory=dict)


class KeyMetadata(BaseModel):
    key_alias: str | None = None
    team_id: str | None = None


class KeyMetricWithMetadata(BaseModel):
    metrics: SpendMetrics
    metadata: KeyMetadata = Field(default_factory=KeyMetadata)


class BreakdownMetrics(BaseModel):
    models: dict[str, MetricWithMetadata] = Field(default_factory=dict)
    model_groups: dict[str, MetricWithMetadata] = Field(default_factory=dict)
    mcp_servers: dict[str, MetricWithMetadata] = Field(default_factory=dict)  # LiteLLM's field; none here yet
    providers: dict[str, MetricWithMetadata] = Field(default_factory=dict)
    api_keys: dict[str, KeyMetricWithMetadata] = Field(default_factory=dict)
    entities: dict[str, MetricWithMetadata] = Field(default_factory=dict)  # team, tag, org, customer …


class DailySpendData(BaseModel):
    date: date
    metrics: SpendMetrics
    breakdown: BreakdownMetrics = Field(default_factory=BreakdownMetrics)


class DailySpendMetadata(BaseModel):
    """Totals of this page's daily rows (as LiteLLM's: sum the pages for the range), and where this page is."""

    total_spend: USD = Decimal(0)
    total_prompt_tokens: int = 0
    total_completion_tokens: int = 0
    total_tokens: int = 0
    total_api_requests: int = 0
    total_successful_requests: int = 0
    total_failed_requests: int = 0
    total_cache_read_input_tokens: int = 0
    total_cache_creation_input_tokens: int = 0
    page: int = 1
    total_pages: int = 1
    has_more: bool = False


class SpendAnalyticsPaginatedResponse(BaseModel):
    """The daily-activity reports: `page_size` daily rows per page, folded into one entry per day (newest first).

    Documents the shape; manage/spend.py builds it as plain dicts (see `activity` there for why)."""

    results: list[DailySpendData]
    metadata: DailySpendMetadata


class GlobalSpend(BaseModel):
    """/global/spend: what the whole gateway spent over the last 30 days."""

    spend: USD
    max_budget: float | None = None


class KeySpend(BaseModel):
    api_key: str
    total_spend: USD
    key_alias: str | None = None
    key_name: str | None = None


class ModelSpend(BaseModel):
    model: str
    total_spend: USD


class TeamSpend(BaseModel):
    team_id: str  # LiteLLM puts the team's alias here when it has one
    total_spend: USD


class TeamsSpend(BaseModel):
    """/global/spend/teams: per day, each top team's spend under its name; the names; each team's total."""

    daily_spend: list[dict[str, Any]]  # {"date": "2026-02-27", "<team>": 1.25, …}
    teams: list[str]
    total_spend_per_team: list[TeamSpend]
