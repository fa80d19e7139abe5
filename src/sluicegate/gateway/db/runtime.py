"""The gateway's database at run time: migrated (or checked) at start-up, then one engine, sessions, principals.

Built in `create_app` (no I/O, no SQLAlchemy import), started by its lifespan. With `general_settings.
disable_prisma_schema_update: true` (LiteLLM's name) the gateway only checks the schema and refuses to start on one
that is behind or ahead of this version; otherwise it upgrades it first, safely when several instances start at
once (migrate.py). When a SQLite schema is already current, start-up reads its revision with the standard library
and leaves SQLAlchemy to be imported in a worker thread while the gateway already serves: requests that need
the database (virtual keys, the management API) wait for `opened()`; master-key traffic never does.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sluicegate.gateway.db.engine_url import sqlite_path
from sluicegate.gateway.db.schema_version import HEAD_REVISION, sqlite_has_rows, sqlite_revision

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from sluicegate.gateway.auth import Principal
    from sluicegate.gateway.change_feed import ChangeFeed
    from sluicegate.gateway.principals import EndUserAccess, PrincipalCache

log = logging.getLogger("sluicegate.gateway.db")
DEFAULT_PRINCIPAL_TTL_S = 60.0


@dataclass(frozen=True, slots=True)
class OpenDatabase:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    principals: PrincipalCache


class GatewayDatabase:
    """The process's one engine and session factory, and the principal cache that reads through them."""

    def __init__(self, database_url: str | None, *, migrate: bool = True,
                 principal_ttl_s: float = DEFAULT_PRINCIPAL_TTL_S) -> None:
        from sluicegate.gateway.db.engine_url import DEFAULT_DATABASE_URL

        self.url = database_url or DEFAULT_DATABASE_URL
        self.migrate = migrate
        self.principal_ttl_s = principal_ttl_s
        self._opening: asyncio.Task[OpenDatabase] | None = None
        self._opened: OpenDatabase | None = None
        self.has_stored_models = True  # whether /model/new rows may exist (known without SQLAlchemy on SQLite)
        self.feed: ChangeFeed | None = None  # set by the app when a shared Redis carries change announcements

    async def start(self) -> None:
        """Migrate (or check) the schema. Raises ConfigError with the reason when the gateway must not serve (a
        schema behind or ahead of the code, an unreachable database).

        A current SQLite schema is read without SQLAlchemy, and the engine opens on first use (`opened()`):
        imports in a background thread at start-up hold the GIL and delay the first answers by seconds."""
        path = sqlite_path(self.url)
        if path is not None and await asyncio.to_thread(sqlite_revision, path) == HEAD_REVISION:
            self.has_stored_models = await asyncio.to_thread(sqlite_has_rows, path, "proxy_models")
            return
        from sluicegate.gateway.db.migrate import check_schema, upgrade

        await (upgrade(self.url) if self.migrate else check_schema(self.url))
        self.opened_now()  # SQLAlchemy is loaded already: open at once

    def opened_now(self) -> asyncio.Task[OpenDatabase]:
        """Start opening the engine (in a worker thread: it imports SQLAlchemy), once."""
        if self._opening is None:
            self._opening = asyncio.create_task(asyncio.to_thread(self._open))
        return self._opening

    async def opened(self) -> OpenDatabase:
        """The engine, sessions and principal cache (the first caller waits for the import)."""
        return await asyncio.shield(self.opened_now())

    async def principal(self, key_hash: str) -> Principal | None:
        """The `KeyLookup` the gateway authenticates virtual keys with (gateway/auth.py)."""
        return await (await self.opened()).principals.principal(key_hash)

    async def end_user(self, user_id: str) -> EndUserAccess | None:
        """An end user's block and budget (enforcement.py's `EndUserLookup`)."""
        return await (await self.opened()).principals.end_user(user_id)

    def changed(self) -> None:
        """Keys, users, teams, organisations or budgets changed (committed): forget the principals cached here,
        and tell the other instances through the change feed when there is one (gateway/change_feed.py)."""
        self.forget_principals()
        if self.feed is not None:
            self.feed.announce()

    def forget_principals(self) -> None:
        if self._opened is not None:  # nothing is cached before the database opens
            self._opened.principals.invalidate()

    async def aclose(self) -> None:
        if self.feed is not None:
            await self.feed.flush()
        if self._opening is not None:
            opened = await self._opening
            await opened.engine.dispose()

    def _open(self) -> OpenDatabase:
        from sluicegate.gateway.db.engine import create_engine, create_session_factory, redact_url
        from sluicegate.gateway.principals import PrincipalCache

        engine = create_engine(self.url)
        sessions = create_session_factory(engine)
        log.info("database ready: %s", redact_url(self.url))
        self._opened = OpenDatabase(engine, sessions, PrincipalCache(sessions, ttl_s=self.principal_ttl_s))
        return self._opened
