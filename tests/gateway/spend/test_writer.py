from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from sluicegate.gateway.spend import Journal, MemorySink, SpendRecord, SpendWriter
from tests.gateway.spend.records import make_record, total_of

ROOT = Path(__file__).resolve().parents[3]
NEVER = 3600.0  # a flush interval that never elapses during a test: flushes come from flush() or batch size


class WatchedSink(MemorySink):
    """A MemorySink that can fail its first calls, hold every call at a gate, and signal a stored count."""

    def __init__(self, *, failures: int = 0, partial: bool = False) -> None:
        super().__init__()
        self.failures = failures
        self.partial = partial  # a failing call stores half its batch first (a transaction cut short)
        self.gate = asyncio.Event()
        self.gate.set()
        self.calls = 0
        self.called = asyncio.Event()  # set by every call, before the gate
        self._waiters: list[tuple[int, asyncio.Event]] = []

    async def store(self, batch: list[SpendRecord]) -> None:
        self.calls += 1
        self.called.set()
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            if self.partial:
                await super().store(batch[: len(batch) // 2])
            raise ConnectionError("database unavailable")
        await super().store(batch)
        for count, event in self._waiters:
            if len(self.records) >= count:
                event.set()

    async def wait_for(self, count: int) -> None:
        event = asyncio.Event()
        self._waiters.append((count, event))
        if len(self.records) < count:
            await asyncio.wait_for(event.wait(), 20)


def writer_for(directory: Path, sink: MemorySink, **options: object) -> SpendWriter:
    settings: dict = {"batch_size": 100, "flush_interval_s": NEVER, "retry_initial_delay_s": 0.0, **options}
    return SpendWriter(Journal(directory), sink, **settings)


def unacknowledged(directory: Path) -> list[str]:
    with Journal(directory) as journal:
        return [record.request_id for record, _ in journal.replay()]


def journal_lines(directory: Path) -> list[bytes]:
    return b"".join(p.read_bytes() for p in sorted(directory.glob("spend-*.jsonl"))).splitlines()


def segment_names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("spend-*.jsonl"))


def assert_stored_once(sink: MemorySink, count: int) -> None:
    assert sorted(sink.records) == sorted(f"req-{i}" for i in range(count))
    assert sink.repeats == 0
    assert sink.total_usd == total_of(count)


async def test_flush_stores_every_record_and_the_journal_forgets_them(tmp_path: Path) -> None:
    sink = MemorySink()
    writer = writer_for(tmp_path, sink, batch_size=7)
    await writer.start()
    for i in range(50):
        writer.record(make_record(i))

    await writer.flush()

    assert_stored_once(sink, 50)
    assert [len(b) for b in sink.batches] == [7] * 7 + [1]
    assert [r.request_id for b in sink.batches for r in b] == [f"req-{i}" for i in range(50)]  # in order
    await writer.aclose()
    assert unacknowledged(tmp_path) == []


async def test_a_full_batch_is_stored_without_waiting_for_the_interval(tmp_path: Path) -> None:
    sink = WatchedSink()
    writer = writer_for(tmp_path, sink, batch_size=10)
    await writer.start()
    await writer.flush()  # the start-up replay is done: records now go through the queue
    for i in range(25):
        writer.record(make_record(i))

    await sink.wait_for(20)

    assert [len(b) for b in sink.batches] == [10, 10]  # full batches at once; the other 5 wait for the interval
    await writer.aclose()
    assert_stored_once(sink, 25)


async def test_records_arriving_during_a_store_wait_for_a_full_batch(tmp_path: Path) -> None:
    """A store costs milliseconds whatever its size: the few records that arrive during one are not stored on their
    own (under load that made every batch tiny) but with the next full batch, or when the interval elapses."""
    sink = WatchedSink()
    writer = writer_for(tmp_path, sink, batch_size=10)
    await writer.start()
    await writer.flush()
    sink.gate.clear()
    for i in range(10):
        writer.record(make_record(i))
    await asyncio.wait_for(sink.called.wait(), 20)  # the full batch is being stored
    for i in range(10, 15):
        writer.record(make_record(i))
    sink.gate.set()
    await sink.wait_for(10)
    await asyncio.sleep(0.05)
    assert [len(b) for b in sink.batches] == [10]  # the 5 wait

    for i in range(15, 20):
        writer.record(make_record(i))
    await sink.wait_for(20)
    assert [len(b) for b in sink.batches] == [10, 10]
    await writer.aclose()
    assert_stored_once(sink, 20)


async def test_records_are_stored_when_the_interval_elapses(tmp_path: Path) -> None:
    sink = WatchedSink()
    writer = writer_for(tmp_path, sink, batch_size=1000, flush_interval_s=0.01)
    await writer.start()
    for i in range(3):
        writer.record(make_record(i))

    await sink.wait_for(3)

    await writer.aclose()
    assert_stored_once(sink, 3)


async def test_start_replays_what_a_previous_process_left_before_new_records(tmp_path: Path) -> None:
    previous = writer_for(tmp_path, MemorySink())
    for i in range(30):
        previous.record(make_record(i))
    previous._journal.close()  # the process died: nothing was stored

    sink = MemorySink()
    writer = writer_for(tmp_path, sink)
    await writer.start()
    for i in range(30, 40):
        writer.record(make_record(i))
    await writer.aclose()

    assert_stored_once(sink, 40)
    assert [r.request_id for b in sink.batches for r in b] == [f"req-{i}" for i in range(40)]
    assert segment_names(tmp_path) == ["spend-000000000002.jsonl"]  # the previous process's segment is gone


async def test_a_crash_between_store_and_acknowledge_stores_nothing_twice(tmp_path: Path) -> None:
    database = MemorySink()
    crashed = writer_for(tmp_path, database)
    for i in range(30):
        crashed.record(make_record(i))
    await database.store([make_record(i) for i in range(30)])  # stored, and then the process died before ack
    crashed._journal.close()

    writer = writer_for(tmp_path, database)
    await writer.start()
    await writer.aclose()

    assert len(database.records) == 30
    assert database.total_usd == total_of(30)
    assert database.repeats == 30  # offered again, ignored by request_id like the database's unique constraint
    assert unacknowledged(tmp_path) == []


async def test_aclose_stores_everything_queued(tmp_path: Path) -> None:
    sink = MemorySink()
    writer = writer_for(tmp_path, sink, batch_size=1000)
    await writer.start()
    for i in range(700):
        writer.record(make_record(i))

    await writer.aclose()

    assert_stored_once(sink, 700)
    assert unacknowledged(tmp_path) == []
    with pytest.raises(RuntimeError, match="closed"):
        writer.record(make_record(700))


@pytest.mark.parametrize("partial", [False, True])
async def test_a_sink_failing_twice_loses_nothing(tmp_path: Path, partial: bool) -> None:
    sink = WatchedSink(failures=2, partial=partial)
    writer = writer_for(tmp_path, sink, batch_size=40)
    await writer.start()
    for i in range(100):
        writer.record(make_record(i))

    await writer.aclose()

    assert sorted(sink.records) == sorted(f"req-{i}" for i in range(100))
    assert sink.total_usd == total_of(100)
    assert sink.repeats == (40 if partial else 0)  # half a batch, twice: the retried batch repeats it
    assert sink.calls == len(sink.batches) + (0 if partial else 2)
    assert unacknowledged(tmp_path) == []


async def test_records_not_stored_by_the_close_timeout_wait_in_the_journal(tmp_path: Path) -> None:
    sink = WatchedSink()
    sink.gate.clear()  # the database never answers
    writer = writer_for(tmp_path, sink)
    await writer.start()
    for i in range(20):
        writer.record(make_record(i))

    await writer.aclose(timeout_s=0.05)

    assert sink.records == {}
    assert unacknowledged(tmp_path) == [f"req-{i}" for i in range(20)]
    sink = WatchedSink()
    writer = writer_for(tmp_path, sink)
    await writer.start()
    await writer.aclose()
    assert_stored_once(sink, 20)


async def test_a_full_queue_falls_back_to_the_journal_in_order(tmp_path: Path) -> None:
    sink = WatchedSink()
    writer = writer_for(tmp_path, sink, batch_size=4, max_pending=10)
    await writer.start()
    await writer.flush()
    sink.gate.clear()  # a database outage: nothing is stored, the queue fills up
    for i in range(50):
        writer.record(make_record(i))
    assert writer.queued_count <= 10  # memory stays bounded: what overflows is read back from the journal

    sink.gate.set()
    await writer.flush()
    for i in range(50, 60):  # caught up: back to the queue
        writer.record(make_record(i))
    assert writer.queued_count == 10
    await writer.aclose()

    assert_stored_once(sink, 60)
    assert [r.request_id for b in sink.batches for r in b] == [f"req-{i}" for i in range(60)]


async def test_a_journal_read_back_under_steady_load_hands_over_to_the_queue(tmp_path: Path) -> None:
    """A previous process's records are read back from the journal while new ones keep arriving: once the journal
    is read up to where the queue begins, the writer takes the queue (the journal's end is never reached while
    records keep arriving, so waiting for it would read every record back from the file forever)."""
    sink = WatchedSink()
    leftover = writer_for(tmp_path, sink)
    for i in range(20):
        leftover.record(make_record(i))
    leftover._journal.close()  # a process that died before storing them

    writer = writer_for(tmp_path, sink, batch_size=8)
    journal, reads = writer._journal, []
    read = journal.read
    journal.read = lambda start, count: reads.append(start) or read(start, count)  # type: ignore[method-assign]
    await writer.start()
    for i in range(20, 200):
        writer.record(make_record(i))
        await asyncio.sleep(0)  # the writer runs in between: records arrive while it reads the journal
    await writer.flush()
    assert writer._cursor >= writer._queue_from  # on the queue now
    read_so_far = len(reads)
    for i in range(200, 260):
        writer.record(make_record(i))
        await asyncio.sleep(0)
    await writer.flush()
    assert len(reads) == read_so_far  # no more reading back
    await writer.aclose()
    assert_stored_once(sink, 260)
    assert [r.request_id for b in sink.batches for r in b] == [f"req-{i}" for i in range(260)]


async def test_500_concurrent_records_from_one_event_loop(tmp_path: Path) -> None:
    sink = MemorySink()
    writer = writer_for(tmp_path, sink, batch_size=64)
    await writer.start()
    await writer.flush()

    async def serve(i: int) -> None:
        await asyncio.sleep(0)
        writer.record(make_record(i))

    await asyncio.gather(*(serve(i) for i in range(500)))
    lines = journal_lines(tmp_path)
    await writer.aclose()

    assert sorted(SpendRecord.from_json_line(line).request_id for line in lines) == sorted(
        f"req-{i}" for i in range(500))
    assert_stored_once(sink, 500)


async def test_records_from_many_threads(tmp_path: Path) -> None:
    threads, per_thread = 8, 100
    sink = MemorySink()
    writer = writer_for(tmp_path, sink, batch_size=50)
    await writer.start()
    await writer.flush()
    barrier = threading.Barrier(threads)

    def serve(t: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            writer.record(make_record(t * per_thread + i))

    workers = [threading.Thread(target=serve, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        await asyncio.to_thread(worker.join)  # the loop keeps running: threads wake the task for full batches
    await writer.aclose()

    assert_stored_once(sink, threads * per_thread)
    assert sum((r.spend_usd for r in sink.records.values()), Decimal(0)) == total_of(threads * per_thread)


def test_kill_9_loses_no_record_whose_append_returned(tmp_path: Path) -> None:
    journal_dir, stored_file = tmp_path / "journal", tmp_path / "stored.txt"
    child = subprocess.Popen([sys.executable, "-m", "tests.gateway.spend.kill_child", str(journal_dir),
                              str(stored_file)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout is not None
    try:
        recorded: list[str] = []
        while len(recorded) < 3000 or not stored_file.exists() or stored_file.stat().st_size == 0:
            line = child.stdout.readline()
            assert line, f"the child exited early: {child.stderr.read().decode() if child.stderr else ''}"
            recorded.append(line.decode().strip())
    finally:
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=20)
    recorded += rest.decode().split()
    assert child.returncode == -signal.SIGKILL

    stored = stored_file.read_text().split()
    replayed = unacknowledged(journal_dir)

    assert len(set(stored)) == len(stored)
    assert len(set(replayed)) == len(replayed)
    assert set(recorded) <= set(stored) | set(replayed)  # every append that returned survived the kill
    database = MemorySink()
    database.records = {request_id: make_record(0) for request_id in stored}
    writer = SpendWriter(Journal(journal_dir), database, flush_interval_s=NEVER)

    async def restart() -> None:
        await writer.start()
        await writer.aclose()

    asyncio.run(restart())
    assert set(recorded) <= set(database.records)
    assert unacknowledged(journal_dir) == []
