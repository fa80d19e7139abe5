"""GET /v1/models and /v1/models/{id}: the model names this gateway serves, in OpenAI's list shape."""

from __future__ import annotations

import uuid

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sluicegate.errors import NotFoundError
from sluicegate.gateway.enforcement import visible_models
from sluicegate.gateway.error_responses import JsonAnswer, error_response
from sluicegate.gateway.pipeline import GatewayState


def _model(name: str, created: int) -> dict[str, object]:
    return {"id": name, "object": "model", "created": created, "owned_by": "sluicegate"}


async def list_models(request: Request) -> Response | JsonAnswer:
    state: GatewayState = request.app.state.gateway
    try:
        principal = await state.caller(dict(request.headers))
    except Exception as error:  # rendered as an OpenAI error
        return error_response(error, uuid.uuid4().hex)
    created = request.app.state.started_at
    names = visible_models(principal.access, state.groups.names(), state.enforcement.groups)
    data = [_model(name, created) for name in names]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


async def get_model(request: Request) -> Response | JsonAnswer:
    state: GatewayState = request.app.state.gateway
    name = request.path_params["model"]
    try:
        principal = await state.caller(dict(request.headers))
        if not state.groups.targets(name) or not visible_models(principal.access, [name], state.enforcement.groups):
            raise NotFoundError(f"The model '{name}' does not exist on this gateway", param="model",
                                code="model_not_found")
    except Exception as error:  # rendered as an OpenAI error
        return error_response(error, uuid.uuid4().hex)
    return Response(orjson.dumps(_model(name, request.app.state.started_at)), media_type="application/json")


def routes() -> list[Route]:
    return [route for prefix in ("/v1", "") for route in (
        Route(f"{prefix}/models", list_models, methods=["GET"]),
        Route(f"{prefix}/models/{{model:path}}", get_model, methods=["GET"]))]
