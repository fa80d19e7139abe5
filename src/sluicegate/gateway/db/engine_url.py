"""What the gateway needs to know of a database URL before SQLAlchemy is imported: the default, and SQLite paths."""

from __future__ import annotations

DEFAULT_DATABASE_URL = "sqlite:///sluicegate.db"  # relative to the working directory, as LiteLLM users expect
_SQLITE_SCHEMES = ("sqlite:///", "sqlite+pysqlite:///", "sqlite+aiosqlite:///")


def sqlite_path(database_url: str) -> str | None:
    """The file a plain SQLite URL names ('sqlite:///x.db' → 'x.db', 'sqlite:////abs/x.db' → '/abs/x.db'); None
    for other databases, in-memory ones and URLs with parameters (those take the full path through SQLAlchemy)."""
    for scheme in _SQLITE_SCHEMES:
        if database_url.startswith(scheme):
            path = database_url[len(scheme):]
            return path if path and path != ":memory:" and "?" not in path else None
    return None
