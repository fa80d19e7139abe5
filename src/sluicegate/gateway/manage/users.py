"""Internal users (`/user/...`): proxy admins create, change and delete them; readers of everything list them; a
user reads itself, and an org admin reads the members of its organisations.

`/user/new` never generates a key (LiteLLM's does, unless `auto_create_key` is false): keys come from
`/key/generate`. `resolve_members` is how teams and organisations find — or create — the users they add.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from sluicegate.errors import BadRequestError, PermissionDeniedError
from sluicegate.gateway.auth import INTERNAL_USER
from sluicegate.gateway.db.models import Organization, OrganizationMembership, TeamMembership, User, new_id
from sluicegate.gateway.db.queries import teams as team_queries
from sluicegate.gateway.db.queries import users as queries
from sluicegate.gateway.deps import Manage
from sluicegate.gateway.manage.access import is_org_admin, not_found, require_admin, require_writer
from sluicegate.gateway.manage.audit import record_change
from sluicegate.gateway.manage.budgets import apply_changes, limit_changes, new_budget, snapshot
from sluicegate.gateway.manage.schemas.teams import team_public
from sluicegate.gateway.manage.schemas.users import (
    KeyOverview,
    TeamPlacement,
    UserCreate,
    UserCreated,
    UserDeleteRequest,
    UserInfo,
    UserList,
    UserListed,
    UserPublic,
    UserUpdate,
    UserUpdated,
)

KEYS_SHOWN = 1000  # keys listed by /user/info; /key/list pages through all of them


def user_public(user: User, team_ids: Sequence[str] = ()) -> UserPublic:
    shown = UserPublic.model_validate(user)
    shown.teams = list(team_ids)
    return shown


async def resolve_members(m: Manage, wanted: Sequence[tuple[str | None, str | None]]) -> tuple[list[User], list[User]]:
    """The users named by (user_id, user_email) pairs, in order, and those of them created now (as LiteLLM does:
    an unknown user_id or e-mail becomes a new internal user). Two queries however many are named."""
    by_id = await queries.users_by_ids(m.session, [uid for uid, _ in wanted if uid])
    by_email = await queries.users_by_emails(m.session, [email for uid, email in wanted if email and not uid])
    found: list[User] = []
    created: list[User] = []
    for user_id, email in wanted:
        user = by_id.get(user_id) if user_id else by_email.get((email or "").strip().lower())
        if user is None:
            user = User(user_email=email, user_role=INTERNAL_USER, spend=0, models=[], model_spend={},
                        model_max_budget={}, metadata_={})
            if user_id:
                user.user_id = user_id
                by_id[user_id] = user
            else:
                user.user_id = new_id()
                by_email[(email or "").strip().lower()] = user
            m.session.add(user)
            created.append(user)
        found.append(user)
    return found, created


async def create_user(m: Manage, body: UserCreate) -> UserCreated:
    require_admin(m.caller, "create users")
    if body.user_id and await m.session.get(User, body.user_id) is not None:
        raise BadRequestError(f"User {body.user_id!r} already exists", param="user_id", code="duplicate_id")
    if body.user_email and await queries.user_by_email(m.session, body.user_email) is not None:
        raise BadRequestError(f"A user with e-mail {body.user_email!r} already exists", param="user_email",
                              code="duplicate_email")
    placements = _placements(body)
    await _check_exist(m, [p.team_id for p in placements], [*body.organizations])

    user = User(user_alias=body.user_alias, user_email=body.user_email, user_role=body.user_role,
                sso_user_id=body.sso_user_id, models=body.models, metadata_=body.metadata,
                spend=body.spend or 0, model_spend={}, model_max_budget={})
    if body.user_id:
        user.user_id = body.user_id
    apply_changes(user, limit_changes(body))
    m.session.add(user)
    await m.session.flush()
    memberships = [new_membership(m, user.user_id, p.team_id, p.user_role, p.max_budget_in_team) for p in placements]
    await m.session.flush()  # the user and any member budgets exist before the rows that point at them
    m.session.add_all(memberships)
    for organization_id in dict.fromkeys(body.organizations):
        m.session.add(OrganizationMembership(user_id=user.user_id, organization_id=organization_id,
                                             user_role=INTERNAL_USER, spend=0))
    record_change(m.session, m.caller, "created", "users", user.user_id, None,
                  {**snapshot(user), "teams": [p.team_id for p in placements], "organizations": body.organizations})
    await _commit(m)
    created = UserCreated.model_validate(user)
    created.teams = [p.team_id for p in placements]
    return created


def _placements(body: UserCreate) -> list[TeamPlacement]:
    entries = [*body.teams, *([body.team_id] if body.team_id else [])]
    placements = [TeamPlacement(team_id=e) if isinstance(e, str) else e for e in entries]
    return list({p.team_id: p for p in reversed(placements)}.values())[::-1]


async def _check_exist(m: Manage, team_ids: list[str], organization_ids: list[str]) -> None:
    teams = await team_queries.teams_by_ids(m.session, team_ids)
    missing = [team_id for team_id in team_ids if team_id not in teams]
    if missing:
        raise not_found("Team", ", ".join(missing))
    for organization_id in dict.fromkeys(organization_ids):
        if await m.session.get(Organization, organization_id) is None:
            raise not_found("Organization", organization_id)


def new_membership(m: Manage, user_id: str, team_id: str, role: str,
                   max_budget: Decimal | None = None) -> TeamMembership:
    """A membership (not added yet); with `max_budget`, a budget of the member's own, added to the session (flush
    before adding the membership: it points at the budget)."""
    membership = TeamMembership(user_id=user_id, team_id=team_id, role=role, spend=0)
    if max_budget is not None:
        budget = new_budget(m.caller, {"max_budget": max_budget}, new_id())
        m.session.add(budget)
        membership.budget_id = budget.budget_id
    return membership


async def user_info(m: Manage, user_id: str | None) -> UserInfo:
    user_id = user_id or m.caller.user_id
    if not user_id:
        raise BadRequestError("Pass user_id (or use /user/list to page through users)", param="user_id")
    user = await m.session.get(User, user_id)
    if user is None or not await _may_read_user(m, user_id):
        raise not_found("User", user_id)
    team_ids = (await queries.team_ids_of_users(m.session, [user_id])).get(user_id, [])
    teams = await team_queries.teams_by_ids(m.session, team_ids)
    members = await team_queries.members_of(m.session, list(teams))
    keys = await queries.keys_of_user(m.session, user_id, limit=KEYS_SHOWN)
    return UserInfo(user_id=user_id, user_info=user_public(user, team_ids),
                    keys=[KeyOverview.model_validate(key) for key in keys],
                    teams=[team_public(teams[t], members[t]).model_dump(mode="json") for t in team_ids if t in teams])


async def _may_read_user(m: Manage, user_id: str) -> bool:
    if m.caller.may_read_all or m.caller.user_id == user_id:
        return True
    return m.caller.user_id is not None and await queries.administers_user(m.session, m.caller.user_id, user_id)


async def update_user(m: Manage, body: UserUpdate) -> UserUpdated:
    require_admin(m.caller, "change users")
    if body.user_id:
        user = await m.session.get(User, body.user_id)
    else:
        user = await queries.user_by_email(m.session, body.user_email or "")
    if user is None:
        raise not_found("User", body.user_id or body.user_email or "")
    fields = {"user_alias", "user_role", "sso_user_id", "models", "metadata", "spend"}
    if body.user_id:
        fields.add("user_email")
    changes: dict[str, Any] = {name: getattr(body, name) for name in fields & body.model_fields_set}
    if changes.get("user_role", "") is None:
        del changes["user_role"]
    if "spend" in changes and changes["spend"] is None:
        changes["spend"] = 0
    changes.update(limit_changes(body))
    before = snapshot(user)
    apply_changes(user, changes)
    record_change(m.session, m.caller, "updated", "users", user.user_id, before, changes)
    await _commit(m)
    team_ids = (await queries.team_ids_of_users(m.session, [user.user_id])).get(user.user_id, [])
    return UserUpdated(user_id=user.user_id, data=user_public(user, team_ids))


async def delete_users(m: Manage, body: UserDeleteRequest) -> int:
    """Delete users with their keys and memberships; answers how many were deleted (LiteLLM answers the count)."""
    require_admin(m.caller, "delete users")
    wanted = list(dict.fromkeys(body.user_ids))
    found = await queries.users_by_ids(m.session, wanted)
    missing = [user_id for user_id in wanted if user_id not in found]
    if missing:
        raise not_found("User", ", ".join(missing))
    for user in found.values():
        record_change(m.session, m.caller, "deleted", "users", user.user_id, snapshot(user), None)
    deleted = await queries.delete_users(m.session, wanted)
    await _commit(m)
    return deleted


async def list_users(m: Manage, where: queries.UserFilter, *, page: int, page_size: int) -> UserList:
    """A page of users: every user for readers of everything; the members of an organisation for its admins
    (who must then name it in `organization_id`)."""
    if not m.caller.may_read_all:
        require_writer(m.caller, "list users")
        if not await is_org_admin(m.session, m.caller, where.organization_id):
            raise PermissionDeniedError("Only a proxy admin or proxy admin viewer may list all users; an org admin "
                                        "lists its organisation's members with organization_id=…", code="admin_only")
    rows, total = await queries.list_users(m.session, where, offset=(page - 1) * page_size, limit=page_size)
    ids = [row.user_id for row in rows]
    counts = await queries.key_counts(m.session, ids)
    teams = await queries.team_ids_of_users(m.session, ids)
    users = [UserListed.model_validate(row) for row in rows]
    for user in users:
        user.teams, user.key_count = teams.get(user.user_id, []), counts.get(user.user_id, 0)
    return UserList(users=users, total=total, page=page, page_size=page_size,
                    total_pages=math.ceil(total / page_size) if total else 0)


async def _commit(m: Manage) -> None:
    try:
        await m.session.commit()
    except IntegrityError as error:  # a unique column (sso_user_id) or a concurrent create with the same id
        await m.session.rollback()
        raise BadRequestError("That user_id or sso_user_id is already taken by another user",
                              code="duplicate_id") from error
    m.changed()

