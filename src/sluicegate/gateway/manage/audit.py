"""The audit log: every management change — who, what, on which row, the row before and the values after.

`record_change` adds the entry to the caller's session, so it commits (or rolls back) with the change itself: a
change is never made without its entry, nor an entry written for a change that failed. Secrets never enter it:
key rows are identified by their hash, and fields named like secrets are masked.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.gateway.auth import Principal
from sluicegate.gateway.db.models import AuditLog

_SECRET_WORDS = ("key", "secret", "password", "token", "credential")
_NOT_SECRETS = frozenset({"token", "key_alias", "key_name", "api_key"})  # hashes and display hints, not secrets


def record_change(session: AsyncSession, caller: Principal, action: str, table_name: str, object_id: str,
                  before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> AuditLog:
    """Add one audit entry to `session` (committed with the change). `action`: created, updated, deleted,
    blocked, unblocked, regenerated, member_added, member_removed."""
    entry = AuditLog(changed_by=caller.audit_name, changed_by_api_key=caller.key_hash or "", action=action,
                     table_name=table_name, object_id=object_id,
                     before_value=_jsonable(before), updated_values=_jsonable(after))
    session.add(entry)
    return entry


def _jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {name: "***" if _is_secret(name) else _plain(value) for name, value in values.items()}


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return lowered not in _NOT_SECRETS and any(word in lowered for word in _SECRET_WORDS)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value
