"""database_url → engine: drivers, LiteLLM/Prisma URLs, SQLite pragmas, and passwords kept out of messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from sluicegate.errors import ConfigError
from sluicegate.gateway.db.engine import DEFAULT_DATABASE_URL, async_url, create_engine, redact_url, scrub


@pytest.mark.parametrize(("given", "driver"), [
    ("sqlite:///x.db", "sqlite+aiosqlite"),
    ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
    ("postgresql://u:p@h/db", "postgresql+asyncpg"),
    ("postgres://u:p@h/db", "postgresql+asyncpg"),  # Heroku's and LiteLLM users' spelling
    ("postgresql+asyncpg://u:p@h/db", "postgresql+asyncpg"),
])
def test_urls_get_the_async_driver(given: str, driver: str) -> None:
    assert async_url(given).drivername == driver


def test_the_default_is_a_sqlite_file_in_the_working_directory() -> None:
    assert async_url(None).render_as_string() == "sqlite+aiosqlite:///sluicegate.db"
    assert DEFAULT_DATABASE_URL == "sqlite:///sluicegate.db"


@pytest.mark.parametrize("url", ["mysql://root:pw-canary@h/db", "postgresql//root:pw-canary@h/db"])
def test_unsupported_urls_are_refused_without_their_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        async_url(url)
    assert "pw-canary" not in str(caught.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://user:pw-canary@db:5432/app", "postgresql://user:***@db:5432/app"),
    ("postgresql://user@db/app?password=pw-canary&sslmode=require",
     "postgresql://user@db/app?password=***&sslmode=require"),
    ("sqlite:///data/sluicegate.db", "sqlite:///data/sluicegate.db"),
])
def test_redact_url_hides_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_scrub_removes_the_password_from_any_message() -> None:
    assert scrub("auth failed for pw-canary", "postgresql://u:pw-canary@h/db") == "auth failed for ***"


def test_prisma_parameters_are_translated_for_asyncpg() -> None:
    engine = create_engine(
        "postgresql://u:pw-canary@h/db?sslmode=require&connection_limit=3&schema=app&pool_timeout=5"
    )
    pool = engine.sync_engine.pool

    assert engine.url.query == {}
    assert pool.size() == 3  # type: ignore[attr-defined]
    assert pool.timeout() == 5  # type: ignore[attr-defined]
    assert "pw-canary" not in repr(engine)


async def test_sqlite_engine_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'g.db'}", busy_timeout_s=7)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
            assert await connection.scalar(text("PRAGMA busy_timeout")) == 7000
    finally:
        await engine.dispose()
    assert (tmp_path / "nested" / "dir" / "g.db").exists()


async def test_in_memory_sqlite_is_one_shared_database() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM t")) == 0
    finally:
        await engine.dispose()
