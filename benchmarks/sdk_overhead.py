"""sluicegate vs LiteLLM: import time and per-call SDK overhead, against one local mock upstream.

    .venv/bin/python benchmarks/sdk_overhead.py            # default run (about 2 minutes)
    .venv/bin/python benchmarks/sdk_overhead.py --quick    # a fast look (fewer calls, 3 import runs)

Every measurement runs in a fresh interpreter of its own venv (sdk_worker.py): sluicegate in this repo's
.venv, LiteLLM in --litellm-python's venv, so neither process ever imports the other SDK. The upstream is
mock_openai.py in a separate process. With taskset and two or more cores, the measured client is pinned to
one core and the upstream to another. Overhead per call is the SDK's time (or CPU) per call minus that of a
bare client making the same POST over the same kind of keep-alive pool in the same venv (the "floor").
See benchmarks/README.md for what each line means.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SLUICEGATE_PY = ROOT / ".venv" / "bin" / "python"
LITELLM_PY = Path("/tmp/peers-sdk/litellm-venv/bin/python")  # noqa: S108  # a path we read, never write
IMPORT_TARGET_MS = 150.0
OVERHEAD_TARGET_RATIO = 5.0  # sluicegate's per-call overhead at most 1/5 of LiteLLM's
SDKS = ("sluicegate", "litellm")


@dataclass
class Pinning:
    client: list[str] = field(default_factory=list)  # command prefix for measured processes
    upstream: list[str] = field(default_factory=list)
    note: str = "not pinned"


@dataclass
class Scenario:
    mode: str  # async | sync | stream
    concurrency: int
    calls: int
    warmup: int

    @property
    def label(self) -> str:
        return {"async": "acompletion", "sync": "completion", "stream": "acompletion stream"}[self.mode] + (
            f" c={self.concurrency}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 calls per scenario and 3 import runs")
    parser.add_argument("--calls", type=int, default=None,
                        help="measured calls per scenario (default 1000, quick 200); the stream makes a quarter as "
                             "many")
    parser.add_argument("--concurrency", type=int, default=50, help="in-flight calls for the concurrent run")
    parser.add_argument("--floor-rounds", type=int, default=None,
                        help="rounds of the floor client per scenario, median taken (default 3, quick 1)")
    parser.add_argument("--import-runs", type=int, default=None, help="fresh interpreters per import (7)")
    parser.add_argument("--skip-import", action="store_true", help="leave out the import-time lines")
    parser.add_argument("--only", choices=SDKS, help="measure one SDK (and its floor) only")
    parser.add_argument("--sluicegate-python", type=Path, default=SLUICEGATE_PY)
    parser.add_argument("--litellm-python", type=Path, default=LITELLM_PY)
    parser.add_argument("--litellm-as-shipped", action="store_true",
                        help="do not set litellm.telemetry=False / suppress_debug_info=True")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores with taskset")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="afterwards, cProfile sluicegate's acompletion at c=1 and print the top N entries")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds allowed per worker process")
    parser.add_argument("--json", type=Path, help="also write every raw worker result to this file")
    args = parser.parse_args()
    args.calls = args.calls or (200 if args.quick else 1000)
    args.import_runs = args.import_runs or (3 if args.quick else 7)
    args.floor_rounds = args.floor_rounds or (1 if args.quick else 3)
    return args


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    calls = args.calls
    return [
        Scenario("async", 1, calls, max(50, calls // 10)),
        Scenario("async", args.concurrency, calls, max(2 * args.concurrency, calls // 10)),
        Scenario("sync", 1, calls, max(50, calls // 10)),
        Scenario("stream", 1, max(50, calls // 4), max(20, calls // 40)),
    ]


def pinning(disabled: bool) -> Pinning:
    cores = sorted(os.sched_getaffinity(0))
    taskset = shutil.which("taskset")
    if disabled or taskset is None or len(cores) < 2:
        why = "--no-pin" if disabled else ("no taskset" if taskset is None else "fewer than 2 cores")
        return Pinning(note=f"not pinned ({why}); client and upstream share {len(cores)} core(s)")
    client, upstream = str(cores[0]), str(cores[1])
    return Pinning([taskset, "-c", client], [taskset, "-c", upstream],
                   f"taskset: measured client on core {client}, upstream on core {upstream} "
                   f"({len(cores)} cores available)")


def child_env(sdk: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if sdk == "litellm":
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return env


# ----------------------------------------------------------------------------------------------- upstream

@contextmanager
def upstream(python: Path, pin: Pinning) -> Iterator[tuple[str, int]]:
    """Start mock_openai.py in its own process (and session); yield (base url, pid); always stop it."""
    proc = subprocess.Popen([*pin.upstream, str(python), str(BENCH / "mock_openai.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True, env=child_env("upstream"))
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        line = proc.stdout.readline() if ready and proc.stdout else ""
        if not line.startswith("READY "):
            raise RuntimeError(f"mock upstream did not start (exit code {proc.poll()})")
        yield f"http://127.0.0.1:{int(line.split()[1])}", proc.pid
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------------------------- imports

def wall_ms(cmd: list[str], env: dict[str, str], timeout: float) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return 1000 * (time.perf_counter() - start)


def ready_runs(runs: int) -> int:
    """`import + .acompletion` gets half the runs: LiteLLM's import alone takes seconds per run."""
    return max(1, runs // 2)


def import_ms(sdk: str, python: Path, runs: int, pin: Pinning, timeout: float) -> dict[str, float]:
    """Median wall time of `python -c "import sdk"` (and of `import sdk; sdk.acompletion`, which loads what a
    lazy package defers to first use) minus that of `python -c "pass"`; the three commands interleaved."""
    env = child_env(sdk)
    base = [*pin.client, str(python), "-c"]
    codes = {"startup_ms": "pass", "import_ms": f"import {sdk}", "ready_ms": f"import {sdk}; {sdk}.acompletion"}
    wall_ms([*base, codes["ready_ms"]], env, timeout)  # fills the page cache and writes .pyc files
    samples: dict[str, list[float]] = {key: [] for key in codes}
    for run in range(runs):
        for key, code in codes.items():
            if key != "ready_ms" or run < ready_runs(runs):
                samples[key].append(wall_ms([*base, code], env, timeout))
    medians = {key: statistics.median(values) for key, values in samples.items()}
    return {"startup_ms": medians["startup_ms"], "import_ms": medians["import_ms"] - medians["startup_ms"],
            "ready_ms": medians["ready_ms"] - medians["startup_ms"]}


# ----------------------------------------------------------------------------------------------- calls

def run_worker(python: Path, client: str, sdk: str, scenario: Scenario, url: str, args: argparse.Namespace,
               pin: Pinning, profile: int = 0) -> dict[str, Any]:
    cmd = [*pin.client, str(python), str(BENCH / "sdk_worker.py"), "--sdk", client, "--mode", scenario.mode,
           "--concurrency", str(scenario.concurrency), "--calls", str(scenario.calls),
           "--warmup", str(scenario.warmup), "--url", url]
    if profile:
        cmd += ["--profile", str(profile)]
    if client == "baseline":
        cmd += ["--rounds", str(args.floor_rounds)]
    if sdk == "litellm" and args.litellm_as_shipped:
        cmd.append("--as-shipped")
    done = subprocess.run(cmd, env=child_env(sdk), capture_output=True, text=True, timeout=args.timeout,
                          check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
        return {"error": f"exit code {done.returncode}:\n{tail}"}
    result = json.loads(lines[-1])
    if profile:
        result["profile"] = done.stderr
    return result


def measure_calls(args: argparse.Namespace, pin: Pinning, url: str, upstream_pid: int,
                  pythons: dict[str, Path]) -> dict[str, dict[str, dict[str, Any]]]:
    """results[scenario label][client] where client is "sluicegate", "litellm", "floor:<sdk>"."""
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for scenario in scenarios(args):
        row: dict[str, dict[str, Any]] = {}
        for sdk, python in pythons.items():
            for client in ("baseline", sdk):
                before = cpu_seconds(upstream_pid)
                result = run_worker(python, client, sdk, scenario, url, args, pin)
                if "wall_s" in result:  # the upstream's CPU per request × requests per second
                    rounds = args.floor_rounds if client == "baseline" else 1
                    requests = scenario.calls * rounds + max(scenario.warmup, 1)
                    result["upstream_busy"] = (cpu_seconds(upstream_pid) - before) / requests * result["throughput"]
                row[sdk if client == sdk else f"floor:{sdk}"] = result
                print(f"  {scenario.label:<24} {client if client == sdk else 'floor (' + sdk + ')':<18} "
                      f"{progress(result)}", file=sys.stderr, flush=True)
        results[scenario.label] = row
    return results


def progress(result: dict[str, Any]) -> str:
    if "error" in result:
        return "FAILED: " + result["error"].splitlines()[-1]
    return (f"{result['calls']} calls, mean {result['mean_ms']:.3f} ms, "
            f"cpu {result['cpu_ms_per_call']:.3f} ms/call, {result['throughput']:.0f}/s")


# ----------------------------------------------------------------------------------------------- table

def value(results: dict[str, dict[str, Any]], client: str, key: str) -> float | None:
    result = results.get(client, {})
    return result.get(key) if "error" not in result else None


def minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def ratio(sg: float | None, ll: float | None) -> str:
    if sg is None or ll is None or sg <= 0:
        return "n/a" if sg is None or ll is None else "inf (sg≤0)"
    return f"{ll / sg:.1f}x"


def table_rows(imports: dict[str, dict[str, float]],
               calls: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []

    def add(metric: str, sg: float | None, ll: float | None, digits: int = 3) -> None:
        rows.append((metric, fmt(sg, digits), fmt(ll, digits), ratio(sg, ll)))

    if imports:
        sg_i, ll_i = imports.get("sluicegate", {}), imports.get("litellm", {})
        add(f"import (ms, wall − `pass`, median of {args.import_runs})", sg_i.get("import_ms"),
            ll_i.get("import_ms"), 1)
        add(f"import + first .acompletion (ms, same, median of {ready_runs(args.import_runs)})",
            sg_i.get("ready_ms"), ll_i.get("ready_ms"), 1)
    for label, res in calls.items():
        def both(key: str, res: dict[str, dict[str, Any]] = res) -> tuple[float | None, float | None]:
            return value(res, "sluicegate", key), value(res, "litellm", key)

        def over(key: str, res: dict[str, dict[str, Any]] = res) -> tuple[float | None, float | None]:
            return tuple(minus(value(res, sdk, key), value(res, f"floor:{sdk}", key)) for sdk in SDKS)  # type: ignore[return-value]

        floor = (value(res, "floor:sluicegate", "mean_ms"), value(res, "floor:litellm", "mean_ms"))
        if label.endswith(" c=1"):
            add(f"{label}: p50 latency (ms)", *both("p50_ms"))
            add(f"{label}: p99 latency (ms)", *both("p99_ms"))
            add(f"{label}: floor mean latency (ms)", *floor)
            add(f"{label}: OVERHEAD mean (ms/call)", *over("mean_ms"))
            add(f"{label}: CPU overhead (ms/call)", *over("cpu_ms_per_call"))
        else:
            add(f"{label}: throughput (calls/s)", *both("throughput"), 0)
            add(f"{label}: floor throughput (calls/s)", value(res, "floor:sluicegate", "throughput"),
                value(res, "floor:litellm", "throughput"), 0)
            add(f"{label}: p50 latency (ms)", *both("p50_ms"))
            add(f"{label}: CPU per call (ms)", *both("cpu_ms_per_call"))
            add(f"{label}: CPU OVERHEAD (ms/call)", *over("cpu_ms_per_call"))
    return rows


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("metric", "sluicegate", "litellm", "ratio (litellm/sluicegate)")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]

    def line(cells: tuple[str, ...]) -> str:
        padded = [cells[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(padded)

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def verdicts(imports: dict[str, dict[str, float]], calls: dict[str, dict[str, dict[str, Any]]],
             args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    sg_import = imports.get("sluicegate", {}).get("import_ms")
    if sg_import is not None:
        out.append(f"import sluicegate ≤ {IMPORT_TARGET_MS:.0f} ms: {sg_import:.1f} ms -> "
                   f"{'PASS' if sg_import <= IMPORT_TARGET_MS else 'FAIL'}")
    checks = [("acompletion c=1", "mean_ms", "mean overhead"),
              (f"acompletion c={args.concurrency}", "cpu_ms_per_call", "CPU overhead"),
              ("completion c=1", "mean_ms", "mean overhead"),
              ("acompletion stream c=1", "mean_ms", "mean overhead")]
    for label, key, what in checks:
        res = calls.get(label, {})
        sg, ll = (minus(value(res, sdk, key), value(res, f"floor:{sdk}", key)) for sdk in SDKS)
        if sg is None or ll is None:
            continue
        ok = sg <= ll / OVERHEAD_TARGET_RATIO
        out.append(f"{label} {what} ≤ 1/{OVERHEAD_TARGET_RATIO:.0f} of LiteLLM's: {sg:.3f} vs {ll:.3f} ms -> "
                   f"{'PASS' if ok else 'FAIL'}")
    return out


def notes(imports: dict[str, dict[str, float]], calls: dict[str, dict[str, dict[str, Any]]], pin: Pinning,
          args: argparse.Namespace, load: tuple[float, float]) -> list[str]:
    out = [pin.note, f"load average before/after: {load[0]:.2f} / {load[1]:.2f} (1 min; other work on the "
                     "machine shows up as noise, mostly in p99)"]
    if imports:
        out.append("interpreter startup (`python -c pass`, subtracted above): " + ", ".join(
            f"{sdk} venv {result['startup_ms']:.1f} ms" for sdk, result in imports.items()))
    out.append("overhead = SDK − floor of the same venv; floor = aiohttp.ClientSession+orjson (async, stream), "
               f"httpx.Client+orjson (sync), median of {args.floor_rounds} rounds; CPU = time.process_time() per "
               "call, all threads, incl. a 0.3 s drain")
    seen_settings: set[str] = set()
    for label, res in calls.items():
        for client, result in res.items():
            if "error" in result:
                out.append(f"ERROR {label} / {client}: {result['error']}")
                continue
            if client in SDKS and client not in seen_settings:
                seen_settings.add(client)
                out.append(f"{client} settings: {result['settings']}")
            loaded = [name for name in result["loaded"] if name != client]
            if loaded:
                out.append(f"WARNING {label} / {client}: also loaded {loaded}")
            if result.get("upstream_busy", 0) > 0.8:
                out.append(f"note: upstream was {100 * result['upstream_busy']:.0f}% busy during "
                           f"{label} / {client}: that run may be upstream-bound")
        chunks = {c: r["chunks"] for c, r in res.items() if "chunks" in r and label.startswith("acompletion stream")}
        if chunks:
            out.append(f"stream chunks seen per call: {chunks}")
    if not args.litellm_as_shipped:
        out.append("litellm: set telemetry=False and suppress_debug_info=True (--litellm-as-shipped skips both; "
                   "telemetry_attribute_shipped=False means this version has no such switch)")
    return out


# ----------------------------------------------------------------------------------------------- main

def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the upstream is stopped on kill too
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    pin = pinning(args.no_pin)
    pythons = {"sluicegate": args.sluicegate_python, "litellm": args.litellm_python}
    if args.only:
        pythons = {args.only: pythons[args.only]}
    for sdk, python in pythons.items():
        if not python.exists():
            print(f"{sdk}: no interpreter at {python}", file=sys.stderr)
            return 2
    load0 = os.getloadavg()[0]
    started = time.perf_counter()
    imports: dict[str, dict[str, float]] = {}
    if not args.skip_import:
        for sdk, python in pythons.items():
            print(f"  import {sdk} ×{args.import_runs} …", file=sys.stderr, flush=True)
            try:
                imports[sdk] = import_ms(sdk, python, args.import_runs, pin, args.timeout)
            except subprocess.CalledProcessError as error:
                print(f"  import {sdk} failed: {error}", file=sys.stderr)
    with upstream(args.sluicegate_python, pin) as (url, upstream_pid):
        calls = measure_calls(args, pin, url, upstream_pid, pythons)
        profile = None
        if args.profile and "sluicegate" in pythons:
            profile = run_worker(pythons["sluicegate"], "sluicegate", "sluicegate",
                                 Scenario("async", 1, args.calls, max(50, args.calls // 10)), url, args, pin,
                                 profile=args.profile)
    print(f"\nsluicegate vs LiteLLM SDK overhead — mock OpenAI upstream at {url} "
          f"({time.perf_counter() - started:.0f} s)\n")
    print_table(table_rows(imports, calls, args))
    print("\ntargets:")
    for line in verdicts(imports, calls, args):
        print("  " + line)
    print("\nnotes:")
    for line in notes(imports, calls, pin, args, (load0, os.getloadavg()[0])):
        print("  " + line)
    if profile is not None:
        print(f"\ncProfile of sluicegate acompletion c=1 ({args.calls} calls), top {args.profile} by cumulative:")
        print(profile.get("profile") or profile.get("error"))
    if args.json:
        args.json.write_text(json.dumps({"imports": imports, "calls": calls}, indent=2))
    sys.stdout.flush()
    failed = any("error" in r for res in calls.values() for r in res.values())
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; upstream stopped", file=sys.stderr)
        sys.exit(130)
