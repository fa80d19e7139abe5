"""Models stored in the database (`/model/new`, `/model/update`, `/model/delete`) and what `/model/info` and
`/model_group/info` show of every served model, config.yaml's and stored ones alike.

Proxy admins add, change and delete stored models; every change is served by this instance at once and by the
others after their next poll (model_store.py). Any authenticated caller reads; a virtual key sees only the models
it may call. Credentials never leave: stored encrypted (secrets_at_rest.py), answered removed or masked.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from sluicegate.catalog.lookup import FLAG_FIELDS, find_model
from sluicegate.errors import APIStatusError, BadRequestError, NotFoundError
from sluicegate.gateway.auth import Principal
from sluicegate.gateway.config import Deployment, redact
from sluicegate.gateway.db.models import ProxyModel
from sluicegate.gateway.db.queries import models as queries
from sluicegate.gateway.deps import Manage
from sluicegate.gateway.enforcement import visible_models
from sluicegate.gateway.manage.access import require_admin
from sluicegate.gateway.manage.audit import record_change
from sluicegate.gateway.manage.schemas.models import (
    ModelCreate,
    ModelDeleted,
    ModelGroupInfo,
    ModelPublic,
    ModelUpdate,
)
from sluicegate.gateway.model_store import DB_SOURCE, ModelCatalogSync, checked_deployment
from sluicegate.gateway.pipeline import GatewayState
from sluicegate.gateway.secrets_at_rest import (
    SALT_KEY_ENV,
    MissingSaltKeyError,
    SealingError,
    open_secrets,
    seal_secrets,
    secret_box,
)
from sluicegate.resolve import resolve_model

log = logging.getLogger("sluicegate.gateway.models")
TABLE = "proxy_models"
# Removed from every answer, as LiteLLM removes them from /model/info; other secret-named values are masked.
_REMOVED = frozenset({"api_key", "client_secret", "vertex_credentials", "vertex_ai_credentials",
                      "aws_access_key_id", "aws_secret_access_key"})
_UPSTREAM = frozenset({"api_base", "base_url"})  # where calls go: shown to proxy admins and viewers only
_FACTS = ("max_input_tokens", "max_output_tokens", "input_cost_per_token", "output_cost_per_token")


async def create_model(m: Manage, state: GatewayState, body: ModelCreate) -> ModelPublic:
    require_admin(m.caller, "add a model")
    model_info = dict(body.model_info)
    model_id = _new_id(model_info.pop("id", None))
    if model_id in _served_ids(state) or await m.session.get(ProxyModel, model_id) is not None:
        raise _duplicate(model_id)
    _check(model_id, body.model_name, body.litellm_params, model_info)
    row = ProxyModel(model_id=model_id, model_name=body.model_name, litellm_params=_sealed(body.litellm_params),
                     model_info=model_info, created_by=m.caller.audit_name, updated_by=m.caller.audit_name,
                     updated_at=await queries.next_write_time(m.session))
    m.session.add(row)
    await m.session.flush()
    record_change(m.session, m.caller, "created", TABLE, model_id, None, _snapshot(row))
    try:
        await m.session.commit()
    except IntegrityError:  # a concurrent /model/new with the same id won the race
        await m.session.rollback()
        raise _duplicate(model_id) from None
    await ModelCatalogSync(state).refresh(m.session)
    return _public(row, m.caller)


async def update_model(m: Manage, state: GatewayState, model_id: str | None, body: ModelUpdate, *,
                       missing: type[APIStatusError] = NotFoundError, is_null_removing: bool = True) -> ModelPublic:
    """Change the keys `body` sends; a null removes one (PATCH), or leaves it as it is (LiteLLM's older POST
    /model/update, whose clients send whole objects). `missing` is the error for an unknown id."""
    require_admin(m.caller, "change a model")
    if not model_id:
        raise BadRequestError("model_info.id is required: the id of the model to change (see /model/info)",
                              param="model_info.id", code="missing_id")
    row = await m.session.get(ProxyModel, model_id)
    if row is None:
        raise _missing(state, model_id, missing)
    before = _snapshot(row)
    name = body.model_name or row.model_name
    params = _merged(row.litellm_params, _sealed(body.litellm_params or {}), is_null_removing)
    info = _merged(row.model_info or {}, {k: v for k, v in (body.model_info or {}).items() if k != "id"},
                   is_null_removing)
    try:
        _check(model_id, name, open_secrets(params, secret_box()), info)
    except SealingError as exc:
        raise BadRequestError(f"{exc}; the model cannot be changed here", code="salt_key_required") from None
    row.model_name, row.litellm_params, row.model_info = name, params, info
    row.updated_by = m.caller.audit_name
    row.updated_at = await queries.next_write_time(m.session)
    record_change(m.session, m.caller, "updated", TABLE, model_id, before, _snapshot(row))
    await m.session.commit()
    await ModelCatalogSync(state).refresh(m.session)
    return _public(row, m.caller)


async def delete_model(m: Manage, state: GatewayState, model_id: str) -> ModelDeleted:
    require_admin(m.caller, "delete a model")
    row = await m.session.get(ProxyModel, model_id)
    if row is None:  # LiteLLM answers 400 here
        raise _missing(state, model_id, BadRequestError)
    record_change(m.session, m.caller, "deleted", TABLE, model_id, _snapshot(row), None)
    await m.session.delete(row)
    await m.session.commit()
    await ModelCatalogSync(state).refresh(m.session)
    return ModelDeleted(message=f"Model: {model_id} deleted successfully")


def model_info(caller: Principal, state: GatewayState, *, model_id: str | None = None,
               model_name: str | None = None, search: str | None = None) -> list[dict[str, Any]]:
    """Every served deployment the caller may call, as LiteLLM's /model/info lists them; filtered by id (an
    unknown one is a 400, as in LiteLLM), exact model name or a piece of it."""
    deployments = visible_deployments(caller, state)
    if model_id is not None:
        deployments = [d for d in deployments if d.id == model_id]
        if not deployments:
            raise BadRequestError(f"Model id = {model_id} not found on this gateway", param="litellm_model_id",
                                  code="model_not_found")
    if model_name is not None:
        deployments = [d for d in deployments if d.model_name == model_name]
    if search:
        deployments = [d for d in deployments if search.lower() in d.model_name.lower()]
    return [_entry(d, caller) for d in deployments]


def model_group_info(caller: Principal, state: GatewayState, model_group: str | None = None) -> list[ModelGroupInfo]:
    """One ModelGroupInfo per model group the caller may call (deployments of a group summed up)."""
    groups: dict[str, list[Deployment]] = {}
    for deployment in visible_deployments(caller, state):
        if model_group is None or deployment.model_name == model_group:
            groups.setdefault(deployment.model_name, []).append(deployment)
    return [_group(name, deployments) for name, deployments in groups.items()]


def visible_deployments(caller: Principal, state: GatewayState) -> list[Deployment]:
    served = state.groups.deployments()
    allowed = set(visible_models(caller.access, {d.model_name for d in served}, state.enforcement.groups))
    return [d for d in served if d.model_name in allowed]


def public_params(params: Mapping[str, Any], caller: Principal) -> dict[str, Any]:
    """litellm_params as answered: credentials removed or masked; the upstream only for admins and viewers."""
    hidden = _REMOVED if caller.may_read_all else _REMOVED | _UPSTREAM
    shown: dict[str, Any] = redact({key: value for key, value in params.items() if key not in hidden})
    return shown


def _entry(deployment: Deployment, caller: Principal) -> dict[str, Any]:
    info = {**_facts(deployment), **redact(deployment.model_info), "id": deployment.id,
            "db_model": deployment.source == DB_SOURCE}
    return {"model_name": deployment.model_name, "litellm_params": public_params(deployment.params, caller),
            "model_info": info}


def _facts(deployment: Deployment) -> dict[str, Any]:
    """What the catalog knows of the deployment's model, under LiteLLM's /model/info names; the deployment's own
    prices (litellm_params) win."""
    params = deployment.params
    provider = _provider(deployment)
    found = find_model(str(deployment.model_info.get("base_model") or params.get("model") or ""), provider)
    facts: dict[str, Any] = {"litellm_provider": provider}
    if found is not None:
        facts.update(key=found.key, mode=found.mode, max_tokens=found.max_output_tokens,
                     **{name: _plain(getattr(found, name)) for name in _FACTS},
                     **{flag: getattr(found, flag) for flag in FLAG_FIELDS})
    for name in ("input_cost_per_token", "output_cost_per_token"):
        if params.get(name) is not None:
            facts[name] = params[name]
    return facts


def _group(name: str, deployments: list[Deployment]) -> ModelGroupInfo:
    described = [{**_facts(d), **d.model_info} for d in deployments]
    providers = sorted({str(p) for p in (info.get("litellm_provider") for info in described) if p})
    return ModelGroupInfo(
        model_group=name, providers=providers,
        **{field: _most(info.get(field) for info in described) for field in _FACTS},
        mode=next((str(info["mode"]) for info in described if info.get("mode")), "chat"),
        tpm=_total(d.params.get("tpm") for d in deployments), rpm=_total(d.params.get("rpm") for d in deployments),
        **{flag: any(bool(info.get(flag)) for info in described)
           for flag in ("supports_parallel_function_calling", "supports_vision", "supports_function_calling")})


def _provider(deployment: Deployment) -> str | None:
    params = deployment.params
    model = str(params.get("model") or "")
    if params.get("custom_llm_provider"):
        return str(params["custom_llm_provider"])
    try:
        return resolve_model(model, api_base=params.get("api_base") or params.get("base_url")).provider
    except BadRequestError:  # "*": the provider comes with each request
        return None


def _most(values: Iterable[Any]) -> Any:
    numbers = [v for v in values if isinstance(v, int | float | Decimal) and not isinstance(v, bool)]
    return max(numbers) if numbers else None


def _total(values: Iterable[Any]) -> int | None:
    numbers = [int(v) for v in values if v is not None]
    return sum(numbers) if numbers else None


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _new_id(given: Any) -> str:
    if given is None:
        return str(uuid.uuid4())
    if isinstance(given, bool) or not isinstance(given, str | int) or given == "":
        raise BadRequestError("model_info.id must be a non-empty string", param="model_info.id", code="invalid_id")
    return str(given)


def _served_ids(state: GatewayState) -> set[str]:
    return {d.id for d in state.groups.deployments()}


def _duplicate(model_id: str) -> BadRequestError:
    return BadRequestError(f"A model with id {model_id!r} already exists: choose another model_info.id (or leave "
                           "it out for a new one)", param="model_info.id", code="duplicate_id")


def _missing(state: GatewayState, model_id: str, error: type[APIStatusError]) -> APIStatusError:
    configured = next((d for d in state.groups.deployments() if d.id == model_id and d.source != DB_SOURCE), None)
    if configured is not None:
        return BadRequestError(f"Model {model_id} is defined in the config file ({configured.source}): change it "
                               "there. Only models added through /model/new are changed here", code="config_model")
    return error(f"Model with id={model_id} not found in the database", code="model_not_found")


def _check(model_id: str, name: Any, params: Any, model_info: Mapping[str, Any]) -> None:
    warnings: list[str] = []
    checked_deployment(model_id, name, params, model_info, warnings=warnings)
    for warning in warnings:
        log.warning("model %s: %s", model_id, warning)


def _sealed(params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return seal_secrets(params, secret_box())
    except MissingSaltKeyError as exc:
        path = f"litellm_params.{exc.path}"
        raise BadRequestError(
            f"{path} is a credential and {SALT_KEY_ENV} is not set, so it cannot be stored encrypted: set "
            f"{SALT_KEY_ENV} (a long random string, the same on every gateway instance), or pass the value as "
            "os.environ/NAME to read it from each instance's environment", param=path,
            code="salt_key_required") from None


def _merged(stored: Mapping[str, Any], changes: Mapping[str, Any], is_null_removing: bool) -> dict[str, Any]:
    merged = dict(stored)
    for key, value in changes.items():
        if value is None:
            if is_null_removing:
                merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _snapshot(row: ProxyModel) -> dict[str, Any]:
    """A stored model for the audit log: encrypted credentials masked too."""
    return {"model_id": row.model_id, "model_name": row.model_name, "litellm_params": redact(row.litellm_params),
            "model_info": redact(row.model_info or {})}


def _public(row: ProxyModel, caller: Principal) -> ModelPublic:
    return ModelPublic(model_id=row.model_id, model_name=row.model_name,
                       litellm_params=public_params(row.litellm_params, caller),
                       model_info={**redact(row.model_info or {}), "id": row.model_id},
                       created_at=row.created_at, created_by=row.created_by, updated_at=row.updated_at,
                       updated_by=row.updated_by)
