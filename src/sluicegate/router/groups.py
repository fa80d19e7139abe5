"""Model groups: LiteLLM's `model_list` as deployments grouped by `model_name`, and a request's model → its group.

A request names a group (`gpt-4o`), an alias of one (`model_group_alias`), a deployment id, or a model that a
wildcard group covers (`anthropic/*`, `*`). This module only reads the configuration; health and load live in
state.py, the choice among deployments in selection.py.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sluicegate.errors import BadRequestError

# litellm_params the router reads itself; never sent to the provider.
ROUTER_PARAMS = frozenset({
    "rpm", "tpm", "weight", "order", "tags", "max_retries", "stream_timeout", "cooldown_time", "max_parallel_requests",
    "use_in_pass_through", "configurable_clientside_auth_params", "region_name", "model_info",
})


@dataclass(frozen=True, slots=True)
class Deployment:
    """One entry of `model_list`: a model on one provider endpoint, with the router's knobs for it."""

    id: str
    model_name: str  # the group
    litellm_params: Mapping[str, Any]
    model_info: Mapping[str, Any] = field(default_factory=dict)
    pattern_id: str | None = None  # a wildcard deployment made concrete: the id of the `model_list` entry

    @property
    def config_id(self) -> str:
        """The id of the `model_list` entry this deployment comes from (a wildcard's own id for its models)."""
        return self.pattern_id or self.id

    @property
    def model(self) -> str:
        return str(self.litellm_params["model"])

    @property
    def call_params(self) -> dict[str, Any]:
        """The keywords for the SDK call: litellm_params without the router's own."""
        return {k: v for k, v in self.litellm_params.items() if k not in ROUTER_PARAMS}

    @property
    def api_base(self) -> str | None:
        return self.litellm_params.get("api_base") or self.litellm_params.get("base_url")

    def _int(self, name: str) -> int | None:
        value = self.litellm_params.get(name, self.model_info.get(name))
        return None if value is None else int(value)

    @property
    def rpm(self) -> int | None:
        return self._int("rpm")

    @property
    def tpm(self) -> int | None:
        return self._int("tpm")

    @property
    def order(self) -> int | None:
        return self._int("order")

    @property
    def max_retries(self) -> int | None:
        return self._int("max_retries")

    @property
    def weight(self) -> float | None:
        value = self.litellm_params.get("weight")
        return None if value is None else float(value)

    @property
    def cooldown_time(self) -> float | None:
        """Seconds this deployment is set aside after failing (LiteLLM's per-deployment `cooldown_time`)."""
        value = self.litellm_params.get("cooldown_time")
        return None if value is None else float(value)

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self.litellm_params.get("tags") or ())

    def timeout(self, *, is_stream: bool) -> Any:
        if is_stream and self.litellm_params.get("stream_timeout") is not None:
            return self.litellm_params["stream_timeout"]
        return self.litellm_params.get("timeout")

    def as_dict(self) -> dict[str, Any]:
        """The deployment as LiteLLM's `get_model_list()` shows it."""
        return {"model_name": self.model_name, "litellm_params": dict(self.litellm_params),
                "model_info": {**self.model_info, "id": self.id}}


def deployment_from_entry(entry: Mapping[str, Any]) -> Deployment:
    """A `model_list` entry → a Deployment; `os.environ/NAME` values are read from the environment."""
    if not isinstance(entry, Mapping) or "model_name" not in entry or "litellm_params" not in entry:
        raise BadRequestError("each model_list entry needs 'model_name' and 'litellm_params'")
    params = {k: _env(v) for k, v in dict(entry["litellm_params"]).items()}
    if not params.get("model"):
        raise BadRequestError(f"model_list entry {entry['model_name']!r}: litellm_params needs 'model'")
    info = dict(entry.get("model_info") or {})
    model_name = str(entry["model_name"])
    deployment_id = str(info.pop("id", None) or _stable_id(model_name, entry["litellm_params"]))
    return Deployment(deployment_id, model_name, params, info)


def _env(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("os.environ/"):
        return os.environ.get(value.removeprefix("os.environ/"))
    return value


def _stable_id(model_name: str, params: Mapping[str, Any]) -> str:
    """The same id on every instance for the same configuration, so shared state (cooldowns …) lines up."""
    text = json.dumps([model_name, dict(params)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ModelGroups:
    """Deployments by group, aliases, and wildcard groups (most specific pattern first)."""

    def __init__(self, deployments: Iterable[Deployment], aliases: Mapping[str, Any] | None = None) -> None:
        self.deployments: list[Deployment] = list(deployments)
        self.by_id = {d.id: d for d in self.deployments}
        self.groups: dict[str, list[Deployment]] = {}
        for deployment in self.deployments:
            self.groups.setdefault(deployment.model_name, []).append(deployment)
        self.aliases = {name: _alias_target(target) for name, target in (aliases or {}).items()}
        self.patterns = sorted((g for g in self.groups if "*" in g), key=lambda g: (-len(g.replace("*", "")), g))

    def resolve(self, model: str) -> tuple[str, list[Deployment]]:
        """The group a request's `model` names and its deployments (wildcards made concrete)."""
        name = self.aliases.get(model, model)
        if name in self.groups and "*" not in name:
            return name, self.groups[name]
        if name in self.by_id:
            deployment = self.by_id[name]
            return deployment.model_name, [deployment]
        for pattern in self.patterns:
            matched = _match(pattern, name)
            if matched is not None:
                return name, [_concrete(d, name, matched) for d in self.groups[pattern]]
        raise BadRequestError(f"Invalid model name passed in model={model}. Call `/v1/models` to view available "
                              f"models for your key.", model=model, param="model")

    def names(self) -> list[str]:
        return list(self.groups)


def _alias_target(target: Any) -> str:
    # LiteLLM accepts "group" or {"model": "group", "hidden": bool}
    return str(target["model"] if isinstance(target, Mapping) else target)


def _match(pattern: str, model: str) -> str | None:
    """What the pattern's one `*` stands for in `model`, or None when it does not match."""
    prefix, _, suffix = pattern.partition("*")
    if len(model) >= len(prefix) + len(suffix) and model.startswith(prefix) and model.endswith(suffix):
        return model[len(prefix):len(model) - len(suffix)]
    return None


def _concrete(deployment: Deployment, model: str, matched: str) -> Deployment:
    """A wildcard deployment made concrete for one model: its own id, so one model's cooldown spares the rest."""
    target = deployment.model
    concrete = target.replace("*", matched) if "*" in target else target
    if target == "*":
        concrete = model
    params = {**deployment.litellm_params, "model": concrete}
    return Deployment(f"{deployment.id}:{model}", model, params, deployment.model_info, pattern_id=deployment.id)
