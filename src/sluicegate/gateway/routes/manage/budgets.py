"""Reusable budgets: /budget/new, /budget/info, /budget/update, /budget/delete, /budget/list (LiteLLM's paths)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from sluicegate.gateway.deps import ManageDep
from sluicegate.gateway.manage import budgets
from sluicegate.gateway.manage.schemas.budgets import (
    BudgetCreate,
    BudgetDeleteRequest,
    BudgetInfoRequest,
    BudgetPublic,
    BudgetUpdate,
)

router = APIRouter(tags=["budgets"])
LIST_LIMIT = 1000


@router.post("/budget/new")
async def budget_new(m: ManageDep, body: BudgetCreate) -> BudgetPublic:
    return await budgets.create_budget(m, body)


@router.post("/budget/info")
async def budget_info(m: ManageDep, body: BudgetInfoRequest) -> list[BudgetPublic]:
    return await budgets.budget_info(m, body)


@router.post("/budget/update")
async def budget_update(m: ManageDep, body: BudgetUpdate) -> BudgetPublic:
    return await budgets.update_budget(m, body)


@router.post("/budget/delete")
async def budget_delete(m: ManageDep, body: BudgetDeleteRequest) -> BudgetPublic:
    return await budgets.delete_budget(m, body)


@router.get("/budget/list")
async def budget_list(m: ManageDep, page: int = Query(1, ge=1),
                      page_size: int = Query(LIST_LIMIT, ge=1, le=LIST_LIMIT)) -> list[BudgetPublic]:
    return await budgets.list_budgets(m, offset=(page - 1) * page_size, limit=page_size)
