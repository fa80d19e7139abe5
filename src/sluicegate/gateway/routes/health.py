"""Cheap health endpoints for orchestrators: no upstream call, no authentication."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


async def liveliness(request: Request) -> Response:
    return PlainTextResponse("I'm alive!")  # LiteLLM's exact answer; probes may match on it


async def readiness(request: Request) -> Response:
    state = request.app.state
    return JSONResponse({"status": "healthy", "model_groups": len(state.gateway.groups.names()),
                         "version": state.version})


def routes() -> list[Route]:
    return [Route("/health/liveliness", liveliness, methods=["GET"]),
            Route("/health/liveness", liveliness, methods=["GET"]),
            Route("/health/readiness", readiness, methods=["GET"])]
