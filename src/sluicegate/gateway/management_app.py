"""The management API as a FastAPI app of its own, imported in a worker thread once the gateway has started.

FastAPI and pydantic cost ~0.4 s to import and the LLM routes need neither, so the gateway serves first and
builds this app in the background; a management request that arrives before it is ready waits for it. Every
path the LLM routes do not claim comes here (so an unknown path gets FastAPI's 404).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from sluicegate.gateway.pipeline import GatewayState

if TYPE_CHECKING:
    from fastapi import FastAPI


def build_management_app(state: GatewayState) -> FastAPI:
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from sqlalchemy.exc import OperationalError

    from sluicegate import __version__
    from sluicegate.errors import SluicegateError
    from sluicegate.gateway.management_errors import render_database_busy, render_error, render_invalid
    from sluicegate.gateway.routes.manage import routers

    app = FastAPI(title="sluicegate management API", version=__version__)
    for router in routers():
        app.include_router(router)
    app.add_exception_handler(SluicegateError, render_error)
    app.add_exception_handler(RequestValidationError, render_invalid)
    app.add_exception_handler(OperationalError, render_database_busy)
    app.state.gateway = state
    return app


class LazyManagementApp:
    """An ASGI app that forwards to the management app, building it (in a worker thread) on first use."""

    def __init__(self, state: GatewayState) -> None:
        self._state = state
        self._building: asyncio.Task[Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._building is None:
            self._building = asyncio.create_task(asyncio.to_thread(build_management_app, self._state))
        app = await asyncio.shield(self._building)
        await app(scope, receive, send)
