"""Teams: /team/new, /team/info, /team/update, /team/delete, /team/list, /team/member_add, /team/member_delete,
/team/member_update, /team/block, /team/unblock (LiteLLM's paths and fields)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from sluicegate.gateway.deps import ManageDep
from sluicegate.gateway.manage import teams
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
)

router = APIRouter(tags=["teams"])
LIST_LIMIT = 1000


@router.post("/team/new")
async def team_new(m: ManageDep, body: TeamCreate) -> TeamPublic:
    return await teams.create_team(m, body)


@router.get("/team/info")
async def team_info(m: ManageDep, team_id: str = Query(min_length=1)) -> TeamInfo:
    return await teams.team_info(m, team_id)


@router.post("/team/update")
async def team_update(m: ManageDep, body: TeamUpdate) -> TeamUpdated:
    return await teams.update_team(m, body)


@router.post("/team/delete")
async def team_delete(m: ManageDep, body: TeamIds) -> TeamsDeleted:
    return await teams.delete_teams(m, body)


@router.get("/team/list")
async def team_list(m: ManageDep, user_id: str | None = None, organization_id: str | None = None,
                    page: int = Query(1, ge=1),
                    page_size: int = Query(LIST_LIMIT, ge=1, le=LIST_LIMIT)) -> list[TeamListed]:
    """`organization_id=default_organization`: the teams outside any organisation (LiteLLM's convention)."""
    return await teams.list_teams(m, user_id=user_id, organization_id=organization_id,
                                  offset=(page - 1) * page_size, limit=page_size)


@router.post("/team/member_add")
async def team_member_add(m: ManageDep, body: MemberAdd) -> MembersAdded:
    return await teams.add_members(m, body)


@router.post("/team/member_delete")
async def team_member_delete(m: ManageDep, body: MemberDelete) -> TeamPublic:
    return await teams.delete_member(m, body)


@router.post("/team/member_update")
async def team_member_update(m: ManageDep, body: MemberUpdate) -> MemberUpdated:
    return await teams.update_member(m, body)


@router.post("/team/block")
async def team_block(m: ManageDep, body: TeamId) -> TeamPublic:
    return await teams.set_blocked(m, body, blocked=True)


@router.post("/team/unblock")
async def team_unblock(m: ManageDep, body: TeamId) -> TeamPublic:
    return await teams.set_blocked(m, body, blocked=False)
