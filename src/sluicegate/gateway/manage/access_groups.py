"""Model access groups (LiteLLM's /access_group/*): a name a key's, team's or user's `models` may list to call every
model in the group. A group has no row of its own: it is its name in the `model_info.access_groups` of the
deployments it holds, so these functions read and rewrite that list on models stored through /model/new, and every
instance serves a change as it serves any stored-model change (model_store.py).

config.yaml's deployments are in the groups their file gives them: listed and counted here, never changed. A
request that would have to change one is refused with a 400 naming the file (code `config_model`): putting a
config-only model into a group, leaving one out of its group's new member list, deleting a group one is in.
(LiteLLM manages database models only, and does not see groups that config.yaml alone defines.)

Proxy admins change groups; proxy admins and viewers read them; nobody else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sluicegate.errors import BadRequestError, ConflictError
from sluicegate.gateway.config import redact
from sluicegate.gateway.db.models import ProxyModel
from sluicegate.gateway.db.queries import models as queries
from sluicegate.gateway.deps import Manage
from sluicegate.gateway.enforcement import ALL_MODELS
from sluicegate.gateway.manage.access import not_found, require_admin, require_reader
from sluicegate.gateway.manage.audit import record_change
from sluicegate.gateway.manage.schemas.access_groups import (
    AccessGroupCreate,
    AccessGroupDeleted,
    AccessGroupPublic,
    AccessGroupSaved,
    AccessGroupUpdate,
)
from sluicegate.gateway.model_store import ModelCatalogSync
from sluicegate.gateway.pipeline import GatewayState

TABLE = "proxy_models"  # a group change is audited as the stored models it rewrites


@dataclass(frozen=True, slots=True)
class _Member:
    """A deployment as far as groups go: stored (`source` None) or config.yaml's (`source` says where)."""

    model_id: str
    model_name: str
    groups: tuple[str, ...]
    source: str | None = None


@dataclass(frozen=True, slots=True)
class _Wanted:
    """The members a request names: by `model_ids`, or by `model_names` (every deployment of each)."""

    field: str  # "model_ids" or "model_names"
    values: tuple[str, ...]

    def key(self, member: _Member) -> str:
        return member.model_id if self.field == "model_ids" else member.model_name

    def covers(self, member: _Member) -> bool:
        return self.key(member) in self.values


async def list_groups(m: Manage, state: GatewayState) -> list[AccessGroupPublic]:
    require_reader(m.caller, "list access groups")
    members = _members(state, await queries.all_models(m.session))
    return [_public(name, members) for name in sorted(_group_names(members))]


async def group_info(m: Manage, state: GatewayState, name: str) -> AccessGroupPublic:
    require_reader(m.caller, "read an access group")
    members = _members(state, await queries.all_models(m.session))
    if name not in _group_names(members):
        raise not_found("Access group", name)
    return _public(name, members)


async def create_group(m: Manage, state: GatewayState, body: AccessGroupCreate) -> AccessGroupSaved:
    """Put the named stored models into a group no deployment is in yet (409 otherwise: use /update)."""
    require_admin(m.caller, "create an access group")
    name = body.access_group
    _check_name(name)
    wanted = _wanted(body.model_names, body.model_ids)
    rows = await queries.all_models(m.session, is_locking=True)
    if name in _group_names(_members(state, rows)):
        raise ConflictError(f"Access group '{name}' already exists. Use PUT /access_group/{name}/update to modify "
                            "it", param="access_group", code="access_group_exists")
    chosen = _chosen(wanted, rows, _config_members(state), None)
    await _save(m, state, rows, name, chosen)
    return AccessGroupSaved(access_group=name, model_names=body.model_names, model_ids=body.model_ids,
                            models_updated=len(chosen))


async def update_group(m: Manage, state: GatewayState, name: str, body: AccessGroupUpdate) -> AccessGroupSaved:
    """Make the request's members the group's whole stored membership (removed from every other stored model)."""
    require_admin(m.caller, "change an access group")
    wanted = _wanted(body.model_names, body.model_ids)
    rows = await queries.all_models(m.session, is_locking=True)
    config = _config_members(state)
    if name not in _group_names([*config, *_stored(rows)]):
        raise not_found("Access group", name)
    chosen = _chosen(wanted, rows, config, name)
    left_out = [member for member in config if name in member.groups and not wanted.covers(member)]
    if left_out:
        raise _config_refusal(f"Access group '{name}' holds config-file models this change would leave in it: "
                              f"{_described(left_out)}. List them in {wanted.field} too, or take the group out of "
                              "their model_info.access_groups in the file")
    await _save(m, state, rows, name, chosen)
    return AccessGroupSaved(access_group=name, model_names=body.model_names, model_ids=body.model_ids,
                            models_updated=len(chosen))


async def delete_group(m: Manage, state: GatewayState, name: str) -> AccessGroupDeleted:
    """Take the group out of every stored model; refused while a config-file model is in it."""
    require_admin(m.caller, "delete an access group")
    rows = await queries.all_models(m.session, is_locking=True)
    config = _config_members(state)
    if name not in _group_names([*config, *_stored(rows)]):
        raise not_found("Access group", name)
    configured = [member for member in config if name in member.groups]
    if configured:
        raise _config_refusal(f"Access group '{name}' holds config-file models: {_described(configured)}. Take the "
                              "group out of their model_info.access_groups in the file first; only models added "
                              "through /model/new are changed here")
    changed = await _save(m, state, rows, name, [])
    return AccessGroupDeleted(access_group=name, models_updated=changed,
                              message=f"Access group '{name}' deleted successfully")


def _check_name(name: str) -> None:
    if not name.strip():
        raise BadRequestError("access_group is required and cannot be empty", param="access_group",
                              code="invalid_access_group")
    if name in ALL_MODELS or "*" in name:  # a key's `models` would read it as "every model" or a wildcard
        raise BadRequestError(f"access_group {name!r} cannot be used: '*' and 'all-proxy-models' mean every model "
                              "in a key's models list", param="access_group", code="invalid_access_group")


def _wanted(model_names: Sequence[str] | None, model_ids: Sequence[str] | None) -> _Wanted:
    """The request's members; `model_ids` wins over `model_names`, as in LiteLLM."""
    if model_ids:
        return _Wanted("model_ids", tuple(dict.fromkeys(model_ids)))
    if model_names:
        return _Wanted("model_names", tuple(dict.fromkeys(model_names)))
    raise BadRequestError("Either model_names or model_ids must be provided and non-empty", param="model_names",
                          code="no_models")


def _chosen(wanted: _Wanted, rows: Sequence[ProxyModel], config: Sequence[_Member],
            group: str | None) -> list[ProxyModel]:
    """The stored models `wanted` names. Each name or id must match a stored model, or a config-file deployment
    already in `group`; 400 names every one that does not."""
    stored = {row.model_id: _stored_member(row) for row in rows}
    found = {wanted.key(member) for member in stored.values()}
    unknown: list[str] = []
    configured: list[_Member] = []
    for value in (v for v in wanted.values if v not in found):
        matches = [member for member in config if wanted.key(member) == value]
        if not matches:
            unknown.append(value)
        elif group is None or not any(group in member.groups for member in matches):
            configured.extend(matches)
    if unknown:
        what = "Deployment(s) not found in the database" if wanted.field == "model_ids" else "Model(s) not found"
        raise BadRequestError(f"{what}: {', '.join(unknown)}", param=wanted.field, code="model_not_found")
    if configured:
        raise _config_refusal(f"Config-file models cannot be put in an access group here: {_described(configured)}. "
                              "Add the group to their model_info.access_groups in the file; only models added "
                              "through /model/new are changed here")
    return [row for row in rows if wanted.covers(stored[row.model_id])]


async def _save(m: Manage, state: GatewayState, rows: Sequence[ProxyModel], group: str,
                chosen: Sequence[ProxyModel]) -> int:
    """Make `chosen` exactly the stored models in `group`; write, audit and serve the rows that change. Returns
    how many changed."""
    members = {row.model_id for row in chosen}
    changes = [(row, groups) for row in rows
               if (groups := _regrouped(row.model_info or {}, group, row.model_id in members)) is not None]
    if not changes:
        return 0
    written_at = await queries.next_write_time(m.session)
    for row, groups in changes:
        before = _snapshot(row)
        info = {key: value for key, value in (row.model_info or {}).items() if key != "access_groups"}
        row.model_info = {**info, "access_groups": groups} if groups else info
        row.updated_by, row.updated_at = m.caller.audit_name, written_at
        record_change(m.session, m.caller, "updated", TABLE, row.model_id, before,
                      {"model_info": redact(row.model_info)})
    await m.session.commit()
    await ModelCatalogSync(state).refresh(m.session)
    return len(changes)


def _regrouped(model_info: Mapping[str, Any], group: str, is_member: bool) -> list[str] | None:
    """The model's new access_groups, or None when it is already as wanted."""
    current = _groups_of(model_info)
    if is_member == (group in current):
        return None
    return [*current, group] if is_member else [name for name in current if name != group]


def _groups_of(model_info: Mapping[str, Any]) -> tuple[str, ...]:
    groups = model_info.get("access_groups")
    return tuple(str(name) for name in groups) if isinstance(groups, list | tuple) else ()


def _stored_member(row: ProxyModel) -> _Member:
    return _Member(row.model_id, row.model_name, _groups_of(row.model_info or {}))


def _stored(rows: Iterable[ProxyModel]) -> list[_Member]:
    return [_stored_member(row) for row in rows]


def _config_members(state: GatewayState) -> list[_Member]:
    return [_Member(d.id, d.model_name, _groups_of(d.model_info), d.source)
            for d in ModelCatalogSync(state).config_deployments()]


def _members(state: GatewayState, rows: Iterable[ProxyModel]) -> list[_Member]:
    """Every deployment: config.yaml's as this instance serves them, stored ones as the database has them now."""
    return [*_config_members(state), *_stored(rows)]


def _group_names(members: Iterable[_Member]) -> set[str]:
    return {group for member in members for group in member.groups}


def _public(name: str, members: Iterable[_Member]) -> AccessGroupPublic:
    inside = [member for member in members if name in member.groups]
    return AccessGroupPublic(access_group=name, model_names=sorted({member.model_name for member in inside}),
                             deployment_count=len(inside),
                             config_model_names=sorted({m.model_name for m in inside if m.source is not None}))


def _described(members: Iterable[_Member]) -> str:
    return ", ".join(f"{member.model_name} ({member.source})" for member in members)


def _config_refusal(message: str) -> BadRequestError:
    return BadRequestError(message, code="config_model")


def _snapshot(row: ProxyModel) -> dict[str, Any]:
    return {"model_id": row.model_id, "model_name": row.model_name, "model_info": redact(row.model_info or {})}
