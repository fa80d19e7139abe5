"""Models: /model/new, /model/update, PATCH /model/{model_id}/update, /model/delete, /model/info (/v1/, /v2/)
and /model_group/info (LiteLLM's paths)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sluicegate.errors import BadRequestError
from sluicegate.gateway.deps import CallerDep, ManageDep, gateway_state
from sluicegate.gateway.manage import models
from sluicegate.gateway.manage.schemas.models import (
    ModelCreate,
    ModelDeleted,
    ModelDeleteRequest,
    ModelGroupInfoList,
    ModelInfoList,
    ModelInfoPage,
    ModelPublic,
    ModelUpdate,
)
from sluicegate.gateway.pipeline import GatewayState

router = APIRouter(tags=["models"])
StateDep = Annotated[GatewayState, Depends(gateway_state)]
PAGE_LIMIT = 100


@router.post("/model/new")
async def model_new(m: ManageDep, state: StateDep, body: ModelCreate) -> ModelPublic:
    return await models.create_model(m, state, body)


@router.post("/model/update")
async def model_update(m: ManageDep, state: StateDep, body: ModelUpdate) -> ModelPublic:
    model_id = (body.model_info or {}).get("id")
    return await models.update_model(m, state, None if model_id is None else str(model_id), body,
                                     missing=BadRequestError, is_null_removing=False)


@router.patch("/model/{model_id}/update")
async def model_patch(m: ManageDep, state: StateDep, model_id: str, body: ModelUpdate) -> ModelPublic:
    return await models.update_model(m, state, model_id, body)


@router.post("/model/delete")
async def model_delete(m: ManageDep, state: StateDep, body: ModelDeleteRequest) -> ModelDeleted:
    return await models.delete_model(m, state, body.id)


@router.get("/model/info")
@router.get("/v1/model/info")
async def model_info(who: CallerDep, state: StateDep, litellm_model_id: str | None = None) -> ModelInfoList:
    return ModelInfoList(data=models.model_info(who, state, model_id=litellm_model_id))


@router.get("/v2/model/info")
async def model_info_page(who: CallerDep, state: StateDep, model: str | None = None,
                          model_id: Annotated[str | None, Query(alias="modelId")] = None, search: str | None = None,
                          page: Annotated[int, Query(ge=1)] = 1,
                          size: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 50) -> ModelInfoPage:
    found = models.model_info(who, state, model_id=model_id, model_name=model, search=search)
    return ModelInfoPage(data=found[(page - 1) * size:page * size], total_count=len(found), current_page=page,
                         size=size, total_pages=math.ceil(len(found) / size))


@router.get("/model_group/info")
async def model_group_info(who: CallerDep, state: StateDep, model_group: str | None = None) -> ModelGroupInfoList:
    return ModelGroupInfoList(data=models.model_group_info(who, state, model_group))
