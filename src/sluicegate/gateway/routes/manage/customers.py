"""End users (LiteLLM's customers): /customer/new, /customer/info, /customer/update, /customer/delete,
/customer/list, /customer/block, /customer/unblock — each also under /end_user/..., LiteLLM's older name."""

from __future__ import annotations

from fastapi import APIRouter, Query

from sluicegate.gateway.deps import ManageDep
from sluicegate.gateway.manage import customers
from sluicegate.gateway.manage.schemas.customers import (
    CustomerCreate,
    CustomerIds,
    CustomerPublic,
    CustomersBlocked,
    CustomersDeleted,
    CustomersUnblocked,
    CustomerUpdate,
)

router = APIRouter(tags=["customers"])
LIST_LIMIT = 1000


@router.post("/customer/new")
@router.post("/end_user/new", include_in_schema=False)
async def customer_new(m: ManageDep, body: CustomerCreate) -> CustomerPublic:
    return await customers.create_customer(m, body)


@router.get("/customer/info")
@router.get("/end_user/info", include_in_schema=False)
async def customer_info(m: ManageDep, end_user_id: str = Query(min_length=1)) -> CustomerPublic:
    return await customers.customer_info(m, end_user_id)


@router.post("/customer/update")
@router.post("/end_user/update", include_in_schema=False)
async def customer_update(m: ManageDep, body: CustomerUpdate) -> CustomerPublic:
    return await customers.update_customer(m, body)


@router.post("/customer/delete")
@router.post("/end_user/delete", include_in_schema=False)
async def customer_delete(m: ManageDep, body: CustomerIds) -> CustomersDeleted:
    return await customers.delete_customers(m, body)


@router.get("/customer/list")
@router.get("/end_user/list", include_in_schema=False)
async def customer_list(m: ManageDep, page: int = Query(1, ge=1),
                        page_size: int = Query(LIST_LIMIT, ge=1, le=LIST_LIMIT)) -> list[CustomerPublic]:
    return await customers.list_customers(m, offset=(page - 1) * page_size, limit=page_size)


@router.post("/customer/block")
@router.post("/end_user/block", include_in_schema=False)
async def customer_block(m: ManageDep, body: CustomerIds) -> CustomersBlocked:
    return await customers.block_customers(m, body)


@router.post("/customer/unblock")
@router.post("/end_user/unblock", include_in_schema=False)
async def customer_unblock(m: ManageDep, body: CustomerIds) -> CustomersUnblocked:
    return await customers.unblock_customers(m, body)
