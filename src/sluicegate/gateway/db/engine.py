"""`database_url` → an async SQLAlchemy engine and session factory, for SQLite (embedded) or PostgreSQL.

SQLite: `sqlite:///path` (or a bare `sqlite+aiosqlite://` URL), WAL journal, a busy timeout, foreign keys on.
PostgreSQL: `postgresql://…` or `postgres://…` (LiteLLM's DATABASE_URL, Prisma parameters included) → asyncpg.
Every message that shows a URL shows it through `redact_url`: never a password.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

from sluicegate.errors import ConfigError
from sluicegate.gateway.db.engine_url import DEFAULT_DATABASE_URL
from sluicegate.gateway.db.types import SQLiteConnection

__all__ = ["DEFAULT_DATABASE_URL", "PoolSettings", "async_url", "create_engine", "create_session_factory",
           "is_sqlite", "redact_url", "scrub"]


_SQLITE_DRIVERS = ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite")
_POSTGRES_DRIVERS = ("postgresql", "postgres", "postgresql+asyncpg")
_USERINFO_PASSWORD = re.compile(r"(//[^/:@]*:)[^@/]*@")
_QUERY_PASSWORD = re.compile(r"((?:^|[?&])password=)[^&]*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """Connection pool sizing for PostgreSQL (SQLite gets one small pool per file)."""

    pool_size: int = 10
    max_overflow: int = 10
    pool_timeout_s: float = 30.0
    pool_recycle_s: float = 1800.0  # recycle before a proxy or load balancer drops an idle connection
    pre_ping: bool = True  # a connection dropped by the server is replaced, not handed to a request


def redact_url(database_url: str | URL) -> str:
    """The URL with its password (in the user part or a `password=` parameter) replaced by ***."""
    try:
        url = make_url(database_url)
        text = url.render_as_string(hide_password=True)
    except ArgumentError:
        text = _USERINFO_PASSWORD.sub(r"\1***@", str(database_url))
    return _QUERY_PASSWORD.sub(r"\1***", text)


def scrub(message: str, database_url: str | URL) -> str:
    """`message` with the URL's password removed wherever it appears (drivers sometimes echo connect args)."""
    try:
        password = make_url(database_url).password
    except ArgumentError:
        password = None
    if password:
        message = message.replace(str(password), "***")
    return message


def is_sqlite(database_url: str | URL) -> bool:
    return async_url(database_url).get_backend_name() == "sqlite"


def async_url(database_url: str | URL | None) -> URL:
    """The async-driver form of a database URL: sqlite+aiosqlite or postgresql+asyncpg."""
    raw = database_url or DEFAULT_DATABASE_URL
    try:
        url = make_url(raw)
    except ArgumentError:
        # Not echoed: a string that does not parse may hold a password where the redaction cannot find it.
        raise ConfigError("database_url is not a database URL (expected sqlite:///path/to/file.db or "
                          "postgresql://user:password@host:5432/dbname)") from None
    if url.drivername in _SQLITE_DRIVERS:
        return url.set(drivername="sqlite+aiosqlite")
    if url.drivername in _POSTGRES_DRIVERS:
        return url.set(drivername="postgresql+asyncpg")
    raise ConfigError(
        f"database_url {redact_url(url)!r}: unsupported database {url.drivername!r} "
        "(use sqlite:///path/to/file.db or postgresql://user:password@host:5432/dbname)"
    )


def create_engine(
    database_url: str | URL | None = None,
    *,
    pool: PoolSettings | None = None,
    busy_timeout_s: float = 30.0,
    sqlite_begin: Literal["DEFERRED", "IMMEDIATE"] = "DEFERRED",
    pooled: bool = True,
) -> AsyncEngine:
    """An async engine for `database_url` (default: ./sluicegate.db).

    `sqlite_begin="IMMEDIATE"` makes every SQLite transaction take the write lock up front (migrations use it so
    concurrent upgraders queue instead of interleaving). `pooled=False` opens a connection per use (one-shot
    commands such as `sluicegate db upgrade`).
    """
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout_s=busy_timeout_s, begin=sqlite_begin, pooled=pooled)
    return _postgres_engine(url, pool or PoolSettings(), pooled=pooled)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose rows stay readable after commit (the gateway returns them after the transaction ends)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _sqlite_engine(url: URL, *, busy_timeout_s: float, begin: str, pooled: bool) -> AsyncEngine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": busy_timeout_s, "factory": SQLiteConnection}}
    if in_memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, or every session would see its own database
    elif not pooled:
        kwargs["poolclass"] = NullPool
    engine = create_async_engine(url, **kwargs)
    busy_timeout_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (see `_on_begin`); the
        # module's own implicit BEGIN skips DDL and breaks SAVEPOINT.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a power cut loses only the last commits
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(f"BEGIN {begin}")

    return engine


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (readers never wait for the writer). The mode is stored in the file, so this
    usually finds it set already; switching needs the file to itself, and SQLite refuses that at once (no busy
    wait) while another connection writes — that one has switched it or will, and later connections retry."""
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as error:
        if "locked" not in str(error):
            raise


# Parameters Prisma (hence LiteLLM's DATABASE_URL) puts in the URL that asyncpg does not take as they are.
_PRISMA_PARAMETERS = ("sslmode", "schema", "connection_limit", "pool_timeout", "connect_timeout", "pgbouncer")


def _postgres_engine(url: URL, pool: PoolSettings, *, pooled: bool) -> AsyncEngine:
    query = dict(url.query)
    connect_args: dict[str, Any] = {}
    pool_size, pool_timeout_s = pool.pool_size, pool.pool_timeout_s
    if "sslmode" in query:
        connect_args["ssl"] = query["sslmode"]  # asyncpg takes the same words under `ssl`
    if "schema" in query:
        connect_args["server_settings"] = {"search_path": str(query["schema"])}
    if "connect_timeout" in query:
        connect_args["timeout"] = float(str(query["connect_timeout"]))
    if "connection_limit" in query:
        pool_size = int(str(query["connection_limit"]))
    if "pool_timeout" in query:
        pool_timeout_s = float(str(query["pool_timeout"]))
    if "pgbouncer" in query:
        connect_args["statement_cache_size"] = 0  # PgBouncer in transaction mode cannot keep prepared statements
    url = url.difference_update_query(_PRISMA_PARAMETERS)
    if "pgbouncer" in query:
        url = url.update_query_dict({"prepared_statement_cache_size": "0"})  # SQLAlchemy's own statement cache
    if not pooled:
        return create_async_engine(url, connect_args=connect_args, poolclass=NullPool)
    return create_async_engine(
        url,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool_timeout_s,
        pool_recycle=pool.pool_recycle_s,
        pool_pre_ping=pool.pre_ping,
    )
