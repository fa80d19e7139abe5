"""Queries on internal users: look-ups by id and e-mail, filtered pages, key counts, and deletion with what hangs
off a user (its keys and memberships)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.gateway.auth import ORG_ADMIN
from sluicegate.gateway.db.models import OrganizationMembership, TeamMembership, User, VirtualKey


@dataclass(frozen=True, slots=True)
class UserFilter:
    """`/user/list`'s filters (LiteLLM's query parameters); None means "any"."""

    user_ids: tuple[str, ...] | None = None
    role: str | None = None
    user_email: str | None = None  # a case-insensitive substring
    team_id: str | None = None
    organization_id: str | None = None  # members of this organisation
    sso_user_ids: tuple[str, ...] | None = None


async def users_by_ids(session: AsyncSession, user_ids: Collection[str]) -> dict[str, User]:
    if not user_ids:
        return {}
    rows = await session.scalars(select(User).where(User.user_id.in_(set(user_ids))))
    return {row.user_id: row for row in rows}


async def users_by_emails(session: AsyncSession, emails: Collection[str]) -> dict[str, User]:
    """Users by e-mail, compared case-insensitively; keyed by the lower-cased address (the oldest user wins
    where several share one)."""
    lowered = {email.strip().lower() for email in emails}
    if not lowered:
        return {}
    rows = await session.scalars(select(User).where(func.lower(User.user_email).in_(lowered))
                                 .order_by(User.created_at.desc()))
    return {(row.user_email or "").lower(): row for row in rows}


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await users_by_emails(session, [email])).get(email.strip().lower())


async def list_users(session: AsyncSession, where: UserFilter, *, offset: int, limit: int) -> tuple[list[User], int]:
    """One page of users (oldest first) and how many match in all."""
    query = _filtered(select(User), where)
    total = await session.scalar(_filtered(select(func.count()).select_from(User), where)) or 0
    rows = await session.scalars(query.order_by(User.created_at, User.user_id).offset(offset).limit(limit))
    return list(rows), total


def _filtered(query: Select[Any], where: UserFilter) -> Select[Any]:
    if where.user_ids is not None:
        query = query.where(User.user_id.in_(where.user_ids))
    if where.sso_user_ids is not None:
        query = query.where(User.sso_user_id.in_(where.sso_user_ids))
    if where.role is not None:
        query = query.where(User.user_role == where.role)
    if where.user_email:
        query = query.where(func.lower(User.user_email).contains(where.user_email.lower(), autoescape=True))
    if where.team_id is not None:
        query = query.where(User.user_id.in_(select(TeamMembership.user_id)
                                             .where(TeamMembership.team_id == where.team_id)))
    if where.organization_id is not None:
        query = query.where(User.user_id.in_(select(OrganizationMembership.user_id)
                                             .where(OrganizationMembership.organization_id == where.organization_id)))
    return query


async def key_counts(session: AsyncSession, user_ids: Collection[str]) -> dict[str, int]:
    if not user_ids:
        return {}
    rows = await session.execute(select(VirtualKey.user_id, func.count()).where(VirtualKey.user_id.in_(set(user_ids)))
                                 .group_by(VirtualKey.user_id))
    return {user_id: count for user_id, count in rows if user_id is not None}


async def keys_of_user(session: AsyncSession, user_id: str, *, limit: int) -> list[VirtualKey]:
    rows = await session.scalars(select(VirtualKey).where(VirtualKey.user_id == user_id)
                                 .order_by(VirtualKey.created_at).limit(limit))
    return list(rows)


async def team_ids_of_users(session: AsyncSession, user_ids: Collection[str]) -> dict[str, list[str]]:
    """Each user's teams (LiteLLM's `teams` column, derived from memberships)."""
    if not user_ids:
        return {}
    rows = await session.execute(select(TeamMembership.user_id, TeamMembership.team_id)
                                 .where(TeamMembership.user_id.in_(set(user_ids)))
                                 .order_by(TeamMembership.created_at))
    teams: dict[str, list[str]] = {}
    for user_id, team_id in rows:
        teams.setdefault(user_id, []).append(team_id)
    return teams


async def administers_user(session: AsyncSession, admin_id: str, user_id: str) -> bool:
    """Whether `admin_id` is an org admin of an organisation `user_id` belongs to (one query)."""
    admin = OrganizationMembership.__table__.alias("admin")
    member = OrganizationMembership.__table__.alias("member")
    query = (select(func.count()).select_from(admin.join(member, admin.c.organization_id == member.c.organization_id))
             .where(and_(admin.c.user_id == admin_id, admin.c.user_role == ORG_ADMIN, member.c.user_id == user_id)))
    return bool(await session.scalar(query))


async def delete_users(session: AsyncSession, user_ids: Collection[str]) -> int:
    """Delete users with their keys and team and organisation memberships; how many users were deleted."""
    ids = set(user_ids)
    if not ids:
        return 0
    await session.execute(delete(VirtualKey).where(VirtualKey.user_id.in_(ids)))
    await session.execute(delete(TeamMembership).where(TeamMembership.user_id.in_(ids)))
    await session.execute(delete(OrganizationMembership).where(OrganizationMembership.user_id.in_(ids)))
    result = await session.execute(delete(User).where(User.user_id.in_(ids)))
    return int(getattr(result, "rowcount", 0) or 0)
