"""The config's deployments as the pipeline calls them: a `Target` (model, prepare() options) per deployment.

Which deployment serves a request is the router's choice (gateway/routing.py); this module turns its pick back
into the config's deployment. Wildcard groups (`openai/*`, `*`) pass the requested name through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sluicegate.gateway.config import Deployment
from sluicegate.providers import registry
from sluicegate.router import Pick

# litellm_params keys that steer the call, as prepare() names them.
_OPTION_NAMES = {
    "api_key": "api_key", "api_base": "api_base", "base_url": "base_url", "api_version": "api_version",
    "organization": "organization", "timeout": "timeout", "custom_llm_provider": "custom_llm_provider",
    "drop_params": "drop_params", "extra_headers": "extra_headers", "azure_ad_token": "azure_ad_token",
    "input_cost_per_token": "input_cost_per_token", "output_cost_per_token": "output_cost_per_token",
}  # max_retries, rpm, tpm, weight, order, tags, stream_timeout: the router reads them (router/groups.py)


@dataclass(frozen=True, slots=True)
class Target:
    """One deployment, ready to call for one requested model name."""

    deployment: Deployment
    model: str  # the provider/model string to call (a wildcard filled in)
    options: dict[str, Any]  # prepare() keywords from the deployment's litellm_params and model_info

    @property
    def api_base(self) -> str | None:
        return self.options.get("api_base") or self.options.get("base_url")


def _options(deployment: Deployment) -> dict[str, Any]:
    options = {name: deployment.params[key] for key, name in _OPTION_NAMES.items() if key in deployment.params}
    for name in registry.credential_option_names():  # aws_region_name, vertex_project …
        if name in deployment.params:
            options[name] = deployment.params[name]
    base_model = deployment.model_info.get("base_model")
    if base_model:
        options["base_model"] = base_model
    return options


class ModelGroups:
    def __init__(self, deployments: tuple[Deployment, ...]) -> None:
        self._exact: dict[str, list[tuple[Deployment, dict[str, Any]]]] = {}
        self._wildcards: list[tuple[str, Deployment, dict[str, Any]]] = []
        self._by_id: dict[str, tuple[Deployment, dict[str, Any]]] = {}
        self.replace(deployments)

    def replace(self, deployments: tuple[Deployment, ...]) -> None:
        """Serve `deployments` from now on (config.yaml's and the database's, model_store.py); requests already
        routed keep the tables they started with. Ids must be unique."""
        exact: dict[str, list[tuple[Deployment, dict[str, Any]]]] = {}
        wildcards: list[tuple[str, Deployment, dict[str, Any]]] = []
        by_id: dict[str, tuple[Deployment, dict[str, Any]]] = {}
        for deployment in deployments:
            entry = (deployment, _options(deployment))
            by_id[deployment.id] = entry
            if deployment.model_name.endswith("*"):
                wildcards.append((deployment.model_name[:-1], *entry))
            else:
                exact.setdefault(deployment.model_name, []).append(entry)
        self._exact, self._wildcards, self._by_id = exact, wildcards, by_id

    def deployments(self) -> tuple[Deployment, ...]:
        """Every deployment served, in the order given."""
        return tuple(deployment for deployment, _ in self._by_id.values())

    def targets(self, requested: str) -> list[Target]:
        """The deployments for a requested model, exact names first; empty when none serves it."""
        exact = self._exact.get(requested)
        if exact:
            return [Target(d, d.params["model"], options) for d, options in exact]
        found = []
        for prefix, deployment, options in self._wildcards:
            if requested.startswith(prefix):
                pattern = deployment.params["model"]
                model = pattern.replace("*", requested[len(prefix):]) if "*" in pattern else pattern
                found.append(Target(deployment, model, options))
        return found

    def for_pick(self, pick: Pick) -> Target:
        """The deployment the router picked, as the config describes it, for the model it was picked for."""
        deployment, options = self._by_id[pick.deployment.config_id]
        return Target(deployment, pick.deployment.model, options)

    def deployment(self, deployment_id: str) -> Deployment:
        return self._by_id[deployment_id][0]

    def names(self) -> list[str]:
        """Public model names, exact ones then wildcard patterns, in config order."""
        return [*self._exact, *(prefix + "*" for prefix, _, _ in self._wildcards)]
