"""The `sluicegate` command: `serve` runs the gateway; `demo` shows it working, in a few seconds.

The gateway's modules are imported only once a command needs them, so `sluicegate --help` stays instant and an
SDK-only install (without the `gateway` extra) still answers it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from sluicegate.gateway.config import GatewayConfig

from sluicegate import __version__
from sluicegate.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sluicegate", description="One OpenAI-format gateway to every LLM.")
    parser.add_argument("--version", action="version", version=f"sluicegate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway (embedded defaults when no config is given)")
    serve.add_argument("--config", help="a LiteLLM-style config.yaml (default: $SLUICEGATE_CONFIG or "
                                        "$CONFIG_FILE_PATH; none: embedded defaults)")
    serve.add_argument("--host", help="default 0.0.0.0 with a master key, 127.0.0.1 without one")
    serve.add_argument("--port", type=int, default=4000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--allow-unsupported", action="store_true",
                       help="start even if the config sets LiteLLM settings sluicegate does not implement "
                            "yet (they are ignored, with a warning each)")
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    demo = commands.add_parser("demo", help="a 30-second tour: start the gateway on its defaults (the mock/ "
                                            "provider: no key, no network), send it each kind of call, stop it")
    demo.add_argument("--port", type=int, help="default: a free port on 127.0.0.1")
    db = commands.add_parser("db", help="the gateway database's schema: upgrade | current | check | downgrade",
                             add_help=False)
    db.add_argument("db_args", nargs=argparse.REMAINDER)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["db"]:  # its own parser (gateway/db/migrate.py), --help included
        from sluicegate.gateway.db.migrate import db_cli

        return db_cli(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args, sys.stderr)
    if args.command == "demo":
        from sluicegate.demo import run_demo

        return run_demo(args.port, sys.stdout)
    return 2


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    from sluicegate.gateway.config import config_path_from_env, load_config

    path = args.config or config_path_from_env(os.environ)
    try:
        config = load_config(path, allow_unsupported=args.allow_unsupported)
    except ConfigError as error:
        print(f"sluicegate: invalid config: {error}", file=out)
        return 2
    for warning in config.warnings:
        print(f"sluicegate: warning: {warning}", file=out)
    if args.workers > 1 and (counted := _per_process_limits(config)):
        print(f"sluicegate: --workers {args.workers} with {counted} needs counters every worker shares, or each "
              "worker would allow the full limit on its own: set router_settings.redis_host (or redis_url, "
              "litellm_settings.cache_params, REDIS_URL) to a Redis the workers share, or run one worker "
              "(--workers 1)", file=out)
        return 2
    os.environ.update(config.environment)  # the config's environment_variables, for the providers to read
    host = args.host
    if config.master_key is None:
        print("sluicegate: warning: no master key is set, so the gateway is OPEN to anyone who can reach it; "
              "set general_settings.master_key (or LITELLM_MASTER_KEY) to require one", file=out)
        if host is None:
            host = "127.0.0.1"
            print("sluicegate: listening on 127.0.0.1 only, because the gateway is open "
                  "(pass --host to choose)", file=out)
    host = host or "0.0.0.0"  # noqa: S104  # a master key guards it; containers need every interface
    source = path or "embedded defaults (no config file)"
    print(f"sluicegate {__version__} gateway on http://{host}:{args.port}  config: {source}  "
          f"model groups: {', '.join(_group_names(config)) or 'none'}", file=out, flush=True)
    _run_uvicorn(args, host, path, config)
    return 0


def _per_process_limits(config: GatewayConfig) -> str | None:
    from sluicegate.gateway.routing import per_process_limits
    from sluicegate.gateway.shared_redis import shared_redis

    found = per_process_limits(config)
    if found is None and config.master_key is not None and shared_redis(config) is None:
        # Virtual keys may carry budgets, rpm/tpm and parallel limits (gateway/admission.py).
        return "virtual keys (their budgets, rpm/tpm and max_parallel_requests limits are counted per request)"
    return found


def _group_names(config: GatewayConfig) -> list[str]:
    from sluicegate.gateway.deployments import ModelGroups

    return ModelGroups(config.deployments).names()


@contextlib.contextmanager
def _shared_metrics_dir() -> Iterator[None]:
    """Workers write their metrics to one directory so that /metrics, whichever worker answers, counts them all
    (prometheus_client's multiprocess mode). The operator's PROMETHEUS_MULTIPROC_DIR is used as given; else a
    fresh directory for this run, removed at exit."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="sluicegate-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def _run_uvicorn(args: argparse.Namespace, host: str, path: str | None, config: GatewayConfig) -> None:
    import uvicorn

    common = dict(host=host, port=args.port, log_level=args.log_level, access_log=False, lifespan="on",
                  http="httptools", loop="uvloop" if sys.platform != "win32" else "asyncio",
                  timeout_graceful_shutdown=30)
    if args.workers > 1:
        # Each worker process builds its own app from the same file.
        if path:
            os.environ["SLUICEGATE_CONFIG"] = path
        if args.allow_unsupported:
            os.environ["SLUICEGATE_ALLOW_UNSUPPORTED"] = "1"
        with _shared_metrics_dir():
            uvicorn.run("sluicegate.gateway.app:app_from_env", factory=True, workers=args.workers, **common)
        return
    from sluicegate.gateway.app import create_app

    uvicorn.run(create_app(config, settle_heap=True), **common)
