"""The management API's errors in OpenAI's shape: a SluicegateError with its status, a bad body as 422."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import Response

from sluicegate.errors import ServiceUnavailableError, UnprocessableEntityError
from sluicegate.gateway.error_responses import error_response


async def render_error(request: Request, error: Exception) -> Response:
    answer = error_response(error, request.headers.get("x-request-id", ""))
    return Response(answer.body, status_code=answer.status_code, headers=dict(answer.headers),
                    media_type="application/json")


async def render_invalid(request: Request, error: Exception) -> Response:
    """A body that does not fit the route's schema: 422 naming the first field at fault and why."""
    problems = error.errors() if isinstance(error, RequestValidationError) else []
    first = problems[0] if problems else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(location) or None
    message = f"{field}: {first.get('msg', 'invalid value')}" if field else str(first.get("msg", "invalid request"))
    return await render_error(request, UnprocessableEntityError(message, param=field, code="invalid_request"))


async def render_database_busy(request: Request, error: Exception) -> Response:
    """SQLite refuses a transaction whose snapshot another writer overtook ("database is locked") instead of
    waiting: the change was not made, and the client may simply send it again."""
    if "locked" not in str(error) and "busy" not in str(error):
        raise error
    busy = ServiceUnavailableError("The database is busy with another change; nothing was changed. Retry the "
                                   "request", headers={"retry-after": "1"}, code="database_busy")
    return await render_error(request, busy)
