"""Teams (`/team/...`): settings, members and their roles, blocking, deletion.

Who may do what: a proxy admin everything; an org admin everything on its organisations' teams (and creates teams
in them); a team admin manages the team's members and its name, metadata and member permissions — not its budget,
limits, models, aliases, guardrails, organisation or blocked flag, which would let it lift the ceiling set over
it. Team members read their team. A team the caller may not read answers 404, like a missing one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from sluicegate.errors import BadRequestError, PermissionDeniedError
from sluicegate.gateway.db.models import Budget, Organization, Team, TeamMembership, User
from sluicegate.gateway.db.queries import budgets as budget_queries
from sluicegate.gateway.db.queries import teams as queries
from sluicegate.gateway.db.queries.organizations import administered_by
from sluicegate.gateway.db.queries.users import user_by_email
from sluicegate.gateway.deps import Manage
from sluicegate.gateway.manage.access import (
    is_org_admin,
    may_manage_team,
    may_read_team,
    not_found,
    require_admin,
    require_writer,
)
from sluicegate.gateway.manage.audit import record_change
from sluicegate.gateway.manage.budgets import apply_changes, limit_changes, new_budget, snapshot
from sluicegate.gateway.manage.schemas.teams import (
    MemberAdd,
    MemberDelete,
    MembersAdded,
    MemberUpdate,
    MemberUpdated,
    TeamCreate,
    TeamId,
    TeamIds,
    TeamInfo,
    TeamListed,
    TeamPublic,
    TeamsDeleted,
    TeamUpdate,
    TeamUpdated,
    membership_public,
    team_public,
)
from sluicegate.gateway.manage.schemas.users import KeyOverview
from sluicegate.gateway.manage.users import new_membership, resolve_members, user_public

KEYS_SHOWN = 1000  # keys listed by /team/info and /team/list; /key/list pages through all of them
SETTINGS = ("team_alias", "organization_id", "models", "model_aliases", "model_rpm_limit", "model_tpm_limit",
            "guardrails", "team_member_permissions", "metadata", "blocked")
TEAM_ADMIN_SETTINGS = frozenset({"team_alias", "metadata", "team_member_permissions"})


async def create_team(m: Manage, body: TeamCreate) -> TeamPublic:
    require_writer(m.caller, "create teams")
    org = await _org_for_new_team(m, body.organization_id)
    if body.team_id and await m.session.get(Team, body.team_id) is not None:
        raise BadRequestError(f"Team {body.team_id!r} already exists", param="team_id", code="duplicate_id")
    changes = _settings(body) | limit_changes(body)
    await _check_within_org(m, org, changes)
    team = Team(created_by=m.caller.audit_name, updated_by=m.caller.audit_name, spend=0, model_spend={},
                model_max_budget={})
    if body.team_id:
        team.team_id = body.team_id
    apply_changes(team, changes)
    m.session.add(team)
    await m.session.flush()
    record_change(m.session, m.caller, "created", "teams", team.team_id, None, snapshot(team))
    members = list({(x.user_id, x.user_email): x for x in body.members_with_roles}.values())
    if members:
        await _add_members(m, team, [(x.user_id, x.user_email, x.role) for x in members], None)
    await _commit(m)
    return team_public(team, (await queries.members_of(m.session, [team.team_id]))[team.team_id])


async def _org_for_new_team(m: Manage, organization_id: str | None) -> Organization | None:
    """The organisation a new team goes in: proxy admins create teams anywhere, org admins in their own."""
    if organization_id is None:
        require_admin(m.caller, "create a team outside an organisation (org admins: pass organization_id)")
        return None
    org = await m.session.get(Organization, organization_id)
    if org is None or not (m.caller.is_admin or await is_org_admin(m.session, m.caller, organization_id)):
        raise not_found("Organization", organization_id)
    return org


async def _check_within_org(m: Manage, org: Organization | None, changes: dict[str, Any]) -> None:
    """A team's models and budget stay inside its organisation's (LiteLLM checks the same)."""
    if org is None:
        return
    outside = sorted(set(changes.get("models") or ()) - set(org.models)) if org.models else []
    if outside:
        raise BadRequestError(f"Models {outside} are not available to organisation {org.organization_id!r} "
                              f"(it allows {org.models})", param="models", code="model_not_in_organization")
    ceiling = (await m.session.get(Budget, org.budget_id)) if org.budget_id else None
    wanted = changes.get("max_budget")
    if ceiling is not None and ceiling.max_budget is not None and wanted is not None and wanted > ceiling.max_budget:
        raise BadRequestError(f"max_budget {wanted} is above organisation {org.organization_id!r}'s "
                              f"max_budget {ceiling.max_budget}", param="max_budget", code="budget_above_organization")


def _settings(body: TeamCreate | TeamUpdate) -> dict[str, Any]:
    return {name: getattr(body, name) for name in SETTINGS if name in body.model_fields_set}


async def team_info(m: Manage, team_id: str) -> TeamInfo:
    team = await _readable(m, team_id)
    members = (await queries.members_of(m.session, [team_id]))[team_id]
    budgets = await budget_queries.budgets_by_ids(m.session, [ms.budget_id for ms, _ in members if ms.budget_id])
    keys = await queries.keys_of_teams(m.session, [team_id], limit=KEYS_SHOWN)
    return TeamInfo(team_id=team_id, team_info=team_public(team, members),
                    keys=[KeyOverview.model_validate(key) for key in keys],
                    team_memberships=[membership_public(ms, budgets) for ms, _ in members])


async def update_team(m: Manage, body: TeamUpdate) -> TeamUpdated:
    team = await _manageable(m, body.team_id)
    changes = _settings(body) | limit_changes(body)
    privileged = sorted(set(changes) - TEAM_ADMIN_SETTINGS)
    if privileged and not await _may_set_limits(m, team):
        raise PermissionDeniedError(f"Only a proxy admin or an admin of the team's organisation may change {privileged}"
                                    " (a team admin may change team_alias, metadata and team_member_permissions)",
                                    code="team_admin_limits")
    org_id = changes.get("organization_id", team.organization_id)
    if org_id != team.organization_id:
        require_admin(m.caller, "move a team to another organisation")
    org = await m.session.get(Organization, org_id) if org_id else None
    if org_id and org is None:
        raise not_found("Organization", org_id)
    if {"models", "max_budget", "organization_id"} & set(changes):
        await _check_within_org(m, org, {"models": changes.get("models", team.models),
                                         "max_budget": changes.get("max_budget", team.max_budget)})
    before = snapshot(team)
    apply_changes(team, changes)
    team.updated_by = m.caller.audit_name
    record_change(m.session, m.caller, "updated", "teams", team.team_id, before, changes)
    await _commit(m)
    return TeamUpdated(team_id=team.team_id, data=await _shown(m, team))


async def delete_teams(m: Manage, body: TeamIds) -> TeamsDeleted:
    """Delete teams with their keys and memberships: proxy admins, and org admins for their organisations' teams."""
    require_writer(m.caller, "delete teams")
    wanted = list(dict.fromkeys(body.team_ids))
    teams = await queries.teams_by_ids(m.session, wanted)
    readable, manageable = await _access(m, teams.values())
    missing = [team_id for team_id in wanted if team_id not in readable]
    if missing:
        raise not_found("Team", ", ".join(missing))
    refused = [team_id for team_id in wanted if team_id not in manageable]
    if refused:
        raise PermissionDeniedError(f"Only a proxy admin or an admin of the team's organisation may delete team(s) "
                                    f"{refused}", code="team_delete_denied")
    for team in teams.values():
        record_change(m.session, m.caller, "deleted", "teams", team.team_id, snapshot(team), None)
    await queries.delete_teams(m.session, wanted)
    await _commit(m)
    return TeamsDeleted(deleted_teams=wanted)


async def _access(m: Manage, teams: Collection[Team]) -> tuple[set[str], set[str]]:
    """Which of `teams` the caller may read, and which it may delete (two queries for any number of teams).
    Callers that change nothing (viewers) are refused before this."""
    ids = {team.team_id for team in teams}
    if m.caller.is_admin:
        return ids, ids
    if m.caller.user_id is None:
        return (ids if m.caller.may_read_all else set()), set()
    roles = await queries.roles_in(m.session, m.caller.user_id, ids)
    orgs = await administered_by(m.session, m.caller.user_id)
    governed = {team.team_id for team in teams if team.organization_id in orgs}
    return (ids if m.caller.may_read_all else set(roles) | governed), governed


async def list_teams(m: Manage, *, user_id: str | None, organization_id: str | None, offset: int,
                     limit: int) -> list[TeamListed]:
    """Teams with members and keys: all of them for readers of everything; otherwise those the caller belongs to
    or governs as an org admin."""
    visible_to = None
    if not m.caller.may_read_all:
        if m.caller.user_id is None:
            return []
        if user_id is not None and user_id != m.caller.user_id:
            raise PermissionDeniedError("Only a proxy admin or proxy admin viewer may list another user's teams",
                                        param="user_id", code="admin_only")
        visible_to = m.caller.user_id
    rows = await queries.list_teams(m.session, visible_to_user=visible_to, member_id=user_id,
                                    organization_id=organization_id, offset=offset, limit=limit)
    ids = [row.team_id for row in rows]
    members = await queries.members_of(m.session, ids)
    budgets = await budget_queries.budgets_by_ids(
        m.session, [ms.budget_id for team in members.values() for ms, _ in team if ms.budget_id])
    keys: dict[str, list[KeyOverview]] = {team_id: [] for team_id in ids}
    for key in await queries.keys_of_teams(m.session, ids, limit=KEYS_SHOWN):
        keys[key.team_id or ""].append(KeyOverview.model_validate(key))
    listed = []
    for row in rows:
        shown = TeamListed(**team_public(row, members[row.team_id]).model_dump(),
                           team_memberships=[membership_public(ms, budgets) for ms, _ in members[row.team_id]],
                           keys=keys[row.team_id])
        listed.append(shown)
    return listed


async def add_members(m: Manage, body: MemberAdd) -> MembersAdded:
    team = await _manageable(m, body.team_id)
    wanted = list({(x.user_id, (x.user_email or "").lower() or None): x for x in body.members}.values())
    users, added = await _add_members(m, team, [(x.user_id, x.user_email, x.role) for x in wanted],
                                      body.max_budget_in_team)
    await _commit(m)
    shown = await _shown(m, team)
    team_ids = {user.user_id: [team.team_id] for user in users}
    budgets = await budget_queries.budgets_by_ids(m.session, [ms.budget_id for ms in added if ms.budget_id])
    return MembersAdded(**shown.model_dump(), updated_users=[user_public(u, team_ids[u.user_id]) for u in users],
                        updated_team_memberships=[membership_public(ms, budgets) for ms in added])


async def _add_members(m: Manage, team: Team, wanted: Sequence[tuple[str | None, str | None, str]],
                       max_budget: Decimal | None) -> tuple[list[User], list[TeamMembership]]:
    users, created = await resolve_members(m, [(user_id, email) for user_id, email, _ in wanted])
    already = await queries.memberships_in(m.session, team.team_id, [user.user_id for user in users])
    if already:
        raise BadRequestError(f"User(s) {sorted(already)} are already members of team {team.team_id!r}: use "
                              "/team/member_update to change a role", param="member",
                              code="team_member_already_in_team")
    if len({user.user_id for user in users}) < len(users):
        raise BadRequestError("The same user is named twice in member", param="member", code="duplicate_member")
    memberships = [new_membership(m, user.user_id, team.team_id, role, max_budget)
                   for user, (_, _, role) in zip(users, wanted, strict=True)]
    await m.session.flush()  # new users and member budgets exist before the memberships that point at them
    m.session.add_all(memberships)
    for user in created:
        record_change(m.session, m.caller, "created", "users", user.user_id, None, snapshot(user))
    for membership in memberships:
        record_change(m.session, m.caller, "member_added", "teams", team.team_id, None,
                      {"user_id": membership.user_id, "role": membership.role, "budget_id": membership.budget_id})
    return users, memberships


async def delete_member(m: Manage, body: MemberDelete) -> TeamPublic:
    """Remove a member, its keys for the team and its budget in the team."""
    team = await _manageable(m, body.team_id)
    membership = await _membership(m, team, body.user_id, body.user_email)
    record_change(m.session, m.caller, "member_removed", "teams", team.team_id,
                  {"user_id": membership.user_id, "role": membership.role, "budget_id": membership.budget_id}, None)
    await m.session.delete(membership)
    await queries.delete_member_keys(m.session, team.team_id, [membership.user_id])
    await m.session.flush()
    await budget_queries.delete_unreferenced_budgets(m.session, [membership.budget_id])
    await _commit(m)
    return await _shown(m, team)


async def update_member(m: Manage, body: MemberUpdate) -> MemberUpdated:
    team = await _manageable(m, body.team_id)
    membership = await _membership(m, team, body.user_id, body.user_email)
    before = {"role": membership.role, "budget_id": membership.budget_id}
    if body.role is not None:
        membership.role = body.role
    limits: dict[str, Any] = {name: getattr(body, name) for name in ("max_budget_in_team", "tpm_limit", "rpm_limit")
              if name in body.model_fields_set}
    budget = await m.session.get(Budget, membership.budget_id) if membership.budget_id else None
    if limits:
        changes = {("max_budget" if name == "max_budget_in_team" else name): value for name, value in limits.items()}
        if budget is None:
            budget = new_budget(m.caller, changes)
            m.session.add(budget)
            await m.session.flush()
            membership.budget_id = budget.budget_id
        else:
            apply_changes(budget, changes)
            budget.updated_by = m.caller.audit_name
    record_change(m.session, m.caller, "member_updated", "teams", team.team_id, before,
                  {"user_id": membership.user_id, "role": membership.role, **limits})
    await _commit(m)
    user = await m.session.get(User, membership.user_id)
    return MemberUpdated(team_id=team.team_id, user_id=membership.user_id, user_email=user.user_email if user else None,
                         role=membership.role, max_budget_in_team=budget.max_budget if budget else None)


async def _membership(m: Manage, team: Team, user_id: str | None, user_email: str | None) -> TeamMembership:
    if user_id is None:
        user = await user_by_email(m.session, user_email or "")
        user_id = user.user_id if user is not None else None
    membership = await m.session.get(TeamMembership, (user_id, team.team_id)) if user_id else None
    if membership is None:
        raise BadRequestError(f"{user_id or user_email!r} is not a member of team {team.team_id!r}",
                              param="user_id", code="not_a_member")
    return membership


async def set_blocked(m: Manage, body: TeamId, *, blocked: bool) -> TeamPublic:
    """Block (or unblock) every key of a team: proxy admins and the admins of the team's organisation."""
    team = await _readable(m, body.team_id)
    if not await _may_set_limits(m, team):
        raise PermissionDeniedError("Only a proxy admin or an admin of the team's organisation may block or unblock "
                                    "a team", code="team_block_denied")
    before = snapshot(team)
    team.blocked = blocked
    team.updated_by = m.caller.audit_name
    record_change(m.session, m.caller, "blocked" if blocked else "unblocked", "teams", team.team_id, before,
                  {"blocked": blocked})
    await _commit(m)
    return await _shown(m, team)


async def _readable(m: Manage, team_id: str) -> Team:
    team = await m.session.get(Team, team_id)
    if team is None or not await may_read_team(m.session, m.caller, team):
        raise not_found("Team", team_id)
    return team


async def _manageable(m: Manage, team_id: str) -> Team:
    """A team the caller may manage; 404 when it may not even read it, 403 when it only reads it."""
    team = await _readable(m, team_id)
    if not await may_manage_team(m.session, m.caller, team):
        raise PermissionDeniedError(f"Only a proxy admin, an admin of team {team_id!r} or of its organisation may "
                                    "change it", code="team_admin_only")
    return team


async def _may_set_limits(m: Manage, team: Team) -> bool:
    if m.caller.is_admin:
        return True
    return m.caller.role != "proxy_admin_viewer" and await is_org_admin(m.session, m.caller, team.organization_id)


async def _shown(m: Manage, team: Team) -> TeamPublic:
    return team_public(team, (await queries.members_of(m.session, [team.team_id]))[team.team_id])


async def _commit(m: Manage) -> None:
    try:
        await m.session.commit()
    except IntegrityError as error:  # a concurrent create of the same team or user id
        await m.session.rollback()
        raise BadRequestError("A team or user with that id was created at the same time; retry",
                              code="duplicate_id") from error
    m.changed()
