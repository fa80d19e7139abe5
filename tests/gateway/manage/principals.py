"""Callers for management API tests: users with a role, org memberships, and virtual keys that act as them.

Rows are written straight into the gateway's database through its own sessions, on the test client's event loop
(`client.portal`), so a test does not depend on /key/generate.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from sluicegate.gateway.db.models import AuditLog, OrganizationMembership, User, VirtualKey
from sluicegate.gateway.db.tokens import hash_key


def add_rows(client: TestClient, *rows: Any) -> None:
    """Insert rows (in order, one transaction) into the database behind `client`."""

    async def insert() -> None:
        opened = await client.app.gateway.db.opened()  # type: ignore[attr-defined]
        async with opened.sessions() as session:
            session: AsyncSession
            for row in rows:
                session.add(row)
                await session.flush()
            await session.commit()
        opened.principals.invalidate()

    assert client.portal is not None, "use the TestClient as a context manager"
    client.portal.call(insert)


def key_for(client: TestClient, user_id: str | None, *, team_id: str | None = None) -> dict[str, str]:
    """Headers carrying a new virtual key that belongs to `user_id` (and `team_id`)."""
    plain = f"sk-test-{uuid.uuid4().hex}"
    add_rows(client, VirtualKey(token=hash_key(plain), key_name=f"sk-...{plain[-4:]}", user_id=user_id,
                                team_id=team_id))
    return {"authorization": f"Bearer {plain}"}


def caller(client: TestClient, user_id: str, role: str = "internal_user", *, org_admin_of: str | None = None,
           team_id: str | None = None) -> dict[str, str]:
    """A new user with `role` (an org admin of `org_admin_of`, when given) and headers for a key of its own."""
    rows: list[Any] = [User(user_id=user_id, user_role=role, user_email=f"{user_id}@example.com")]
    if org_admin_of is not None:
        rows.append(OrganizationMembership(user_id=user_id, organization_id=org_admin_of, user_role="org_admin"))
    add_rows(client, *rows)
    return key_for(client, user_id, team_id=team_id)


def fetch(client: TestClient, model: type[Any], **where: Any) -> list[Any]:
    """Rows of `model` matching `where` (column == value), read from the database behind `client`; audit entries
    oldest first."""
    from sqlalchemy import select

    async def read() -> list[Any]:
        opened = await client.app.gateway.db.opened()  # type: ignore[attr-defined]
        async with opened.sessions() as session:
            query = select(model).filter_by(**where)
            if model is AuditLog:
                query = query.order_by(AuditLog.updated_at)
            return list(await session.scalars(query))

    assert client.portal is not None, "use the TestClient as a context manager"
    return client.portal.call(read)
