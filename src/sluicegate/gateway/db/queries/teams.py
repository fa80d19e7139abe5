"""Queries on teams: look-ups, the teams a caller may see, members with their e-mails, a team's keys, and
deletion with everything that hangs off a team (its keys, memberships and member budgets)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.gateway.auth import ORG_ADMIN
from sluicegate.gateway.db.models import OrganizationMembership, Team, TeamMembership, User, VirtualKey
from sluicegate.gateway.db.queries.budgets import delete_unreferenced_budgets

NO_ORGANIZATION = "default_organization"  # LiteLLM's /team/list value for "teams without an organisation"


async def teams_by_ids(session: AsyncSession, team_ids: Collection[str]) -> dict[str, Team]:
    if not team_ids:
        return {}
    rows = await session.scalars(select(Team).where(Team.team_id.in_(set(team_ids))))
    return {row.team_id: row for row in rows}


def visible_to(user_id: str) -> ColumnElement[bool]:
    """Teams a user may read: those it belongs to and those of the organisations it administers."""
    member_of = select(TeamMembership.team_id).where(TeamMembership.user_id == user_id)
    admin_of = select(OrganizationMembership.organization_id).where(
        OrganizationMembership.user_id == user_id, OrganizationMembership.user_role == ORG_ADMIN)
    return or_(Team.team_id.in_(member_of), Team.organization_id.in_(admin_of))


async def list_teams(session: AsyncSession, *, visible_to_user: str | None, member_id: str | None,
                     organization_id: str | None, offset: int, limit: int) -> list[Team]:
    """A page of teams (oldest first). `visible_to_user`: only those that user may read (None: all)."""
    query = select(Team)
    if visible_to_user is not None:
        query = query.where(visible_to(visible_to_user))
    if member_id is not None:
        query = query.where(Team.team_id.in_(select(TeamMembership.team_id)
                                             .where(TeamMembership.user_id == member_id)))
    if organization_id == NO_ORGANIZATION:
        query = query.where(Team.organization_id.is_(None))
    elif organization_id is not None:
        query = query.where(Team.organization_id == organization_id)
    rows = await session.scalars(query.order_by(Team.created_at, Team.team_id).offset(offset).limit(limit))
    return list(rows)


async def members_of(session: AsyncSession, team_ids: Collection[str]
                     ) -> dict[str, list[tuple[TeamMembership, str | None]]]:
    """Each team's memberships with the member's e-mail, oldest first (one query)."""
    found: dict[str, list[tuple[TeamMembership, str | None]]] = {team_id: [] for team_id in team_ids}
    if not team_ids:
        return found
    rows = await session.execute(select(TeamMembership, User.user_email)
                                 .join(User, User.user_id == TeamMembership.user_id)
                                 .where(TeamMembership.team_id.in_(set(team_ids)))
                                 .order_by(TeamMembership.created_at, TeamMembership.user_id))
    for membership, email in rows:
        found[membership.team_id].append((membership, email))
    return found


async def keys_of_teams(session: AsyncSession, team_ids: Collection[str], *, limit: int) -> list[VirtualKey]:
    if not team_ids:
        return []
    rows = await session.scalars(select(VirtualKey).where(VirtualKey.team_id.in_(set(team_ids)))
                                 .order_by(VirtualKey.created_at).limit(limit))
    return list(rows)


async def delete_member_keys(session: AsyncSession, team_id: str, user_ids: Collection[str]) -> None:
    """A removed member's keys for the team stop working with the membership."""
    if user_ids:
        await session.execute(delete(VirtualKey).where(VirtualKey.team_id == team_id,
                                                       VirtualKey.user_id.in_(set(user_ids))))


async def delete_teams(session: AsyncSession, team_ids: Collection[str]) -> None:
    """Delete teams with their keys, memberships and the members' own budgets."""
    ids = set(team_ids)
    if not ids:
        return
    member_budgets = list(await session.scalars(select(TeamMembership.budget_id).where(
        TeamMembership.team_id.in_(ids), TeamMembership.budget_id.is_not(None))))
    await session.execute(delete(VirtualKey).where(VirtualKey.team_id.in_(ids)))
    await session.execute(delete(TeamMembership).where(TeamMembership.team_id.in_(ids)))
    await session.execute(delete(Team).where(Team.team_id.in_(ids)))
    await delete_unreferenced_budgets(session, member_budgets)


async def memberships_in(session: AsyncSession, team_id: str, user_ids: Collection[str]) -> dict[str, TeamMembership]:
    """The memberships of `user_ids` in one team, by user id."""
    if not user_ids:
        return {}
    rows = await session.scalars(select(TeamMembership).where(TeamMembership.team_id == team_id,
                                                              TeamMembership.user_id.in_(set(user_ids))))
    return {row.user_id: row for row in rows}


async def roles_in(session: AsyncSession, user_id: str, team_ids: Collection[str]) -> dict[str, str]:
    """A user's role in each of `team_ids` it belongs to."""
    if not team_ids:
        return {}
    rows = await session.execute(select(TeamMembership.team_id, TeamMembership.role).where(
        TeamMembership.user_id == user_id, TeamMembership.team_id.in_(set(team_ids))))
    return {first: second for first, second in rows}
