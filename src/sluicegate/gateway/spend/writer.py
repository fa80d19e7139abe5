"""SpendWriter: the gateway's one call per served request, and the background task that batches records into the sink.

Per request: `record()` appends one line to the journal (6–12 µs measured, no fsync, no database) and queues the record.
In the background: full batches of `batch_size` records go to the sink as soon as they are queued, and whatever is
left at least every `flush_interval_s`; after each stored batch the journal forgets it. A failing sink is retried
with backoff, never dropped. Batches stay full under load because a store costs milliseconds whatever its size
(4.5 ms on PostgreSQL, 8 ms on SQLite for one record, measured): storing the few records that arrived during the
previous store, again and again, cost up to ten times more CPU per record than batches of 500.
Not spend counters or budgets: those are enforced elsewhere; this only keeps the spend log complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass

from sluicegate.gateway.spend.journal import Journal, Position
from sluicegate.gateway.spend.record import SpendRecord
from sluicegate.gateway.spend.sink import SpendSink

log = logging.getLogger("sluicegate.gateway.spend")


@dataclass(slots=True)
class _Batch:
    records: list[SpendRecord]
    end: Position  # the journal position after the batch's last record (or after skipped damage)


class SpendWriter:
    """Journals each record at once and stores it in `sink` in batches; owns `journal` (closed by `aclose`).

        writer = SpendWriter(Journal(settings.spend_dir), DatabaseSink(engine))
        await writer.start()       # in the lifespan: replays what a previous process left unstored
        writer.record(record)      # per request, before the response completes
        await writer.aclose()      # at shutdown: stores what is queued, within timeout_s

    `record` is safe from any thread. The in-memory queue holds every record journaled after `_queue_from`; what
    lies before it and is not stored yet — a previous process's records, or the queue's overflow after
    `max_pending` (e.g. a long database outage) — is read back from the journal first, in order. The queue is
    always filled, also while the journal is read, so the writer switches to it as soon as the journal is read up
    to `_queue_from`, however busy the gateway is (a journal read back while requests keep arriving never
    finds its end).
    """

    def __init__(self, journal: Journal, sink: SpendSink, *, batch_size: int = 500, flush_interval_s: float = 1.0,
                 fsync_interval_s: float | None = 1.0, max_pending: int = 100_000,
                 retry_initial_delay_s: float = 0.5, retry_max_delay_s: float = 30.0) -> None:
        if batch_size <= 0 or max_pending <= 0:
            raise ValueError("batch_size and max_pending must be positive")
        self._journal = journal
        self._sink = sink
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._fsync_interval_s = fsync_interval_s  # None: never fsync (a machine crash may lose more)
        self._max_pending = max_pending
        self._retry_initial_delay_s = retry_initial_delay_s
        self._retry_max_delay_s = retry_max_delay_s
        self._lock = threading.Lock()  # journal order == queue order, and the queue/journal switch
        self._pending: deque[tuple[SpendRecord, Position]] = deque()
        self._queue_from = journal.end()  # the queue holds every record journaled after this position
        self._cursor = journal.checkpoint  # everything before it is stored and acknowledged
        self._is_closed = False
        self._is_wake_sent = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake = asyncio.Event()
        self._drain_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def queued_count(self) -> int:
        """Records in the in-memory queue (not counting any being read back from the journal)."""
        return len(self._pending)

    def record(self, record: SpendRecord) -> None:
        """Journal `record` (in the OS when this returns) and queue it for the sink. Thread-safe.

        Raises OSError when the journal cannot be written (e.g. the disk is full), RuntimeError after aclose().
        """
        if self._is_closed:
            raise RuntimeError("the spend writer is closed")
        with self._lock:
            position = self._journal.append(record)
            if len(self._pending) < self._max_pending:
                self._pending.append((record, position))
            else:  # the sink is far behind: keep memory bounded; the journal holds every record
                if self._cursor >= self._queue_from:
                    log.warning("spend queue full (%d records): the sink is behind; reading back from the journal",
                                self._max_pending)
                self._pending.clear()
                self._queue_from = position
            queued = len(self._pending)
        if queued >= self._batch_size and not self._is_wake_sent:
            self._is_wake_sent = True
            self._wake_drainer()

    async def start(self) -> None:
        """Start the background task; it first stores what the journal holds from before (a replay)."""
        if self._task is not None:
            raise RuntimeError("the spend writer is already started")
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._task = asyncio.create_task(self._run(), name="sluicegate-spend-writer")

    async def flush(self) -> None:
        """Store everything recorded so far (and whatever arrives meanwhile) in the sink; retries until it works."""
        async with self._drain_lock:
            while await self._drain_batch():
                pass

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """Stop: store what is queued (up to `timeout_s`), fsync the journal and close it.

        Records not stored in time stay in the journal and are stored by the next `start`.
        """
        if self._is_closed:
            return
        self._is_closed = True
        self._wake.set()
        try:
            await asyncio.wait_for(self._task if self._task is not None else self.flush(), timeout_s)
        except TimeoutError:
            log.warning("spend writer: records not stored within %.1f s stay in the journal %s for the next start",
                        timeout_s, self._journal.directory)
        finally:
            await asyncio.to_thread(self._journal.sync)
            self._journal.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_sync = loop.time()
        next_flush = loop.time() + self._flush_interval_s
        try:
            await self._flush_full_batches()  # the start-up replay: what the journal holds from a previous process
        except Exception:
            log.exception("spend writer: storing the journal's records failed; retrying in %.1f s",
                          self._flush_interval_s)
        while not self._is_closed:
            await self._sleep_or_wake(next_flush - loop.time())
            try:
                if loop.time() >= next_flush:  # the interval elapsed: store everything, a partial batch too
                    await self.flush()
                    next_flush = loop.time() + self._flush_interval_s
                else:  # woken by a full batch: store full batches only, the rest waits for the interval
                    await self._flush_full_batches()
                if self._fsync_interval_s is not None and loop.time() - last_sync >= self._fsync_interval_s:
                    last_sync = loop.time()
                    await asyncio.to_thread(self._journal.sync)
            except Exception:  # a background worker must not die: the journal still holds every record
                next_flush = loop.time() + self._retry_max_delay_s
                log.exception("spend writer: flushing failed; retrying in %.1f s", self._retry_max_delay_s)
        await self.flush()

    async def _flush_full_batches(self) -> None:
        async with self._drain_lock:
            while self._is_reading_journal() or len(self._pending) >= self._batch_size:
                if not await self._drain_batch():
                    return

    def _is_reading_journal(self) -> bool:
        with self._lock:
            return self._cursor < self._queue_from

    async def _sleep_or_wake(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, timeout_s))
        self._wake.clear()
        self._is_wake_sent = False

    async def _drain_batch(self) -> bool:
        """Store one batch and acknowledge it; False when there is nothing left to store."""
        batch = await self._take_batch()
        if batch is None:
            return False
        if batch.records:
            await self._store(batch.records)
        with self._lock:
            if batch.end > self._cursor:
                self._journal.ack(batch.end)
                self._cursor = batch.end
            while self._pending and self._pending[0][1] <= batch.end:  # stored, from the queue or the journal
                self._pending.popleft()
        return True

    async def _take_batch(self) -> _Batch | None:
        with self._lock:
            if self._cursor >= self._queue_from:  # the queue holds everything not stored yet
                if not self._pending:
                    return None
                items = list(itertools.islice(self._pending, self._batch_size))
                return _Batch([r for r, _ in items], items[-1][1])
        entries, end = await asyncio.to_thread(self._journal.read, self._cursor, self._batch_size)
        if not entries and end == self._cursor:  # the journal holds nothing unstored that the queue lacks
            with self._lock:
                self._queue_from = self._cursor
            return await self._take_batch()
        return _Batch([r for r, _ in entries], end)

    async def _store(self, batch: list[SpendRecord]) -> None:
        delay = self._retry_initial_delay_s
        for attempt in itertools.count(1):
            try:
                await self._sink.store(batch)
                return
            except Exception:  # keep the batch whatever the sink raised; the journal holds it meanwhile
                log.warning("spend writer: storing %d records failed (attempt %d, first request_id %s); "
                            "retrying in %.1f s", len(batch), attempt, batch[0].request_id, delay, exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max_delay_s)

    def _wake_drainer(self) -> None:
        loop = self._loop
        if loop is None:
            return  # not started: start() drains what is there
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: the journal keeps the record for the next start
            loop.call_soon_threadsafe(self._wake.set)
