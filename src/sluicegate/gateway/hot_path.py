"""The LLM routes' raw ASGI edge: no router, no middleware, no Request or Response objects on the hot path.

Measured with py-spy under load, Starlette's layers and its header lookups (a scan per `.get`) were ~17% of a
chat request; the hot POST routes therefore go straight from the ASGI call to the pipeline, with the headers
decoded once into a dict. Every other path is an ordinary Starlette route behind this.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from sluicegate.gateway.pipeline import GatewayState
from sluicegate.gateway.proxy import handle
from sluicegate.providers.base import CallKind

PATHS: dict[CallKind, str] = {"chat": "/chat/completions", "text_completion": "/completions",
                              "embedding": "/embeddings"}
# path → (kind, the route label for metrics: one for /v1/x and /x)
_HOT: dict[str, tuple[CallKind, str]] = {
    prefix + path: (kind, "/v1" + path) for kind, path in PATHS.items() for prefix in ("/v1", "")}


def header_map(scope: Scope) -> dict[str, str]:
    """The request headers as a dict (ASGI names are already lower-case); a repeated header keeps its last value."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


class HotPathApp:
    """Serves the OpenAI-format POST routes itself and hands everything else to `app`."""

    def __init__(self, app: ASGIApp, state: GatewayState) -> None:
        self.app = app
        self.gateway = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            hot = _HOT.get(scope["path"])
            if hot is not None:
                kind, route = hot
                response = await handle(self.gateway, kind, header_map(scope), receive, route)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
