"""Alembic environment: migrates the connection `sluicegate.gateway.db.migrate` hands it (never a URL of its own).

Run migrations with `sluicegate db upgrade` (or `migrate.upgrade()` at start-up), which takes the migration lock
first. `render_as_batch` lets autogenerate write SQLite-compatible ALTERs (SQLite rebuilds the table).
"""

from __future__ import annotations

from alembic import context

from sluicegate.gateway.db.migrate import VERSION_TABLE
from sluicegate.gateway.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run sluicegate's migrations with `sluicegate db upgrade`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
