"""The gateway figures: sluicegate vs LiteLLM vs a bare-Python floor, with ratios and the issue's targets.

    .venv/bin/python benchmarks/gateway_overhead.py          # harness defaults: 5 s warm-up + 2 x 15 s a level, ~10 min
    .venv/bin/python benchmarks/gateway_overhead.py --quick  # 2 s warm-up + 1 x 5 s a level, ~4 min
    .venv/bin/python benchmarks/gateway_overhead.py --analyze DIR/results.json   # re-print, no run

Runs the shared gateway harness (<bench-dir>/gateway_bench.py: gateway pinned to core 0, wrk + nginx mock on
core 1) on the targets direct, min-uvicorn (the floor), sluicegate (this checkout: .venv/bin goes first on
PATH) and litellm, then reads its results.json and prints one Markdown table of req/s per gateway core,
added latency (Δp50/Δp99 vs direct) and the sluicegate/LiteLLM ratios, then RSS and cold start, then each
target of the issue as PASS/FAIL with the measured value. The same text is written to <out>/ratios.md.
Standard library only. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
DEFAULT_FLOOR_VENV = Path("/tmp/floor-venv")  # noqa: S108  # outside the repo on purpose
DEFAULT_OUT_ROOT = Path("/tmp/sluicegate-bench/overhead")  # noqa: S108
FLOOR_PACKAGES = ["uvicorn", "uvloop", "httptools", "aiohttp", "orjson"]
SCENARIOS = ["chat:1", "chat:16", "chat:64", "stream:16"]
SG, LL, FLOOR, DIRECT = "sluicegate", "litellm", "min-uvicorn", "direct"
MIN_CPU_UTIL = 0.05  # below this the harness does not compute req/s per core either

# The targets.
RPS_RATIO_CHAT = 30.0  # non-streaming req/s per gateway core, c=16 and c=64, zero errors
RPS_RATIO_STREAM = 25.0  # streaming (c=16) req/s per gateway core
P50_FRACTION_C1 = 1 / 15  # added p50 at c=1
P99_FRACTION_C64 = 1 / 20  # added p99 at c=64
RSS_MB_PER_WORKER = 150.0
COLD_START_S = 1.5


# ----------------------------------------------------------------------------- prerequisites and run
def check_prerequisites(bench: Path, peers: Path) -> list[str]:
    """What is missing, one line each, with how to get it."""
    setup = f"bash {bench}/setup_peers.sh"
    miss: list[str] = []
    if not (bench / "gateway_bench.py").is_file():
        return [f"harness not found: {bench}/gateway_bench.py (pass --bench-dir)"]
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        miss.append(f"nginx (Debian package `nginx`, mock upstream): {setup}")
    if shutil.which("wrk") is None:
        miss.append(f"wrk (Debian package `wrk`, load generator): {setup}")
    if shutil.which("taskset") is None:
        miss.append(f"taskset (Debian package `util-linux`, core pinning): {setup}")
    if not (peers / "litellm-venv" / "bin" / "litellm").exists():
        miss.append(f"LiteLLM peer venv ({peers}/litellm-venv/bin/litellm): {setup}")
    if not (ROOT / ".venv" / "bin" / "sluicegate").exists():
        miss.append(f"this checkout's gateway ({ROOT}/.venv/bin/sluicegate): `make install` in {ROOT}")
    if (os.cpu_count() or 1) < 2:
        miss.append("a second CPU core (gateway on core 0, wrk + mock on core 1)")
    return miss


def floor_venv_ready(venv: Path) -> bool:
    py = venv / "bin" / "python"
    if not (venv / "bin" / "uvicorn").exists() or not py.exists():
        return False
    probe = subprocess.run([str(py), "-c", "import uvicorn, uvloop, httptools, aiohttp, orjson"],
                           capture_output=True, check=False)
    return probe.returncode == 0


def ensure_floor_venv(venv: Path) -> str | None:
    """Create the floor's venv if it is missing; returns an error text, or None when it is usable."""
    if floor_venv_ready(venv):
        return None
    print(f"== creating the floor venv {venv} ({' '.join(FLOOR_PACKAGES)})", flush=True)
    try:
        if not (venv / "bin" / "python").exists():
            subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *FLOOR_PACKAGES], check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        return f"could not create {venv}: {e}"
    return None if floor_venv_ready(venv) else f"{venv} still cannot import {FLOOR_PACKAGES}"


def render_floor_targets(bench: Path, venv: Path, dest_dir: Path) -> Path:
    """floor/targets.json.tmpl with {floor_venv} and {floor_dir} filled; the harness's own placeholders
    ({upstream}, {port}) stay for it to fill."""
    text = (bench / "floor" / "targets.json.tmpl").read_text()
    text = text.replace("{floor_venv}", str(venv)).replace("{floor_dir}", str(bench / "floor"))
    dest = dest_dir / "floor-targets.json"
    dest.write_text(text)
    json.loads(text)  # fail here, not in the harness, if the template changed shape
    return dest


def run_harness(cmd: list[str], env: dict[str, str]) -> int:
    """Run the harness in the foreground. SIGTERM to us is passed on to it (it then stops its own gateway
    and nginx groups); Ctrl-C reaches it directly, and we wait for it to clean up."""
    proc = subprocess.Popen(cmd, env=env)

    def forward(signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    old = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue  # the harness got the same SIGINT; let it unwind
    finally:
        signal.signal(signal.SIGTERM, old)


# ----------------------------------------------------------------------------- reading results.json
def target(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((t for t in results.get("targets", []) if t.get("name") == name), None)


def scen_median(t: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if not t or t.get("status") != "ok":
        return None
    sc = t.get("scenarios", {}).get(key) or {}
    m = sc.get("median")
    return m if m and m.get("ok_rps") is not None else None


def why_missing(t: dict[str, Any] | None, key: str | None = None) -> str:
    if t is None:
        return "not run"
    if t.get("status") != "ok":
        notes = "; ".join(t.get("notes", []))[:160]
        return f"{t.get('status')}: {notes}" if notes else str(t.get("status"))
    if key:
        sc = t.get("scenarios", {}).get(key) or {}
        if "skipped" in sc:
            return f"skipped: {sc['skipped']}"
        if not sc:
            return "scenario not run"
        return "no successful wrk run"
    return "no data"


def per_core(m: dict[str, Any] | None) -> float | None:
    if not m:
        return None
    cpu = m.get("gateway_cpu_util")
    return m["ok_rps"] / cpu if cpu and cpu > MIN_CPU_UTIL else None


def delta(m: dict[str, Any] | None, d: dict[str, Any] | None, key: str) -> float | None:
    if not m or not d or m.get(key) is None or d.get(key) is None:
        return None
    return float(m[key]) - float(d[key])


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b not in (None, 0) and b > 0 else None


def f(x: float | int | None, nd: int = 2) -> str:
    if x is None:
        return "–"
    if isinstance(x, int):
        return str(x)
    return f"{x:,.{nd}f}"


def times(r: float | None) -> str:
    return "–" if r is None else f"{r:.1f}×"


def frac(r: float | None) -> str:
    """A latency ratio (lower is better) as 'a fraction, = 1/N'."""
    if r is None:
        return "–"
    if r <= 0:
        return f"{r:.3f} (≤ 0: within noise of direct)"
    return f"{r:.3f} = 1/{1 / r:.0f}"


# ----------------------------------------------------------------------------- the report
def build_report(results: dict[str, Any], results_path: Path) -> list[str]:
    a = results.get("args", {})
    scen_keys = a.get("scenarios") or SCENARIOS
    sg, ll, fl, direct = (target(results, n) for n in (SG, LL, FLOOR, DIRECT))
    have_floor = fl is not None
    v = results.get("versions", {})
    L: list[str] = [
        f"# sluicegate gateway overhead — {results.get('started', '?')}",
        "",
        f"Harness: gateway pinned to core {a.get('gateway_core')}, wrk -t1 + nginx mock on core "
        f"{a.get('load_core')}; {a.get('duration')} s x {a.get('reps')} rep(s) per level after a "
        f"{a.get('warmup')} s warm-up (median of reps). "
        f"sluicegate {results.get('sluicegate_version', '?')} ({results.get('sluicegate_commit', '?')}), "
        f"LiteLLM {v.get('litellm', '?')}, {v.get('cpus', '?')} CPUs"
        + (f", 1-min load average before/after {results['loadavg_before']} / {results.get('loadavg_after', '?')}"
           if "loadavg_before" in results else "")
        + f". Raw: `{results_path}`.",
        "",
        "req/s per core = ok req/s ÷ gateway CPU utilisation; Δp50/Δp99 = the target's percentile minus "
        "`direct`'s at the same concurrency (added latency). Ratios are sluicegate ÷ LiteLLM: for req/s higher "
        "is better, for Δ latency lower is better.",
        "",
        "| scenario | metric | sluicegate | LiteLLM | floor (min-uvicorn) | sluicegate/LiteLLM |",
        "|---|---|---|---|---|---|",
    ]
    floor_rows: list[str] = []
    load_warn: list[str] = []
    for key in scen_keys:
        ms = {n: scen_median(t, key) for n, t in ((SG, sg), (LL, ll), (FLOOR, fl))}
        dm = scen_median(direct, key)
        label = key.replace(":", " c=")
        cells: dict[str, dict[str, str]] = {}
        for n, t in ((SG, sg), (LL, ll), (FLOOR, fl)):
            m = ms[n]
            if m is None:
                reason = "not run (--no-floor)" if n == FLOOR and not have_floor else why_missing(t, key)
                cells[n] = {k: reason if k == "rps" else "" for k in ("rps", "d50", "d99", "err")}
                continue
            cells[n] = {"rps": f(per_core(m), 0), "d50": f(delta(m, dm, "p50_ms")),
                        "d99": f(delta(m, dm, "p99_ms")), "err": f"{m.get('errors')} / {m.get('requests')}"}
        pc = {n: per_core(ms[n]) for n in ms}
        d50 = {n: delta(ms[n], dm, "p50_ms") for n in ms}
        d99 = {n: delta(ms[n], dm, "p99_ms") for n in ms}
        L.append(f"| {label} | req/s per gateway core | {cells[SG]['rps']} | {cells[LL]['rps']} | "
                 f"{cells[FLOOR]['rps']} | {times(ratio(pc[SG], pc[LL]))} |")
        L.append(f"| {label} | Δp50 ms | {cells[SG]['d50']} | {cells[LL]['d50']} | {cells[FLOOR]['d50']} | "
                 f"{frac(ratio(d50[SG], d50[LL]))} |")
        L.append(f"| {label} | Δp99 ms | {cells[SG]['d99']} | {cells[LL]['d99']} | {cells[FLOOR]['d99']} | "
                 f"{frac(ratio(d99[SG], d99[LL]))} |")
        L.append(f"| {label} | errors / requests | {cells[SG]['err']} | {cells[LL]['err']} | {cells[FLOOR]['err']} | |")
        if have_floor:
            r = ratio(pc[SG], pc[FLOOR])
            floor_rows.append(f"| {label} | {f(pc[SG], 0)} | {f(pc[FLOOR], 0)} | "
                              f"{'–' if r is None else f'{r:.2f} ({r:.0%})'} | "
                              f"{f(d50[SG])} vs {f(d50[FLOOR])} |")
        sc = (sg or {}).get("scenarios", {}).get(key) or {}
        for run in sc.get("runs", []):
            if run.get("ok") and run.get("seconds"):
                load = run["wrk_cpu_s"] / run["seconds"] + (run.get("mock_cpu_util") or 0)
                if load > 0.8:
                    load_warn.append(f"{label}: load core at {load:.0%} during a sluicegate run")
                    break

    L += ["", "| process | sluicegate | LiteLLM | floor (min-uvicorn) |", "|---|---|---|---|"]

    def proc_cell(t: dict[str, Any] | None, field_: str, nd: int) -> str:
        if t is None:
            return "not run"
        if t.get("status") != "ok" and t.get(field_) is None:
            return str(t.get("status"))
        return f(t.get(field_), nd)

    L.append("| peak RSS MB (Σ VmRSS of the group) | " + " | ".join(
        proc_cell(t, "rss_peak_sampled_mb", 1) for t in (sg, ll, fl)) + " |")
    L.append("| processes | " + " | ".join(proc_cell(t, "processes", 0) for t in (sg, ll, fl)) + " |")
    L.append("| cold start s (spawn → first valid completion) | " + " | ".join(
        proc_cell(t, "cold_start_s", 2) for t in (sg, ll, fl)) + " |")
    imp = (sg or {}).get("probes", {}).get("import sluicegate")
    if imp:
        L.append(f"| `import sluicegate` s (median) | {f(imp.get('median_s'), 3)} | | |")

    if have_floor:
        L += ["", "sluicegate as a fraction of the Python floor (bare ASGI + aiohttp + orjson under uvicorn; the "
              "ceiling for a Python gateway on one core):", "",
              "| scenario | sluicegate req/s per core | floor req/s per core | sluicegate/floor "
              "| Δp50 ms sluicegate vs floor |",
              "|---|---|---|---|---|", *floor_rows]

    L += ["", "## Targets", ""]
    L += targets_lines(sg, ll, direct)
    checks = [f"{n} {s}" for t in (sg, ll, fl) if t for n in [t["name"]]
              for s, c in (t.get("checks") or {}).items() if not c.get("ok")]
    notes = []
    if checks:
        notes.append("correctness checks FAILED: " + ", ".join(checks))
    notes += load_warn
    if a.get("reps", 2) < 2 or (a.get("duration") or 15) < 10:
        notes.append(f"short run ({a.get('duration')} s x {a.get('reps')}): indicative only; "
                     "run without --quick for the figures to quote")
    if notes:
        L += ["", "Notes:", *[f"- {n}" for n in notes]]
    return L


def verdict(ok: bool | None) -> str:
    return "N/A " if ok is None else ("PASS" if ok else "FAIL")


def targets_lines(sg: dict[str, Any] | None, ll: dict[str, Any] | None, direct: dict[str, Any] | None) -> list[str]:
    out: list[str] = []
    for key, need in (("chat:16", RPS_RATIO_CHAT), ("chat:64", RPS_RATIO_CHAT), ("stream:16", RPS_RATIO_STREAM)):
        ms, ml = scen_median(sg, key), scen_median(ll, key)
        r = ratio(per_core(ms), per_core(ml))
        errs = ms.get("errors") if ms else None
        ok = None if r is None else (r >= need and errs == 0)
        what = "streaming" if key.startswith("stream") else "non-streaming"
        detail = (f"{r:.1f}× ({f(per_core(ms), 0)} vs {f(per_core(ml), 0)} req/s per core), {errs} errors"
                  if r is not None else f"no data (sluicegate: {why_missing(sg, key) if not ms else 'ok'}; "
                  f"litellm: {why_missing(ll, key) if not ml else 'ok'})")
        zero = " with zero errors" if key.startswith("chat") else ""
        out.append(f"- {verdict(ok)} {what} req/s per gateway core at c={key.split(':')[1]} "
                   f"≥ {need:.0f}× LiteLLM's{zero}: {detail}")
    for key, pct, need, label in (("chat:1", "p50_ms", P50_FRACTION_C1, "added p50 at c=1"),
                                  ("chat:64", "p99_ms", P99_FRACTION_C64, "added p99 (Δp99) at c=64")):
        dm = scen_median(direct, key)
        ds, dl = delta(scen_median(sg, key), dm, pct), delta(scen_median(ll, key), dm, pct)
        r = ratio(ds, dl)
        ok = None if r is None else r <= need
        detail = (f"{frac(r)} ({f(ds)} vs {f(dl)} ms)" if r is not None
                  else f"no data (sluicegate Δ {f(ds)}, LiteLLM Δ {f(dl)}, direct {'ok' if dm else 'missing'})")
        out.append(f"- {verdict(ok)} {label} ≤ 1/{1 / need:.0f} of LiteLLM's: {detail}")
    rss, procs = (sg or {}).get("rss_peak_sampled_mb"), (sg or {}).get("processes") or 1
    per_worker = rss / procs if rss is not None else None
    out.append(f"- {verdict(None if per_worker is None else per_worker <= RSS_MB_PER_WORKER)} peak RSS "
               f"≤ {RSS_MB_PER_WORKER:.0f} MB per worker: "
               + (f"{per_worker:.1f} MB ({rss:.1f} MB over {procs} process(es))" if per_worker is not None
                  else f"no data ({why_missing(sg)})"))
    cs = (sg or {}).get("cold_start_s")
    out.append(f"- {verdict(None if cs is None else cs <= COLD_START_S)} cold start ≤ {COLD_START_S} s: "
               + (f"{cs:.2f} s" if cs is not None else f"no data ({why_missing(sg)})"))
    return out


def sluicegate_identity() -> tuple[str, str]:
    py = ROOT / ".venv" / "bin" / "python"
    ver = subprocess.run([str(py), "-c", "import importlib.metadata as m; print(m.version('sluicegate'))"],
                         capture_output=True, text=True, check=False).stdout.strip() or "?"
    commit = "?"
    if shutil.which("git"):  # read-only
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip() or "?"
    return ver, commit


def report(results_path: Path, out: Path) -> None:
    results = json.loads(results_path.read_text())
    meta = out / "sluicegate.json"
    if meta.exists():
        results.update(json.loads(meta.read_text()))
    text = "\n".join(build_report(results, results_path)) + "\n"
    print("\n" + text, end="", flush=True)
    (out / "ratios.md").write_text(text)
    print(f"\nwrote {out / 'ratios.md'}", flush=True)


# ----------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH, help=f"shared harness (default {DEFAULT_BENCH})")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"results dir (default {DEFAULT_OUT_ROOT}/<timestamp>): results.json, report.md, ratios.md")
    ap.add_argument("--duration", type=float, default=None, help="seconds per wrk run (harness default 15)")
    ap.add_argument("--warmup", type=float, default=None, help="warm-up seconds per level (harness default 5)")
    ap.add_argument("--reps", type=int, default=None, help="timed runs per level (harness default 2)")
    ap.add_argument("--quick", action="store_true", help="= --duration 5 --warmup 2 --reps 1")
    ap.add_argument("--floor-venv", type=Path, default=DEFAULT_FLOOR_VENV,
                    help="venv for the Python floor; created if missing (default /tmp/floor-venv)")
    ap.add_argument("--no-floor", action="store_true", help="do not run the min-uvicorn floor")
    ap.add_argument("--peers", type=Path, default=Path(os.environ.get("BENCH_PEERS", "/tmp/peers")),  # noqa: S108
                    help="peer install dir of the harness (default $BENCH_PEERS or /tmp/peers)")
    ap.add_argument("--analyze", type=Path, metavar="RESULTS_JSON",
                    help="do not run: print the table for an existing results.json (ratios.md goes next to it)")
    args = ap.parse_args()

    if args.analyze:
        report(args.analyze, args.analyze.parent)
        return 0

    if args.quick:
        args.duration = 5 if args.duration is None else args.duration
        args.warmup = 2 if args.warmup is None else args.warmup
        args.reps = 1 if args.reps is None else args.reps
    bench = args.bench_dir.resolve()
    missing = check_prerequisites(bench, args.peers)
    if missing:
        print("missing prerequisites:\n" + "\n".join(f"  - {m}" for m in missing), file=sys.stderr)
        return 2

    out = (args.out or DEFAULT_OUT_ROOT / dt.datetime.now().strftime("%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    env["BENCH_PEERS"] = str(args.peers)
    env.pop("VIRTUAL_ENV", None)
    ver, commit = sluicegate_identity()
    meta: dict[str, Any] = {"sluicegate_version": ver, "sluicegate_commit": commit,
                            "loadavg_before": round(os.getloadavg()[0], 2)}
    (out / "sluicegate.json").write_text(json.dumps(meta))

    names = [DIRECT, FLOOR, SG, LL]
    with tempfile.TemporaryDirectory(prefix="sluicegate-floor-") as tmp:
        extra: list[str] = []
        if not args.no_floor:
            err = ensure_floor_venv(args.floor_venv)
            if err:
                print(f"warning: {err}; running without the floor (--no-floor)", file=sys.stderr)
                args.no_floor = True
            else:
                extra = ["--extra-targets", str(render_floor_targets(bench, args.floor_venv, Path(tmp)))]
        if args.no_floor:
            names.remove(FLOOR)
        cmd = ["python3", str(bench / "gateway_bench.py"), "--targets", ",".join(names), *extra,
               "--scenarios", ",".join(SCENARIOS), "--out", str(out), "--peers", str(args.peers)]
        for flag in ("duration", "warmup", "reps"):
            val = getattr(args, flag)
            if val is not None:
                cmd += [f"--{flag}", f"{val:g}"]
        print("== " + " ".join(cmd), flush=True)
        print(f"   (PATH starts with {ROOT / '.venv' / 'bin'})", flush=True)
        rc = run_harness(cmd, env)

    meta["loadavg_after"] = round(os.getloadavg()[0], 2)
    (out / "sluicegate.json").write_text(json.dumps(meta))
    results_path = out / "results.json"
    if rc != 0:
        print(f"harness exited with rc={rc}", file=sys.stderr)
    if not results_path.exists():
        print(f"no {results_path}: the harness did not get as far as writing results", file=sys.stderr)
        return rc or 1
    report(results_path, out)
    return rc


if __name__ == "__main__":
    sys.exit(main())
