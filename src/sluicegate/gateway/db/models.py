"""The gateway's tables: keys, users, teams, organisations, budgets, end users, models, spend and the audit log.

Columns keep the names of LiteLLM's management API fields (and of its Prisma schema, named beside each class), so
an API schema maps them 1:1 and `db import-litellm` copies rows column for column. Where this schema departs
from LiteLLM's, the class says why. Every change here is a new Alembic revision in `migrations/versions/`.
Money is `Money` (exact), never a float; lists and dicts are JSON (JSONB on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sluicegate.gateway.db.tokens import short_hash
from sluicegate.gateway.db.types import JSONType, Money, UTCDateTime

# Deterministic constraint names: Alembic can then drop or alter them by name on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ZERO = Decimal(0)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy reads this class attribute)
        Decimal: Money(),
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[str]: JSONType,
        list[Any]: JSONType,
    }


class _Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class _Authored(_Timestamps):
    created_by: Mapped[str | None] = mapped_column(String)
    updated_by: Mapped[str | None] = mapped_column(String)


class _Limits:
    """The budget and rate-limit fields keys, users, teams and budgets share (LiteLLM's names)."""

    max_budget: Mapped[Decimal | None]
    soft_budget: Mapped[Decimal | None]
    budget_duration: Mapped[str | None] = mapped_column(String)  # "30s", "1h", "1d", "7d", "30d", "1mo"
    budget_reset_at: Mapped[datetime | None]
    tpm_limit: Mapped[int | None] = mapped_column(BigInteger)
    rpm_limit: Mapped[int | None] = mapped_column(BigInteger)
    max_parallel_requests: Mapped[int | None] = mapped_column(Integer)
    model_max_budget: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"gpt-4o": {"budget_limit": …}}


class Budget(_Limits, _Authored, Base):
    """A reusable budget (LiteLLM_BudgetTable): organisations, end users and team members point at one."""

    __tablename__ = "budgets"

    budget_id: Mapped[str] = mapped_column(String, primary_key=True, default=new_id)


class Organization(_Authored, Base):
    """An organisation (LiteLLM_OrganizationTable): owns teams; its limits live in its budget row."""

    __tablename__ = "organizations"

    organization_id: Mapped[str] = mapped_column(String, primary_key=True, default=new_id)
    organization_alias: Mapped[str] = mapped_column(String, index=True)
    budget_id: Mapped[str | None] = mapped_column(ForeignKey("budgets.budget_id"))
    models: Mapped[list[str]] = mapped_column(default=list)
    spend: Mapped[Decimal] = mapped_column(default=ZERO)
    model_spend: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)


class User(_Limits, _Timestamps, Base):
    """An internal user (LiteLLM_UserTable). `user_role`: proxy_admin, proxy_admin_viewer, org_admin,
    internal_user, internal_user_viewer. Team membership is in `team_memberships`, not a list column."""

    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String, primary_key=True, default=new_id)
    user_alias: Mapped[str | None] = mapped_column(String)
    user_email: Mapped[str | None] = mapped_column(String, index=True)
    user_role: Mapped[str] = mapped_column(String, default="internal_user")
    sso_user_id: Mapped[str | None] = mapped_column(String, unique=True)
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.organization_id"), index=True)
    models: Mapped[list[str]] = mapped_column(default=list)
    spend: Mapped[Decimal] = mapped_column(default=ZERO)
    model_spend: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)


class Team(_Limits, _Authored, Base):
    """A team (LiteLLM_TeamTable). Members and their roles are rows of `team_memberships` (LiteLLM keeps them
    in `members_with_roles` JSON as well, which the API derives from those rows)."""

    __tablename__ = "teams"

    team_id: Mapped[str] = mapped_column(String, primary_key=True, default=new_id)
    team_alias: Mapped[str | None] = mapped_column(String, index=True)
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.organization_id"), index=True)
    models: Mapped[list[str]] = mapped_column(default=list)
    model_aliases: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_rpm_limit: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_tpm_limit: Mapped[dict[str, Any]] = mapped_column(default=dict)
    spend: Mapped[Decimal] = mapped_column(default=ZERO)
    model_spend: Mapped[dict[str, Any]] = mapped_column(default=dict)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    guardrails: Mapped[list[str]] = mapped_column(default=list)
    team_member_permissions: Mapped[list[str]] = mapped_column(default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)


class TeamMembership(_Timestamps, Base):
    """A user in a team (LiteLLM_TeamMembership + the role from `members_with_roles`): role "admin" or "user",
    spend inside the team, and an optional per-member budget."""

    __tablename__ = "team_memberships"
    __table_args__ = (Index(None, "team_id"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.team_id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String, default="user")
    spend: Mapped[Decimal] = mapped_column(default=ZERO)
    budget_id: Mapped[str | None] = mapped_column(ForeignKey("budgets.budget_id"))


class OrganizationMembership(_Timestamps, Base):
    """A user in an organisation (LiteLLM_OrganizationMembership): role org_admin or internal_user."""

    __tablename__ = "organization_memberships"
    __table_args__ = (Index(None, "organization_id"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.organization_id", ondelete="CASCADE"), primary_key=True
    )
    user_role: Mapped[str | None] = mapped_column(String)
    spend: Mapped[Decimal] = mapped_column(default=ZERO)
    budget_id: Mapped[str | None] = mapped_column(ForeignKey("budgets.budget_id"))


class VirtualKey(_Limits, _Authored, Base):
    """A virtual key (LiteLLM_VerificationToken). `token` is the SHA-256 of the key (`tokens.hash_key`), the same
    value LiteLLM stores, so imported keys keep working; the plain key is shown once, at generation, and never
    stored. `user_id` and `team_id` are plain indexed strings, not foreign keys, as in LiteLLM: keys imported
    from LiteLLM may name users or teams that were deleted there long ago."""

    __tablename__ = "virtual_keys"
    __table_args__ = (
        Index(None, "user_id", "team_id"),
        Index(None, "team_id"),
        Index(None, "budget_reset_at", "expires"),
    )

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_name: Mapped[str | None] = mapped_column(String)  # "sk-...wxyz": the last characters, for display
    key_alias: Mapped[str | None] = mapped_column(String, index=True)
    user_id: Mapped[str | None] = mapped_column(String)
    team_id: Mapped[str | None] = mapped_column(String)
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.organization_id"), index=True)
    budget_id: Mapped[str | None] = mapped_column(ForeignKey("budgets.budget_id"))
    models: Mapped[list[str]] = mapped_column(default=list)
    aliases: Mapped[dict[str, Any]] = mapped_column(default=dict)
    spend: Mapped[Decimal] = mapped_column(default=ZERO)
    model_spend: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_rpm_limit: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_tpm_limit: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires: Mapped[datetime | None]
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    soft_budget_cooldown: Mapped[bool] = mapped_column(Boolean, default=False)
    permissions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    guardrails: Mapped[list[str]] = mapped_column(default=list)
    tags: Mapped[list[str]] = mapped_column(default=list)
    allowed_cache_controls: Mapped[list[str]] = mapped_column(default=list)
    allowed_routes: Mapped[list[str]] = mapped_column(default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    last_active: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"VirtualKey(token={short_hash(self.token or '')!r}, key_alias={self.key_alias!r})"


class EndUser(_Timestamps, Base):
    """An end user, LiteLLM's "customer" (LiteLLM_EndUserTable): the `user` field of a request."""

    __tablename__ = "end_users"

    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    alias: Mapped[str | None] = mapped_column(String)
    spend: Mapped[Decimal] = mapped_column(default=ZERO)
    budget_id: Mapped[str | None] = mapped_column(ForeignKey("budgets.budget_id"))
    allowed_model_region: Mapped[str | None] = mapped_column(String)
    default_model: Mapped[str | None] = mapped_column(String)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)


class ProxyModel(_Authored, Base):
    """A deployment added through `/model/new` (LiteLLM_ProxyModelTable), served alongside config.yaml's."""

    __tablename__ = "proxy_models"

    model_id: Mapped[str] = mapped_column(String, primary_key=True, default=new_id)
    model_name: Mapped[str] = mapped_column(String, index=True)  # the public name (model group)
    litellm_params: Mapped[dict[str, Any]] = mapped_column()
    model_info: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SpendLog(Base):
    """One served request and what it cost (LiteLLM_SpendLogs). `request_id` is the primary key, so replaying a
    journal never counts a request twice. `api_key` is the key's hash. LiteLLM's `user`, `startTime` and
    `endTime` columns are `user_id`, `start_time` and `end_time` here (`user` is reserved in SQL)."""

    __tablename__ = "spend_logs"
    __table_args__ = (
        Index(None, "start_time", "request_id"),  # time-ordered pages over everything
        Index(None, "api_key", "start_time"),
        Index(None, "team_id", "start_time"),
        Index(None, "user_id", "start_time"),
        Index(None, "organization_id", "start_time"),
        Index(None, "end_user", "start_time"),
    )

    request_id: Mapped[str] = mapped_column(String, primary_key=True)
    call_type: Mapped[str] = mapped_column(String, default="")
    api_key: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[str | None] = mapped_column(String)
    team_id: Mapped[str | None] = mapped_column(String)
    organization_id: Mapped[str | None] = mapped_column(String)
    end_user: Mapped[str | None] = mapped_column(String)
    model: Mapped[str] = mapped_column(String, default="")  # what the provider was asked for
    model_group: Mapped[str | None] = mapped_column(String)  # the public model name the client used
    model_id: Mapped[str | None] = mapped_column(String)  # the deployment
    custom_llm_provider: Mapped[str | None] = mapped_column(String)
    api_base: Mapped[str | None] = mapped_column(String)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    total_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_creation_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    spend: Mapped[Decimal] = mapped_column(default=ZERO)
    start_time: Mapped[datetime] = mapped_column()
    end_time: Mapped[datetime] = mapped_column()
    completion_start_time: Mapped[datetime | None]
    request_duration_ms: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String, default="success")  # "success" or "failure"
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    session_id: Mapped[str | None] = mapped_column(String)
    requester_ip_address: Mapped[str | None] = mapped_column(String)
    request_tags: Mapped[list[str]] = mapped_column(default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)

    def __repr__(self) -> str:
        return f"SpendLog(request_id={self.request_id!r}, api_key={short_hash(self.api_key or '')!r})"


class DailySpend(_Timestamps, Base):
    """Spend and usage per day, per entity, for the activity reports (LiteLLM's LiteLLM_Daily{User,Team,Tag,
    Organization,EndUser}Spend tables folded into one, keyed by `entity_type`: key, user, team, organization,
    end_user or tag). Dimensions are NOT NULL ('' when absent) because NULLs never collide in a unique
    constraint, which would let the same day's counters split over several rows."""

    __tablename__ = "daily_spend"
    __table_args__ = (
        UniqueConstraint(  # one row per entity, day and dimensions; its leading columns serve (entity, date)
            "entity_type", "entity_id", "date", "api_key", "model", "model_group", "custom_llm_provider",
            name="uq_daily_spend_entity_date_dimensions",
        ),
        Index(None, "date"),
        Index(None, "api_key", "date"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String)
    date: Mapped[dt.date] = mapped_column(Date)
    api_key: Mapped[str] = mapped_column(String(64), default="")
    model: Mapped[str] = mapped_column(String, default="")
    model_group: Mapped[str] = mapped_column(String, default="")
    custom_llm_provider: Mapped[str] = mapped_column(String, default="")
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_creation_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    spend: Mapped[Decimal] = mapped_column(default=ZERO)
    api_requests: Mapped[int] = mapped_column(BigInteger, default=0)
    successful_requests: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_requests: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditLog(Base):
    """One management change (LiteLLM_AuditLog): who, what, on which row, the row before and the values after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "table_name", "object_id"),)

    id: Mapped[str] = mapped_column(String, primary_key=True, default=new_id)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # when
    changed_by: Mapped[str] = mapped_column(String, default="")  # the user id, or "master_key"
    changed_by_api_key: Mapped[str] = mapped_column(String(64), default="")  # the hash of the key used
    action: Mapped[str] = mapped_column(String(16))  # "created", "updated", "deleted", "blocked", …
    table_name: Mapped[str] = mapped_column(String)
    object_id: Mapped[str] = mapped_column(String)
    before_value: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    updated_values: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
