"""Budgets (LiteLLM's BudgetNewRequest / LiteLLM_BudgetTable), and the limit fields every entity with a budget shares.

Money arrives as a JSON number and becomes an exact Decimal through its text (`str(0.1)` is "0.1", never
0.1000000000000000055…); it leaves as a JSON number, as LiteLLM's clients expect. A negative amount, a malformed
`budget_duration` or a negative rate limit is refused here, at the edge, naming the field.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from sluicegate.gateway.db.types import to_money
from sluicegate.gateway.durations import parse_duration


def _money_in(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"must be a number, got {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"must be a finite number, got {value!r}")
    if amount < 0:
        raise ValueError(f"must not be negative, got {value}")
    return to_money(amount)


def _number(amount: Decimal) -> float | int:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _duration(text: str) -> str:
    return str(parse_duration(text))


def _model_budgets(budgets: dict[str, Any]) -> dict[str, Any]:
    """LiteLLM's `model_max_budget`: {"gpt-4o": {"budget_limit": 10, "time_period": "1d"}} (or a bare amount)."""
    for model, spec in budgets.items():
        limit = spec.get("budget_limit", spec.get("max_budget")) if isinstance(spec, dict) else spec
        if limit is not None:
            try:
                _money_in(limit)
            except ValueError as error:
                raise ValueError(f"model_max_budget[{model!r}] budget {error}") from None
        period = spec.get("time_period", spec.get("budget_duration")) if isinstance(spec, dict) else None
        if period is not None:
            parse_duration(period, f"model_max_budget[{model!r}].time_period")
    return budgets


MoneyIn = Annotated[Decimal, BeforeValidator(_money_in)]
MoneyOut = Annotated[Decimal, PlainSerializer(_number, return_type=float, when_used="json")]
DurationIn = Annotated[str, AfterValidator(_duration)]
Count = Annotated[int, Field(ge=0)]
ModelBudgets = Annotated[dict[str, Any], AfterValidator(_model_budgets)]

LIMIT_FIELDS = ("max_budget", "soft_budget", "budget_duration", "tpm_limit", "rpm_limit", "max_parallel_requests",
                "model_max_budget")


class LimitFields(BaseModel):
    """The budget and rate-limit fields of keys, users, teams, organisations, end users and budgets."""

    max_budget: MoneyIn | None = None
    soft_budget: MoneyIn | None = None
    budget_duration: DurationIn | None = None  # "30s", "1h", "1d", "7d", "30d", "1mo"
    tpm_limit: Count | None = None
    rpm_limit: Count | None = None
    max_parallel_requests: Count | None = None
    model_max_budget: ModelBudgets | None = None


class BudgetCreate(LimitFields):
    budget_id: str | None = Field(default=None, min_length=1)
    budget_reset_at: datetime | None = None


class BudgetUpdate(LimitFields):
    budget_id: str = Field(min_length=1)
    budget_reset_at: datetime | None = None


class BudgetInfoRequest(BaseModel):
    budgets: list[str] = Field(min_length=1)


class BudgetDeleteRequest(BaseModel):
    id: str = Field(min_length=1)


class LimitsPublic(BaseModel):
    """The budget and rate-limit fields budgets, users and teams show alike (the tables' `_Limits`)."""

    model_config = ConfigDict(from_attributes=True)

    max_budget: MoneyOut | None = None
    soft_budget: MoneyOut | None = None
    budget_duration: str | None = None
    budget_reset_at: datetime | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    max_parallel_requests: int | None = None
    model_max_budget: dict[str, Any] = Field(default_factory=dict)


class BudgetPublic(LimitsPublic):
    """A budget row as LiteLLM shows it (LiteLLM_BudgetTable)."""

    budget_id: str
    created_at: datetime | None = None
    created_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None
