"""One measurement in one fresh interpreter; sdk_overhead.py runs it once per (client, mode) and reads its JSON.

    <venv>/bin/python benchmarks/sdk_worker.py --sdk sluicegate --mode async --concurrency 50 \
        --calls 5000 --warmup 500 --url http://127.0.0.1:PORT

--sdk sluicegate | litellm   the SDK's completion / acompletion, as a user calls it
--sdk baseline               the floor: the same POST with a bare client and the same keep-alive pool
                             (aiohttp.ClientSession + orjson for async and stream, httpx.Client + orjson for
                             sync — the libraries the SDKs' own transports sit on), nothing else imported
--mode async | sync | stream  acompletion, completion, or acompletion(stream=True) consuming every chunk

Prints one JSON line on stdout: latencies (p50/p99/mean), wall time, throughput and process CPU time per
call (all threads; measured through a short idle drain after the last call, so work an SDK defers to
background tasks or threads is counted), the settings the SDK ran with, and which SDKs were loaded — the
litellm interpreter must never load sluicegate and vice versa. This script imports only the SDK it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from mock_openai import CONTENT

MODEL = "openai/gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "hi"}]
API_KEY = "sk-bench"
DRAIN_S = 0.3

AsyncCall = Callable[[], Awaitable[tuple[str, int]]]
SyncCall = Callable[[], tuple[str, int]]


def load_sdk(name: str, as_shipped: bool) -> tuple[Any, dict[str, Any]]:
    """Import the SDK and return it with the settings it will run with."""
    if name == "litellm":
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    sdk = importlib.import_module(name)
    if name == "litellm":
        had_telemetry = hasattr(sdk, "telemetry")
        if not as_shipped:  # documented switches only; neither changes the call path measured
            sdk.telemetry = False
            sdk.suppress_debug_info = True
        keys = ("num_retries", "request_timeout", "telemetry", "suppress_debug_info", "turn_off_message_logging",
                "disable_aiohttp_transport", "callbacks", "success_callback", "cache")
        settings = {k: repr(getattr(sdk, k, "<absent>")) for k in keys}
        settings["telemetry_attribute_shipped"] = repr(had_telemetry)
        settings["version"] = importlib.import_module("importlib.metadata").version("litellm")
        settings["LITELLM_LOCAL_MODEL_COST_MAP"] = os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP")
        return sdk, settings
    return sdk, {"defaults": repr(sdk.settings.defaults), "version": sdk.__version__}


def sdk_async_call(sdk: Any, url: str, is_stream: bool) -> AsyncCall:
    kwargs: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "api_base": url + "/v1", "api_key": API_KEY}

    async def call() -> tuple[str, int]:
        response = await sdk.acompletion(**kwargs)
        return response.choices[0].message.content, 1

    async def call_stream() -> tuple[str, int]:
        response = await sdk.acompletion(**kwargs, stream=True)
        parts: list[str] = []
        chunks = 0
        async for chunk in response:
            chunks += 1
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
        return "".join(parts), chunks

    return call_stream if is_stream else call


def sdk_sync_call(sdk: Any, url: str) -> SyncCall:
    kwargs: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "api_base": url + "/v1", "api_key": API_KEY}

    def call() -> tuple[str, int]:
        return sdk.completion(**kwargs).choices[0].message.content, 1

    return call


def baseline_async_call(url: str, is_stream: bool) -> tuple[AsyncCall, Callable[[], Awaitable[None]]]:
    import aiohttp
    import orjson

    session = aiohttp.ClientSession()
    endpoint = url + "/v1/chat/completions"
    headers = {"Authorization": "Bearer " + API_KEY, "Content-Type": "application/json"}
    model = MODEL.split("/", 1)[1]

    async def call() -> tuple[str, int]:
        payload = orjson.dumps({"model": model, "messages": MESSAGES})
        async with session.post(endpoint, data=payload, headers=headers) as response:
            data = orjson.loads(await response.read())
        return data["choices"][0]["message"]["content"], 1

    async def call_stream() -> tuple[str, int]:
        payload = orjson.dumps({"model": model, "messages": MESSAGES, "stream": True})
        parts: list[str] = []
        chunks = 0
        async with session.post(endpoint, data=payload, headers=headers) as response:
            async for line in response.content:
                if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                    continue
                chunks += 1
                delta = orjson.loads(line[6:])["choices"][0]["delta"]
                if delta.get("content"):
                    parts.append(delta["content"])
        return "".join(parts), chunks

    return (call_stream if is_stream else call), session.close


def baseline_sync_call(url: str) -> SyncCall:
    import httpx
    import orjson

    client = httpx.Client()
    endpoint = url + "/v1/chat/completions"
    headers = {"Authorization": "Bearer " + API_KEY, "Content-Type": "application/json"}
    model = MODEL.split("/", 1)[1]

    def call() -> tuple[str, int]:
        payload = orjson.dumps({"model": model, "messages": MESSAGES})
        data = orjson.loads(client.post(endpoint, content=payload, headers=headers).content)
        return data["choices"][0]["message"]["content"], 1

    return call


def summarize(latencies_s: list[float], wall_s: float, cpu_s: float, cpu_loop_s: float) -> dict[str, float]:
    ordered = sorted(latencies_s)
    calls = len(ordered)
    return {
        "calls": calls,
        "p50_ms": 1000 * ordered[calls // 2],
        "p99_ms": 1000 * ordered[min(calls - 1, int(calls * 0.99))],
        "mean_ms": 1000 * statistics.fmean(ordered),
        "wall_s": wall_s,
        "throughput": calls / wall_s,
        "cpu_ms_per_call": 1000 * cpu_s / calls,
        "cpu_loop_ms_per_call": 1000 * cpu_loop_s / calls,
    }


async def run_async(call: AsyncCall, concurrency: int, calls: int) -> tuple[dict[str, float], list[str]]:
    """`concurrency` lanes, each awaiting one call at a time until `calls` calls have started."""
    latencies: list[float] = []
    remaining = calls
    seen: list[str] = []

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            content, chunks = await call()
            latencies.append(time.perf_counter() - start)
            if len(seen) < 1:
                seen.append(f"{chunks}:{content}")

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    wall, cpu_loop = time.perf_counter() - wall0, time.process_time() - cpu0
    await asyncio.sleep(DRAIN_S)
    return summarize(latencies, wall, time.process_time() - cpu0, cpu_loop), seen


def run_sync(call: SyncCall, calls: int) -> tuple[dict[str, float], list[str]]:
    latencies: list[float] = []
    seen: list[str] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(calls):
        start = time.perf_counter()
        content, chunks = call()
        latencies.append(time.perf_counter() - start)
        if not seen:
            seen.append(f"{chunks}:{content}")
    wall, cpu_loop = time.perf_counter() - wall0, time.process_time() - cpu0
    time.sleep(DRAIN_S)
    return summarize(latencies, wall, time.process_time() - cpu0, cpu_loop), seen


def median_of(rounds: list[tuple[dict[str, float], list[str]]]) -> tuple[dict[str, float], list[str]]:
    """Each figure's median over the rounds (one round: that round as is)."""
    merged = {key: statistics.median(r[key] for r, _ in rounds) for key in rounds[0][0]}
    return merged, rounds[0][1]


def check(seen: list[str]) -> int:
    """The chunk count of the first answer, after checking its text is the mock's."""
    chunks, _, content = seen[0].partition(":")
    if content != CONTENT:
        raise SystemExit(f"unexpected answer text: {content!r}")
    return int(chunks)


@contextlib.contextmanager
def maybe_profiled(top: int) -> Iterator[None]:
    """cProfile the block and print the `top` entries by cumulative time on stderr (no-op when 0)."""
    if not top:
        yield
        return
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(top)


async def measure_async(args: argparse.Namespace, sdk: Any) -> tuple[dict[str, float], list[str]]:
    is_stream = args.mode == "stream"
    close: Callable[[], Awaitable[None]] | None = None
    if sdk is None:
        call, close = baseline_async_call(args.url, is_stream)
    else:
        call = sdk_async_call(sdk, args.url, is_stream)
    check((await run_async(call, args.concurrency, max(args.warmup, 1)))[1])
    rounds = []
    with maybe_profiled(args.profile):
        for _ in range(args.rounds):
            rounds.append(await run_async(call, args.concurrency, args.calls))
    if close is not None:
        await close()
    return median_of(rounds)


def measure_sync(args: argparse.Namespace, sdk: Any) -> tuple[dict[str, float], list[str]]:
    call = baseline_sync_call(args.url) if sdk is None else sdk_sync_call(sdk, args.url)
    check(run_sync(call, max(args.warmup, 1))[1])
    with maybe_profiled(args.profile):
        return median_of([run_sync(call, args.calls) for _ in range(args.rounds)])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdk", choices=("sluicegate", "litellm", "baseline"), required=True)
    parser.add_argument("--mode", choices=("async", "sync", "stream"), default="async")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--url", required=True, help="the mock upstream, e.g. http://127.0.0.1:8080")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure the calls this many times in this process; report each figure's median")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="cProfile the measured calls; print the top N by cumulative time on stderr")
    parser.add_argument("--as-shipped", action="store_true",
                        help="litellm: leave telemetry / suppress_debug_info as shipped")
    args = parser.parse_args()
    if args.mode == "sync" and args.concurrency != 1:
        parser.error("--mode sync runs at concurrency 1")
    return args


def main() -> None:
    args = parse_args()
    import_start = time.perf_counter()
    sdk, settings = (None, {}) if args.sdk == "baseline" else load_sdk(args.sdk, args.as_shipped)
    import_s = time.perf_counter() - import_start
    if args.mode == "sync":
        result, seen = measure_sync(args, sdk)
    else:
        result, seen = asyncio.run(measure_async(args, sdk))
    print(json.dumps({
        "sdk": args.sdk, "mode": args.mode, "concurrency": args.concurrency, **result,
        "chunks": check(seen), "import_s": import_s, "settings": settings,
        "loaded": sorted(name for name in ("sluicegate", "litellm") if name in sys.modules),
        "python": sys.executable,
    }), flush=True)


if __name__ == "__main__":
    main()
