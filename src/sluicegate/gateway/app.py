"""create_app(config) → the gateway's ASGI app; its lifespan owns every long-lived object."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from sluicegate import __version__
from sluicegate.gateway.config import GatewayConfig, config_path_from_env, load_config
from sluicegate.gateway.deployments import ModelGroups
from sluicegate.gateway.hot_path import HotPathApp
from sluicegate.gateway.pipeline import GatewayState
from sluicegate.gateway.router_view import cooldown_recorder
from sluicegate.gateway.routes import anthropic, health, llm, metrics, models, router
from sluicegate.gateway.routing import build_router
from sluicegate.observability.metrics import GatewayMetrics
from sluicegate.settings import Settings
from sluicegate.transport import pool


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


def create_app(config: GatewayConfig) -> HotPathApp:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await pool.aclose()  # after the last request has drained
        app.state.metrics.close()

    app = Starlette(routes=[*llm.routes(), *anthropic.routes(), *models.routes(), *health.routes(), *metrics.routes(),
                            *router.routes()], lifespan=lifespan)
    groups = ModelGroups(config.deployments)
    gateway_metrics = GatewayMetrics()
    app.state.gateway = GatewayState(
        groups=groups,
        router=build_router(config, on_cooldown=cooldown_recorder(groups, gateway_metrics)),
        settings=gateway_settings(config),
        master_key=config.master_key,
        max_request_bytes=int(config.max_request_size_mb * 1_048_576),
        metrics=gateway_metrics,
    )
    app.state.metrics = app.state.gateway.metrics  # GET /metrics reads it here
    app.state.deployments = config.deployments
    app.state.started_at = int(time.time())
    app.state.version = __version__
    return HotPathApp(app, app.state.gateway)


def app_from_env() -> HotPathApp:
    """The factory uvicorn workers call: the config path travels in SLUICEGATE_CONFIG."""
    allow = os.environ.get("SLUICEGATE_ALLOW_UNSUPPORTED") == "1"
    return create_app(load_config(config_path_from_env(os.environ), allow_unsupported=allow))
