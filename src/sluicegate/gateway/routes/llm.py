"""Azure-style LLM routes (`/openai/deployments/{model}/…`): the model comes from the path.

The plain OpenAI routes (`/v1/chat/completions`, …) are served by hot_path.py without a router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.routing import Route

from sluicegate.gateway.hot_path import PATHS, header_map
from sluicegate.gateway.proxy import handle
from sluicegate.providers.base import CallKind

_AZURE = "/openai/deployments/{model}"


def _azure_endpoint(kind: CallKind) -> Callable[[Request], Awaitable[object]]:
    route = _AZURE + PATHS[kind]  # the template: the path itself carries a client-chosen name

    async def endpoint(request: Request) -> object:
        return await handle(request.app.state.gateway, kind, header_map(request.scope), request.receive, route,
                            model=request.path_params["model"])

    return endpoint


def routes() -> list[Route]:
    return [Route("/openai/deployments/{model:path}" + path, _azure_endpoint(kind), methods=["POST"])
            for kind, path in PATHS.items()]
