"""Every query on virtual keys: look-ups by hash or alias, pages of keys, and who administers which team.

Each function is one statement (two for a page: the rows and their count), whatever the number of keys asked for.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, delete, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from sluicegate.gateway.auth import ORG_ADMIN
from sluicegate.gateway.db.models import OrganizationMembership, Team, TeamMembership, VirtualKey

MAX_PAGE_SIZE = 100
_Query = TypeVar("_Query", bound=Select[Any])
SORTABLE: dict[str, InstrumentedAttribute[Any]] = {
    "created_at": VirtualKey.created_at, "updated_at": VirtualKey.updated_at, "key_alias": VirtualKey.key_alias,
    "spend": VirtualKey.spend, "max_budget": VirtualKey.max_budget, "expires": VirtualKey.expires,
    "user_id": VirtualKey.user_id, "team_id": VirtualKey.team_id,
}


async def keys_by_tokens(session: AsyncSession, tokens: Collection[str]) -> list[VirtualKey]:
    if not tokens:
        return []
    return list(await session.scalars(select(VirtualKey).where(VirtualKey.token.in_(tokens))))


async def keys_by_aliases(session: AsyncSession, aliases: Collection[str]) -> list[VirtualKey]:
    if not aliases:
        return []
    return list(await session.scalars(select(VirtualKey).where(VirtualKey.key_alias.in_(aliases))))


async def alias_taken(session: AsyncSession, alias: str, *, other_than: str | None = None) -> bool:
    """Whether another key already has `alias` (LiteLLM keeps key aliases unique)."""
    query = select(VirtualKey.token).where(VirtualKey.key_alias == alias)
    if other_than is not None:
        query = query.where(VirtualKey.token != other_than)
    return (await session.scalar(query.limit(1))) is not None


async def teams_by_ids(session: AsyncSession, team_ids: Collection[str]) -> dict[str, Team]:
    if not team_ids:
        return {}
    rows = await session.scalars(select(Team).where(Team.team_id.in_(team_ids)))
    return {team.team_id: team for team in rows}


async def managed_team_ids(session: AsyncSession, user_id: str | None) -> frozenset[str]:
    """The teams `user_id` administers: as a team admin, or as an org admin of the team's organisation."""
    if user_id is None:
        return frozenset()
    team_admin = select(TeamMembership.team_id).where(TeamMembership.user_id == user_id,
                                                       TeamMembership.role == "admin")
    org_admin = select(OrganizationMembership.organization_id).where(
        OrganizationMembership.user_id == user_id, OrganizationMembership.user_role == ORG_ADMIN)
    rows = await session.scalars(select(Team.team_id).where(
        or_(Team.team_id.in_(team_admin), Team.organization_id.in_(org_admin))))
    return frozenset(rows)


async def is_team_member(session: AsyncSession, user_id: str, team_id: str) -> bool:
    return await session.get(TeamMembership, (user_id, team_id)) is not None


async def delete_keys(session: AsyncSession, tokens: Collection[str]) -> None:
    if tokens:
        await session.execute(delete(VirtualKey).where(VirtualKey.token.in_(tokens)))


@dataclass(frozen=True, slots=True)
class KeyFilter:
    """What /key/list narrows to; `visible` is the caller's reach (None: every key)."""

    user_id: str | None = None
    team_id: str | None = None
    organization_id: str | None = None
    key_alias: str | None = None
    key_hash: str | None = None
    visible_users: Sequence[str] | None = None  # keys of these users …
    visible_teams: Collection[str] = ()  # … and of these teams; both None/empty with `everything` False: none
    everything: bool = True


def _where(query: _Query, wanted: KeyFilter) -> _Query:
    conditions: list[ColumnElement[bool]] = []
    if wanted.user_id is not None:
        conditions.append(VirtualKey.user_id == wanted.user_id)
    if wanted.team_id is not None:
        conditions.append(VirtualKey.team_id == wanted.team_id)
    if wanted.organization_id is not None:
        conditions.append(VirtualKey.organization_id == wanted.organization_id)
    if wanted.key_alias is not None:
        conditions.append(VirtualKey.key_alias == wanted.key_alias)
    if wanted.key_hash is not None:
        conditions.append(VirtualKey.token == wanted.key_hash)
    if not wanted.everything:
        reach: list[ColumnElement[bool]] = []
        if wanted.visible_users:
            reach.append(VirtualKey.user_id.in_(wanted.visible_users))
        if wanted.visible_teams:
            reach.append(VirtualKey.team_id.in_(wanted.visible_teams))
        conditions.append(or_(*reach) if reach else false())
    return query.where(and_(*conditions)) if conditions else query


async def page_of_keys(session: AsyncSession, wanted: KeyFilter, *, page: int, size: int,
                       sort_by: str = "created_at", descending: bool = True) -> tuple[list[VirtualKey], int]:
    """One page of keys (1-based) and how many match in all."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    column: InstrumentedAttribute[Any] = SORTABLE[sort_by]
    order = [column.desc() if descending else column.asc(), VirtualKey.token.asc()]
    rows = await session.scalars(_where(select(VirtualKey), wanted).order_by(*order)
                                 .offset((page - 1) * size).limit(size))
    total = await session.scalar(_where(select(func.count()).select_from(VirtualKey), wanted))
    return list(rows), int(total or 0)
