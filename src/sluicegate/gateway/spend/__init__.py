"""Spend records: journalled to local disk on the hot path, stored in the database in batches.

See docs/gateway/spend.md for what a process kill or a machine crash can lose (respectively: nothing, and
about the last `fsync_interval_s`).
"""

from sluicegate.gateway.spend.journal import Journal, JournalLockedError, Position
from sluicegate.gateway.spend.record import SpendRecord
from sluicegate.gateway.spend.sink import MemorySink, SpendSink
from sluicegate.gateway.spend.writer import SpendWriter

__all__ = ["Journal", "JournalLockedError", "MemorySink", "Position", "SpendRecord", "SpendSink", "SpendWriter"]
