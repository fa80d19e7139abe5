"""End users, LiteLLM's "customers" (NewCustomerRequest, UpdateCustomerRequest, LiteLLM_EndUserTable): the
`user` field of a request. Their limits live in a budget row: one made from the limit fields, or `budget_id`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sluicegate.gateway.manage.schemas.budgets import BudgetPublic, LimitFields, MoneyIn, MoneyOut

Region = Literal["eu", "us"]


class CustomerCreate(LimitFields):
    user_id: str = Field(min_length=1)
    alias: str | None = None
    blocked: bool = False
    budget_id: str | None = Field(default=None, min_length=1)
    allowed_model_region: Region | None = None
    default_model: str | None = None
    spend: MoneyIn | None = None


class CustomerUpdate(LimitFields):
    user_id: str = Field(min_length=1)
    alias: str | None = None
    blocked: bool = False
    budget_id: str | None = Field(default=None, min_length=1)
    allowed_model_region: Region | None = None
    default_model: str | None = None


class CustomerIds(BaseModel):
    user_ids: list[str] = Field(min_length=1)


class CustomerPublic(BaseModel):
    """An end user as LiteLLM shows it (LiteLLM_EndUserTable)."""

    model_config = ConfigDict(from_attributes=True)

    user_id: str
    alias: str | None = None
    spend: MoneyOut
    blocked: bool = False
    allowed_model_region: str | None = None
    default_model: str | None = None
    budget_id: str | None = None
    litellm_budget_table: BudgetPublic | None = None


class CustomersDeleted(BaseModel):
    deleted_customers: int
    message: str


class CustomersBlocked(BaseModel):
    blocked_users: list[CustomerPublic]


class CustomersUnblocked(BaseModel):
    unblocked_users: list[CustomerPublic]
