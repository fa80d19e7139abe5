"""Probe every deployment with one tiny real call: what `GET /health` reports (admin only).

Each probe is a one-token chat (or a one-word embedding for embedding models), all run concurrently and each
bounded by a short timeout, without retries. Reports carry the model and api_base, never a credential. Wildcard
groups (`openai/*`) name no model to probe and are listed as skipped.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sluicegate.catalog.lookup import find_model
from sluicegate.engine import send_async
from sluicegate.errors import APIError, SluicegateError
from sluicegate.gateway.config import Deployment
from sluicegate.gateway.deployments import ModelGroups, Target
from sluicegate.prepare import prepare
from sluicegate.settings import Settings

PROBE_TIMEOUT_S = 10.0


def _is_embedding(target: Target) -> bool:
    mode = target.deployment.model_info.get("mode")
    if mode is None:
        info = find_model(target.model)
        mode = info.mode if info else "chat"
    return mode == "embedding"


def _describe(deployment: Deployment, target: Target | None) -> dict[str, Any]:
    return {"model_name": deployment.model_name, "model": deployment.params.get("model"),
            "model_id": deployment.id, "api_base": target.api_base if target else None}


async def _probe(target: Target, settings: Settings) -> dict[str, Any]:
    report = _describe(target.deployment, target)
    options = {**target.options, "timeout": PROBE_TIMEOUT_S, "num_retries": 0}
    try:
        if _is_embedding(target):
            prepared = prepare("embedding", target.model, {**options, "input": "ping"}, settings=settings)
        else:
            prepared = prepare("chat", target.model, {**options, "max_tokens": 1},
                               messages=[{"role": "user", "content": "ping"}], settings=settings)
        if prepared.mock_response is None:
            await send_async(prepared)
    except (APIError, SluicegateError) as error:
        report["error"] = f"{type(error).__name__}: {getattr(error, 'message', str(error))}"[:500]
    return report


async def check_deployments(groups: ModelGroups, deployments: tuple[Deployment, ...],
                            settings: Settings) -> dict[str, Any]:
    probes = []
    skipped = []
    for deployment in deployments:
        if deployment.model_name.endswith("*"):
            skipped.append({**_describe(deployment, None), "reason": "wildcard group: no model to probe"})
            continue
        target = next(t for t in groups.targets(deployment.model_name) if t.deployment is deployment)
        probes.append(_probe(target, settings))
    reports = await asyncio.gather(*probes)
    healthy = [r for r in reports if "error" not in r]
    unhealthy = [r for r in reports if "error" in r]
    return {"healthy_endpoints": healthy, "unhealthy_endpoints": unhealthy, "skipped_endpoints": skipped,
            "healthy_count": len(healthy), "unhealthy_count": len(unhealthy)}
