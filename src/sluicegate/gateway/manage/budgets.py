"""Reusable budgets (`/budget/...`), and how every entity's limit fields are applied to its row.

Proxy admins create, change and delete budgets; proxy admins and viewers read them. `apply_changes` is the one
place a management change is written onto a row: it keeps `budget_reset_at` in step with `budget_duration`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from sluicegate.errors import BadRequestError, ConflictError
from sluicegate.gateway.auth import Principal
from sluicegate.gateway.db.models import Budget, utcnow
from sluicegate.gateway.db.queries import budgets as queries
from sluicegate.gateway.deps import Manage
from sluicegate.gateway.durations import next_reset, parse_duration
from sluicegate.gateway.manage.access import not_found, require_admin, require_reader
from sluicegate.gateway.manage.audit import record_change
from sluicegate.gateway.manage.schemas.budgets import (
    LIMIT_FIELDS,
    BudgetCreate,
    BudgetDeleteRequest,
    BudgetInfoRequest,
    BudgetPublic,
    BudgetUpdate,
)

_COLUMN_OF = {"metadata": "metadata_"}  # API field → attribute, where they differ


def snapshot(row: Any) -> dict[str, Any]:
    """A row's column values under their API names, for the audit log."""
    values = {}
    for attribute in inspect(row).mapper.column_attrs:
        name = "metadata" if attribute.key == "metadata_" else attribute.key
        values[name] = getattr(row, attribute.key)
    return values


def apply_changes(row: Any, changes: Mapping[str, Any], now: datetime | None = None) -> None:
    """Write `changes` (API field → value) onto `row`. A null clears a nullable column and empties a list or
    dict column; a new `budget_duration` restarts the budget window from now."""
    table = row.__table__
    for field, value in changes.items():
        attribute = _COLUMN_OF.get(field, field)
        column = table.c[field]
        if value is None and not column.nullable:
            current = getattr(row, attribute)
            value = type(current)() if isinstance(current, list | dict) else current
        setattr(row, attribute, value)
    if "budget_duration" in changes and "budget_reset_at" not in changes:
        duration = changes["budget_duration"]
        row.budget_reset_at = next_reset(parse_duration(duration), now or utcnow()) if duration else None


def limit_changes(body: Any) -> dict[str, Any]:
    """The limit fields a request set (explicitly, even to null)."""
    return {name: getattr(body, name) for name in LIMIT_FIELDS if name in body.model_fields_set}


def new_budget(caller: Principal, changes: Mapping[str, Any], budget_id: str | None = None) -> Budget:
    """A budget row holding `changes` (limit fields), authored by the caller."""
    row = Budget(created_by=caller.audit_name, updated_by=caller.audit_name, model_max_budget={})
    if budget_id:
        row.budget_id = budget_id
    apply_changes(row, changes)
    return row


async def create_budget(m: Manage, body: BudgetCreate) -> BudgetPublic:
    require_admin(m.caller, "create a budget")
    if body.budget_id and await m.session.get(Budget, body.budget_id) is not None:
        raise BadRequestError(f"Budget with id {body.budget_id!r} already exists", param="budget_id",
                              code="duplicate_id")
    changes = limit_changes(body)
    if "budget_reset_at" in body.model_fields_set:
        changes["budget_reset_at"] = body.budget_reset_at
    row = new_budget(m.caller, changes, body.budget_id)
    m.session.add(row)
    await m.session.flush()
    record_change(m.session, m.caller, "created", "budgets", row.budget_id, None, snapshot(row))
    try:
        await m.session.commit()
    except IntegrityError:  # a concurrent create with the same id won the race
        await m.session.rollback()
        raise BadRequestError(f"Budget with id {body.budget_id!r} already exists", param="budget_id",
                              code="duplicate_id") from None
    m.changed()
    return BudgetPublic.model_validate(row)


async def budget_info(m: Manage, body: BudgetInfoRequest) -> list[BudgetPublic]:
    require_reader(m.caller, "read budgets")
    found = await queries.budgets_by_ids(m.session, body.budgets)
    missing = [budget_id for budget_id in body.budgets if budget_id not in found]
    if missing:
        raise not_found("Budget", ", ".join(missing))
    return [BudgetPublic.model_validate(found[budget_id]) for budget_id in dict.fromkeys(body.budgets)]


async def update_budget(m: Manage, body: BudgetUpdate) -> BudgetPublic:
    require_admin(m.caller, "change a budget")
    row = await m.session.get(Budget, body.budget_id)
    if row is None:
        raise not_found("Budget", body.budget_id)
    before = snapshot(row)
    changes = limit_changes(body)
    if "budget_reset_at" in body.model_fields_set:
        changes["budget_reset_at"] = body.budget_reset_at
    apply_changes(row, changes)
    row.updated_by = m.caller.audit_name
    record_change(m.session, m.caller, "updated", "budgets", row.budget_id, before, changes)
    await _commit(m)
    return BudgetPublic.model_validate(row)


async def delete_budget(m: Manage, body: BudgetDeleteRequest) -> BudgetPublic:
    require_admin(m.caller, "delete a budget")
    row = await m.session.get(Budget, body.id)
    if row is None:
        raise not_found("Budget", body.id)
    users = await queries.budget_referrers(m.session, body.id)
    if users:
        raise ConflictError(f"Budget {body.id!r} is still used by {', '.join(users)}: point them at another "
                            "budget (or delete them) first", param="id", code="budget_in_use")
    answer = BudgetPublic.model_validate(row)
    record_change(m.session, m.caller, "deleted", "budgets", row.budget_id, snapshot(row), None)
    await m.session.delete(row)
    await _commit(m)
    return answer


async def list_budgets(m: Manage, *, offset: int, limit: int) -> list[BudgetPublic]:
    require_reader(m.caller, "list budgets")
    rows = await queries.list_budgets(m.session, offset=offset, limit=limit)
    return [BudgetPublic.model_validate(row) for row in rows]


async def _commit(m: Manage) -> None:
    await m.session.commit()
    m.changed()
