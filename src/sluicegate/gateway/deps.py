"""The management API's request dependencies, as named aliases: `SessionDep`, `CallerDep`, `ManageDep`.

A management route declares what it needs (`async def key_info(manage: ManageDep, key: str)`) and never reaches
into `app.state` itself. Everything here is built once in `create_app`'s lifespan (gateway/app.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.errors import ServiceUnavailableError
from sluicegate.gateway.auth import Principal
from sluicegate.gateway.db.runtime import GatewayDatabase
from sluicegate.gateway.pipeline import GatewayState


def gateway_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def database(request: Request) -> GatewayDatabase:
    db = gateway_state(request).db
    if db is None:
        raise ServiceUnavailableError("This gateway runs without a database, as it has no master key and no "
                                      "database_url: the management API needs a master key (general_settings."
                                      "master_key or LITELLM_MASTER_KEY)", code="no_database")
    return db


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    """One database session per request; the route commits what it changes (nothing is committed implicitly)."""
    async with (await database(request).opened()).sessions() as opened:
        yield opened


async def caller(request: Request) -> Principal:
    """Whoever sent the request: the master key's holder or a virtual key's principal (401 otherwise)."""
    return await gateway_state(request).caller(dict(request.headers))


SessionDep = Annotated[AsyncSession, Depends(session)]
CallerDep = Annotated[Principal, Depends(caller)]


@dataclass(frozen=True, slots=True)
class Manage:
    """What a management service function works with: the caller, a session, and the database whose cached
    principals a change makes stale (`changed()`, called after the commit)."""

    caller: Principal
    session: AsyncSession
    db: GatewayDatabase

    def changed(self) -> None:
        self.db.changed()  # this instance's cache, and every other instance's through the change feed


async def manage(request: Request, who: CallerDep, opened: SessionDep) -> Manage:
    return Manage(caller=who, session=opened, db=database(request))


ManageDep = Annotated[Manage, Depends(manage)]
