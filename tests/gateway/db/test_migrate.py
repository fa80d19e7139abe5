"""Migrations on real SQLite and PostgreSQL: up from empty, idempotent, down and up, concurrent, version checks."""

from __future__ import annotations

import asyncio
import io
import sys
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, column, inspect, table, update
from sqlalchemy.engine import make_url

from sluicegate.errors import ConfigError
from sluicegate.gateway.db import migrate
from sluicegate.gateway.db.engine import create_engine
from sluicegate.gateway.db.migrate import (
    VERSION_TABLE,
    alembic_config,
    check_schema,
    current_revision,
    db_cli,
    downgrade,
    head_revision,
    upgrade,
)
from sluicegate.gateway.db.models import Base
from sluicegate.gateway.db.schema_version import HEAD_REVISION, sqlite_revision

HEAD = "0001_initial_schema"


async def _on_connection(database_url: str, step: Any) -> Any:
    engine = create_engine(database_url, pooled=False)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(step)
    finally:
        await engine.dispose()


def _schema(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    return {
        "tables": tables,
        "indexes": {t: {i["name"] for i in inspector.get_indexes(t)} for t in tables},
        "uniques": {t: {u["name"] for u in inspector.get_unique_constraints(t)} for t in tables},
    }


def _model_indexes() -> dict[str, set[str]]:
    return {t.name: {str(i.name) for i in t.indexes} for t in Base.metadata.sorted_tables}


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "version_table": VERSION_TABLE})
    return compare_metadata(context, Base.metadata)


def test_head_is_the_initial_schema() -> None:
    assert head_revision() == HEAD


async def test_upgrade_from_empty_creates_every_table_and_index(database_url: str) -> None:
    await upgrade(database_url)

    schema = await _on_connection(database_url, _schema)
    assert schema["tables"] == set(Base.metadata.tables) | {VERSION_TABLE}
    for table_name, indexes in _model_indexes().items():
        assert indexes <= schema["indexes"][table_name], table_name
    assert "uq_daily_spend_entity_date_dimensions" in schema["uniques"]["daily_spend"]
    assert "uq_users_sso_user_id" in schema["uniques"]["users"]
    assert "ix_spend_logs_api_key_start_time" in schema["indexes"]["spend_logs"]
    assert await current_revision(database_url) == HEAD


async def test_the_hand_written_migration_matches_the_models(database_url: str) -> None:
    await upgrade(database_url)

    assert await _on_connection(database_url, _schema_diff) == []


async def test_upgrade_is_idempotent(database_url: str) -> None:
    await upgrade(database_url)
    await upgrade(database_url)

    assert await current_revision(database_url) == HEAD
    await check_schema(database_url)


async def test_every_revision_goes_down_and_up_again(database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]  # base → head
    for index, revision in enumerate(revisions):
        previous = revisions[index - 1] if index else "base"
        await upgrade(database_url, revision)
        await downgrade(database_url, previous)
        assert await current_revision(database_url) == (None if previous == "base" else previous)
        await upgrade(database_url, revision)

    await downgrade(database_url, "base")
    schema = await _on_connection(database_url, _schema)
    assert schema["tables"] <= {VERSION_TABLE}
    await upgrade(database_url)
    assert await _on_connection(database_url, _schema_diff) == []


async def test_concurrent_upgrades_in_one_process_leave_one_schema(database_url: str) -> None:
    await asyncio.gather(*(upgrade(database_url) for _ in range(4)))

    assert await current_revision(database_url) == HEAD
    assert await _on_connection(database_url, _schema_diff) == []


async def test_concurrent_upgrades_from_two_processes_both_succeed(database_url: str) -> None:
    code = "import sys; from sluicegate.gateway.db.migrate import db_cli; sys.exit(db_cli(sys.argv[1:]))"
    command = [sys.executable, "-c", code, "upgrade", "--database-url", database_url]
    processes = [await asyncio.create_subprocess_exec(*command, stdout=PIPE, stderr=PIPE) for _ in range(2)]
    results = await asyncio.gather(*(p.communicate() for p in processes))

    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err.decode()
        assert f"schema at {HEAD}" in out.decode()
    assert await current_revision(database_url) == HEAD
    assert await _on_connection(database_url, _schema_diff) == []


async def test_check_schema_refuses_an_empty_database(database_url: str) -> None:
    with pytest.raises(ConfigError, match=r"no sluicegate schema yet .*run `sluicegate db upgrade`"):
        await check_schema(database_url)


async def test_check_schema_refuses_a_schema_behind_the_code(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await upgrade(database_url)
    # The code moves on: this sluicegate now needs a revision the database has not had yet.
    monkeypatch.setattr(migrate, "head_revision", lambda: "0002_newer_than_the_database")

    with pytest.raises(ConfigError, match=r"behind this sluicegate: it is at revision 0001_initial_schema, this "
                                          r"version needs 0002_newer_than_the_database\. Run `sluicegate db upgrade`"):
        await check_schema(database_url)


async def test_check_schema_and_upgrade_refuse_a_schema_ahead_of_the_code(database_url: str) -> None:
    await upgrade(database_url)
    engine = create_engine(database_url, pooled=False)
    async with engine.begin() as connection:
        await connection.execute(update(table(VERSION_TABLE, column("version_num"))).values(
            version_num="0099_from_the_future"))
    await engine.dispose()

    with pytest.raises(ConfigError, match=r"ahead of this sluicegate: it is at revision 0099_from_the_future.*"
                                          r"A newer sluicegate migrated it"):
        await check_schema(database_url)
    with pytest.raises(ConfigError, match="ahead of this sluicegate"):
        await upgrade(database_url)
    assert await current_revision(database_url) == "0099_from_the_future"  # untouched


def test_cli_upgrade_current_check_and_downgrade(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    out = io.StringIO()

    assert db_cli(["current", "--database-url", url], out) == 0
    assert db_cli(["check", "--database-url", url], out) == 1
    assert "no sluicegate schema yet" in capsys.readouterr().err
    assert db_cli(["upgrade", "--database-url", url], out) == 0
    assert db_cli(["current", "--database-url", url], out) == 0
    assert db_cli(["check", "--database-url", url], out) == 0
    assert db_cli(["downgrade", "base", "--database-url", url], out) == 0
    assert out.getvalue().splitlines() == [
        f"{url}: no sluicegate schema",
        f"{url}: schema at {HEAD} (head)",
        f"{url}: {HEAD} (head)",
        f"{url}: schema is current ({HEAD})",
        f"{url}: schema at base (empty)",
    ]


def test_cli_takes_the_url_from_database_url_env(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    out = io.StringIO()

    assert db_cli(["upgrade"], out) == 0
    assert out.getvalue() == f"{url}: schema at {HEAD} (head)\n"


def test_cli_reports_an_unknown_revision_clearly(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"

    assert db_cli(["downgrade", "no_such_revision", "--database-url", url], io.StringIO()) == 1
    assert "no_such_revision" in capsys.readouterr().err


@pytest.mark.postgres
async def test_password_never_appears_in_a_connection_error(postgres_url: str) -> None:
    password = "pw-canary-9f2e71"  # the server trusts loopback, so it answers "no such database", not "bad password"
    url = make_url(postgres_url).set(password=password, database="sluicegate_no_such_database")
    missing = url.render_as_string(hide_password=False)

    for call in (upgrade(missing), check_schema(missing), current_revision(missing)):
        with pytest.raises(ConfigError) as caught:
            await call
        message = str(caught.value)
        assert password not in message
        assert ":***@" in message
        assert "sluicegate_no_such_database" in message


async def test_password_never_appears_when_the_server_refuses_the_connection() -> None:
    password = "pw-canary-41aa0c"
    url = f"postgresql://someone:{password}@127.0.0.1:9/db"  # port 9 (discard): nothing listens there

    with pytest.raises(ConfigError) as caught:
        await upgrade(url)

    assert password not in str(caught.value)
    assert "someone:***@127.0.0.1:9/db" in str(caught.value)


def test_the_quick_revision_check_knows_the_newest_migration() -> None:
    assert head_revision() == HEAD_REVISION


async def test_a_current_sqlite_file_is_recognised_without_alembic(tmp_path: Path) -> None:
    path = tmp_path / "quick.db"
    assert sqlite_revision(str(path)) is None  # no file yet
    await upgrade(f"sqlite:///{path}")
    assert sqlite_revision(str(path)) == HEAD_REVISION
