"""Who is calling: the key a request presents → a `Principal` (the master key, or a virtual key and its owners).

Cost per request once warm: one constant-time comparison for the master key; for a virtual key one SHA-256 and
one dict lookup in the principal cache (gateway/principals.py), no database round trip. Routes only ever see
the principal; what it may do is decided by its role (here) and its limits (gateway/admission.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sluicegate.errors import AuthenticationError, PermissionDeniedError

if TYPE_CHECKING:
    from sluicegate.gateway.access import Access

# LiteLLM's user roles (`user_role`), with the same meaning:
PROXY_ADMIN = "proxy_admin"  # everything
PROXY_ADMIN_VIEWER = "proxy_admin_viewer"  # may read everything, change nothing
ORG_ADMIN = "org_admin"  # manages the teams and users of the organisations it administers
INTERNAL_USER = "internal_user"  # manages its own keys; team admins manage their team
INTERNAL_USER_VIEWER = "internal_user_viewer"  # reads its own keys and spend
USER_ROLES = (PROXY_ADMIN, PROXY_ADMIN_VIEWER, ORG_ADMIN, INTERNAL_USER, INTERNAL_USER_VIEWER)
MASTER_KEY_USER = "default_user_id"  # who "the master key" is in owner fields and the audit log (LiteLLM's id)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request. `access` is the virtual key's cached view (models, limits, budgets of the key
    and of its user, team and organisation); the master key and an open gateway have none."""

    is_admin: bool  # proxy admin: may manage everything and override upstreams or credentials in a request
    role: str = INTERNAL_USER
    key_hash: str | None = None  # the stored hash of the virtual key used; never the key itself
    user_id: str | None = None
    team_id: str | None = None
    org_id: str | None = None
    access: Access | None = None

    @property
    def may_read_all(self) -> bool:
        """Proxy admins and proxy admin viewers see every row of the management API."""
        return self.is_admin or self.role == PROXY_ADMIN_VIEWER

    @property
    def audit_name(self) -> str:
        """Who made a change, as the audit log records it."""
        return self.user_id or (MASTER_KEY_USER if self.key_hash is None else self.key_hash)


ANONYMOUS = Principal(is_admin=False)  # an open gateway (no master key): may call models, manages nothing
MASTER = Principal(is_admin=True, role=PROXY_ADMIN, user_id=MASTER_KEY_USER)


class KeyLookup(Protocol):
    """Finds the principal of a virtual key by its stored hash (gateway/principals.py caches them)."""

    async def principal(self, key_hash: str) -> Principal | None: ...


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a client sent, in any of the places OpenAI, Anthropic and Azure clients put it."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return headers.get("x-api-key") or headers.get("api-key") or None


def _missing_key() -> AuthenticationError:
    return AuthenticationError("No API key provided: send it as 'Authorization: Bearer <key>' "
                               "(or the x-api-key / api-key header)", code="missing_api_key")


def _invalid_key(key: str) -> AuthenticationError:
    return AuthenticationError(f"Invalid API key ending in …{key[-4:]}", code="invalid_api_key")


def authenticate_master(headers: Mapping[str, str], master_key: str | None) -> Principal:
    """The master key only: with no master key the gateway is open (and nobody is admin)."""
    if master_key is None:
        return ANONYMOUS
    key = presented_key(headers)
    if key is None:
        raise _missing_key()
    if not hmac.compare_digest(key.encode(), master_key.encode()):
        raise _invalid_key(key)
    return MASTER


async def authenticate(headers: Mapping[str, str], master_key: str | None, keys: KeyLookup | None) -> Principal:
    """The caller: the master key's holder, a virtual key's principal, or (no master key) anonymous.

    Virtual keys need a master key, as in LiteLLM: without one the gateway is open and has no one to manage it.
    """
    if master_key is None:
        return ANONYMOUS
    key = presented_key(headers)
    if key is None:
        raise _missing_key()
    if hmac.compare_digest(key.encode(), master_key.encode()):
        return MASTER
    if keys is not None:
        from sluicegate.gateway.db.tokens import hash_key

        principal = await keys.principal(hash_key(key))
        if principal is not None:
            return principal
    raise _invalid_key(key)


def require_admin(headers: Mapping[str, str], master_key: str | None, what: str) -> Principal:
    """The admin's principal, or the error an admin-only route answers: `what` says why it is admin-only."""
    principal = authenticate_master(headers, master_key)
    if not principal.is_admin:
        raise PermissionDeniedError(f"{what} and is for the admin only: set a master key and send it",
                                    code="admin_only")
    return principal
