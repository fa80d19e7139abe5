"""Teams (LiteLLM's NewTeamRequest, UpdateTeamRequest, TeamMemberAddRequest …, LiteLLM_TeamTable).

Members and their roles live in `team_memberships` rows; `members_with_roles` (and LiteLLM's older `admins` /
`members` lists) are derived from them in every answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from sluicegate.gateway.db.models import Budget, Team, TeamMembership
from sluicegate.gateway.manage.schemas.budgets import BudgetPublic, Count, LimitFields, LimitsPublic, MoneyIn, MoneyOut
from sluicegate.gateway.manage.schemas.users import KeyOverview, UserPublic


class Member(BaseModel):
    """A team member to add (LiteLLM's Member): by user_id or user_email, with a role."""

    user_id: str | None = Field(default=None, min_length=1)
    user_email: str | None = Field(default=None, min_length=1)
    role: Literal["admin", "user"] = "user"

    @model_validator(mode="after")
    def _names_a_user(self) -> Member:
        if not self.user_id and not self.user_email:
            raise ValueError("a member needs a user_id or a user_email")
        return self


class TeamSettings(LimitFields):
    """What /team/new and /team/update share."""

    team_alias: str | None = None
    organization_id: str | None = None
    models: list[str] = Field(default_factory=list)
    model_aliases: dict[str, str] = Field(default_factory=dict)
    model_rpm_limit: dict[str, Count] = Field(default_factory=dict)
    model_tpm_limit: dict[str, Count] = Field(default_factory=dict)
    guardrails: list[str] = Field(default_factory=list)
    team_member_permissions: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    blocked: bool = False


class TeamCreate(TeamSettings):
    team_id: str | None = Field(default=None, min_length=1)
    members_with_roles: list[Member] = Field(default_factory=list)


class TeamUpdate(TeamSettings):
    team_id: str = Field(min_length=1)


class TeamIds(BaseModel):
    team_ids: list[str] = Field(min_length=1)


class TeamId(BaseModel):
    team_id: str = Field(min_length=1)


class MemberAdd(BaseModel):
    team_id: str = Field(min_length=1)
    member: Member | list[Member]
    max_budget_in_team: MoneyIn | None = None

    @property
    def members(self) -> list[Member]:
        return self.member if isinstance(self.member, list) else [self.member]


class MemberDelete(BaseModel):
    team_id: str = Field(min_length=1)
    user_id: str | None = Field(default=None, min_length=1)
    user_email: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _names_a_user(self) -> MemberDelete:
        if not self.user_id and not self.user_email:
            raise ValueError("pass user_id or user_email to say which member")
        return self


class MemberUpdate(MemberDelete):
    role: Literal["admin", "user"] | None = None
    max_budget_in_team: MoneyIn | None = None
    tpm_limit: Count | None = None
    rpm_limit: Count | None = None


class MemberWithRole(BaseModel):
    user_id: str
    user_email: str | None = None
    role: str


class TeamPublic(LimitsPublic):
    """A team as LiteLLM shows it (LiteLLM_TeamTable)."""

    model_config = ConfigDict(from_attributes=True)

    team_id: str
    team_alias: str | None = None
    organization_id: str | None = None
    admins: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    members_with_roles: list[MemberWithRole] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    model_aliases: dict[str, Any] = Field(default_factory=dict)
    model_rpm_limit: dict[str, Any] = Field(default_factory=dict)
    model_tpm_limit: dict[str, Any] = Field(default_factory=dict)
    spend: MoneyOut
    model_spend: dict[str, Any] = Field(default_factory=dict)
    blocked: bool = False
    guardrails: list[str] = Field(default_factory=list)
    team_member_permissions: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias=AliasChoices("metadata_", "metadata"))
    created_at: datetime | None = None
    created_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class MembershipPublic(BaseModel):
    """A row of LiteLLM_TeamMembership, with the member's role and budget."""

    user_id: str
    team_id: str
    role: str
    spend: MoneyOut
    budget_id: str | None = None
    litellm_budget_table: BudgetPublic | None = None


class TeamListed(TeamPublic):
    team_memberships: list[MembershipPublic] = Field(default_factory=list)
    keys: list[KeyOverview] = Field(default_factory=list)


class TeamInfo(BaseModel):
    """`/team/info`'s answer (LiteLLM's TeamInfoResponseObject)."""

    team_id: str
    team_info: TeamPublic
    keys: list[KeyOverview]
    team_memberships: list[MembershipPublic]


class TeamUpdated(BaseModel):
    team_id: str
    data: TeamPublic


class TeamsDeleted(BaseModel):
    deleted_teams: list[str]


class MembersAdded(TeamPublic):
    """`/team/member_add`'s answer (LiteLLM's TeamAddMemberResponse): the team, and the users and memberships
    the call created or changed."""

    updated_users: list[UserPublic]
    updated_team_memberships: list[MembershipPublic]


class MemberUpdated(BaseModel):
    team_id: str
    user_id: str
    user_email: str | None = None
    role: str
    max_budget_in_team: MoneyOut | None = None


def team_public(team: Team, members: Iterable[tuple[TeamMembership, str | None]]) -> TeamPublic:
    """A team with its members (membership, e-mail) folded into members_with_roles, admins and members."""
    listed = [MemberWithRole(user_id=m.user_id, user_email=email, role=m.role) for m, email in members]
    shown = TeamPublic.model_validate(team)
    shown.members_with_roles = listed
    shown.admins = [m.user_id for m in listed if m.role == "admin"]
    shown.members = [m.user_id for m in listed]
    return shown


def membership_public(membership: TeamMembership, budgets: dict[str, Budget]) -> MembershipPublic:
    budget = budgets.get(membership.budget_id or "")
    return MembershipPublic(user_id=membership.user_id, team_id=membership.team_id, role=membership.role,
                            spend=membership.spend, budget_id=membership.budget_id,
                            litellm_budget_table=BudgetPublic.model_validate(budget) if budget else None)
