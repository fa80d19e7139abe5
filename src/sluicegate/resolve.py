"""From what a caller typed to what a call needs: the provider, its endpoint row and the credentials.

`"groq/llama-3.3-70b"` → provider groq, model `llama-3.3-70b`; a bare known name (`"gpt-4o-mini"`) → its provider
from the catalog. Credentials come from the call's arguments, then the module settings, then the provider's
environment variables (LiteLLM's order).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluicegate.catalog.lookup import find_model, resolve_provider
from sluicegate.errors import AuthenticationError, BadRequestError
from sluicegate.providers import registry
from sluicegate.providers.base import Credentials, Endpoint
from sluicegate.settings import Settings


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    provider: str
    model: str  # without the prefix
    endpoint: Endpoint


def resolve_model(model: str, *, custom_llm_provider: str | None = None,
                  api_base: str | None = None) -> ResolvedModel:
    """Split `provider/model`, or find the provider of a bare model name."""
    if not isinstance(model, str) or not model:
        raise BadRequestError("model must be a non-empty string such as 'openai/gpt-4o-mini'")
    if custom_llm_provider:
        row = registry.endpoint(custom_llm_provider)
        if row is None:
            raise BadRequestError(f"unknown provider {custom_llm_provider!r}", model=model)
        prefix = custom_llm_provider + "/"
        return ResolvedModel(row.provider, model[len(prefix):] if model.startswith(prefix) else model, row)
    prefix, slash, rest = model.partition("/")
    if slash:
        row = registry.endpoint(prefix)
        if row is not None:
            return ResolvedModel(row.provider, rest, row)
        known = find_model(model)
        if known is not None and known.provider == prefix:
            raise BadRequestError(f"provider {prefix!r} is in the model catalog but has no adapter in this "
                                  f"version of sluicegate yet", provider=prefix, model=rest)
    provider = resolve_provider(model)
    if provider is None and api_base:
        provider = "custom_openai"  # an unknown model at a given base: any OpenAI-compatible server
    row = registry.endpoint(provider) if provider else None
    if row is None:
        raise BadRequestError(
            f"cannot tell which provider serves {model!r}: prefix it with the provider, e.g. "
            f"'openai/{model}' or 'groq/{model}' (or pass custom_llm_provider=…)", model=model)
    return ResolvedModel(row.provider, model, row)


def _env(names: tuple[str, ...], environ: Mapping[str, str]) -> str | None:
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def resolve_credentials(
    resolved: ResolvedModel,
    options: Mapping[str, Any],
    settings: Settings,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Credentials for the call; raises AuthenticationError naming the variable when a needed key is missing."""
    env = os.environ if environ is None else environ
    row = resolved.endpoint
    api_base = (options.get("api_base") or options.get("base_url") or settings.api_base
                or _env(row.base_url_env, env) or row.base_url)
    api_key = options.get("api_key") or settings.api_key or _env(row.api_key_env, env)
    azure_ad_token = options.get("azure_ad_token") or (env.get("AZURE_AD_TOKEN") if row.adapter == "azure"
                                                        else None)
    if not api_base and row.requires_api_base:
        names = " or ".join(row.base_url_env) or "api_base"
        raise BadRequestError(f"no API base for {resolved.provider}/{resolved.model}: pass api_base=… "
                              f"or set {names}", provider=resolved.provider, model=resolved.model)
    needs_key = row.requires_api_key and not azure_ad_token and not options.get("azure_ad_token_provider")
    if needs_key and not api_key:
        names = " or ".join(row.api_key_env) or "api_key"
        raise AuthenticationError(f"{names} is not set (needed for model {resolved.provider}/{resolved.model}); "
                                  "pass api_key=… or set the variable", provider=resolved.provider,
                                  model=resolved.model)
    is_openai_family = row.provider in ("openai", "text-completion-openai")
    return Credentials(
        api_key=api_key,
        api_base=api_base,
        api_version=(options.get("api_version") or settings.api_version
                     or (env.get("AZURE_API_VERSION") if row.adapter == "azure" else None)),
        organization=(options.get("organization") or settings.organization
                      or (env.get("OPENAI_ORGANIZATION") if is_openai_family else None)),
        project=options.get("project") or (env.get("OPENAI_PROJECT_ID") if is_openai_family else None),
        azure_ad_token=azure_ad_token,
        extra=_credential_options(row, options, env),
    )


def _credential_options(row: Endpoint, options: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The row's provider-specific credential options: the call's value, else the first variable that is set."""
    found: dict[str, Any] = {}
    for name, env_names in row.credential_options.items():
        value = options.get(name)
        if value is None:
            value = _env(env_names, env)
        if value is not None:
            found[name] = value
    return found
