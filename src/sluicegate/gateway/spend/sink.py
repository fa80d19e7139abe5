"""Where batches of spend records are stored durably: the `SpendSink` protocol, and an in-memory sink for tests.

The database sink (an upsert with ON CONFLICT (request_id) DO NOTHING) lives with the database code.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from sluicegate.gateway.spend.record import SpendRecord


class SpendSink(Protocol):
    async def store(self, batch: list[SpendRecord]) -> None:
        """Store every record of `batch` durably before returning, or raise.

        Must be idempotent on `request_id`: a record stored before a crash is offered again after it.
        """


class MemorySink:
    """Keeps records in a dict by request_id, ignoring repeats the way the database's unique constraint does."""

    def __init__(self) -> None:
        self.records: dict[str, SpendRecord] = {}
        self.batches: list[list[SpendRecord]] = []  # every batch offered, repeats included
        self.repeats = 0  # records offered again after they were stored

    async def store(self, batch: list[SpendRecord]) -> None:
        self.batches.append(list(batch))
        for record in batch:
            if record.request_id in self.records:
                self.repeats += 1
            else:
                self.records[record.request_id] = record

    @property
    def total_usd(self) -> Decimal:
        return sum((r.spend_usd for r in self.records.values()), Decimal(0))
