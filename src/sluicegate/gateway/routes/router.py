"""GET /router/deployments: the router's view of every deployment (healthy or cooling down, load); admin only.

LiteLLM has no endpoint for this (its router state shows only in logs and the `litellm_deployment_state`
metric); the path is sluicegate's own. It shows upstream URLs, so only the master key's holder may read it.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sluicegate.gateway.auth import require_admin
from sluicegate.gateway.error_responses import JsonAnswer, error_response
from sluicegate.gateway.router_view import deployment_states


async def deployments(request: Request) -> Response | JsonAnswer:
    state = request.app.state
    try:
        require_admin(request.headers, state.gateway.master_key, "GET /router/deployments shows every upstream")
    except Exception as error:  # rendered as an OpenAI error
        return error_response(error, uuid.uuid4().hex)
    return JSONResponse(await deployment_states(state.gateway.router, state.gateway.groups.deployments()))


def routes() -> list[Route]:
    return [Route("/router/deployments", deployments, methods=["GET"])]
