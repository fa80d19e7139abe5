"""Internal users (LiteLLM's NewUserRequest, UpdateUserRequest, LiteLLM_UserTable), and the short view of a key
that user and team info show."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from sluicegate.gateway.manage.schemas.budgets import LimitFields, LimitsPublic, MoneyIn, MoneyOut

UserRole = Literal["proxy_admin", "proxy_admin_viewer", "org_admin", "internal_user", "internal_user_viewer"]


class TeamPlacement(BaseModel):
    """One entry of `/user/new`'s `teams` in its long form (LiteLLM's NewUserRequestTeam)."""

    team_id: str
    max_budget_in_team: MoneyIn | None = None
    user_role: Literal["admin", "user"] = "user"


class UserCreate(LimitFields):
    user_id: str | None = Field(default=None, min_length=1)
    user_alias: str | None = None
    user_email: str | None = None
    user_role: UserRole = "internal_user"
    sso_user_id: str | None = None
    teams: list[str | TeamPlacement] = Field(default_factory=list)
    organizations: list[str] = Field(default_factory=list)
    team_id: str | None = None  # LiteLLM's older single-team field: the same as teams=[team_id]
    models: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    spend: MoneyIn | None = None
    auto_create_key: bool = True  # accepted for compatibility; keys come from /key/generate (see the docs)


class UserUpdate(LimitFields):
    user_id: str | None = Field(default=None, min_length=1)
    user_email: str | None = None  # finds the user when user_id is not given; otherwise the new address
    user_alias: str | None = None
    user_role: UserRole | None = None
    sso_user_id: str | None = None
    models: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    spend: MoneyIn | None = None

    @model_validator(mode="after")
    def _names_a_user(self) -> UserUpdate:
        if not self.user_id and not self.user_email:
            raise ValueError("pass user_id or user_email to say which user to update")
        return self


class UserDeleteRequest(BaseModel):
    user_ids: list[str] = Field(min_length=1)


class UserPublic(LimitsPublic):
    """A user as LiteLLM shows it (LiteLLM_UserTable); `teams` comes from the user's memberships."""

    model_config = ConfigDict(from_attributes=True)

    user_id: str
    user_alias: str | None = None
    user_email: str | None = None
    user_role: str
    sso_user_id: str | None = None
    organization_id: str | None = None
    teams: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    spend: MoneyOut
    model_spend: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias=AliasChoices("metadata_", "metadata"))
    created_at: datetime | None = None
    updated_at: datetime | None = None


class UserCreated(UserPublic):
    """`/user/new`'s answer. LiteLLM also generates a key here; sluicegate leaves that to `/key/generate`, so
    `key` is always null."""

    key: str | None = None


class UserListed(UserPublic):
    key_count: int = 0


class UserList(BaseModel):
    users: list[UserListed]
    total: int
    page: int
    page_size: int
    total_pages: int


class KeyOverview(BaseModel):
    """A key as user and team info list it: never the key itself, nor its hash."""

    model_config = ConfigDict(from_attributes=True)

    key_name: str | None = None
    key_alias: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    models: list[str] = Field(default_factory=list)
    spend: MoneyOut
    max_budget: MoneyOut | None = None
    expires: datetime | None = None
    blocked: bool = False
    created_at: datetime | None = None


class UserInfo(BaseModel):
    """`/user/info`'s answer (LiteLLM's UserInfoResponse): the user, its keys and its teams."""

    user_id: str
    user_info: UserPublic
    keys: list[KeyOverview]
    teams: list[dict[str, Any]]  # TeamPublic, as JSON (schemas/teams.py builds on this module)


class UserUpdated(BaseModel):
    user_id: str
    data: UserPublic
