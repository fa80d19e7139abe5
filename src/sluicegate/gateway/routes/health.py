"""Health endpoints: cheap probes for orchestrators (no upstream call, no auth), and the admin's deep check."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sluicegate.gateway.auth import require_admin
from sluicegate.gateway.deployment_health import check_deployments
from sluicegate.gateway.error_responses import JsonAnswer, error_response


async def liveliness(request: Request) -> Response:
    return PlainTextResponse("I'm alive!")  # LiteLLM's exact answer; probes may match on it


async def readiness(request: Request) -> Response:
    state = request.app.state
    return JSONResponse({"status": "healthy", "model_groups": len(state.gateway.groups.names()),
                         "version": state.version})


async def deployments_health(request: Request) -> Response | JsonAnswer:
    """One real call per deployment; admin only, since it spends tokens and shows the upstreams."""
    state = request.app.state
    try:
        require_admin(request.headers, state.gateway.master_key, "GET /health probes every deployment")
    except Exception as error:  # rendered as an OpenAI error
        return error_response(error, uuid.uuid4().hex)
    report = await check_deployments(state.gateway.groups, state.gateway.groups.deployments(),
                                     state.gateway.settings)
    return JSONResponse(report)


def routes() -> list[Route]:
    return [Route("/health", deployments_health, methods=["GET"]),
            Route("/health/liveliness", liveliness, methods=["GET"]),
            Route("/health/liveness", liveliness, methods=["GET"]),
            Route("/health/readiness", readiness, methods=["GET"])]
