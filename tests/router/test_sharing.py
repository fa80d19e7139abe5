"""PartlyShared: cooldowns and failures always in the shared state, the rest only where a strategy reads it, and
cooldowns read from a snapshot refreshed on an injectable clock."""

from __future__ import annotations

import pytest

from sluicegate.router.sharing import PartlyShared, Shares
from sluicegate.router.state import MemoryState, Usage


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("strategy", "limits", "expected"), [
    ("simple-shuffle", False, Shares(usage=False, in_flight=False, latencies=False)),
    ("simple-shuffle", True, Shares(usage=True, in_flight=False, latencies=False)),
    ("usage-based-routing-v2", False, Shares(usage=True, in_flight=False, latencies=False)),
    ("least-busy", False, Shares(usage=False, in_flight=True, latencies=False)),
    ("latency-based-routing", False, Shares(usage=False, in_flight=False, latencies=True)),
])
def test_only_what_the_strategy_reads_is_shared(strategy: str, limits: bool, expected: Shares) -> None:
    assert Shares.read_by(strategy, enforces_limits=limits) == expected


async def test_unshared_counts_stay_in_this_process_and_shared_ones_do_not() -> None:
    shared, local = MemoryState(), MemoryState()
    state = PartlyShared(shared, Shares(usage=True, in_flight=False, latencies=False), local=local)
    assert await state.reserve("d1", 7, 10, rpm=5)
    await state.add_in_flight("d1", 1)
    await state.record_latency("d1", 0.2, 50.0)
    await state.add_failure("d1", 7)
    assert await shared.usage(["d1"], 7) == {"d1": Usage(1, 10)}
    assert await local.usage(["d1"], 7) == {"d1": Usage(0, 0)}
    assert await shared.in_flight(["d1"]) == {"d1": 0}
    assert await local.in_flight(["d1"]) == {"d1": 1}
    assert await state.in_flight(["d1"]) == {"d1": 1}
    assert await local.latencies(["d1"], 0.0) == {"d1": [0.2]}
    assert await shared.latencies(["d1"], 0.0) == {"d1": []}
    assert await shared.add_failure("d1", 7) == 2  # the failure went to the shared state


async def test_cooldowns_are_read_from_a_snapshot_refreshed_every_interval() -> None:
    shared, ticker = MemoryState(), Ticker()
    mine = PartlyShared(shared, Shares(), cooldown_refresh_s=1.0, monotonic=ticker)
    other = PartlyShared(shared, Shares(), cooldown_refresh_s=1.0, monotonic=ticker)
    assert await mine.cooling_down(["d1", "d2"], now=1000.0) == {}
    await other.cooldown("d1", until=1030.0)
    await mine.cooldown("d2", until=1010.0)
    # Its own cooldown at once; the other instance's only after the snapshot is read again.
    assert await mine.cooling_down(["d1", "d2"], now=1000.0) == {"d2": 1010.0}
    assert await other.cooling_down(["d1", "d2"], now=1000.0) == {"d1": 1030.0, "d2": 1010.0}  # first read
    ticker.now += 1.0
    assert await mine.cooling_down(["d1", "d2"], now=1001.0) == {"d1": 1030.0, "d2": 1010.0}
    assert await mine.all_cooling_down(now=1020.0) == {"d1": 1030.0}  # over at its end, even between reads
    assert await mine.cooling_down(["d1", "d2"], now=1020.0) == {"d1": 1030.0}


async def test_an_earlier_cooldown_never_shortens_a_later_one_in_the_snapshot() -> None:
    ticker = Ticker()
    state = PartlyShared(MemoryState(), Shares(), monotonic=ticker)
    await state.cooldown("d1", until=1050.0)
    await state.cooldown("d1", until=1010.0)
    assert await state.cooling_down(["d1"], now=1020.0) == {"d1": 1050.0}
