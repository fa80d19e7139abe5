"""The router's view of the deployments, for operators: `GET /router/deployments` (admin) and the
`litellm_deployment_state` / `litellm_deployment_cooled_down` metrics.

Read from the router's state (memory, or the Redis every instance shares) when asked: a few reads per request
to the endpoint or scrape, nothing on the request path. A wildcard entry (`openai/*`) is shown as configured, and
each model it serves that is cooling down (they cool down one by one, under ids of their own) gets a row of its
own after it, with `wildcard_id` naming the entry. The metrics leave those models out: their names are the
clients', and label values must stay bounded.
"""

from __future__ import annotations

import time
from typing import Any

from sluicegate.errors import APIError, BadRequestError
from sluicegate.gateway.config import Deployment
from sluicegate.gateway.deployments import ModelGroups
from sluicegate.observability.metrics import GatewayMetrics
from sluicegate.router import Pick, Router
from sluicegate.router.router import CooldownHook
from sluicegate.router.state import Usage


def metric_labels(deployment: Deployment) -> tuple[str, str, str, str]:
    """LiteLLM's labels for a deployment: litellm_model_name, model_id, api_base, api_provider."""
    model = str(deployment.params.get("model", ""))
    provider = deployment.params.get("custom_llm_provider") or (model.split("/", 1)[0] if "/" in model else "")
    api_base = deployment.params.get("api_base") or deployment.params.get("base_url") or ""
    return model, deployment.id, str(api_base), str(provider)


def cooldown_recorder(groups: ModelGroups, metrics: GatewayMetrics) -> CooldownHook:
    """The router's `on_cooldown` hook: count the cooldown under the config's deployment."""

    def record(pick: Pick, error: BaseException, until: float) -> None:
        status = (error.status_code or 0) if isinstance(error, APIError) else 0  # 0: no response arrived
        metrics.deployment_cooled_down_once(*metric_labels(groups.deployment(pick.deployment.config_id)), status)

    return record


async def refresh_state_metrics(router: Router, groups: ModelGroups, deployments: tuple[Deployment, ...],
                                metrics: GatewayMetrics) -> None:
    """Set `litellm_deployment_state` from the router's cooldowns, just before a scrape renders it."""
    cooling = await router.cooling_down()
    for deployment in deployments:
        metrics.set_deployment_state(*metric_labels(deployment), cooling_down=deployment.id in cooling)


async def deployment_states(router: Router, deployments: tuple[Deployment, ...]) -> dict[str, Any]:
    """Every model group with its deployments: healthy or cooling down (until when), in flight, this minute's use."""
    now = router.clock()
    ids = [d.id for d in deployments]
    cooling = await router.cooling_down()
    models = _wildcard_models(deployments, cooling)
    every = ids + [i for found in models.values() for i in found]
    in_flight = await router.state.in_flight(every)
    usage = await router.state.usage(every, int(now // 60))
    groups: dict[str, list[dict[str, Any]]] = {}
    for deployment in deployments:
        rows = groups.setdefault(deployment.model_name, [])
        for model_id in [deployment.id, *models.get(deployment.id, ())]:
            rows.append(_describe(router, deployment, model_id, cooling.get(model_id), in_flight.get(model_id, 0),
                                  usage.get(model_id, Usage()), now))
    return {
        "routing_strategy": router.routing_strategy,
        "shared_state": "redis" if router.is_shared else "memory",
        "time": time.time(),
        "model_groups": [{"model_group": name, "deployments": rows} for name, rows in groups.items()],
    }


def _wildcard_models(deployments: tuple[Deployment, ...], cooling: dict[str, float]) -> dict[str, list[str]]:
    """The ids cooling down of models a wildcard entry serves, by the entry's id (the router keys them
    `{entry id}:{requested model}`)."""
    found: dict[str, list[str]] = {}
    for deployment in deployments:
        if "*" in deployment.model_name:
            prefix = f"{deployment.id}:"
            found[deployment.id] = sorted(i for i in cooling if i.startswith(prefix))
    return found


def _describe(router: Router, deployment: Deployment, model_id: str, until: float | None, in_flight: int,
              usage: Usage, now: float) -> dict[str, Any]:
    routed = router.get_deployment(deployment.id)
    model, _, api_base, provider = metric_labels(deployment)
    row: dict[str, Any] = {"model_id": model_id, "model": model}
    if model_id != deployment.id:  # a model a wildcard entry serves
        requested = model_id.removeprefix(f"{deployment.id}:")
        row.update(model=_concrete_model(router, requested, model_id) or requested, wildcard_id=deployment.id,
                   requested_model=requested)
    row.update({
        "api_base": api_base or None,
        "api_provider": provider or None,
        "state": "cooling_down" if until is not None else "healthy",
        "cooldown_until": until,
        "cooldown_remaining_s": None if until is None else round(max(until - now, 0.0), 3),
        "in_flight": in_flight,
        "rpm_used": usage.requests,
        "tpm_used": usage.tokens,
        "rpm": routed.rpm if routed else None,
        "tpm": routed.tpm if routed else None,
        "weight": routed.weight if routed else None,
        "order": routed.order if routed else None,
        "tags": list(routed.tags) if routed else [],
    })
    return row


def _concrete_model(router: Router, requested: str, model_id: str) -> str | None:
    """The provider model the router calls for `requested` on that wildcard entry (its `*` filled in)."""
    try:
        _, concrete = router.groups.resolve(requested)
    except BadRequestError:  # no longer served (the model list changed)
        return None
    return next((d.model for d in concrete if d.id == model_id), None)
