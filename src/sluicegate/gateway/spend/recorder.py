"""The gateway's spend recorder: a `SpendWriter` on a journal directory this process owns, feeding the database.

Each gateway process needs a journal of its own (a journal is locked by its writer), so the configured directory
(`general_settings.spend_journal_dir`, default ./sluicegate-spend) holds one numbered subdirectory per process:
a process takes the first one no other live process holds, and so also replays what a dead process left there.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sluicegate.gateway.db.runtime import GatewayDatabase
from sluicegate.gateway.spend.journal import Journal, JournalLockedError
from sluicegate.gateway.spend.record import SpendRecord
from sluicegate.gateway.spend.sink import SpendSink
from sluicegate.gateway.spend.writer import SpendWriter

log = logging.getLogger("sluicegate.gateway.spend")
DEFAULT_JOURNAL_DIR = "sluicegate-spend"
MAX_JOURNALS = 256  # worker processes on one machine sharing the directory


class DatabaseSinkOf:
    """The database sink, once the database is open (the writer may start storing before that)."""

    def __init__(self, db: GatewayDatabase) -> None:
        self._db = db
        self._sink: SpendSink | None = None

    async def store(self, batch: list[SpendRecord]) -> None:
        if self._sink is None:
            from sluicegate.gateway.spend.db_sink import DatabaseSink  # SQLAlchemy: only once records arrive

            self._sink = DatabaseSink((await self._db.opened()).sessions)
        await self._sink.store(batch)


class SpendRecorder:
    """`record()` per request; `start()` and `aclose()` in the gateway's lifespan."""

    def __init__(self, directory: str | Path, db: GatewayDatabase, *, flush_interval_s: float = 1.0) -> None:
        self.directory = Path(directory)
        self._db = db
        self._flush_interval_s = flush_interval_s
        self._writer: SpendWriter | None = None

    async def start(self) -> None:
        journal = _own_journal(self.directory)
        self._writer = SpendWriter(journal, DatabaseSinkOf(self._db), flush_interval_s=self._flush_interval_s)
        await self._writer.start()
        log.info("spend journal: %s", journal.directory)

    def record(self, record: SpendRecord) -> None:
        """Journal the record (in the operating system when this returns); the database gets it in a batch."""
        if self._writer is None:
            raise RuntimeError("a spend record arrived before the gateway started its spend recorder")
        self._writer.record(record)

    async def flush(self) -> None:
        if self._writer is not None:
            await self._writer.flush()

    async def aclose(self) -> None:
        if self._writer is not None:
            await self._writer.aclose()


def _own_journal(directory: Path) -> Journal:
    for index in range(MAX_JOURNALS):
        try:
            return Journal(directory / str(index))
        except JournalLockedError:
            continue
    raise RuntimeError(f"every spend journal under {directory} is held by another process ({MAX_JOURNALS})")
