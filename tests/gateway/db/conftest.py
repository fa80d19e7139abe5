"""Fixtures for the database tests: every test runs on SQLite and, where it answers, on PostgreSQL.

Each PostgreSQL test gets a database of its own (CREATE DATABASE through the maintenance connection, dropped
after), so tests never see each other's tables and can run in any order.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a fresh SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sluicegate.db'}"
        return
    async with postgres_database(request.getfixturevalue("postgres_url")) as url:
        yield url


@contextlib.asynccontextmanager
async def postgres_database(maintenance_url: str) -> AsyncIterator[str]:
    """A throwaway PostgreSQL database next to the one `maintenance_url` names; dropped on exit."""
    name = f"sluicegate_test_{uuid.uuid4().hex[:12]}"
    await _admin(maintenance_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(maintenance_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(maintenance_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(maintenance_url: str, statement: str) -> None:
    connection = await asyncpg.connect(maintenance_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
