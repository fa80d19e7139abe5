"""Schema migrations at start-up and from the command line: `upgrade`, `check_schema`, `sluicegate db …`.

`upgrade` is safe when several gateway instances start at once: PostgreSQL serialises upgraders on a
transaction-level advisory lock, SQLite on the database file's write lock (BEGIN IMMEDIATE); whoever comes
second finds the schema current and does nothing. The Alembic scripts ship inside the package
(`migrations/`), so no alembic.ini is needed at run time.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from sluicegate.errors import ConfigError
from sluicegate.gateway.db.engine import DEFAULT_DATABASE_URL, create_engine, redact_url, scrub
from sluicegate.gateway.db.import_litellm import format_report, import_litellm
from sluicegate.gateway.db.schema_version import VERSION_TABLE

logger = logging.getLogger("sluicegate.gateway.db")

# pg_advisory_xact_lock key for "a sluicegate migration is running": the ASCII of "sluiceDB".
_ADVISORY_LOCK_KEY = int.from_bytes(b"sluiceDB", "big") & 0x7FFF_FFFF_FFFF_FFFF
_MIGRATIONS_DIR = Path(__file__).with_name("migrations")

T = TypeVar("T")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged scripts; env.py migrates `connection`."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision this version of sluicegate expects the database to be at."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the packaged migrations have no head"
    return head


async def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    """Bring the database schema up to `revision` (default: this sluicegate's head). Idempotent.

    Raises ConfigError when the database cannot be reached or was migrated by a newer sluicegate.
    """
    logger.info("migrating database %s to %s", _where(database_url), revision)
    await _locked(database_url, lambda conn: _upgrade(conn, revision))


async def downgrade(database_url: str | None, revision: str) -> None:
    """Take the schema back down to `revision` ("base" drops every table). For operators rolling back."""
    logger.warning("downgrading database %s to %s", _where(database_url), revision)
    await _locked(database_url, lambda conn: command.downgrade(alembic_config(conn), revision))


async def current_revision(database_url: str | None = None) -> str | None:
    """The revision the database is at, or None when it has no sluicegate schema yet."""
    return await _run(database_url, _current, lock=False)


async def check_schema(database_url: str | None = None) -> None:
    """Raise ConfigError unless the schema is exactly at this sluicegate's head: the gateway never serves on a
    schema that is behind the code (missing columns) or ahead of it (a newer sluicegate migrated it)."""
    current = await current_revision(database_url)
    problem = _schema_problem(current, _where(database_url))
    if problem:
        raise ConfigError(problem)


def _where(database_url: str | None) -> str:
    """The database, for messages: the URL as the user wrote it, password hidden."""
    return redact_url(database_url or DEFAULT_DATABASE_URL)


def _schema_problem(current: str | None, where: str) -> str | None:
    head = head_revision()
    if current == head:
        return None
    if current is None:
        return (f"the database {where} has no sluicegate schema yet (this version needs revision {head}): "
                "run `sluicegate db upgrade`, or start the gateway with migrations enabled")
    if _is_known(current):
        return (f"the database {where} schema is behind this sluicegate: it is at revision {current}, this "
                f"version needs {head}. Run `sluicegate db upgrade` before serving")
    return (f"the database {where} schema is ahead of this sluicegate: it is at revision {current}, which this "
            f"version does not know (its newest is {head}). A newer sluicegate migrated it: upgrade sluicegate, "
            "or point database_url at another database")


def _is_known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _current(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    heads = context.get_current_heads()
    if len(heads) > 1:
        raise ConfigError(f"the database schema has several heads {heads}: it was migrated by mismatched versions")
    return heads[0] if heads else None


def _upgrade(connection: Connection, revision: str) -> None:
    current = _current(connection)
    if current is not None and not _is_known(current):  # never "upgrade" a schema a newer sluicegate wrote
        where = redact_url(connection.engine.url)
        raise ConfigError(_schema_problem(current, where) or f"unknown schema revision {current}")
    command.upgrade(alembic_config(connection), revision)


async def _locked(database_url: str | None, step: Callable[[Connection], object]) -> None:
    await _run(database_url, step, lock=True)


async def _run(database_url: str | None, step: Callable[[Connection], T], *, lock: bool) -> T:
    """Run `step` on a connection inside one transaction; with `lock`, only one sluicegate at a time does so."""
    engine = create_engine(database_url, sqlite_begin="IMMEDIATE" if lock else "DEFERRED", pooled=False,
                           busy_timeout_s=120.0)
    try:
        async with engine.connect() as connection, connection.begin():
            if lock and engine.dialect.name == "postgresql":
                # Released by the commit or rollback that ends this transaction, even if the process dies.
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
            return await connection.run_sync(step)
    except (SQLAlchemyError, OSError) as error:
        raise ConfigError(_describe(error, database_url)) from None
    except CommandError as error:  # e.g. a revision name that does not exist
        raise ConfigError(f"migration failed: {error}") from None
    finally:
        await engine.dispose()


def _describe(error: BaseException, database_url: str | None) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    detail = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return f"database {_where(database_url)}: {scrub(detail, database_url or DEFAULT_DATABASE_URL)}"


def db_cli(argv: Sequence[str], out: TextIO | None = None) -> int:
    """`sluicegate db upgrade | current | check | downgrade REVISION [--database-url URL]`; returns the exit code.

    The URL is --database-url, else $DATABASE_URL, else the embedded default (./sluicegate.db).
    """
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="sluicegate db", description="Manage the gateway's database schema.")
    commands = parser.add_subparsers(dest="action", required=True)
    for name, summary in (("upgrade", "migrate the schema to this version's head (safe to run concurrently)"),
                          ("current", "print the schema revision the database is at"),
                          ("check", "exit 1 unless the schema is exactly what this version needs")):
        sub = commands.add_parser(name, help=summary)
        sub.add_argument("--database-url", help="default: $DATABASE_URL, else sqlite:///sluicegate.db")
    down = commands.add_parser("downgrade", help="take the schema back to REVISION (base: drop every table)")
    down.add_argument("revision")
    down.add_argument("--database-url", help="default: $DATABASE_URL, else sqlite:///sluicegate.db")
    move = commands.add_parser("import-litellm", help="copy a LiteLLM proxy database's keys, users, teams, "
                               "organisations, budgets, end users and spend totals (docs/gateway/import-litellm.md)")
    move.add_argument("--from", dest="source_url", required=True, help="LiteLLM's DATABASE_URL (postgresql://…)")
    move.add_argument("--database-url", help="default: $DATABASE_URL, else sqlite:///sluicegate.db")
    move.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    args = parser.parse_args(list(argv))
    url = args.database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    try:
        return asyncio.run(_cli_action(args, url, out))
    except ConfigError as error:
        print(f"sluicegate db: {error}", file=sys.stderr)
        return 1


async def _cli_action(args: argparse.Namespace, url: str, out: TextIO) -> int:
    where = _where(url)
    if args.action == "upgrade":
        await upgrade(url)
        print(f"{where}: schema at {head_revision()} (head)", file=out)
    elif args.action == "downgrade":
        await downgrade(url, args.revision)
        print(f"{where}: schema at {await current_revision(url) or 'base (empty)'}", file=out)
    elif args.action == "import-litellm":
        print(format_report(await import_litellm(args.source_url, url, dry_run=args.dry_run)), file=out)
    elif args.action == "current":
        current = await current_revision(url)
        label = " (head)" if current == head_revision() else ""
        print(f"{where}: {current or 'no sluicegate schema'}{label}", file=out)
    else:
        await check_schema(url)
        print(f"{where}: schema is current ({head_revision()})", file=out)
    return 0
