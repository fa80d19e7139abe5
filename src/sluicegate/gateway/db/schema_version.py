"""The schema revision this sluicegate expects, and a quick read of a SQLite file's revision without Alembic.

Importing SQLAlchemy and Alembic costs most of a second; a gateway whose schema is already current (every start
but the first) need not pay it before it serves. `tests/gateway/db/test_migrate.py` keeps `HEAD_REVISION` equal
to the newest script in migrations/versions/.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

HEAD_REVISION = "0001_initial_schema"
VERSION_TABLE = "sluicegate_alembic_version"  # our own name: another Alembic application's history never mixes


def sqlite_revision(path: str) -> str | None:
    """The revision recorded in a SQLite file, or None (no file, no table, or no row: not migrated yet)."""
    if path in ("", ":memory:") or not Path(path).is_file():
        return None
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        row = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()  # noqa: S608 (a constant)
    except sqlite3.OperationalError:  # no such table
        return None
    finally:
        connection.close()
    return str(row[0]) if row else None


def sqlite_has_rows(path: str, table: str) -> bool:
    """Whether one of sluicegate's own tables in a current SQLite file has any row (`table` is a constant)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None  # noqa: S608
    finally:
        connection.close()
