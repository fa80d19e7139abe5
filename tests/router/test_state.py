"""MemoryState: each RouterState method on its own."""

from sluicegate.router.state import MAX_LATENCY_SAMPLES, MemoryState, Usage


async def test_failures_count_per_minute():
    state = MemoryState()
    assert [await state.add_failure("a", 10) for _ in range(3)] == [1, 2, 3]
    assert await state.add_failure("a", 11) == 1
    assert await state.add_failure("b", 11) == 1


async def test_cooldown_expires_and_never_shortens():
    state = MemoryState()
    await state.cooldown("a", 105.0)
    await state.cooldown("a", 101.0)  # a shorter one leaves the longer in place
    assert await state.cooling_down(["a", "b"], 100.0) == {"a": 105.0}
    assert await state.cooling_down(["a"], 105.0) == {}


async def test_all_cooling_down_lists_ids_nobody_asked_for():
    state = MemoryState()
    await state.cooldown("wild:openai/gpt-4o", 110.0)
    await state.cooldown("a", 105.0)
    assert await state.all_cooling_down(100.0) == {"wild:openai/gpt-4o": 110.0, "a": 105.0}
    assert await state.all_cooling_down(105.0) == {"wild:openai/gpt-4o": 110.0}


async def test_reserve_counts_and_refuses_past_the_limits():
    state = MemoryState()
    assert [await state.reserve("a", 1, 10, rpm=2) for _ in range(3)] == [True, True, False]
    assert (await state.usage(["a"], 1))["a"] == Usage(requests=2, tokens=20)
    assert await state.reserve("a", 2, 10, rpm=2)  # a new minute
    assert not await state.reserve("b", 1, 101, tpm=100)
    assert await state.reserve("b", 1, 100, tpm=100)
    await state.add_tokens("b", 1, -40)
    assert (await state.usage(["b"], 1))["b"] == Usage(requests=1, tokens=60)


async def test_latencies_keep_the_last_samples_newer_than_since():
    state = MemoryState()
    for i in range(MAX_LATENCY_SAMPLES + 5):
        await state.record_latency("a", float(i), now=float(i))
    samples = (await state.latencies(["a", "b"], since=-1))
    assert samples["a"] == [float(i) for i in reversed(range(5, MAX_LATENCY_SAMPLES + 5))]
    assert samples["b"] == []
    assert (await state.latencies(["a"], since=12.0))["a"] == [14.0, 13.0]


async def test_in_flight_goes_up_and_down_never_below_zero():
    state = MemoryState()
    assert await state.add_in_flight("a", 1) == 1
    assert await state.add_in_flight("a", 1) == 2
    assert await state.add_in_flight("a", -1) == 1
    assert await state.add_in_flight("b", -1) == 0
    assert await state.in_flight(["a", "b"]) == {"a": 1, "b": 0}
