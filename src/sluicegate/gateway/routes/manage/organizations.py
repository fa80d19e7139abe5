"""Organisations: /organization/new, /organization/info, /organization/update, /organization/delete,
/organization/list, /organization/member_add, /organization/member_delete, /organization/member_update.

LiteLLM serves update and member_update as PATCH and delete and member_delete as DELETE (with a JSON body); POST
is accepted on each too, for clients that cannot send a body with DELETE.
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from sluicegate.gateway.deps import ManageDep
from sluicegate.gateway.manage import organizations
from sluicegate.gateway.manage.schemas.organizations import (
    OrgCreate,
    OrgIds,
    OrgInfoRequest,
    OrgMemberAdd,
    OrgMemberDelete,
    OrgMembersAdded,
    OrgMembershipPublic,
    OrgMemberUpdate,
    OrgPublic,
    OrgUpdate,
    OrgWithMembers,
)

router = APIRouter(tags=["organizations"])
LIST_LIMIT = 1000


@router.post("/organization/new")
async def organization_new(m: ManageDep, body: OrgCreate) -> OrgPublic:
    return await organizations.create_org(m, body)


@router.get("/organization/info")
async def organization_info(m: ManageDep, organization_id: str = Query(min_length=1)) -> OrgWithMembers:
    return (await organizations.org_info(m, [organization_id]))[0]


@router.post("/organization/info")
async def organizations_info(m: ManageDep, body: OrgInfoRequest) -> list[OrgWithMembers]:
    return await organizations.org_info(m, body.organizations)


@router.api_route("/organization/update", methods=["PATCH", "POST"])
async def organization_update(m: ManageDep, body: OrgUpdate) -> OrgWithMembers:
    return await organizations.update_org(m, body)


@router.api_route("/organization/delete", methods=["DELETE", "POST"])
async def organization_delete(m: ManageDep, body: OrgIds) -> list[OrgWithMembers]:
    return await organizations.delete_orgs(m, body)


@router.get("/organization/list")
async def organization_list(m: ManageDep, org_id: str | None = None, org_alias: str | None = None,
                            page: int = Query(1, ge=1),
                            page_size: int = Query(LIST_LIMIT, ge=1, le=LIST_LIMIT)) -> list[OrgWithMembers]:
    """`org_alias` matches part of an alias, ignoring case."""
    return await organizations.list_orgs(m, org_id=org_id, org_alias=org_alias, offset=(page - 1) * page_size,
                                         limit=page_size)


@router.post("/organization/member_add")
async def organization_member_add(m: ManageDep, body: OrgMemberAdd) -> OrgMembersAdded:
    return await organizations.add_members(m, body)


@router.api_route("/organization/member_delete", methods=["DELETE", "POST"])
async def organization_member_delete(m: ManageDep, body: OrgMemberDelete) -> OrgMembershipPublic:
    return await organizations.delete_member(m, body)


@router.api_route("/organization/member_update", methods=["PATCH", "POST"])
async def organization_member_update(m: ManageDep, body: OrgMemberUpdate) -> OrgMembershipPublic:
    return await organizations.update_member(m, body)
