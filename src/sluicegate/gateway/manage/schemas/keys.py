"""Virtual-key request and response bodies, with LiteLLM's field names (`/key/generate`, `/key/update`, …).

Inputs take money as JSON numbers and turn them into exact Decimals through their text (0.1 stays 0.1);
responses show money as JSON numbers, as LiteLLM does. Fields LiteLLM accepts but sluicegate does not implement
are refused when they carry a value (an `enforced_params` silently ignored would be a hole, not a convenience).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from sluicegate.gateway.db.types import to_money
from sluicegate.gateway.durations import parse_duration

# LiteLLM request fields for features sluicegate does not have: accepted when empty, refused otherwise.
UNSUPPORTED_FIELDS = ("config", "enforced_params", "prompts", "send_invite_email", "object_permission",
                      "allowed_passthrough_routes", "auto_rotate", "rotation_interval", "router_settings",
                      "temp_budget_increase", "temp_budget_expiry", "access_group_ids", "rpm_limit_type",
                      "tpm_limit_type", "new_master_key", "allowed_vector_store_indexes")
NEVER_EXPIRES = "-1"  # LiteLLM's `duration` for "remove the expiry" in /key/update


def _number_text(value: object) -> object:
    """A JSON number as text, so Decimal keeps what the client wrote (Decimal(0.1) would not)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return str(value) if isinstance(value, int | float) else value


def _money(value: Decimal) -> Decimal:
    return to_money(value)


MoneyIn = Annotated[Decimal, BeforeValidator(_number_text), Field(ge=0, allow_inf_nan=False),
                    AfterValidator(_money)]
Count = Annotated[int, Field(ge=0, le=2**53)]
MoneyOut = Annotated[Decimal, PlainSerializer(float, return_type=float)]


def _duration_text(field: str) -> AfterValidator:
    def check(value: str | None) -> str | None:
        return None if value is None else str(parse_duration(value, field))

    return AfterValidator(check)


class ModelBudget(BaseModel):
    """One model's budget on a key: LiteLLM's BudgetConfig, `{"budget_limit": 5.0, "time_period": "30d"}`."""

    model_config = ConfigDict(extra="forbid")

    budget_limit: MoneyIn | None = None
    time_period: Annotated[str | None, _duration_text("model_max_budget.time_period")] = None


def _model_budget(value: object) -> object:
    """LiteLLM also takes a bare number per model: {"gpt-4o": 5.0}."""
    return {"budget_limit": value} if isinstance(value, int | float | str) and not isinstance(value, bool) else value


class KeyFields(BaseModel):
    """The settings of a key, shared by generate, update and regenerate. Unset fields are left alone."""

    model_config = ConfigDict(extra="forbid")

    key_alias: str | None = Field(default=None, max_length=256)
    models: list[str] | None = None
    max_budget: MoneyIn | None = None
    soft_budget: MoneyIn | None = None
    spend: MoneyIn | None = None
    budget_duration: Annotated[str | None, _duration_text("budget_duration")] = None
    tpm_limit: Count | None = None
    rpm_limit: Count | None = None
    max_parallel_requests: Count | None = None
    model_max_budget: dict[str, Annotated[ModelBudget, BeforeValidator(_model_budget)]] | None = None
    model_rpm_limit: dict[str, Count] | None = None
    model_tpm_limit: dict[str, Count] | None = None
    duration: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    team_id: str | None = None
    user_id: str | None = None
    organization_id: str | None = None
    budget_id: str | None = None
    guardrails: list[str] | None = None
    permissions: dict[str, Any] | None = None
    aliases: dict[str, str] | None = None
    blocked: bool | None = None
    allowed_routes: list[str] | None = None
    allowed_cache_controls: list[str] | None = None
    key_type: str | None = None  # LiteLLM's key types; only its default is served here

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for name in UNSUPPORTED_FIELDS:
                if data.pop(name, None) not in (None, False, "", [], {}):
                    raise ValueError(f"{name} is a LiteLLM feature sluicegate does not support: leave it out")
        return data

    @field_validator("duration")
    @classmethod
    def _check_duration(cls, value: str | None) -> str | None:
        if value is None or value == NEVER_EXPIRES:
            return value
        return str(parse_duration(value, "duration"))

    @field_validator("key_type")
    @classmethod
    def _check_key_type(cls, value: str | None) -> str | None:
        if value not in (None, "default", "llm_api"):
            raise ValueError(f"key_type {value!r} is not supported: sluicegate keys are LiteLLM's default type")
        return value

    def given(self) -> set[str]:
        """The settings the client sent (null included: on update it clears the field)."""
        return set(self.model_fields_set) - {"key", "new_key", "key_type"}


class KeyGenerate(KeyFields):
    """POST /key/generate. `key` picks the key's value (proxy admins only; it must start with "sk-")."""

    key: str | None = Field(default=None, min_length=8, max_length=256)


class KeyUpdate(KeyFields):
    """POST /key/update: `key` (the key or its hash) and the fields to change."""

    key: str = Field(min_length=1, max_length=256)


class KeyRegenerate(KeyFields):
    """POST /key/regenerate (or /key/{key}/regenerate): a new value for the key, optionally new settings."""

    key: str | None = Field(default=None, min_length=1, max_length=256)
    new_key: str | None = Field(default=None, min_length=8, max_length=256)


MAX_DELETE = 1000


class KeyDelete(BaseModel):
    """POST /key/delete: `keys` (keys or hashes) or `key_aliases`, not both."""

    model_config = ConfigDict(extra="forbid")

    keys: list[str] | None = Field(default=None, max_length=MAX_DELETE)
    key_aliases: list[str] | None = Field(default=None, max_length=MAX_DELETE)

    @model_validator(mode="after")
    def _one_list(self) -> KeyDelete:
        if bool(self.keys) == bool(self.key_aliases):
            raise ValueError("send a non-empty `keys` list or a non-empty `key_aliases` list (one of the two)")
        return self


class KeyBlock(BaseModel):
    """POST /key/block and /key/unblock."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=256)


class KeyPublic(BaseModel):
    """A key as the API shows it (LiteLLM_VerificationToken's fields): `token` is the hash, never the key."""

    token: str
    key_name: str | None
    key_alias: str | None
    spend: MoneyOut
    max_budget: MoneyOut | None
    soft_budget: MoneyOut | None
    budget_duration: str | None
    budget_reset_at: datetime | None
    expires: datetime | None
    models: list[str]
    aliases: dict[str, Any]
    config: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None
    team_id: str | None
    organization_id: str | None
    org_id: str | None  # LiteLLM's older name for organization_id
    budget_id: str | None
    max_parallel_requests: int | None
    tpm_limit: int | None
    rpm_limit: int | None
    model_max_budget: dict[str, Any]
    model_rpm_limit: dict[str, Any]
    model_tpm_limit: dict[str, Any]
    model_spend: dict[str, Any]
    metadata: dict[str, Any]
    tags: list[str]
    guardrails: list[str]
    permissions: dict[str, Any]
    allowed_routes: list[str]
    allowed_cache_controls: list[str]
    blocked: bool
    soft_budget_cooldown: bool
    created_at: datetime | None
    created_by: str | None
    updated_at: datetime | None
    updated_by: str | None
    last_active: datetime | None


class KeyGenerated(KeyPublic):
    """The answer to generate and regenerate: the only time the key itself (`key`) is ever shown."""

    key: str
    token_id: str  # the hash again, under LiteLLM's name for it in this answer
    duration: str | None = None


class KeyUpdated(KeyPublic):
    key: str  # the key's hash (LiteLLM echoes what it was sent; the plain key is never echoed here)


class KeyInfo(BaseModel):
    key: str  # the key's hash
    info: KeyPublic


class KeyList(BaseModel):
    keys: list[str] | list[KeyPublic]
    total_count: int
    current_page: int
    total_pages: int


class KeysDeleted(BaseModel):
    deleted_keys: list[str]  # the hashes of the deleted keys
