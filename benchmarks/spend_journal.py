"""The spend journal's hot-path cost: µs per Journal.append and per SpendWriter.record, on this machine's disk.

    .venv/bin/python benchmarks/spend_journal.py [--records N] [--dir DIR]

Writes into a temporary directory (or --dir, which must be empty or absent) and deletes what it wrote.
No fsync is measured: the hot path never calls it.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sluicegate.gateway.spend import Journal, MemorySink, SpendRecord, SpendWriter

NOW = datetime.now(UTC)


def typical(i: int) -> SpendRecord:
    return SpendRecord(
        request_id=f"chatcmpl-{i:012d}", model="openai/gpt-4o-mini", spend_usd=Decimal("0.00012345"),
        start_time=NOW, end_time=NOW, api_key_hash="88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        user_id="user-1", team_id="team-1", model_group="gpt-4o-mini", deployment_id="dep-1", provider="openai",
        prompt_tokens=1200, completion_tokens=300, tags=("prod",), metadata={"route": "/chat/completions"},
    )


def per_call_us(fn: object, records: list[SpendRecord]) -> float:
    call = fn  # type: ignore[assignment]
    start = time.perf_counter()
    for record in records:
        call(record)  # type: ignore[operator]
    return (time.perf_counter() - start) / len(records) * 1e6


async def measure(directory: Path, count: int) -> None:
    records = [typical(i) for i in range(count)]
    line = records[0].to_json_line()
    serialise = per_call_us(SpendRecord.to_json_line, records)
    with Journal(directory / "journal") as journal:
        append = per_call_us(journal.append, records)
    writer = SpendWriter(Journal(directory / "writer"), MemorySink(), flush_interval_s=3600)
    await writer.start()
    await writer.flush()
    record = 0.0
    for start in range(0, count, 500):  # as in the gateway: the queue is drained about every 500 records
        chunk = records[start:start + 500]
        record += per_call_us(writer.record, chunk) * len(chunk) / count
        await writer.flush()
    await writer.aclose()
    print(f"records: {count}, line: {len(line)} bytes")
    print(f"SpendRecord.to_json_line : {serialise:6.2f} µs")
    print(f"Journal.append           : {append:6.2f} µs  (serialise + one os.write, no fsync)")
    print(f"SpendWriter.record       : {record:6.2f} µs  (append + queue)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary directory)")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="sluicegate-spend-bench-"))
    try:
        asyncio.run(measure(directory, args.records))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
