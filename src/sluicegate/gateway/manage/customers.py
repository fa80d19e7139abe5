"""End users, LiteLLM's customers (`/customer/...`, also served as `/end_user/...`): proxy admins create, change,
block and delete them; proxy admins and viewers read them. An end user's limits live in a budget row.

`default_model` is stored as given: it is not checked against the deployed models (LiteLLM checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from sluicegate.errors import BadRequestError
from sluicegate.gateway.db.models import Budget, EndUser
from sluicegate.gateway.db.queries import budgets as budget_queries
from sluicegate.gateway.db.queries import end_users as queries
from sluicegate.gateway.deps import Manage
from sluicegate.gateway.manage.access import not_found, require_admin, require_reader
from sluicegate.gateway.manage.audit import record_change
from sluicegate.gateway.manage.budgets import apply_changes, limit_changes, new_budget, snapshot
from sluicegate.gateway.manage.schemas.budgets import BudgetPublic
from sluicegate.gateway.manage.schemas.customers import (
    CustomerCreate,
    CustomerIds,
    CustomerPublic,
    CustomersBlocked,
    CustomersDeleted,
    CustomersUnblocked,
    CustomerUpdate,
)

SETTINGS = ("alias", "blocked", "allowed_model_region", "default_model")


async def create_customer(m: Manage, body: CustomerCreate) -> CustomerPublic:
    require_admin(m.caller, "create customers")
    if await m.session.get(EndUser, body.user_id) is not None:
        raise BadRequestError(f"Customer {body.user_id!r} already exists: pass a new user_id", param="user_id",
                              code="duplicate_id")
    limits = limit_changes(body)
    budget = await _budget_for(m, body.budget_id, limits)
    row = EndUser(user_id=body.user_id, spend=body.spend or 0, budget_id=budget.budget_id if budget else None)
    apply_changes(row, {name: getattr(body, name) for name in SETTINGS})
    m.session.add(row)
    await m.session.flush()
    record_change(m.session, m.caller, "created", "end_users", row.user_id, None, {**snapshot(row), **limits})
    await _commit(m)
    return _public(row, {budget.budget_id: budget} if budget else {})


async def _budget_for(m: Manage, budget_id: str | None, limits: dict[str, Any]) -> Budget | None:
    """An existing budget (`budget_id`), or a new one holding `limits`, or none."""
    if budget_id is not None:
        if limits:
            raise BadRequestError(f"Pass budget_id or limits ({sorted(limits)}), not both", param="budget_id")
        budget = await m.session.get(Budget, budget_id)
        if budget is None:
            raise not_found("Budget", budget_id)
        return budget
    if not limits:
        return None
    budget = new_budget(m.caller, limits)
    m.session.add(budget)
    await m.session.flush()
    return budget


async def customer_info(m: Manage, end_user_id: str) -> CustomerPublic:
    require_reader(m.caller, "read customers")
    row = await m.session.get(EndUser, end_user_id)
    if row is None:
        raise not_found("Customer", end_user_id)
    return (await _shown(m, [row]))[0]


async def update_customer(m: Manage, body: CustomerUpdate) -> CustomerPublic:
    require_admin(m.caller, "change customers")
    row = await m.session.get(EndUser, body.user_id)
    if row is None:
        raise not_found("Customer", body.user_id)
    before = snapshot(row)
    changes: dict[str, Any] = {name: getattr(body, name) for name in (*SETTINGS, "budget_id")
                               if name in body.model_fields_set}
    if changes.get("budget_id") and await m.session.get(Budget, changes["budget_id"]) is None:
        raise not_found("Budget", changes["budget_id"])
    apply_changes(row, changes)
    limits = limit_changes(body)
    if limits:
        budget = await m.session.get(Budget, row.budget_id) if row.budget_id else None
        if budget is None:
            row.budget_id = (await _budget_for(m, None, limits) or Budget()).budget_id
        else:  # the linked budget changes in place, as in LiteLLM (so does every end user sharing it)
            apply_changes(budget, limits)
            budget.updated_by = m.caller.audit_name
    record_change(m.session, m.caller, "updated", "end_users", row.user_id, before, changes | limits)
    await _commit(m)
    return (await _shown(m, [row]))[0]


async def delete_customers(m: Manage, body: CustomerIds) -> CustomersDeleted:
    require_admin(m.caller, "delete customers")
    wanted = list(dict.fromkeys(body.user_ids))
    rows = await _existing(m, wanted)
    for row in rows:
        record_change(m.session, m.caller, "deleted", "end_users", row.user_id, snapshot(row), None)
    await queries.delete_end_users(m.session, wanted)
    await _commit(m)
    return CustomersDeleted(deleted_customers=len(rows), message=f"Successfully deleted customers with ids: {wanted}")


async def list_customers(m: Manage, *, offset: int, limit: int) -> list[CustomerPublic]:
    require_reader(m.caller, "list customers")
    return await _shown(m, await queries.list_end_users(m.session, offset=offset, limit=limit))


async def block_customers(m: Manage, body: CustomerIds) -> CustomersBlocked:
    """Block end users, creating those not seen before (as LiteLLM does), so a request naming them is refused."""
    require_admin(m.caller, "block customers")
    wanted = list(dict.fromkeys(body.user_ids))
    found = await queries.end_users_by_ids(m.session, wanted)
    for user_id in wanted:
        row = found.get(user_id)
        if row is None:
            row = found[user_id] = EndUser(user_id=user_id, spend=0)
            m.session.add(row)
        row.blocked = True
        record_change(m.session, m.caller, "blocked", "end_users", user_id, None, {"blocked": True})
    await _commit(m)
    return CustomersBlocked(blocked_users=await _shown(m, [found[user_id] for user_id in wanted]))


async def unblock_customers(m: Manage, body: CustomerIds) -> CustomersUnblocked:
    require_admin(m.caller, "unblock customers")
    rows = await _existing(m, list(dict.fromkeys(body.user_ids)))
    for row in rows:
        row.blocked = False
        record_change(m.session, m.caller, "unblocked", "end_users", row.user_id, None, {"blocked": False})
    await _commit(m)
    return CustomersUnblocked(unblocked_users=await _shown(m, rows))


async def _existing(m: Manage, wanted: Sequence[str]) -> list[EndUser]:
    found = await queries.end_users_by_ids(m.session, wanted)
    missing = [user_id for user_id in wanted if user_id not in found]
    if missing:
        raise not_found("Customer", ", ".join(missing))
    return [found[user_id] for user_id in wanted]


async def _shown(m: Manage, rows: Sequence[EndUser]) -> list[CustomerPublic]:
    budgets = await budget_queries.budgets_by_ids(m.session, [row.budget_id for row in rows if row.budget_id])
    return [_public(row, budgets) for row in rows]


def _public(row: EndUser, budgets: dict[str, Budget]) -> CustomerPublic:
    shown = CustomerPublic.model_validate(row)
    budget = budgets.get(row.budget_id or "")
    shown.litellm_budget_table = BudgetPublic.model_validate(budget) if budget else None
    return shown


async def _commit(m: Manage) -> None:
    try:
        await m.session.commit()
    except IntegrityError as error:  # a concurrent create of the same end user
        await m.session.rollback()
        raise BadRequestError("A customer with that user_id was created at the same time; retry",
                              code="duplicate_id") from error
    m.changed()
