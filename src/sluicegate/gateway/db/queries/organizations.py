"""Queries on organisations: look-ups, the organisations a caller may see, members with their e-mails, teams,
and deletion with everything that hangs off an organisation (its teams and their keys, its keys, memberships)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.gateway.auth import ORG_ADMIN
from sluicegate.gateway.db.models import Organization, OrganizationMembership, Team, User, VirtualKey
from sluicegate.gateway.db.queries.teams import delete_teams


async def orgs_by_ids(session: AsyncSession, organization_ids: Collection[str]) -> dict[str, Organization]:
    if not organization_ids:
        return {}
    rows = await session.scalars(select(Organization).where(
        Organization.organization_id.in_(set(organization_ids))))
    return {row.organization_id: row for row in rows}


async def org_roles_of(session: AsyncSession, user_id: str) -> dict[str, str | None]:
    """The organisations a user belongs to, with its role in each."""
    rows = await session.execute(select(OrganizationMembership.organization_id, OrganizationMembership.user_role)
                                 .where(OrganizationMembership.user_id == user_id))
    return {first: second for first, second in rows}


async def administered_by(session: AsyncSession, user_id: str) -> set[str]:
    """The organisations a user is an org admin of."""
    return {org for org, role in (await org_roles_of(session, user_id)).items() if role == ORG_ADMIN}


async def list_orgs(session: AsyncSession, *, member_id: str | None, organization_id: str | None,
                    alias_contains: str | None, offset: int, limit: int) -> list[Organization]:
    """A page of organisations (oldest first); `member_id`: only those that user belongs to."""
    query = select(Organization)
    if member_id is not None:
        query = query.where(Organization.organization_id.in_(
            select(OrganizationMembership.organization_id).where(OrganizationMembership.user_id == member_id)))
    if organization_id is not None:
        query = query.where(Organization.organization_id == organization_id)
    if alias_contains:
        query = query.where(Organization.organization_alias.icontains(alias_contains, autoescape=True))
    rows = await session.scalars(query.order_by(Organization.created_at, Organization.organization_id)
                                 .offset(offset).limit(limit))
    return list(rows)


async def members_of(session: AsyncSession, organization_ids: Collection[str]
                     ) -> dict[str, list[tuple[OrganizationMembership, str | None]]]:
    """Each organisation's memberships with the member's e-mail (one query)."""
    found: dict[str, list[tuple[OrganizationMembership, str | None]]] = {o: [] for o in organization_ids}
    if not organization_ids:
        return found
    rows = await session.execute(select(OrganizationMembership, User.user_email)
                                 .join(User, User.user_id == OrganizationMembership.user_id)
                                 .where(OrganizationMembership.organization_id.in_(set(organization_ids)))
                                 .order_by(OrganizationMembership.created_at, OrganizationMembership.user_id))
    for membership, email in rows:
        found[membership.organization_id].append((membership, email))
    return found


async def teams_of(session: AsyncSession, organization_ids: Collection[str]) -> dict[str, list[Team]]:
    found: dict[str, list[Team]] = {o: [] for o in organization_ids}
    if not organization_ids:
        return found
    rows = await session.scalars(select(Team).where(Team.organization_id.in_(set(organization_ids)))
                                 .order_by(Team.created_at, Team.team_id))
    for team in rows:
        found[team.organization_id or ""].append(team)
    return found


async def memberships_in(session: AsyncSession, organization_id: str, user_ids: Collection[str]
                         ) -> dict[str, OrganizationMembership]:
    if not user_ids:
        return {}
    rows = await session.scalars(select(OrganizationMembership).where(
        OrganizationMembership.organization_id == organization_id,
        OrganizationMembership.user_id.in_(set(user_ids))))
    return {row.user_id: row for row in rows}


async def delete_orgs(session: AsyncSession, organization_ids: Collection[str]) -> None:
    """Delete organisations with their teams (and those teams' keys), their keys and memberships; users that
    named one as their organisation keep their rows, without it."""
    ids = set(organization_ids)
    if not ids:
        return
    team_ids = list(await session.scalars(select(Team.team_id).where(Team.organization_id.in_(ids))))
    await delete_teams(session, team_ids)
    await session.execute(delete(VirtualKey).where(VirtualKey.organization_id.in_(ids)))
    await session.execute(delete(OrganizationMembership).where(OrganizationMembership.organization_id.in_(ids)))
    await session.execute(update(User).where(User.organization_id.in_(ids)).values(organization_id=None))
    await session.execute(delete(Organization).where(Organization.organization_id.in_(ids)))


