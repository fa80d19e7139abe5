"""Organisations (`/organization/...`): proxy admins create, change and delete them; an org admin manages its
organisation's members and changes its name and metadata (not its budget, limits or models); members read it.
An organisation the caller may not read answers 404, like a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from sluicegate.errors import BadRequestError, PermissionDeniedError
from sluicegate.gateway.auth import ORG_ADMIN, PROXY_ADMIN_VIEWER
from sluicegate.gateway.db.models import Budget, Organization, OrganizationMembership, new_id
from sluicegate.gateway.db.queries import budgets as budget_queries
from sluicegate.gateway.db.queries import organizations as queries
from sluicegate.gateway.db.queries import teams as team_queries
from sluicegate.gateway.db.queries.users import user_by_email
from sluicegate.gateway.deps import Manage
from sluicegate.gateway.manage.access import not_found, require_admin, require_writer
from sluicegate.gateway.manage.audit import record_change
from sluicegate.gateway.manage.budgets import apply_changes, limit_changes, new_budget, snapshot
from sluicegate.gateway.manage.schemas.budgets import BudgetPublic
from sluicegate.gateway.manage.schemas.organizations import (
    OrgCreate,
    OrgIds,
    OrgMemberAdd,
    OrgMemberDelete,
    OrgMembersAdded,
    OrgMembershipPublic,
    OrgMemberUpdate,
    OrgPublic,
    OrgUpdate,
    OrgWithMembers,
)
from sluicegate.gateway.manage.schemas.teams import team_public
from sluicegate.gateway.manage.users import resolve_members, user_public

ORG_ADMIN_SETTINGS = frozenset({"organization_alias", "metadata"})


async def create_org(m: Manage, body: OrgCreate) -> OrgPublic:
    require_admin(m.caller, "create organisations")
    if body.organization_id and await m.session.get(Organization, body.organization_id) is not None:
        raise BadRequestError(f"Organization {body.organization_id!r} already exists", param="organization_id",
                              code="duplicate_id")
    limits = limit_changes(body)
    if body.budget_id is not None:
        if limits:
            raise BadRequestError(f"Pass budget_id or limits ({sorted(limits)}), not both: the limits would be "
                                  "those of the budget", param="budget_id")
        budget = await m.session.get(Budget, body.budget_id)
        if budget is None:
            raise not_found("Budget", body.budget_id)
    else:  # as in LiteLLM, every organisation gets a budget row of its own, unlimited unless told
        budget = new_budget(m.caller, limits)
        m.session.add(budget)
        await m.session.flush()
    org = Organization(organization_alias=body.organization_alias, budget_id=budget.budget_id, models=body.models,
                       metadata_=body.metadata, spend=0, model_spend={}, created_by=m.caller.audit_name,
                       updated_by=m.caller.audit_name)
    if body.organization_id:
        org.organization_id = body.organization_id
    m.session.add(org)
    await m.session.flush()
    record_change(m.session, m.caller, "created", "organizations", org.organization_id, None,
                  {**snapshot(org), **limits})
    await _commit(m)
    return _public(org, {budget.budget_id: budget})


async def org_info(m: Manage, organization_ids: Sequence[str]) -> list[OrgWithMembers]:
    wanted = list(dict.fromkeys(organization_ids))
    orgs = await queries.orgs_by_ids(m.session, wanted)
    visible = await _readable_ids(m)
    missing = [o for o in wanted if o not in orgs or (visible is not None and o not in visible)]
    if missing:
        raise not_found("Organization", ", ".join(missing))
    return await _with_members(m, [orgs[o] for o in wanted])


async def update_org(m: Manage, body: OrgUpdate) -> OrgWithMembers:
    org = await _administered(m, body.organization_id)
    settings = {name: getattr(body, name) for name in ("organization_alias", "models", "metadata", "budget_id")
                if name in body.model_fields_set}
    limits = limit_changes(body)
    privileged = sorted((set(settings) | set(limits)) - ORG_ADMIN_SETTINGS)
    if privileged:
        require_admin(m.caller, f"change an organisation's {privileged}")
    if settings.get("budget_id") and await m.session.get(Budget, settings["budget_id"]) is None:
        raise not_found("Budget", settings["budget_id"])
    before = snapshot(org)
    apply_changes(org, {k: v for k, v in settings.items() if not (k == "organization_alias" and v is None)})
    if limits:
        await _set_limits(m, org, limits)
    org.updated_by = m.caller.audit_name
    record_change(m.session, m.caller, "updated", "organizations", org.organization_id, before, settings | limits)
    await _commit(m)
    return (await _with_members(m, [org]))[0]


async def _set_limits(m: Manage, org: Organization, limits: dict[str, Any]) -> None:
    """An organisation's limits are its budget row's: changed in place, or a new row when it has none."""
    budget = await m.session.get(Budget, org.budget_id) if org.budget_id else None
    if budget is None:
        budget = new_budget(m.caller, limits)
        m.session.add(budget)
        await m.session.flush()
        org.budget_id = budget.budget_id
        return
    before = snapshot(budget)
    apply_changes(budget, limits)
    budget.updated_by = m.caller.audit_name
    record_change(m.session, m.caller, "updated", "budgets", budget.budget_id, before, limits)


async def delete_orgs(m: Manage, body: OrgIds) -> list[OrgWithMembers]:
    """Delete organisations with their teams (and the teams' keys), their keys and memberships."""
    require_admin(m.caller, "delete organisations")
    wanted = list(dict.fromkeys(body.organization_ids))
    orgs = await queries.orgs_by_ids(m.session, wanted)
    missing = [o for o in wanted if o not in orgs]
    if missing:
        raise not_found("Organization", ", ".join(missing))
    shown = await _with_members(m, [orgs[o] for o in wanted])
    for org in orgs.values():
        record_change(m.session, m.caller, "deleted", "organizations", org.organization_id, snapshot(org), None)
    await queries.delete_orgs(m.session, wanted)
    await _commit(m)
    return shown


async def list_orgs(m: Manage, *, org_id: str | None, org_alias: str | None, offset: int,
                    limit: int) -> list[OrgWithMembers]:
    """All organisations for readers of everything; the caller's own otherwise."""
    member_id = None
    if not m.caller.may_read_all:
        if m.caller.user_id is None:
            return []
        member_id = m.caller.user_id
    rows = await queries.list_orgs(m.session, member_id=member_id, organization_id=org_id, alias_contains=org_alias,
                                   offset=offset, limit=limit)
    return await _with_members(m, rows)


async def add_members(m: Manage, body: OrgMemberAdd) -> OrgMembersAdded:
    org = await _administered(m, body.organization_id)
    wanted = list({(x.user_id, (x.user_email or "").lower() or None): x for x in body.members}.values())
    users, created = await resolve_members(m, [(x.user_id, x.user_email) for x in wanted])
    if len({user.user_id for user in users}) < len(users):
        raise BadRequestError("The same user is named twice in member", param="member", code="duplicate_member")
    already = await queries.memberships_in(m.session, org.organization_id, [user.user_id for user in users])
    if already:
        raise BadRequestError(f"User(s) {sorted(already)} are already members of organization "
                              f"{org.organization_id!r}: use /organization/member_update to change a role",
                              param="member", code="organization_member_already_exists")
    memberships = [OrganizationMembership(user_id=user.user_id, organization_id=org.organization_id,
                                          user_role=member.role, spend=0)
                   for user, member in zip(users, wanted, strict=True)]
    if body.max_budget_in_organization is not None:  # each member gets a budget of its own, as in LiteLLM
        for membership in memberships:
            budget = new_budget(m.caller, {"max_budget": body.max_budget_in_organization}, new_id())
            m.session.add(budget)
            membership.budget_id = budget.budget_id
    await m.session.flush()  # new users and budgets exist before the memberships that point at them
    m.session.add_all(memberships)
    for user in created:
        record_change(m.session, m.caller, "created", "users", user.user_id, None, snapshot(user))
    for membership in memberships:
        record_change(m.session, m.caller, "member_added", "organizations", org.organization_id, None,
                      {"user_id": membership.user_id, "user_role": membership.user_role})
    await _commit(m)
    budgets = await budget_queries.budgets_by_ids(m.session, [x.budget_id for x in memberships if x.budget_id])
    emails = {user.user_id: user.user_email for user in users}
    return OrgMembersAdded(organization_id=org.organization_id, updated_users=[user_public(u) for u in users],
                           updated_organization_memberships=[_membership(x, emails, budgets) for x in memberships])


async def delete_member(m: Manage, body: OrgMemberDelete) -> OrgMembershipPublic:
    org = await _administered(m, body.organization_id)
    membership = await _find_member(m, org, body.user_id, body.user_email)
    shown = _membership(membership, {}, {})
    record_change(m.session, m.caller, "member_removed", "organizations", org.organization_id,
                  {"user_id": membership.user_id, "user_role": membership.user_role}, None)
    await m.session.delete(membership)
    await m.session.flush()
    await budget_queries.delete_unreferenced_budgets(m.session, [membership.budget_id])
    await _commit(m)
    return shown


async def update_member(m: Manage, body: OrgMemberUpdate) -> OrgMembershipPublic:
    org = await _administered(m, body.organization_id)
    membership = await _find_member(m, org, body.user_id, body.user_email)
    before = {"user_role": membership.user_role, "budget_id": membership.budget_id}
    if body.role is not None:
        membership.user_role = body.role
    budget = await m.session.get(Budget, membership.budget_id) if membership.budget_id else None
    if "max_budget_in_organization" in body.model_fields_set:
        if budget is None:
            budget = new_budget(m.caller, {"max_budget": body.max_budget_in_organization})
            m.session.add(budget)
            await m.session.flush()
            membership.budget_id = budget.budget_id
        else:
            apply_changes(budget, {"max_budget": body.max_budget_in_organization})
    record_change(m.session, m.caller, "member_updated", "organizations", org.organization_id, before,
                  {"user_id": membership.user_id, "user_role": membership.user_role,
                   "max_budget_in_organization": body.max_budget_in_organization})
    await _commit(m)
    return _membership(membership, {}, {budget.budget_id: budget} if budget else {})


async def _find_member(m: Manage, org: Organization, user_id: str | None,
                       user_email: str | None) -> OrganizationMembership:
    if user_id is None:
        user = await user_by_email(m.session, user_email or "")
        user_id = user.user_id if user is not None else None
    membership = await m.session.get(OrganizationMembership, (user_id, org.organization_id)) if user_id else None
    if membership is None:
        raise BadRequestError(f"{user_id or user_email!r} is not a member of organization {org.organization_id!r}",
                              param="user_id", code="not_a_member")
    return membership


async def _readable_ids(m: Manage) -> set[str] | None:
    """The organisations the caller may read (None: all of them)."""
    if m.caller.may_read_all:
        return None
    if m.caller.user_id is None:
        return set()
    return set(await queries.org_roles_of(m.session, m.caller.user_id))


async def _administered(m: Manage, organization_id: str) -> Organization:
    """An organisation the caller administers: 404 when it may not read it, 403 when it only reads it."""
    require_writer(m.caller, "change organisations")
    org = await m.session.get(Organization, organization_id)
    visible = await _readable_ids(m)
    if org is None or (visible is not None and organization_id not in visible):
        raise not_found("Organization", organization_id)
    if m.caller.is_admin:
        return org
    roles = await queries.org_roles_of(m.session, m.caller.user_id or "")
    if roles.get(organization_id) != ORG_ADMIN or m.caller.role == PROXY_ADMIN_VIEWER:
        raise PermissionDeniedError(f"Only a proxy admin or an org admin of {organization_id!r} may change it",
                                    code="org_admin_only")
    return org


async def _with_members(m: Manage, orgs: Sequence[Organization]) -> list[OrgWithMembers]:
    """Organisations with members, teams and budgets: five queries for any number of them."""
    ids = [org.organization_id for org in orgs]
    members = await queries.members_of(m.session, ids)
    teams = await queries.teams_of(m.session, ids)
    team_members = await team_queries.members_of(m.session, [t.team_id for rows in teams.values() for t in rows])
    budget_ids = [org.budget_id for org in orgs] + [ms.budget_id for rows in members.values() for ms, _ in rows]
    budgets = await budget_queries.budgets_by_ids(m.session, [b for b in budget_ids if b])
    shown = []
    for org in orgs:
        emails = {ms.user_id: email for ms, email in members[org.organization_id]}
        item = OrgWithMembers(**_public(org, budgets).model_dump(),
                              members=[_membership(ms, emails, budgets) for ms, _ in members[org.organization_id]],
                              teams=[team_public(t, team_members[t.team_id]) for t in teams[org.organization_id]])
        shown.append(item)
    return shown


def _public(org: Organization, budgets: dict[str, Budget]) -> OrgPublic:
    shown = OrgPublic.model_validate(org)
    budget = budgets.get(org.budget_id or "")
    shown.litellm_budget_table = BudgetPublic.model_validate(budget) if budget else None
    return shown


def _membership(row: OrganizationMembership, emails: dict[str, str | None],
                budgets: dict[str, Budget]) -> OrgMembershipPublic:
    shown = OrgMembershipPublic.model_validate(row)
    shown.user_email = emails.get(row.user_id)
    budget = budgets.get(row.budget_id or "")
    shown.litellm_budget_table = BudgetPublic.model_validate(budget) if budget else None
    return shown


async def _commit(m: Manage) -> None:
    try:
        await m.session.commit()
    except IntegrityError as error:  # a concurrent create of the same organisation or user id
        await m.session.rollback()
        raise BadRequestError("An organisation or user with that id was created at the same time; retry",
                              code="duplicate_id") from error
    m.changed()
