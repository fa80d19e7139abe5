"""What a virtual key may do, checked on every request before the router sees it: the key is usable, the model is
allowed (key ∩ team ∩ organisation, access groups, wildcards, aliases), and admission (admission.py) passes.

Cost per request once warm: no I/O; a few set lookups and, for a limited key, one ledger admission. The master
key and an open gateway skip all of it.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from sluicegate.catalog.lookup import find_model
from sluicegate.errors import AuthenticationError, PermissionDeniedError
from sluicegate.gateway.access import Access, Limits
from sluicegate.gateway.admission import Check, Ledger, Ticket, checks_for, checks_until, describe_entity
from sluicegate.gateway.auth import Principal
from sluicegate.gateway.config import Deployment

if TYPE_CHECKING:
    from sluicegate.gateway.principals import EndUserAccess

alerts = logging.getLogger("sluicegate.gateway.alerts")
ALL_MODELS = frozenset({"*", "all-proxy-models"})  # LiteLLM's words for "every model the gateway serves"
_CHECKS_CACHE_SIZE = 10_000  # keys × models; past it the cache starts over
_DEFAULT_OUTPUT_TOKENS = 4096  # the reservation's output bound when neither request nor catalog gives one


class ModelAccessDeniedError(AuthenticationError):
    """LiteLLM answers a model outside the key's (or team's) list with 401 and this type."""

    type = "key_model_access_denied"


@dataclass(slots=True)
class Admitted:
    """A request let through: the group it goes to, and its ledger ticket (None when nothing is limited)."""

    model_group: str
    ticket: Ticket | None = None


def access_groups(deployments: Iterable[Deployment]) -> dict[str, frozenset[str]]:
    """model_info.access_groups of every deployment → {group name: the model names it opens}."""
    found: dict[str, set[str]] = {}
    for deployment in deployments:
        for group in deployment.model_info.get("access_groups") or ():
            found.setdefault(str(group), set()).add(deployment.model_name)
    return {name: frozenset(models) for name, models in found.items()}


def model_allowed(allowed: Iterable[str], model: str, groups: Mapping[str, frozenset[str]]) -> bool:
    """Whether one `models` list lets `model` through: a name, a wildcard ("openai/*"), an access group, or all."""
    for entry in allowed:
        if entry in ALL_MODELS or entry == model:
            return True
        if "*" in entry and fnmatch.fnmatchcase(model, entry):
            return True
        if model in groups.get(entry, ()):
            return True
    return False


def check_usable(access: Access, now: datetime) -> None:
    if access.blocked:
        raise AuthenticationError("Authentication Error: this key has been blocked", code="key_blocked")
    if access.expires is not None and access.expires <= now:
        raise AuthenticationError(f"Authentication Error: this key expired at {access.expires.isoformat()}",
                                  code="key_expired")
    if access.team_blocked:
        raise AuthenticationError("Authentication Error: the key's team is blocked", code="team_blocked")


def resolve_model(access: Access, requested: str, groups: Mapping[str, frozenset[str]]) -> str:
    """The group a key's request goes to (its aliases applied), refused unless every models list allows it."""
    model = access.aliases.get(requested, requested)
    for allowed in access.model_lists:
        if not (model_allowed(allowed, model, groups) or model_allowed(allowed, requested, groups)):
            raise ModelAccessDeniedError(f"This key is not allowed to access model {requested}. Allowed models: "
                                         f"{sorted(set().union(*access.model_lists))}", param="model",
                                         code="key_model_access_denied")
    return model


def visible_models(access: Access | None, names: Iterable[str], groups: Mapping[str, frozenset[str]]) -> list[str]:
    """The model names a caller may use, for GET /v1/models: all of them without a key's lists."""
    if access is None:
        return list(names)
    return [name for name in names if all(model_allowed(allowed, name, groups) for allowed in access.model_lists)]


class EndUserLookup(Protocol):
    async def end_user(self, user_id: str) -> EndUserAccess | None: ...


class EndUserBlockedError(PermissionDeniedError):
    type = "end_user_blocked"


class Enforcement:
    """The per-request gate for virtual keys and end users; `ledger` holds the counters (memory, or Redis
    across instances); `end_users` finds the budget of a request's `user` (none without a database)."""

    def __init__(self, ledger: Ledger, deployments: Iterable[Deployment],
                 end_users: EndUserLookup | None = None) -> None:
        self.ledger = ledger
        self.end_users = end_users
        self.groups: dict[str, frozenset[str]] = {}
        self._prices: dict[str, tuple[Decimal, Decimal, int]] = {}
        self._checks_cache: dict[tuple[int, str], tuple[tuple[Limits, ...], datetime | None, tuple[Check, ...]]] = {}
        self.update_deployments(deployments)

    def update_deployments(self, deployments: Iterable[Deployment]) -> None:
        """Take the access groups and prices from `deployments` (models added or changed while running)."""
        deployments = tuple(deployments)
        prices: dict[str, tuple[Decimal, Decimal, int]] = {}
        for deployment in deployments:  # the dearest deployment of a group bounds what a request may cost
            dearest = prices.get(deployment.model_name, (Decimal(0), Decimal(0), 0))
            prices[deployment.model_name] = max(dearest, _price_of(deployment))
        self.groups, self._prices = access_groups(deployments), prices

    async def admit(self, principal: Principal, requested: str, body: Mapping[str, Any],
                    body_bytes: int) -> Admitted:
        access = principal.access
        now = datetime.now(UTC)
        limits: tuple[Limits, ...] = ()
        model = requested
        if access is not None:  # a virtual key (usable: GatewayState.caller refused blocked and expired ones)
            model = resolve_model(access, requested, self.groups)
            limits = access.limits
        user = body.get("user")
        if self.end_users is not None and isinstance(user, str) and user:
            end_user = await self.end_users.end_user(user)
            if end_user is not None and end_user.blocked:
                raise EndUserBlockedError(f"End user {user} is blocked from this gateway", code="end_user_blocked")
            if end_user is not None and end_user.limits is not None:
                limits = (*limits, end_user.limits)
        checks = self._checks(limits, model, now, is_cached=access is not None and limits is access.limits)
        if not checks:
            return Admitted(model)
        reserve = self._reservation(model, body, body_bytes) if any(c.counts_spend for c in checks) \
            else Decimal(0)
        return Admitted(model, await self.ledger.admit(checks, reserve, now.timestamp()))

    def _checks(self, limits: tuple[Limits, ...], model: str, now: datetime, *, is_cached: bool) -> tuple[Check, ...]:
        """`checks_for`, kept per key and model until a budget window ends: building them was a tenth of what a
        limited key cost, and the same checks, object for object, make the ledger's lookups cheap. A key's limits
        are a new object whenever they change (principals.py), so a changed key never meets stale checks."""
        if not is_cached:  # an end user's limits ride along: a tuple of this request's own
            return checks_for(limits, model, now=now)
        cache_key = (id(limits), model)
        found = self._checks_cache.get(cache_key)
        if found is not None and found[0] is limits and (found[1] is None or now < found[1]):
            return found[2]
        checks, until = checks_until(limits, model, now)
        if len(self._checks_cache) >= _CHECKS_CACHE_SIZE:
            self._checks_cache.clear()
        self._checks_cache[cache_key] = (limits, until, checks)  # holds `limits`: its id is not reused meanwhile
        return checks

    def check_fallbacks(self, principal: Principal, routing: Mapping[str, Any]) -> None:
        """A request's own fallbacks may name only models its key may call (config fallbacks are the admin's)."""
        access = principal.access
        if access is None:
            return
        for name in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
            for entry in routing.get(name) or ():
                targets = [entry] if isinstance(entry, str) else [t for ts in entry.values() for t in ts]
                for target in targets:
                    resolve_model(access, str(target), self.groups)

    def _reservation(self, model: str, body: Mapping[str, Any], body_bytes: int) -> Decimal:
        """An upper bound of the request's cost: every byte a prompt token, the most output it may produce."""
        input_price, output_price, max_output = self._prices.get(model, (Decimal(0), Decimal(0), 0))
        wanted = body.get("max_completion_tokens") or body.get("max_tokens")
        output = wanted if isinstance(wanted, int) and wanted > 0 else (max_output or _DEFAULT_OUTPUT_TOKENS)
        return input_price * body_bytes + output_price * output

    async def finish(self, admitted: Admitted, cost: Decimal | None, tokens: int) -> None:
        """Settle the real cost and tokens, then give back the parallel slot (safe to call once per request)."""
        ticket = admitted.ticket
        if ticket is None or ticket.released:
            return
        await self.ledger.finish(ticket, cost or Decimal(0), tokens)
        if cost:
            for check in ticket.checks:
                if check.soft_budget is not None:
                    await self._alert_soft_budget(check, cost)

    async def _alert_soft_budget(self, check: Check, cost: Decimal) -> None:
        """The alert event when this request's cost carried spend across the soft budget (once per crossing)."""
        spent = await self.ledger.spent(check.entity, check.window)
        if spent is not None and check.soft_budget is not None and spent - cost < check.soft_budget <= spent:
            alerts.warning("soft budget crossed: %s has spent %s of its soft budget %s (max budget %s)",
                           describe_entity(check.entity), spent, check.soft_budget, check.budget,
                           extra={"event": "soft_budget_crossed", "entity": describe_entity(check.entity)})


def _price_of(deployment: Deployment) -> tuple[Decimal, Decimal, int]:
    params = deployment.params
    input_price, output_price = params.get("input_cost_per_token"), params.get("output_cost_per_token")
    model = str(params.get("model") or "")
    info = find_model(str(deployment.model_info.get("base_model") or model)) if model else None
    if input_price is None and info is not None:
        input_price = info.input_cost_per_token
    if output_price is None and info is not None:
        output_price = info.output_cost_per_token
    max_output = (info.max_output_tokens if info is not None else None) or 0
    return (Decimal(str(input_price or 0)), Decimal(str(output_price or 0)), int(max_output))
