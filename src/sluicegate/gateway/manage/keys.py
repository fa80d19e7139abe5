"""Virtual keys: generate, update, delete, read, list, regenerate, block — and who may do each.

Who sees a key: readers of everything, its owner (the key's user), the key itself, and the admins of its team
(team admins, and org admins of the team's organisation). Anyone else gets the same 404 as for a key that does
not exist. Who changes a key: a proxy admin; the admins of its team; its owner for a personal key; its owner for
a team key when the team grants members that route (`team_member_permissions`, LiteLLM's rule). Moving a key to
another user, team or organisation, setting its spend, unblocking it and choosing its value are proxy-admin only.
The plain key exists in memory only while generate or regenerate answers; everything stored is its hash.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from sluicegate.errors import BadRequestError, PermissionDeniedError
from sluicegate.gateway.auth import INTERNAL_USER_VIEWER, Principal
from sluicegate.gateway.db.models import Budget, Organization, Team, User, VirtualKey
from sluicegate.gateway.db.queries import keys as queries
from sluicegate.gateway.db.tokens import hash_key, is_key_hash, key_name
from sluicegate.gateway.deps import Manage
from sluicegate.gateway.durations import next_reset, parse_duration
from sluicegate.gateway.enforcement import model_allowed
from sluicegate.gateway.manage.access import not_found, require_admin, require_writer, team_role
from sluicegate.gateway.manage.audit import record_change
from sluicegate.gateway.manage.schemas.keys import (
    NEVER_EXPIRES,
    KeyBlock,
    KeyDelete,
    KeyFields,
    KeyGenerate,
    KeyGenerated,
    KeyInfo,
    KeyList,
    KeyPublic,
    KeyRegenerate,
    KeysDeleted,
    KeyUpdate,
    KeyUpdated,
)

TABLE = "virtual_keys"
KEY_PREFIX = "sk-"
# Team-member routes (LiteLLM's `team_member_permissions` values) that let a member change its own team key.
UPDATE_ROUTE, DELETE_ROUTE, REGENERATE_ROUTE = "/key/update", "/key/delete", "/key/regenerate"
ADMIN_ONLY_ON_UPDATE = ("user_id", "team_id", "organization_id", "spend")
# LiteLLM's name, in a team key's models, for "whatever the team allows".
TEAM_MODEL_MARKERS = frozenset({"all-team-models"})


@dataclass(frozen=True, slots=True)
class Reach:
    """What the caller may see and change among keys, loaded once per request (one query)."""

    caller: Principal
    managed_teams: frozenset[str]  # teams it administers (team admin, or org admin of the team's organisation)

    def may_read(self, key: VirtualKey) -> bool:
        if self.caller.may_read_all or self.caller.key_hash == key.token or self.owns(key):
            return True
        return key.team_id is not None and key.team_id in self.managed_teams

    def may_change(self, key: VirtualKey, team: Team | None, route: str) -> bool:
        if self.caller.is_admin:
            return True
        if key.team_id is None:
            return self.owns(key)
        if key.team_id in self.managed_teams:
            return True
        return self.owns(key) and team is not None and route in (team.team_member_permissions or [])

    def owns(self, key: VirtualKey) -> bool:
        return self.caller.user_id is not None and key.user_id == self.caller.user_id


async def generate_key(manage: Manage, body: KeyGenerate) -> KeyGenerated:
    """POST /key/generate: a new key; the answer is the only place its value ever appears."""
    caller, session = manage.caller, manage.session
    _require_key_writer(caller, "generate keys")
    given = body.given()
    reach = await _reach(session, caller)
    plain = await _new_key_value(session, caller, body.key)
    team = await _team_for_new_key(session, reach, body.team_id)
    owner = await _owner_for_new_key(session, reach, team, body.user_id)
    _refuse_admin_fields(caller, {name for name in ("spend", "organization_id")
                                  if name in given and getattr(body, name) is not None}, "generate")
    now = datetime.now(UTC)
    row = VirtualKey(token=hash_key(plain), key_name=key_name(plain), user_id=owner,
                     team_id=team.team_id if team else None, created_by=caller.audit_name,
                     updated_by=caller.audit_name, created_at=now, updated_at=now)
    _set_defaults(row)
    await _apply(session, row, body, given - {"user_id", "team_id"}, team, now)
    session.add(row)
    if owner is not None and caller.is_admin:
        await _ensure_user(session, caller, owner)
    record_change(session, caller, "created", TABLE, row.token, None, _snapshot(row))
    answer = _generated(row, plain, body.duration)
    await session.commit()
    manage.changed()
    return answer


async def update_key(manage: Manage, body: KeyUpdate) -> KeyUpdated:
    """POST /key/update: change the fields sent (null clears a field; an omitted field stays as it is)."""
    caller, session = manage.caller, manage.session
    _require_key_writer(caller, "update keys")
    reach = await _reach(session, caller)
    row = await _visible_key(session, reach, body.key)
    await _require_change(session, reach, row, UPDATE_ROUTE)
    before = _snapshot(row)
    await _change(session, reach, row, body, body.given())
    record_change(session, caller, "updated", TABLE, row.token, before, _snapshot(row))
    answer = KeyUpdated(key=row.token, **_public_fields(row))
    await session.commit()
    manage.changed()
    return answer


async def regenerate_key(manage: Manage, body: KeyRegenerate, path_key: str | None = None) -> KeyGenerated:
    """POST /key/regenerate and /key/{key}/regenerate: a new value for the same key row (settings, spend and
    history kept); the old value stops working at once. Fields sent in the body are changed as by update."""
    caller, session = manage.caller, manage.session
    _require_key_writer(caller, "regenerate keys")
    if path_key is not None and body.key is not None and _token_of(path_key) != _token_of(body.key):
        raise BadRequestError("The key in the path and the key in the body differ: send one of them",
                              param="key", code="invalid_request")
    ident = path_key or body.key
    if ident is None:
        raise BadRequestError("Name the key to regenerate: {\"key\": \"sk-…\"} or POST /key/{key}/regenerate",
                              param="key", code="invalid_request")
    reach = await _reach(session, caller)
    row = await _visible_key(session, reach, ident)
    await _require_change(session, reach, row, REGENERATE_ROUTE)
    plain = await _new_key_value(session, caller, body.new_key, field="new_key")
    before = _snapshot(row)
    await _change(session, reach, row, body, body.given())
    row.token, row.key_name = hash_key(plain), key_name(plain)  # the primary key: one UPDATE … SET token
    record_change(session, caller, "regenerated", TABLE, row.token, before, _snapshot(row))
    answer = _generated(row, plain, body.duration)
    await session.commit()
    manage.changed()
    return answer


async def delete_keys(manage: Manage, body: KeyDelete) -> KeysDeleted:
    """POST /key/delete: every key named, or none (a key that is missing or not the caller's: 404)."""
    caller, session = manage.caller, manage.session
    _require_key_writer(caller, "delete keys")
    reach = await _reach(session, caller)
    rows = await (_keys_named(session, reach, body.keys) if body.keys
                  else _keys_aliased(session, reach, body.key_aliases or []))
    teams = await queries.teams_by_ids(session, {row.team_id for row in rows if row.team_id})
    for row in rows:
        if not reach.may_change(row, teams.get(row.team_id or ""), DELETE_ROUTE):
            raise _may_not_change(row)
    for row in rows:
        record_change(session, caller, "deleted", TABLE, row.token, _snapshot(row), None)
    tokens = [row.token for row in rows]
    await queries.delete_keys(session, tokens)
    await session.commit()
    manage.changed()
    return KeysDeleted(deleted_keys=tokens)


async def key_info(manage: Manage, key: str | None) -> KeyInfo:
    """GET /key/info?key=…: one key (without `key`, the key that sent the request)."""
    caller, session = manage.caller, manage.session
    if key is None:
        if caller.key_hash is None:
            raise BadRequestError("Name the key: GET /key/info?key=sk-… (or its hash)", param="key",
                                  code="invalid_request")
        key = caller.key_hash
    row = await _visible_key(session, await _reach(session, caller), key)
    return KeyInfo(key=row.token, info=KeyPublic(**_public_fields(row)))


@dataclass(frozen=True, slots=True)
class KeyListQuery:
    """GET /key/list's query parameters (LiteLLM's names)."""

    page: int = 1
    size: int = 10
    user_id: str | None = None
    team_id: str | None = None
    organization_id: str | None = None
    key_alias: str | None = None
    key_hash: str | None = None
    return_full_object: bool = False
    include_team_keys: bool = False
    sort_by: str = "created_at"
    sort_order: str = "desc"


async def list_keys(manage: Manage, query: KeyListQuery) -> KeyList:
    """GET /key/list: a page of the keys the caller may see, newest first; hashes, or full objects on request."""
    caller, session = manage.caller, manage.session
    if query.sort_by not in queries.SORTABLE:
        raise BadRequestError(f"sort_by must be one of {', '.join(sorted(queries.SORTABLE))}, got "
                              f"{query.sort_by!r}", param="sort_by", code="invalid_request")
    if query.sort_order not in ("asc", "desc"):
        raise BadRequestError(f"sort_order must be 'asc' or 'desc', got {query.sort_order!r}", param="sort_order",
                              code="invalid_request")
    reach = await _reach(session, caller)
    wanted = queries.KeyFilter(
        user_id=query.user_id, team_id=query.team_id, organization_id=query.organization_id,
        key_alias=query.key_alias, key_hash=_token_of(query.key_hash) if query.key_hash else None,
        everything=caller.may_read_all, visible_users=[caller.user_id] if caller.user_id else [],
        visible_teams=reach.managed_teams if query.include_team_keys or query.team_id in reach.managed_teams
        else ())
    rows, total = await queries.page_of_keys(session, wanted, page=query.page, size=query.size,
                                             sort_by=query.sort_by, descending=query.sort_order == "desc")
    keys: list[str] | list[KeyPublic] = ([KeyPublic(**_public_fields(row)) for row in rows]
                                         if query.return_full_object else [row.token for row in rows])
    return KeyList(keys=keys, total_count=total, current_page=query.page,
                   total_pages=math.ceil(total / query.size) if total else 0)


async def set_blocked(manage: Manage, body: KeyBlock, *, blocked: bool) -> KeyPublic:
    """POST /key/block and /key/unblock (proxy admins only, as in LiteLLM); takes effect at once."""
    caller, session = manage.caller, manage.session
    require_admin(caller, "block or unblock keys")
    row = await session.get(VirtualKey, _token_of(body.key))
    if row is None:
        raise not_found("key", _shown(body.key))
    before = _snapshot(row)
    row.blocked = blocked
    row.updated_by, row.updated_at = caller.audit_name, datetime.now(UTC)
    record_change(session, caller, "blocked" if blocked else "unblocked", TABLE, row.token, before, _snapshot(row))
    answer = KeyPublic(**_public_fields(row))
    await session.commit()
    manage.changed()
    return answer


def _require_key_writer(caller: Principal, action: str) -> None:
    require_writer(caller, action)
    if caller.is_admin:
        return
    if caller.role == INTERNAL_USER_VIEWER:
        raise PermissionDeniedError(f"An internal user viewer may not {action}: the role is read-only",
                                    code="read_only_role")
    if caller.user_id is None:
        raise PermissionDeniedError(f"This key belongs to no user, so it may not {action}: use a key generated "
                                    "with a user_id", code="no_user")


async def _reach(session: AsyncSession, caller: Principal) -> Reach:
    teams = frozenset() if caller.may_read_all else await queries.managed_team_ids(session, caller.user_id)
    return Reach(caller=caller, managed_teams=teams)


def _token_of(ident: str) -> str:
    """The stored hash for a key given as itself or as its hash (LiteLLM's APIs accept both)."""
    return ident if is_key_hash(ident) else hash_key(ident)


def _shown(ident: str) -> str:
    """How an error names a key it was given: a hash as it is, a key by its last characters only."""
    return ident if is_key_hash(ident) else key_name(ident)


async def _visible_key(session: AsyncSession, reach: Reach, ident: str) -> VirtualKey:
    row = await session.get(VirtualKey, _token_of(ident))
    if row is None or not reach.may_read(row):
        raise not_found("key", _shown(ident))
    return row


async def _require_change(session: AsyncSession, reach: Reach, row: VirtualKey, route: str) -> None:
    team = await session.get(Team, row.team_id) if row.team_id and not reach.caller.is_admin else None
    if not reach.may_change(row, team, route):
        raise _may_not_change(row)


def _may_not_change(row: VirtualKey) -> PermissionDeniedError:
    return PermissionDeniedError(f"You may read key {row.key_name or row.token!r} but not change it: ask its team "
                                 "admin or a proxy admin", code="not_allowed")


async def _keys_named(session: AsyncSession, reach: Reach, idents: list[str]) -> list[VirtualKey]:
    wanted = {_token_of(ident): ident for ident in idents}
    found = {row.token: row for row in await queries.keys_by_tokens(session, wanted)}
    for token, ident in wanted.items():
        row = found.get(token)
        if row is None or not reach.may_read(row):
            raise not_found("key", _shown(ident))
    return [found[token] for token in wanted]


async def _keys_aliased(session: AsyncSession, reach: Reach, aliases: list[str]) -> list[VirtualKey]:
    rows = await queries.keys_by_aliases(session, set(aliases))
    for alias in dict.fromkeys(aliases):
        mine = [row for row in rows if row.key_alias == alias]
        if not mine or not all(reach.may_read(row) for row in mine):
            raise not_found("key with alias", alias)
    return rows


async def _new_key_value(session: AsyncSession, caller: Principal, chosen: str | None, *,
                         field: str = "key") -> str:
    """A fresh random key, or the admin's chosen one after checking it."""
    if chosen is None:
        return KEY_PREFIX + secrets.token_urlsafe(24)
    require_admin(caller, f"choose a key's value ({field})")
    if not chosen.startswith(KEY_PREFIX):
        raise BadRequestError(f"{field} must start with {KEY_PREFIX!r} (LiteLLM's rule for virtual keys)",
                              param=field, code="invalid_key_format")
    if await session.get(VirtualKey, hash_key(chosen)) is not None:
        raise BadRequestError(f"A key with this value already exists: choose another {field}", param=field,
                              code="key_exists")
    return chosen


async def _team_for_new_key(session: AsyncSession, reach: Reach, team_id: str | None) -> Team | None:
    """The team a new key joins: any team for a proxy admin; for others, a team they administer or belong to."""
    if team_id is None:
        return None
    team = await session.get(Team, team_id)
    if team is None:
        raise not_found("team", team_id)
    caller = reach.caller
    if caller.is_admin or team_id in reach.managed_teams or await team_role(session, caller, team_id) is not None:
        return team
    raise not_found("team", team_id)


async def _owner_for_new_key(session: AsyncSession, reach: Reach, team: Team | None,
                             requested: str | None) -> str | None:
    """Whose key it is: anyone for a proxy admin; a team admin may name a member of its team; everyone else
    generates keys for itself."""
    caller = reach.caller
    if caller.is_admin:
        return requested
    if requested is None or requested == caller.user_id:
        return caller.user_id
    if team is not None and team.team_id in reach.managed_teams:
        if await queries.is_team_member(session, requested, team.team_id):
            return requested
        raise not_found("team member", requested)
    raise PermissionDeniedError(f"You may only generate keys for yourself (user_id {caller.user_id!r}); a team "
                                "admin may generate them for its team's members", param="user_id",
                                code="not_allowed")


def _refuse_admin_fields(caller: Principal, fields: set[str], action: str) -> None:
    if caller.is_admin or not fields:
        return
    name = min(fields)
    raise PermissionDeniedError(f"Only a proxy admin may set {name} when they {action} a key", param=name,
                                code="admin_only")


async def _change(session: AsyncSession, reach: Reach, row: VirtualKey, body: KeyFields, given: set[str]) -> None:
    """Apply an update (or a regenerate's changes) to `row`, after checking what this caller may change."""
    caller = reach.caller
    moved = {name for name in given & set(ADMIN_ONLY_ON_UPDATE) if getattr(body, name) != getattr(row, name)}
    _refuse_admin_fields(caller, moved | ({"spend"} & given), "update")
    if "blocked" in given and body.blocked is not None and body.blocked != row.blocked:
        require_admin(caller, "block or unblock keys")
    team = None  # the team whose model list the key's models must fit, when they or the team change
    if "team_id" in given and body.team_id != row.team_id:
        team = await _team_for_new_key(session, reach, body.team_id)
        row.team_id = body.team_id
    elif "models" in given and row.team_id is not None:
        team = await session.get(Team, row.team_id)
    if "user_id" in given and body.user_id != row.user_id:
        row.user_id = body.user_id
        if body.user_id is not None:
            await _ensure_user(session, caller, body.user_id)
    now = datetime.now(UTC)
    row.updated_by, row.updated_at = caller.audit_name, now
    await _apply(session, row, body, given - {"user_id", "team_id"}, team, now)


def _set_defaults(row: VirtualKey) -> None:
    """A new row's empty lists, maps and zero spend (column defaults only fill in at flush; the answer is built
    before that)."""
    row.spend = Decimal(0)
    row.blocked = row.soft_budget_cooldown = False
    for name in ("models", "guardrails", "tags", "allowed_cache_controls", "allowed_routes"):
        setattr(row, name, [])
    for name in ("aliases", "model_spend", "model_rpm_limit", "model_tpm_limit", "permissions", "model_max_budget",
                 "metadata_"):
        setattr(row, name, {})


async def _apply(session: AsyncSession, row: VirtualKey, body: KeyFields, given: set[str], team: Team | None,
                 now: datetime) -> None:
    """Validate and set the given fields on `row` (null clears a field); the models must fit `team`'s."""
    if "key_alias" in given and body.key_alias is not None and await queries.alias_taken(
            session, body.key_alias, other_than=row.token):
        raise BadRequestError(f"Another key already has the alias {body.key_alias!r}: key aliases are unique",
                              param="key_alias", code="alias_taken")
    if "budget_id" in given and body.budget_id is not None and await session.get(Budget, body.budget_id) is None:
        raise not_found("budget", body.budget_id)
    if ("organization_id" in given and body.organization_id is not None
            and await session.get(Organization, body.organization_id) is None):
        raise not_found("organization", body.organization_id)
    for name in given:
        _set_field(row, body, name, now)
    if team is not None:
        _check_team_models(row.models or [], team)


def _set_field(row: VirtualKey, body: KeyFields, name: str, now: datetime) -> None:
    value = getattr(body, name)
    if name == "duration":
        if value is not None:  # null: the expiry stays as it is (LiteLLM's reading); "-1" removes it
            row.expires = None if value == NEVER_EXPIRES else parse_duration(value, "duration").after(now)
    elif name == "budget_duration":
        row.budget_duration = value
        row.budget_reset_at = next_reset(parse_duration(value), now) if value else None
    elif name == "model_max_budget":
        row.model_max_budget = {model: _stored_budget(budget.budget_limit, budget.time_period)
                                for model, budget in (value or {}).items()}
    elif name == "metadata":
        row.metadata_ = value or {}
    elif name == "blocked":
        if value is not None:
            row.blocked = value
    elif name == "spend":
        row.spend = value if value is not None else Decimal(0)
    elif name in ("models", "tags", "guardrails", "allowed_routes", "allowed_cache_controls"):
        setattr(row, name, list(value or []))
    elif name in ("aliases", "permissions", "model_rpm_limit", "model_tpm_limit"):
        setattr(row, name, dict(value or {}))
    else:
        setattr(row, name, value)


def _stored_budget(limit: Decimal | None, period: str | None) -> dict[str, Any]:
    """A model budget as the JSON column keeps it: the amount as exact text (principals.py reads it back)."""
    return {"budget_limit": None if limit is None else f"{limit.normalize():f}", "time_period": period}


def _check_team_models(models: list[str], team: Team) -> None:
    """A team key may only name models its team allows (an empty team list allows every model). Access groups
    are not expanded here: a key names the team's access group itself, not a model inside it."""
    allowed = team.models or []
    for model in models:
        if not allowed or model in TEAM_MODEL_MARKERS or model_allowed(allowed, model, {}):
            continue
        raise BadRequestError(f"Team {team.team_id!r} does not allow model {model!r} (it allows: "
                              f"{', '.join(allowed)})", param="models", code="model_not_allowed")


async def _ensure_user(session: AsyncSession, caller: Principal, user_id: str) -> None:
    """A key's user exists from the moment it has a key (LiteLLM creates the user row on /key/generate too)."""
    if await session.get(User, user_id) is None:
        session.add(User(user_id=user_id))
        record_change(session, caller, "created", "users", user_id, None, {"user_id": user_id})


def _snapshot(row: VirtualKey) -> dict[str, Any]:
    """The row's columns for the audit log: `token` is the hash, never the key."""
    return {attr.columns[0].name: getattr(row, attr.key) for attr in inspect(VirtualKey).column_attrs}


def _public_fields(row: VirtualKey) -> dict[str, Any]:
    return {
        "token": row.token, "key_name": row.key_name, "key_alias": row.key_alias, "spend": row.spend or Decimal(0),
        "max_budget": row.max_budget, "soft_budget": row.soft_budget, "budget_duration": row.budget_duration,
        "budget_reset_at": row.budget_reset_at, "expires": row.expires, "models": row.models or [],
        "aliases": row.aliases or {}, "user_id": row.user_id, "team_id": row.team_id,
        "organization_id": row.organization_id, "org_id": row.organization_id, "budget_id": row.budget_id,
        "max_parallel_requests": row.max_parallel_requests, "tpm_limit": row.tpm_limit, "rpm_limit": row.rpm_limit,
        "model_max_budget": {model: _shown_budget(budget) for model, budget in (row.model_max_budget or {}).items()},
        "model_rpm_limit": row.model_rpm_limit or {}, "model_tpm_limit": row.model_tpm_limit or {},
        "model_spend": {model: _number(spend) for model, spend in (row.model_spend or {}).items()},
        "metadata": row.metadata_ or {}, "tags": row.tags or [], "guardrails": row.guardrails or [],
        "permissions": row.permissions or {}, "allowed_routes": row.allowed_routes or [],
        "allowed_cache_controls": row.allowed_cache_controls or [], "blocked": bool(row.blocked),
        "soft_budget_cooldown": bool(row.soft_budget_cooldown), "created_at": row.created_at,
        "created_by": row.created_by, "updated_at": row.updated_at, "updated_by": row.updated_by,
        "last_active": row.last_active,
    }


def _shown_budget(budget: Any) -> Any:
    if isinstance(budget, dict):
        return {**budget, "budget_limit": _number(budget.get("budget_limit"))}
    return _number(budget)


def _number(value: Any) -> Any:
    """Stored exact text (or a number imported from LiteLLM) as a JSON number."""
    if value is None or isinstance(value, bool):
        return value
    try:
        return float(Decimal(str(value)))
    except ArithmeticError:
        return value


def _generated(row: VirtualKey, plain: str, duration: str | None) -> KeyGenerated:
    return KeyGenerated(key=plain, token_id=row.token, duration=duration, **_public_fields(row))
