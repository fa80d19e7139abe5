"""Organisations (LiteLLM's NewOrganizationRequest, UpdateOrganizationRequest, OrganizationMemberAddRequest …,
LiteLLM_OrganizationTableWithMembers). An organisation's limits live in its budget row (`budget_id`), shown as
`litellm_budget_table`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from sluicegate.gateway.manage.schemas.budgets import BudgetPublic, LimitFields, MoneyIn, MoneyOut
from sluicegate.gateway.manage.schemas.teams import TeamPublic
from sluicegate.gateway.manage.schemas.users import UserPublic

OrgRole = Literal["org_admin", "internal_user", "internal_user_viewer"]


class OrgCreate(LimitFields):
    organization_id: str | None = Field(default=None, min_length=1)
    organization_alias: str = Field(min_length=1)
    budget_id: str | None = Field(default=None, min_length=1)  # an existing budget; else one is made from the limits
    models: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class OrgUpdate(LimitFields):
    organization_id: str = Field(min_length=1)
    organization_alias: str | None = Field(default=None, min_length=1)
    budget_id: str | None = Field(default=None, min_length=1)
    models: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class OrgIds(BaseModel):
    organization_ids: list[str] = Field(min_length=1)


class OrgInfoRequest(BaseModel):
    organizations: list[str] = Field(min_length=1)


class OrgMember(BaseModel):
    user_id: str | None = Field(default=None, min_length=1)
    user_email: str | None = Field(default=None, min_length=1)
    role: OrgRole = "internal_user"

    @model_validator(mode="after")
    def _names_a_user(self) -> OrgMember:
        if not self.user_id and not self.user_email:
            raise ValueError("a member needs a user_id or a user_email")
        return self


class OrgMemberAdd(BaseModel):
    organization_id: str = Field(min_length=1)
    member: OrgMember | list[OrgMember]
    max_budget_in_organization: MoneyIn | None = None

    @property
    def members(self) -> list[OrgMember]:
        return self.member if isinstance(self.member, list) else [self.member]


class OrgMemberDelete(BaseModel):
    organization_id: str = Field(min_length=1)
    user_id: str | None = Field(default=None, min_length=1)
    user_email: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _names_a_user(self) -> OrgMemberDelete:
        if not self.user_id and not self.user_email:
            raise ValueError("pass user_id or user_email to say which member")
        return self


class OrgMemberUpdate(OrgMemberDelete):
    role: OrgRole | None = None
    max_budget_in_organization: MoneyIn | None = None


class OrgMembershipPublic(BaseModel):
    """A row of LiteLLM_OrganizationMembership."""

    model_config = ConfigDict(from_attributes=True)

    user_id: str
    organization_id: str
    user_role: str | None = None
    user_email: str | None = None
    spend: MoneyOut
    budget_id: str | None = None
    litellm_budget_table: BudgetPublic | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class OrgPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    organization_id: str
    organization_alias: str
    budget_id: str | None = None
    models: list[str] = Field(default_factory=list)
    spend: MoneyOut
    model_spend: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias=AliasChoices("metadata_", "metadata"))
    litellm_budget_table: BudgetPublic | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class OrgWithMembers(OrgPublic):
    """LiteLLM_OrganizationTableWithMembers: the organisation, its members and its teams."""

    members: list[OrgMembershipPublic] = Field(default_factory=list)
    teams: list[TeamPublic] = Field(default_factory=list)


class OrgMembersAdded(BaseModel):
    organization_id: str
    updated_users: list[UserPublic]
    updated_organization_memberships: list[OrgMembershipPublic]
