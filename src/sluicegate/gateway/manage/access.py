"""Who may do what in the management API, decided in one place.

Roles (LiteLLM's): a proxy admin does everything; a proxy admin viewer reads everything and changes nothing; an
internal user manages its own keys and reads its own rows; a team admin (role "admin" in `team_memberships`)
manages its team's members and keys; an org admin manages its organisations' teams. A row a caller may not read
answers 404 exactly like a row that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.errors import NotFoundError, PermissionDeniedError
from sluicegate.gateway.auth import ORG_ADMIN, PROXY_ADMIN_VIEWER, Principal
from sluicegate.gateway.db.models import OrganizationMembership, Team, TeamMembership


def require_admin(caller: Principal, action: str) -> None:
    """Refuse unless the caller is a proxy admin; `action` says what was refused ("create an organisation")."""
    if not caller.is_admin:
        raise PermissionDeniedError(f"Only a proxy admin may {action}", code="admin_only")


def require_reader(caller: Principal, action: str) -> None:
    """Refuse unless the caller may read everything (proxy admin or proxy admin viewer)."""
    if not caller.may_read_all:
        raise PermissionDeniedError(f"Only a proxy admin or proxy admin viewer may {action}", code="admin_only")


def require_writer(caller: Principal, action: str) -> None:
    """Refuse a viewer's attempt to change anything, whatever else it may own."""
    if caller.role == PROXY_ADMIN_VIEWER and not caller.is_admin:
        raise PermissionDeniedError(f"A proxy admin viewer may not {action}: the role is read-only",
                                    code="read_only_role")


def not_found(kind: str, ident: str) -> NotFoundError:
    """The one answer for "no such row" and "not yours": the same message either way."""
    return NotFoundError(f"{kind} {ident!r} not found", code="not_found")


async def team_role(session: AsyncSession, caller: Principal, team_id: str) -> str | None:
    """The caller's role in a team: "admin", "user", or None when it is not a member."""
    if caller.user_id is None:
        return None
    membership = await session.get(TeamMembership, (caller.user_id, team_id))
    return membership.role if membership is not None else None


async def is_org_admin(session: AsyncSession, caller: Principal, organization_id: str | None) -> bool:
    if caller.user_id is None or organization_id is None:
        return False
    membership = await session.get(OrganizationMembership, (caller.user_id, organization_id))
    return membership is not None and membership.user_role == ORG_ADMIN


async def may_manage_team(session: AsyncSession, caller: Principal, team: Team) -> bool:
    """Proxy admins, the team's admins and the admins of its organisation may change a team and its keys."""
    if caller.is_admin:
        return True
    if caller.role == PROXY_ADMIN_VIEWER:
        return False
    if await team_role(session, caller, team.team_id) == "admin":
        return True
    return await is_org_admin(session, caller, team.organization_id)


async def may_read_team(session: AsyncSession, caller: Principal, team: Team) -> bool:
    """Readers of everything, and the team's own members (and org admins) may read a team."""
    if caller.may_read_all or await team_role(session, caller, team.team_id) is not None:
        return True
    return await is_org_admin(session, caller, team.organization_id)


async def teams_of(session: AsyncSession, user_id: str) -> list[str]:
    """The ids of the teams a user belongs to (one query)."""
    rows = await session.scalars(select(TeamMembership.team_id).where(TeamMembership.user_id == user_id))
    return list(rows)
