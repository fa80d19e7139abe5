"""What virtual keys cost: gateway throughput and p99 with a limited virtual key vs the master key, same run.

    .venv/bin/python benchmarks/virtual_keys.py                      # SQLite, then PostgreSQL + Redis if they answer
    .venv/bin/python benchmarks/virtual_keys.py --duration 10 --reps 3 --concurrency 16

For each backend (the embedded SQLite file; PostgreSQL + Redis, counters shared through Redis) it starts the
shared harness's nginx mock upstream on core 1, one sluicegate process pinned to core 0, creates a user, a team
and a key through the management API (budgets, rpm/tpm and max_parallel_requests set at every level, all far
from being reached, so every check and every spend record runs), then alternates wrk runs (core 1) with the
master key and with the virtual key and prints req/s and p99 of each, and the ratio. The issue's target:
virtual-key auth, limits and spend tracking together cost ≤ 15 % of master-key-only throughput.
Needs nginx and wrk (`bash ../shared/bench/setup_peers.sh`, or apt-get install nginx wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"
MASTER_KEY = "sk-bench-master-5b1d"
TARGET_RATIO = 0.85
MOCK_DIR = Path("/tmp/sluicegate-bench/vk-mock")  # noqa: S108  # nginx's workers must read it: not a 0700 tempdir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: dict[str, Any] | None = None, key: str = MASTER_KEY) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={  # noqa: S310 (loopback only)
        "authorization": f"Bearer {key}", "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback only)
        return json.loads(answer.read())


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    last: OSError | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {process.returncode}")
        try:
            http("POST", url + "/v1/chat/completions",
                 {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
            return
        except OSError as error:
            last = error
            time.sleep(0.1)
    raise RuntimeError(f"the gateway did not answer in time: {last!r}")


def start_mock(run_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(BENCH / "mock_upstream.py"), "--port", str(port), "--core", "1",
                                "--run-dir", str(MOCK_DIR)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the mock upstream did not start")


def start_gateway(run_dir: Path, upstream: str, database_url: str, redis_url: str | None
                  ) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    redis = f"router_settings:\n  redis_url: {redis_url}\n  redis_namespace: bench-{uuid.uuid4().hex[:6]}\n" \
        if redis_url else ""
    config = run_dir / "config.yaml"
    config.write_text(f"""model_list:
  - model_name: gpt-4o-mini
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{upstream}/v1", api_key: sk-fake}}
{redis}general_settings:
  master_key: {MASTER_KEY}
  database_url: {database_url}
""")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "REDIS_HOST")}
    process = subprocess.Popen(["taskset", "-c", "0", str(ROOT / ".venv" / "bin" / "sluicegate"), "serve",
                                "--config", str(config), "--port", str(port)], cwd=run_dir, env=env,
                               stdout=(run_dir / "gateway.log").open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
    except RuntimeError:
        os.killpg(process.pid, signal.SIGTERM)
        print((run_dir / "gateway.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    return process, url


def limited_key(url: str) -> str:
    """A key whose user and team are limited too, with limits and budgets no benchmark reaches."""
    suffix = uuid.uuid4().hex[:8]
    limits = {"max_budget": 1_000_000, "rpm_limit": 10**9, "tpm_limit": 10**12}
    http("POST", url + "/user/new", {"user_id": f"bench-user-{suffix}", **limits})
    http("POST", url + "/team/new", {"team_id": f"bench-team-{suffix}", **limits})
    answer = http("POST", url + "/key/generate", {"user_id": f"bench-user-{suffix}", "team_id": f"bench-team-{suffix}",
                                                 "max_parallel_requests": 10**6, **limits})
    return str(answer["key"])


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def processes(name: str) -> list[int]:
    """The pids of the programs called `name` (redis-server, postgres: this machine's services)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


def wrk(url: str, key: str, seconds: float, concurrency: int, body_file: Path,
        watched: dict[str, list[int]] | None = None) -> dict[str, float]:
    """One wrk run; with `watched` (name → pids), also the CPU µs each group spent per request during it."""
    duration = f"-d{max(1, round(seconds))}s"  # wrk takes whole seconds only
    before = {name: sum(map(cpu_seconds, pids)) for name, pids in (watched or {}).items()}
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{concurrency}", duration, "--timeout", "10s",
                          "-s", str(BENCH / "wrk" / "post_json.lua"), "-H", f"Authorization: Bearer {key}",
                          url + "/v1/chat/completions"], capture_output=True, text=True,
                         env={**os.environ, "BENCH_BODY_FILE": str(body_file)}, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(data[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    cpu = {f"{name} µs": (sum(map(cpu_seconds, pids)) - before[name]) * 1e6 / max(1, data["requests"])
           for name, pids in (watched or {}).items()}
    return {"rps": data["requests"] / (data["duration_us"] / 1e6), "p99_ms": data["p99_us"] / 1000,
            "errors": errors, **cpu}


def measure(backend: str, database_url: str, redis_url: str | None, args: argparse.Namespace, upstream: str,
            run_dir: Path) -> dict[str, Any]:
    gateway, url = start_gateway(run_dir, upstream, database_url, redis_url)
    try:
        key = limited_key(url)
        body = run_dir / "chat.json"
        body.write_text(json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        for who in (MASTER_KEY, key):  # warm-up: caches, pools, the ledger
            wrk(url, who, args.warmup, args.concurrency, body)
        # CPU per request of the gateway and of the services it uses (a database backend started later is missed)
        watched = {"gateway": [gateway.pid], "redis": processes("redis-server") if redis_url else [],
                   "database": processes("postgres") if database_url.startswith("postgresql") else []}
        runs: dict[str, list[dict[str, float]]] = {"master key": [], "virtual key": []}
        for _ in range(args.reps):  # alternate, so drift in the machine hits both alike
            runs["master key"].append(wrk(url, MASTER_KEY, args.duration, args.concurrency, body, watched))
            runs["virtual key"].append(wrk(url, key, args.duration, args.concurrency, body, watched))
    finally:
        os.killpg(gateway.pid, signal.SIGTERM)
        gateway.wait(30)
    log = (run_dir / "gateway.log").read_text(errors="replace")
    if redis_url and "counted in this process" in log:  # the ledger fell back to memory: not what was asked
        raise RuntimeError(f"{backend}: the gateway's ledger left Redis during the run; see {run_dir}/gateway.log")
    summary = {who: {**{field: statistics.median(r[field] for r in rs) for field in rs[0] if field != "errors"},
                     "errors": sum(r["errors"] for r in rs)} for who, rs in runs.items()}
    return {"backend": backend, **summary}


@contextlib.contextmanager
def throwaway_database(maintenance_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database beside `maintenance_url`'s, dropped afterwards."""
    import asyncpg

    name = f"sluicegate_bench_{uuid.uuid4().hex[:8]}"

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(maintenance_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield maintenance_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    missing = [tool for tool in ("wrk", "nginx", "taskset") if shutil.which(tool) is None
               and not Path(f"/usr/sbin/{tool}").exists()]
    if missing:
        print(f"missing: {', '.join(missing)} (bash {BENCH}/setup_peers.sh, or apt-get install nginx wrk)")
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="sluicegate-vk-bench-") as scratch:
        run_dir = Path(scratch)
        mock, upstream = start_mock(run_dir)
        try:
            sqlite_dir = run_dir / "sqlite"
            sqlite_dir.mkdir()
            results.append(measure("SQLite, in-memory counters", f"sqlite:///{sqlite_dir}/bench.db", None, args,
                                   upstream, sqlite_dir))
            if answers("127.0.0.1", 5432) and answers("127.0.0.1", 6379):
                pg_dir = run_dir / "postgres"
                pg_dir.mkdir()
                with throwaway_database(args.postgres) as database_url:
                    results.append(measure("PostgreSQL + Redis counters", database_url, args.redis, args, upstream,
                                           pg_dir))
        finally:
            os.killpg(mock.pid, signal.SIGTERM)
            mock.wait(10)
    print(f"\nchat, c={args.concurrency}, {args.reps} × {args.duration:g} s each, gateway pinned to core 0\n")
    print("| backend | master key req/s | virtual key req/s | ratio | master p99 ms | virtual p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        master, virtual = r["master key"], r["virtual key"]
        ratio = virtual["rps"] / master["rps"]
        verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
        print(f"| {r['backend']} | {master['rps']:,.0f} | {virtual['rps']:,.0f} | {ratio:.2f} ({verdict}, target "
              f"≥ {TARGET_RATIO}) | {master['p99_ms']:.1f} | {virtual['p99_ms']:.1f} | "
              f"{master['errors'] + virtual['errors']:.0f} |")
    print("\nCPU per request (µs; median run), of the gateway and of the services it talks to:\n")
    print("| backend | key | gateway | redis | database |")
    print("|---|---|---|---|---|")
    for r in results:
        for who in ("master key", "virtual key"):
            cpu = r[who]
            print(f"| {r['backend']} | {who} | {cpu['gateway µs']:.0f} | {cpu['redis µs']:.0f} | "
                  f"{cpu['database µs']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
