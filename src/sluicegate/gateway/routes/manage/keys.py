"""The virtual-key endpoints, LiteLLM's paths and fields: each parses, calls one function of manage/keys.py, returns."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from sluicegate.gateway.db.queries.keys import MAX_PAGE_SIZE
from sluicegate.gateway.deps import ManageDep
from sluicegate.gateway.manage import keys
from sluicegate.gateway.manage.schemas.keys import (
    KeyBlock,
    KeyDelete,
    KeyGenerate,
    KeyGenerated,
    KeyInfo,
    KeyList,
    KeyPublic,
    KeyRegenerate,
    KeysDeleted,
    KeyUpdate,
    KeyUpdated,
)

router = APIRouter(tags=["key management"])


@router.post("/key/generate")
async def generate_key(manage: ManageDep, body: KeyGenerate) -> KeyGenerated:
    return await keys.generate_key(manage, body)


@router.post("/key/update")
async def update_key(manage: ManageDep, body: KeyUpdate) -> KeyUpdated:
    return await keys.update_key(manage, body)


@router.post("/key/delete")
async def delete_keys(manage: ManageDep, body: KeyDelete) -> KeysDeleted:
    return await keys.delete_keys(manage, body)


@router.get("/key/info")
async def key_info(manage: ManageDep, key: Annotated[str | None, Query(max_length=256)] = None) -> KeyInfo:
    return await keys.key_info(manage, key)


@router.get("/key/list")
async def list_keys(
    manage: ManageDep,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 10,
    user_id: str | None = None,
    team_id: str | None = None,
    organization_id: str | None = None,
    key_alias: str | None = None,
    key_hash: str | None = None,
    return_full_object: bool = False,
    include_team_keys: bool = False,
    sort_by: str = "created_at",
    sort_order: str = "desc",
) -> KeyList:
    query = keys.KeyListQuery(page=page, size=size, user_id=user_id, team_id=team_id,
                              organization_id=organization_id, key_alias=key_alias, key_hash=key_hash,
                              return_full_object=return_full_object, include_team_keys=include_team_keys,
                              sort_by=sort_by, sort_order=sort_order)
    return await keys.list_keys(manage, query)


@router.post("/key/regenerate")
async def regenerate_key(manage: ManageDep, body: KeyRegenerate) -> KeyGenerated:
    return await keys.regenerate_key(manage, body)


@router.post("/key/{key}/regenerate")
async def regenerate_key_at(manage: ManageDep, key: str, body: KeyRegenerate | None = None) -> KeyGenerated:
    return await keys.regenerate_key(manage, body or KeyRegenerate(), key)


@router.post("/key/block")
async def block_key(manage: ManageDep, body: KeyBlock) -> KeyPublic:
    return await keys.set_blocked(manage, body, blocked=True)


@router.post("/key/unblock")
async def unblock_key(manage: ManageDep, body: KeyBlock) -> KeyPublic:
    return await keys.set_blocked(manage, body, blocked=False)
