"""Run by test_writer.py's kill -9 test: records spend until killed.

Prints each request_id on stdout once `record()` has returned for it. The sink plays the database: it appends
the request_ids of each stored batch to a file, so what was stored before the kill survives it.

    python -m tests.gateway.spend.kill_child JOURNAL_DIR STORED_FILE
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys

from sluicegate.gateway.spend import Journal, SpendRecord, SpendWriter
from tests.gateway.spend.records import make_record


class FileSink:
    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    async def store(self, batch: list[SpendRecord]) -> None:
        await asyncio.sleep(0.001)  # a database round trip
        os.write(self._fd, "".join(f"{r.request_id}\n" for r in batch).encode())


async def main(directory: str, stored_path: str) -> None:
    writer = SpendWriter(Journal(directory, segment_max_bytes=64 * 1024), FileSink(stored_path),
                         batch_size=50, flush_interval_s=0.005)
    await writer.start()
    out = sys.stdout.fileno()
    for i in itertools.count():
        writer.record(make_record(i))
        os.write(out, f"req-{i}\n".encode())  # one write < PIPE_BUF: a line is never split
        if i % 20 == 0:
            await asyncio.sleep(0)  # let the background task run, as request handlers would


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
