"""GET /metrics: the Prometheus exposition. Unauthenticated, as LiteLLM's is, so scrapers need no key.

It exposes aggregate counts only — model group names, deployment ids, route templates, status codes, error class
names — never keys, prompts, users or request content; docs/gateway/metrics.md says how to fence it off.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sluicegate.gateway.router_view import refresh_state_metrics


async def metrics(request: Request) -> Response:
    state = request.app.state
    groups = state.gateway.groups
    await refresh_state_metrics(state.gateway.router, groups, groups.deployments(), state.metrics)
    body, content_type = state.metrics.render(request.headers.get("accept", ""))
    return Response(body, headers={"content-type": content_type})


def routes() -> list[Route]:
    return [Route("/metrics", metrics, methods=["GET"])]
