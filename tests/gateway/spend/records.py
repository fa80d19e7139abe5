"""Spend records for the spend tests: distinct request ids, exact Decimal costs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sluicegate.gateway.spend import SpendRecord

START = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def make_record(i: int, *, prefix: str = "req") -> SpendRecord:
    """Record number `i`: costs `spend_of(i)`, an amount a float cannot hold exactly."""
    return SpendRecord(
        request_id=f"{prefix}-{i}",
        model="openai/gpt-4o-mini",
        spend_usd=spend_of(i),
        start_time=START,
        end_time=START + timedelta(milliseconds=i),
        api_key_hash="88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        team_id="team-1",
        model_group="gpt-4o-mini",
        prompt_tokens=i,
        completion_tokens=2 * i,
        tags=("batch",),
    )


def spend_of(i: int) -> Decimal:
    return Decimal("0.000000100000000000000001") * (i + 1)


def total_of(count: int) -> Decimal:
    return sum((spend_of(i) for i in range(count)), Decimal(0))
