"""Model access groups: /access_group/new, /access_group/list, /access_group/{access_group}/info, /update and
/delete (LiteLLM's paths). A group name may hold "/": the path parameter takes everything up to the last step."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from sluicegate.gateway.deps import ManageDep, gateway_state
from sluicegate.gateway.manage import access_groups
from sluicegate.gateway.manage.schemas.access_groups import (
    AccessGroupCreate,
    AccessGroupDeleted,
    AccessGroupList,
    AccessGroupPublic,
    AccessGroupSaved,
    AccessGroupUpdate,
)
from sluicegate.gateway.pipeline import GatewayState

router = APIRouter(tags=["access groups"])
StateDep = Annotated[GatewayState, Depends(gateway_state)]


@router.post("/access_group/new")
async def access_group_new(m: ManageDep, state: StateDep, body: AccessGroupCreate) -> AccessGroupSaved:
    return await access_groups.create_group(m, state, body)


@router.get("/access_group/list")
async def access_group_list(m: ManageDep, state: StateDep) -> AccessGroupList:
    return AccessGroupList(access_groups=await access_groups.list_groups(m, state))


@router.get("/access_group/{access_group:path}/info")
async def access_group_info(m: ManageDep, state: StateDep, access_group: str) -> AccessGroupPublic:
    return await access_groups.group_info(m, state, access_group)


@router.put("/access_group/{access_group:path}/update")
async def access_group_update(m: ManageDep, state: StateDep, access_group: str,
                              body: AccessGroupUpdate) -> AccessGroupSaved:
    return await access_groups.update_group(m, state, access_group, body)


@router.delete("/access_group/{access_group:path}/delete")
async def access_group_delete(m: ManageDep, state: StateDep, access_group: str) -> AccessGroupDeleted:
    return await access_groups.delete_group(m, state, access_group)
