"""Who is calling: the key a request presents, checked against the master key.

Cost per request: one constant-time comparison, no I/O. Virtual keys, users and teams (a later feature)
plug in here by returning a richer `Principal`; routes only ever see the principal.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from sluicegate.errors import AuthenticationError, PermissionDeniedError


@dataclass(frozen=True, slots=True)
class Principal:
    is_admin: bool  # may override upstream URLs and credentials in a request body


ANONYMOUS = Principal(is_admin=False)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a client sent, in any of the places OpenAI, Anthropic and Azure clients put it."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return headers.get("x-api-key") or headers.get("api-key") or None


def authenticate(headers: Mapping[str, str], master_key: str | None) -> Principal:
    """With no master key the gateway is open (and nobody is admin); with one, only its holder gets in."""
    if master_key is None:
        return ANONYMOUS
    key = presented_key(headers)
    if key is None:
        raise AuthenticationError("No API key provided: send it as 'Authorization: Bearer <key>' "
                                  "(or the x-api-key / api-key header)", code="missing_api_key")
    if not hmac.compare_digest(key.encode(), master_key.encode()):
        raise AuthenticationError(f"Invalid API key ending in …{key[-4:]}", code="invalid_api_key")
    return Principal(is_admin=True)


def require_admin(headers: Mapping[str, str], master_key: str | None, what: str) -> Principal:
    """The admin's principal, or the error an admin-only route answers: `what` says why it is admin-only."""
    principal = authenticate(headers, master_key)
    if not principal.is_admin:
        raise PermissionDeniedError(f"{what} and is for the admin only: set a master key and send it",
                                    code="admin_only")
    return principal
