"""The database tests start from empty databases (the migrations are what they test): a fresh SQLite file, or a
fresh PostgreSQL database of its own per test, dropped after."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.gateway.conftest import postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a fresh SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sluicegate.db'}"
        return
    async with postgres_database(request.getfixturevalue("postgres_url")) as url:
        yield url
