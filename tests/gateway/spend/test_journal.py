from __future__ import annotations

import logging
import os
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from sluicegate.gateway.spend import Journal, JournalLockedError, Position, SpendRecord
from sluicegate.gateway.spend import journal as journal_module
from tests.gateway.spend.records import make_record, total_of


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("spend-*.jsonl"))


def replayed_ids(directory: Path) -> list[str]:
    with Journal(directory) as journal:
        return [record.request_id for record, _ in journal.replay()]


def test_append_then_replay_gives_every_record_in_order(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        positions = [journal.append(make_record(i)) for i in range(20)]

        replayed = list(journal.replay())

        assert [r for r, _ in replayed] == [make_record(i) for i in range(20)]
        assert [p for _, p in replayed] == positions
        assert positions == sorted(positions)
        assert positions[-1] == journal.end()


def test_a_new_process_replays_what_the_previous_one_left(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        for i in range(5):
            journal.append(make_record(i))

    with Journal(tmp_path) as journal:
        journal.append(make_record(5))
        assert [r.request_id for r, _ in journal.replay()] == [f"req-{i}" for i in range(6)]
        assert len(segment_files(tmp_path)) == 2  # opening always starts a fresh segment


def test_a_second_process_cannot_open_a_journal_in_use(tmp_path: Path) -> None:
    with Journal(tmp_path), pytest.raises(JournalLockedError, match="its own directory"):
        Journal(tmp_path)
    Journal(tmp_path).close()  # released on close


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Journal(tmp_path) as journal:
        for i in range(3):
            journal.append(make_record(i))
    torn = make_record(3).to_json_line()[:40]  # the process died mid-write
    with segment_files(tmp_path)[-1].open("ab") as f:
        f.write(torn)

    with caplog.at_level(logging.WARNING, logger="sluicegate.gateway.spend"), Journal(tmp_path) as journal:
        journal.append(make_record(4))  # a new segment: never glued to the torn line
        ids = [r.request_id for r, _ in journal.replay()]

    assert ids == ["req-0", "req-1", "req-2", "req-4"]
    assert "incomplete line (40 bytes" in caplog.text


def test_an_unreadable_line_in_the_middle_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Journal(tmp_path) as journal:
        journal.append(make_record(0))
        os.write(journal._fd, b"\x00\x00garbage from a machine crash\n")
        journal._size += 31
        journal.append(make_record(1))

        with caplog.at_level(logging.ERROR, logger="sluicegate.gateway.spend"):
            assert [r.request_id for r, _ in journal.replay()] == ["req-0", "req-1"]
    assert "unreadable line" in caplog.text


def test_segments_roll_and_acknowledged_ones_are_deleted(tmp_path: Path) -> None:
    line_bytes = len(make_record(0).to_json_line())
    with Journal(tmp_path, segment_max_bytes=3 * line_bytes) as journal:
        positions = [journal.append(make_record(i)) for i in range(10)]
        assert len(segment_files(tmp_path)) == 4  # 3 + 3 + 3 + the live one holding the last record
        assert positions[2] == Position(positions[0].segment + 1, 0)  # the last line of a segment closes it

        journal.ack(positions[4])  # records 0-4 stored: the first segment goes, the second stays

        assert len(segment_files(tmp_path)) == 3
        assert [r.request_id for r, _ in journal.replay()] == [f"req-{i}" for i in range(5, 10)]

        journal.ack(positions[9])

        assert segment_files(tmp_path) == [journal._segment_path(journal.end().segment)]
        assert list(journal.replay()) == []

    assert replayed_ids(tmp_path) == []  # the checkpoint survives a restart


def test_acknowledging_backwards_is_ignored_and_past_the_end_refused(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        first, second = journal.append(make_record(0)), journal.append(make_record(1))
        journal.ack(second)
        journal.ack(first)
        assert journal.checkpoint == second

        with pytest.raises(ValueError, match="cannot acknowledge"):
            journal.ack(Position(second.segment, second.offset + 1))


def test_a_crash_between_checkpoint_write_and_replace_keeps_the_old_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Journal(tmp_path) as journal:
        positions = [journal.append(make_record(i)) for i in range(4)]
        journal.ack(positions[0])

        def crash(src: object, dst: object) -> None:
            raise KeyboardInterrupt("the process dies here")

        monkeypatch.setattr(journal_module.os, "replace", crash)
        with pytest.raises(KeyboardInterrupt):
            journal.ack(positions[2])
        monkeypatch.undo()

    assert (tmp_path / "checkpoint.json.tmp").exists()
    assert replayed_ids(tmp_path) == ["req-1", "req-2", "req-3"]  # the old checkpoint is intact
    assert not (tmp_path / "checkpoint.json.tmp").exists()  # the leftover is cleared on open


def test_an_unreadable_checkpoint_replays_everything(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Journal(tmp_path) as journal:
        journal.ack(journal.append(make_record(0)))
        journal.append(make_record(1))
    (tmp_path / "checkpoint.json").write_bytes(b"")  # e.g. a machine crash right after the rename

    assert replayed_ids(tmp_path) == ["req-0", "req-1"]  # a repeat, which the sink dedups; never a loss
    assert "checkpoint" in caplog.text


def test_new_segments_come_after_the_checkpoint_even_when_every_segment_is_gone(tmp_path: Path) -> None:
    with Journal(tmp_path, segment_max_bytes=1) as journal:
        journal.ack(journal.append(make_record(0)))  # rolls, so the segment written to is deleted
    for path in segment_files(tmp_path):
        path.unlink()

    with Journal(tmp_path) as journal:
        journal.append(make_record(1))
        assert [r.request_id for r, _ in journal.replay()] == ["req-1"]


def test_sync_covers_rolled_segments_and_tolerates_deleted_ones(tmp_path: Path) -> None:
    with Journal(tmp_path, segment_max_bytes=1) as journal:
        positions = [journal.append(make_record(i)) for i in range(3)]
        journal.ack(positions[0])
        journal.sync()
        journal.sync()  # nothing new: a no-op
        assert journal._unsynced_segments == []
        assert not journal._is_dirty


def test_threads_appending_at_once_never_interleave_lines(tmp_path: Path) -> None:
    threads, per_thread = 8, 200
    line_bytes = len(make_record(0).to_json_line())
    with Journal(tmp_path, segment_max_bytes=150 * line_bytes) as journal:
        def append_many(t: int) -> None:
            for i in range(per_thread):
                journal.append(make_record(t * per_thread + i))

        workers = [threading.Thread(target=append_many, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        lines = b"".join(path.read_bytes() for path in segment_files(tmp_path)).splitlines()
        records = [SpendRecord.from_json_line(line) for line in lines]  # every line parses

    assert sorted(r.request_id for r in records) == sorted(f"req-{i}" for i in range(threads * per_thread))
    assert sum((r.spend_usd for r in records), Decimal(0)) == total_of(threads * per_thread)
