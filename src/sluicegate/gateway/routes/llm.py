"""OpenAI-format LLM routes: chat, legacy completions, embeddings (with and without /v1, and Azure-style)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sluicegate.gateway.proxy import handle
from sluicegate.providers.base import CallKind

_PATHS: dict[CallKind, str] = {"chat": "/chat/completions", "text_completion": "/completions",
                               "embedding": "/embeddings"}
_AZURE = "/openai/deployments/{model}"


def _endpoint(kind: CallKind) -> Callable[[Request], Awaitable[Response]]:
    route = "/v1" + _PATHS[kind]  # one metrics label for /v1/x and /x

    async def endpoint(request: Request) -> Response:
        return await handle(request.app.state.gateway, kind, request, route)

    return endpoint


def _azure_endpoint(kind: CallKind) -> Callable[[Request], Awaitable[Response]]:
    route = _AZURE + _PATHS[kind]  # the template: the path itself carries a client-chosen name

    async def endpoint(request: Request) -> Response:
        return await handle(request.app.state.gateway, kind, request, route, model=request.path_params["model"])

    return endpoint


def routes() -> list[Route]:
    found = []
    for kind, path in _PATHS.items():
        endpoint = _endpoint(kind)
        found += [Route("/v1" + path, endpoint, methods=["POST"]), Route(path, endpoint, methods=["POST"])]
        found.append(Route("/openai/deployments/{model:path}" + path, _azure_endpoint(kind), methods=["POST"]))
    return found
