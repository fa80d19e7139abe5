"""create_app(config) → the gateway's ASGI app; its lifespan owns every long-lived object."""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from sluicegate import __version__
from sluicegate.gateway.admission import Ledger, MemoryLedger
from sluicegate.gateway.change_feed import ChangeFeed
from sluicegate.gateway.config import GatewayConfig, config_path_from_env, load_config
from sluicegate.gateway.db.runtime import GatewayDatabase
from sluicegate.gateway.deployments import ModelGroups
from sluicegate.gateway.enforcement import Enforcement
from sluicegate.gateway.hot_path import HotPathApp
from sluicegate.gateway.management_app import LazyManagementApp
from sluicegate.gateway.pipeline import GatewayState
from sluicegate.gateway.redis_ledger import RedisLedger, ResilientLedger
from sluicegate.gateway.router_view import cooldown_recorder
from sluicegate.gateway.routes import anthropic, health, llm, metrics, models, router
from sluicegate.gateway.routing import build_router
from sluicegate.gateway.shared_redis import shared_redis
from sluicegate.gateway.spend.recorder import DEFAULT_JOURNAL_DIR, SpendRecorder
from sluicegate.observability.metrics import GatewayMetrics
from sluicegate.settings import Settings
from sluicegate.transport import pool
from sluicegate.transport.redis_wire import PipelinedRedis

# Background work that needs SQLAlchemy waits this long after start-up: imports hold the GIL, and made the first
# answers of a fresh process wait seconds (measured: spawn → first completion 5–7 s with them at once, 2 s after).
BACKGROUND_START_DELAY_S = 5.0


def gateway_settings(config: GatewayConfig) -> Settings:
    """The SDK defaults with the config's litellm_settings applied (num_retries and the other reliability keys go
    to the router: gateway/routing.py)."""
    settings = Settings()
    litellm = config.litellm_settings
    if "drop_params" in litellm:
        settings.drop_params = bool(litellm["drop_params"])
    if "request_timeout" in litellm:
        settings.request_timeout = float(litellm["request_timeout"])
    return settings


def gateway_database(config: GatewayConfig) -> GatewayDatabase:
    """The database from general_settings (or DATABASE_URL; the embedded SQLite file when neither is set)."""
    general = config.general_settings
    return GatewayDatabase(config.database_url, migrate=not general.get("disable_prisma_schema_update", False),
                           principal_ttl_s=float(general.get("user_api_key_cache_ttl", 60.0)))


def admission_ledger(client: PipelinedRedis | None, namespace: str | None) -> Ledger:
    """Budgets and limits in the shared Redis, so every instance counts the same; in memory without one."""
    if client is None:
        return MemoryLedger()
    return ResilientLedger(RedisLedger(client, f"{namespace}:ledger:" if namespace else "sluicegate:ledger:"))


# The garbage collector, tuned once the gateway is up. A request allocates hundreds of containers, so with
# Python's defaults (a young collection every 700, a full one every 100 of those) full collections came every
# few seconds and each walked every long-lived object (config, catalog, modules): 60-90 ms pauses, the p99 of
# a loaded gateway. Frozen, the start-up heap is never walked again; the larger first threshold makes young
# collections rarer. Measured (virtual_keys.py harness, SQLite, c=16): p99 53-88 ms -> 25-28 ms, gateway CPU per
# request 703-773 -> 639-681 µs.
GC_YOUNG_THRESHOLD = 20_000
GC_OLDER_THRESHOLD = 20


def _settle_heap() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, GC_OLDER_THRESHOLD, GC_OLDER_THRESHOLD)


def create_app(config: GatewayConfig, *, settle_heap: bool = False) -> HotPathApp:
    """The gateway's app. `settle_heap`: tune the garbage collector for serving once started (`_settle_heap`); the
    server process asks for it, tests and embedders, which share their process, do not."""
    groups = ModelGroups(config.deployments)
    gateway_metrics = GatewayMetrics()
    general = config.general_settings
    # A database (and spend tracking) with a master key, or wherever one is configured: as LiteLLM, a gateway with
    # neither is a plain proxy. Nobody could read what it stored (with no master key there is no admin) and it
    # paid for it: migrations at start-up, a spend record per request (a third of a request's CPU).
    db = gateway_database(config) if config.master_key is not None or config.database_url is not None else None
    spend = SpendRecorder(general.get("spend_journal_dir") or DEFAULT_JOURNAL_DIR, db,
                          flush_interval_s=float(general.get("proxy_batch_write_at", 1.0))) if db is not None else None
    redis = shared_redis(config)
    namespace = redis.namespace if redis is not None else None
    redis_client = redis.client() if redis is not None else None  # router state and change feed
    ledger_client = redis.pipelined() if redis is not None else None  # the ledger's hot path
    state = GatewayState(
        groups=groups,
        router=build_router(config, on_cooldown=cooldown_recorder(groups, gateway_metrics), redis=redis_client),
        settings=gateway_settings(config),
        master_key=config.master_key,
        max_request_bytes=int(config.max_request_size_mb * 1_048_576),
        metrics=gateway_metrics,
        enforcement=Enforcement(admission_ledger(ledger_client, namespace), config.deployments, end_users=db),
        db=db,
        spend=spend,
    )

    if redis_client is not None and db is not None:  # management changes reach every instance's cache at once
        db.feed = ChangeFeed(redis_client, f"{namespace}:sluicegate:principals-changed" if namespace
                             else "sluicegate:principals-changed")
    management = LazyManagementApp(state)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        background: list[asyncio.Task[None]] = []
        if db is not None:
            await db.start()  # a schema behind the code stops start-up here, with the reason
        if spend is not None:
            await spend.start()  # replays what a previous process left unstored
        if db is not None:
            background.append(asyncio.create_task(_reset_budgets(db), name="sluicegate-budget-resets"))
            interval_s = float(general.get("model_poll_interval_s", 10.0))
            background.append(asyncio.create_task(_sync_models(db, state, interval_s), name="sluicegate-model-sync"))
            if db.feed is not None:
                background.append(asyncio.create_task(db.feed.listen(db.forget_principals),
                                                      name="sluicegate-change-feed"))
        if settle_heap:
            _settle_heap()
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await pool.aclose()  # after the last request has drained
            if spend is not None:
                await spend.aclose()  # every queued spend record stored (or left in the journal)
            if db is not None:
                await db.aclose()
            await state.enforcement.ledger.drain()  # every settle answered before the connection closes
            if redis_client is not None:
                await redis_client.aclose()
            if ledger_client is not None:
                await ledger_client.aclose()
            app.state.metrics.close()

    app = Starlette(routes=[*llm.routes(), *anthropic.routes(), *models.routes(), *health.routes(),
                            *metrics.routes(), *router.routes()], lifespan=lifespan)
    app.router.default = management  # every other path: the management API (management_app.py)
    app.state.gateway = state
    app.state.metrics = state.metrics  # GET /metrics reads it here
    app.state.started_at = int(time.time())
    app.state.version = __version__
    return HotPathApp(app, state)


async def _reset_budgets(db: GatewayDatabase) -> None:
    await asyncio.sleep(BACKGROUND_START_DELAY_S)
    from sluicegate.gateway.budget_resets import run_budget_resets  # SQLAlchemy: after start-up, not before

    opened = await db.opened()
    await run_budget_resets(opened.sessions, db.changed)


async def _sync_models(db: GatewayDatabase, state: GatewayState, interval_s: float) -> None:
    if not db.has_stored_models:  # nothing to serve yet: let the first answers go out before importing
        await asyncio.sleep(BACKGROUND_START_DELAY_S)
    from sluicegate.gateway.model_store import run_model_sync  # SQLAlchemy: after start-up, not before

    opened = await db.opened()
    await run_model_sync(state, opened.sessions, interval_s)


def app_from_env() -> HotPathApp:
    """The factory uvicorn workers call: the config path travels in SLUICEGATE_CONFIG."""
    allow = os.environ.get("SLUICEGATE_ALLOW_UNSUPPORTED") == "1"
    return create_app(load_config(config_path_from_env(os.environ), allow_unsupported=allow), settle_heap=True)
