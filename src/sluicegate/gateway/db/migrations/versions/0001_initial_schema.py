"""Initial schema: keys, users, teams, organisations, budgets, end users, models, spend, audit log.

Revision ID: 0001_initial_schema
Revises:
Create Date: 2025-01-01

Written by hand, column for column with models.py (a test compares the two). Column types are spelled out here
rather than imported, so later changes to models.py cannot rewrite history:
money is NUMERIC(38, 18) on PostgreSQL and fixed-width text on SQLite (see db/types.py); JSON is JSONB on
PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001_initial_schema"
down_revision = None
branch_labels = None
depends_on = None

MONEY = sa.Numeric(38, 18).with_variant(sa.String(39), "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
HASH = sa.String(64)  # a SHA-256 hex digest


def _required(name: str, type_: sa.types.TypeEngine | type[sa.types.TypeEngine]) -> sa.Column:
    return sa.Column(name, type_, nullable=False)


def _optional(name: str, type_: sa.types.TypeEngine | type[sa.types.TypeEngine]) -> sa.Column:
    return sa.Column(name, type_, nullable=True)


def _limits() -> list[sa.Column]:
    """Budget and rate-limit columns shared by budgets, users, teams and keys."""
    return [
        _optional("max_budget", MONEY),
        _optional("soft_budget", MONEY),
        _optional("budget_duration", sa.String()),
        _optional("budget_reset_at", TIMESTAMP),
        _optional("tpm_limit", sa.BigInteger()),
        _optional("rpm_limit", sa.BigInteger()),
        _optional("max_parallel_requests", sa.Integer()),
        _required("model_max_budget", JSON),
    ]


def _authored() -> list[sa.Column]:
    return [_optional("created_by", sa.String()), _optional("updated_by", sa.String()), *_timestamps()]


def _timestamps() -> list[sa.Column]:
    return [_required("created_at", TIMESTAMP), _required("updated_at", TIMESTAMP)]


def _fk(column: str, table: str, target: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [target], name=f"fk_{table}_{column}_{target.split('.')[0]}",
                                   ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "budgets",
        _required("budget_id", sa.String()),
        *_limits(),
        *_authored(),
        sa.PrimaryKeyConstraint("budget_id", name="pk_budgets"),
    )

    op.create_table(
        "organizations",
        _required("organization_id", sa.String()),
        _required("organization_alias", sa.String()),
        _optional("budget_id", sa.String()),
        _required("models", JSON),
        _required("spend", MONEY),
        _required("model_spend", JSON),
        _required("metadata", JSON),
        *_authored(),
        sa.PrimaryKeyConstraint("organization_id", name="pk_organizations"),
        _fk("budget_id", "organizations", "budgets.budget_id"),
    )
    op.create_index("ix_organizations_organization_alias", "organizations", ["organization_alias"])

    op.create_table(
        "users",
        *_limits(),
        *_timestamps(),
        _required("user_id", sa.String()),
        _optional("user_alias", sa.String()),
        _optional("user_email", sa.String()),
        _required("user_role", sa.String()),
        _optional("sso_user_id", sa.String()),
        _optional("organization_id", sa.String()),
        _required("models", JSON),
        _required("spend", MONEY),
        _required("model_spend", JSON),
        _required("metadata", JSON),
        sa.PrimaryKeyConstraint("user_id", name="pk_users"),
        sa.UniqueConstraint("sso_user_id", name="uq_users_sso_user_id"),
        _fk("organization_id", "users", "organizations.organization_id"),
    )
    op.create_index("ix_users_user_email", "users", ["user_email"])
    op.create_index("ix_users_organization_id", "users", ["organization_id"])

    op.create_table(
        "teams",
        *_limits(),
        *_authored(),
        _required("team_id", sa.String()),
        _optional("team_alias", sa.String()),
        _optional("organization_id", sa.String()),
        _required("models", JSON),
        _required("model_aliases", JSON),
        _required("model_rpm_limit", JSON),
        _required("model_tpm_limit", JSON),
        _required("spend", MONEY),
        _required("model_spend", JSON),
        _required("blocked", sa.Boolean()),
        _required("guardrails", JSON),
        _required("team_member_permissions", JSON),
        _required("metadata", JSON),
        sa.PrimaryKeyConstraint("team_id", name="pk_teams"),
        _fk("organization_id", "teams", "organizations.organization_id"),
    )
    op.create_index("ix_teams_team_alias", "teams", ["team_alias"])
    op.create_index("ix_teams_organization_id", "teams", ["organization_id"])

    op.create_table(
        "team_memberships",
        *_timestamps(),
        _required("user_id", sa.String()),
        _required("team_id", sa.String()),
        _required("role", sa.String()),
        _required("spend", MONEY),
        _optional("budget_id", sa.String()),
        sa.PrimaryKeyConstraint("user_id", "team_id", name="pk_team_memberships"),
        _fk("user_id", "team_memberships", "users.user_id", ondelete="CASCADE"),
        _fk("team_id", "team_memberships", "teams.team_id", ondelete="CASCADE"),
        _fk("budget_id", "team_memberships", "budgets.budget_id"),
    )
    op.create_index("ix_team_memberships_team_id", "team_memberships", ["team_id"])

    op.create_table(
        "organization_memberships",
        *_timestamps(),
        _required("user_id", sa.String()),
        _required("organization_id", sa.String()),
        _optional("user_role", sa.String()),
        _required("spend", MONEY),
        _optional("budget_id", sa.String()),
        sa.PrimaryKeyConstraint("user_id", "organization_id", name="pk_organization_memberships"),
        _fk("user_id", "organization_memberships", "users.user_id", ondelete="CASCADE"),
        _fk("organization_id", "organization_memberships", "organizations.organization_id", ondelete="CASCADE"),
        _fk("budget_id", "organization_memberships", "budgets.budget_id"),
    )
    op.create_index("ix_organization_memberships_organization_id", "organization_memberships", ["organization_id"])

    op.create_table(
        "virtual_keys",
        *_limits(),
        *_authored(),
        _required("token", HASH),
        _optional("key_name", sa.String()),
        _optional("key_alias", sa.String()),
        _optional("user_id", sa.String()),
        _optional("team_id", sa.String()),
        _optional("organization_id", sa.String()),
        _optional("budget_id", sa.String()),
        _required("models", JSON),
        _required("aliases", JSON),
        _required("spend", MONEY),
        _required("model_spend", JSON),
        _required("model_rpm_limit", JSON),
        _required("model_tpm_limit", JSON),
        _optional("expires", TIMESTAMP),
        _required("blocked", sa.Boolean()),
        _required("soft_budget_cooldown", sa.Boolean()),
        _required("permissions", JSON),
        _required("guardrails", JSON),
        _required("tags", JSON),
        _required("allowed_cache_controls", JSON),
        _required("allowed_routes", JSON),
        _required("metadata", JSON),
        _optional("last_active", TIMESTAMP),
        sa.PrimaryKeyConstraint("token", name="pk_virtual_keys"),
        _fk("organization_id", "virtual_keys", "organizations.organization_id"),
        _fk("budget_id", "virtual_keys", "budgets.budget_id"),
    )
    op.create_index("ix_virtual_keys_key_alias", "virtual_keys", ["key_alias"])
    op.create_index("ix_virtual_keys_organization_id", "virtual_keys", ["organization_id"])
    op.create_index("ix_virtual_keys_user_id_team_id", "virtual_keys", ["user_id", "team_id"])
    op.create_index("ix_virtual_keys_team_id", "virtual_keys", ["team_id"])
    op.create_index("ix_virtual_keys_budget_reset_at_expires", "virtual_keys", ["budget_reset_at", "expires"])

    op.create_table(
        "end_users",
        *_timestamps(),
        _required("user_id", sa.String()),
        _optional("alias", sa.String()),
        _required("spend", MONEY),
        _optional("budget_id", sa.String()),
        _optional("allowed_model_region", sa.String()),
        _optional("default_model", sa.String()),
        _required("blocked", sa.Boolean()),
        sa.PrimaryKeyConstraint("user_id", name="pk_end_users"),
        _fk("budget_id", "end_users", "budgets.budget_id"),
    )

    op.create_table(
        "proxy_models",
        *_authored(),
        _required("model_id", sa.String()),
        _required("model_name", sa.String()),
        _required("litellm_params", JSON),
        _required("model_info", JSON),
        sa.PrimaryKeyConstraint("model_id", name="pk_proxy_models"),
    )
    op.create_index("ix_proxy_models_model_name", "proxy_models", ["model_name"])

    op.create_table(
        "spend_logs",
        _required("request_id", sa.String()),
        _required("call_type", sa.String()),
        _required("api_key", HASH),
        _optional("user_id", sa.String()),
        _optional("team_id", sa.String()),
        _optional("organization_id", sa.String()),
        _optional("end_user", sa.String()),
        _required("model", sa.String()),
        _optional("model_group", sa.String()),
        _optional("model_id", sa.String()),
        _optional("custom_llm_provider", sa.String()),
        _optional("api_base", sa.String()),
        _required("prompt_tokens", sa.BigInteger()),
        _required("completion_tokens", sa.BigInteger()),
        _required("total_tokens", sa.BigInteger()),
        _required("cache_read_input_tokens", sa.BigInteger()),
        _required("cache_creation_input_tokens", sa.BigInteger()),
        _required("spend", MONEY),
        _required("start_time", TIMESTAMP),
        _required("end_time", TIMESTAMP),
        _optional("completion_start_time", TIMESTAMP),
        _optional("request_duration_ms", sa.Integer()),
        _required("status", sa.String()),
        _required("cache_hit", sa.Boolean()),
        _optional("session_id", sa.String()),
        _optional("requester_ip_address", sa.String()),
        _required("request_tags", JSON),
        _required("metadata", JSON),
        sa.PrimaryKeyConstraint("request_id", name="pk_spend_logs"),  # a replayed record is never counted twice
    )
    for columns in (["start_time", "request_id"], ["api_key", "start_time"], ["team_id", "start_time"],
                    ["user_id", "start_time"], ["organization_id", "start_time"], ["end_user", "start_time"]):
        op.create_index(f"ix_spend_logs_{'_'.join(columns)}", "spend_logs", columns)

    op.create_table(
        "daily_spend",
        *_timestamps(),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        _required("entity_type", sa.String(16)),
        _required("entity_id", sa.String()),
        _required("date", sa.Date()),
        _required("api_key", HASH),
        _required("model", sa.String()),
        _required("model_group", sa.String()),
        _required("custom_llm_provider", sa.String()),
        _required("prompt_tokens", sa.BigInteger()),
        _required("completion_tokens", sa.BigInteger()),
        _required("cache_read_input_tokens", sa.BigInteger()),
        _required("cache_creation_input_tokens", sa.BigInteger()),
        _required("spend", MONEY),
        _required("api_requests", sa.BigInteger()),
        _required("successful_requests", sa.BigInteger()),
        _required("failed_requests", sa.BigInteger()),
        sa.PrimaryKeyConstraint("id", name="pk_daily_spend"),
        sa.UniqueConstraint("entity_type", "entity_id", "date", "api_key", "model", "model_group",
                            "custom_llm_provider", name="uq_daily_spend_entity_date_dimensions"),
    )
    op.create_index("ix_daily_spend_date", "daily_spend", ["date"])
    op.create_index("ix_daily_spend_api_key_date", "daily_spend", ["api_key", "date"])

    op.create_table(
        "audit_log",
        _required("id", sa.String()),
        _required("updated_at", TIMESTAMP),
        _required("changed_by", sa.String()),
        _required("changed_by_api_key", HASH),
        _required("action", sa.String(16)),
        _required("table_name", sa.String()),
        _required("object_id", sa.String()),
        _optional("before_value", JSON),
        _optional("updated_values", JSON),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_updated_at", "audit_log", ["updated_at"])
    op.create_index("ix_audit_log_table_name_object_id", "audit_log", ["table_name", "object_id"])


def downgrade() -> None:
    for table in ("audit_log", "daily_spend", "spend_logs", "proxy_models", "end_users", "virtual_keys",
                  "organization_memberships", "team_memberships", "teams", "users", "organizations", "budgets"):
        op.drop_table(table)  # its indexes go with it
