"""OpenAI-format LLM routes: chat, legacy completions, embeddings (with and without /v1, and Azure-style)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sluicegate.gateway.proxy import GatewayState, handle


async def chat_completions(request: Request) -> Response:
    return await handle(request.app.state.gateway, "chat", request)


async def completions(request: Request) -> Response:
    return await handle(request.app.state.gateway, "text_completion", request)


async def embeddings(request: Request) -> Response:
    return await handle(request.app.state.gateway, "embedding", request)


async def azure_chat_completions(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    return await handle(state, "chat", request, model=request.path_params["model"])


async def azure_completions(request: Request) -> Response:
    return await handle(request.app.state.gateway, "text_completion", request, model=request.path_params["model"])


async def azure_embeddings(request: Request) -> Response:
    return await handle(request.app.state.gateway, "embedding", request, model=request.path_params["model"])


def routes() -> list[Route]:
    found = []
    for prefix in ("/v1", ""):
        found += [Route(f"{prefix}/chat/completions", chat_completions, methods=["POST"]),
                  Route(f"{prefix}/completions", completions, methods=["POST"]),
                  Route(f"{prefix}/embeddings", embeddings, methods=["POST"])]
    azure = "/openai/deployments/{model:path}"
    found += [Route(f"{azure}/chat/completions", azure_chat_completions, methods=["POST"]),
              Route(f"{azure}/completions", azure_completions, methods=["POST"]),
              Route(f"{azure}/embeddings", azure_embeddings, methods=["POST"])]
    return found
