"""The shipped model catalog as an API: prices, context limits and capability flags by model name.

models.json is read once, on first use (never at import). Every capability answer comes from the data,
never from the shape of a model's name. Registrations (LiteLLM's `register_model`) replace the loaded
snapshot as a whole, so a lookup always sees one consistent catalog.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from sluicegate.errors import ConfigError, NotFoundError

# os.path rather than pathlib: pathlib costs more to import than this whole module
CATALOG_FILE = os.path.join(os.path.dirname(__file__), "models.json")
SCHEMA_VERSION = 1

# A bare name served by several providers ("gpt-4o": openai and azure) resolves to the first of these;
# providers not listed rank after them, alphabetically. First-party APIs come before resellers and hosts.
PROVIDER_PREFERENCE: tuple[str, ...] = (
    "openai", "anthropic", "gemini", "vertex_ai", "bedrock", "cohere", "mistral", "deepseek", "xai",
    "groq", "together_ai", "fireworks_ai", "perplexity", "cerebras", "deepinfra", "sambanova", "nvidia_nim",
    "openrouter", "azure",
)

# Azure serves OpenAI's models under the same names, so a name Azure's rows lack is priced as OpenAI's.
_FALLBACK_PROVIDER = {"azure": "openai"}

# LiteLLM's `litellm_provider` values that name a route rather than a provider.
_PROVIDER_SYNONYMS = {
    "text-completion-openai": "openai", "azure_text": "azure", "cohere_chat": "cohere",
    "bedrock_converse": "bedrock", "vertex_ai_beta": "vertex_ai", "text-completion-codestral": "mistral",
}

PRICE_FIELDS: tuple[str, ...] = (
    "input_cost_per_token", "output_cost_per_token",
    "cache_read_input_token_cost", "cache_creation_input_token_cost", "output_cost_per_reasoning_token",
    "input_cost_per_token_above_200k_tokens", "output_cost_per_token_above_200k_tokens",
    "cache_read_input_token_cost_above_200k_tokens", "cache_creation_input_token_cost_above_200k_tokens",
)
INT_FIELDS: tuple[str, ...] = ("max_input_tokens", "max_output_tokens", "output_vector_size")
CAPABILITIES: tuple[str, ...] = (
    "function_calling", "parallel_function_calling", "tool_choice", "vision", "response_schema",
    "system_messages", "prompt_caching", "reasoning", "audio_input", "audio_output", "pdf_input", "web_search",
)
FLAG_FIELDS: tuple[str, ...] = tuple(f"supports_{c}" for c in CAPABILITIES)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One catalog entry: exact Decimal prices per token (None when unknown), limits and capabilities."""

    key: str  # canonical "provider/model"
    provider: str
    model: str  # the name without the provider prefix
    mode: str  # chat | completion | embedding
    input_cost_per_token: Decimal | None = None
    output_cost_per_token: Decimal | None = None
    cache_read_input_token_cost: Decimal | None = None
    cache_creation_input_token_cost: Decimal | None = None
    output_cost_per_reasoning_token: Decimal | None = None
    input_cost_per_token_above_200k_tokens: Decimal | None = None
    output_cost_per_token_above_200k_tokens: Decimal | None = None
    cache_read_input_token_cost_above_200k_tokens: Decimal | None = None
    cache_creation_input_token_cost_above_200k_tokens: Decimal | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    output_vector_size: int | None = None
    supports_function_calling: bool = False
    supports_parallel_function_calling: bool = False
    supports_tool_choice: bool = False
    supports_vision: bool = False
    supports_response_schema: bool = False
    supports_system_messages: bool = False
    supports_prompt_caching: bool = False
    supports_reasoning: bool = False
    supports_audio_input: bool = False
    supports_audio_output: bool = False
    supports_pdf_input: bool = False
    supports_web_search: bool = False
    tokenizer: str | None = None
    aliases: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    # str() first: Decimal(1.5e-07) would carry the float's binary error into every sum.
    return Decimal(str(value))


def _model_info(key: str, entry: Mapping[str, Any]) -> ModelInfo:
    provider, _, name = key.partition("/")
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for field_name, value in entry.items():
        if field_name in PRICE_FIELDS:
            known[field_name] = _decimal(value)
        elif field_name in INT_FIELDS:
            known[field_name] = None if value is None else int(value)
        elif field_name in FLAG_FIELDS:
            known[field_name] = bool(value)
        elif field_name == "aliases":
            known[field_name] = tuple(value)
        elif field_name == "tokenizer":
            known[field_name] = value
        elif field_name not in ("mode", "litellm_provider"):
            extra[field_name] = value
    return ModelInfo(key=key, provider=provider, model=name, mode=str(entry.get("mode", "chat")),
                     extra=MappingProxyType(extra), **known)


def _preference(provider: str) -> tuple[int, str]:
    try:
        return (PROVIDER_PREFERENCE.index(provider), provider)
    except ValueError:
        return (len(PROVIDER_PREFERENCE), provider)


_MISS = object()
_CACHE_LIMIT = 4096  # distinct (model, provider) lookups remembered; a gateway sees a bounded set


class _Catalog:
    """One snapshot of the catalog and its indexes. Entries never change once built (a registration builds a
    new snapshot); only the lookup memo and the lazily built `model_cost` key table fill in as they are used."""

    def __init__(self, entries: dict[str, dict[str, Any]]) -> None:
        self.entries = entries
        self.infos = {key: _model_info(key, entry) for key, entry in entries.items()}
        self.providers = frozenset(info.provider for info in self.infos.values())
        self.in_provider: dict[tuple[str, str], ModelInfo] = {}
        self.bare: dict[str, ModelInfo] = {}
        ordered = sorted(self.infos.values(), key=lambda i: _preference(i.provider))
        for info in ordered:  # a model's own name wins over another model's alias
            self.in_provider.setdefault((info.provider, info.model), info)
        for info in ordered:
            for alias in info.aliases:
                self.in_provider.setdefault((info.provider, alias), info)
        named = [(_preference(i.provider), False, i.model, i) for i in ordered]
        aliased = [(_preference(i.provider), True, alias, i) for i in ordered for alias in i.aliases]
        for *_, name, info in sorted(named + aliased, key=lambda row: row[:2]):
            self.bare.setdefault(name, info)  # earlier providers win; within one, names before aliases
        self.cache: dict[tuple[str, str | None], ModelInfo | None] = {}
        self.cost_keys: dict[str, str] | None = None  # model_cost's key → canonical key, built on first use

    def find(self, model: str, provider: str | None) -> ModelInfo | None:
        if provider:
            provider = canonical_provider(provider)
            prefix = provider + "/"
            return self._in(provider, model[len(prefix):] if model.startswith(prefix) else model)
        info = self.infos.get(model)
        if info is not None:
            return info
        prefix, slash, rest = model.partition("/")
        if slash and prefix in self.providers:
            return self._in(prefix, rest)
        return self.bare.get(model)

    def _in(self, provider: str, name: str) -> ModelInfo | None:
        info = self.in_provider.get((provider, name))
        fallback = _FALLBACK_PROVIDER.get(provider)
        if info is None and fallback:
            info = self.in_provider.get((fallback, name))
        return info

    def provider_of(self, model: str) -> str | None:
        prefix, slash, _ = model.partition("/")
        if slash and prefix in self.providers:
            return prefix
        info = self.infos.get(model) or self.bare.get(model)
        return info.provider if info else None


_lock = threading.Lock()
# The one catalog every lookup reads. Module-level on purpose: LiteLLM's `register_model` is process-wide,
# and callers rely on that. It is only ever replaced whole (under _lock), never mutated in place.
_current: _Catalog | None = None


def _read_json(path: str | os.PathLike[str]) -> Any:
    import json  # only needed on first use; keeps `import sluicegate` cheap

    with open(path, encoding="utf-8") as f:
        return json.load(f, parse_float=Decimal)


def _catalog() -> _Catalog:
    catalog = _current
    if catalog is None:
        with _lock:
            catalog = _load_locked()
    return catalog


def _load_locked() -> _Catalog:
    global _current
    if _current is None:
        data = _read_json(CATALOG_FILE)
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ConfigError(f"unsupported schema_version {data.get('schema_version')!r} "
                              f"(this sluicegate reads {SCHEMA_VERSION})", file=str(CATALOG_FILE))
        _current = _Catalog(data["models"])
    return _current


def canonical_provider(provider: str) -> str:
    """Our provider id for a LiteLLM `litellm_provider` / `custom_llm_provider` value."""
    if provider.startswith("vertex_ai"):  # vertex_ai-language-models, vertex_ai-anthropic_models, …
        return "vertex_ai"
    return _PROVIDER_SYNONYMS.get(provider, provider)


def find_model(model: str, provider: str | None = None) -> ModelInfo | None:
    """The catalog entry for a model in any form ("provider/model", bare name, alias), or None."""
    catalog = _catalog()
    cache_key = (model, provider)
    info = catalog.cache.get(cache_key, _MISS)
    if info is _MISS:
        info = catalog.find(model, provider)
        if len(catalog.cache) >= _CACHE_LIMIT:
            catalog.cache.clear()
        catalog.cache[cache_key] = info
    return info  # type: ignore[return-value]


def resolve_provider(model: str) -> str | None:
    """The provider a model name belongs to ("gpt-4o-mini" → "openai"), or None if the catalog does not know."""
    return _catalog().provider_of(model)


def supports(model: str, capability: str, provider: str | None = None) -> bool:
    """Whether the catalog says the model has a capability ("vision", "function_calling", …); unknown → False."""
    info = find_model(model, provider)
    if info is None:
        return False
    flag = "supports_" + capability.removeprefix("supports_")
    if flag in FLAG_FIELDS:
        return bool(getattr(info, flag))
    return bool(info.extra.get(flag))  # a flag a registration added (e.g. supports_computer_use)


def unknown_model_error(model: str, provider: str | None = None) -> NotFoundError:
    """The error for a model the catalog lacks, naming the way to add it."""
    shown = f"{provider}/{model}" if provider and not model.startswith(provider + "/") else model
    return NotFoundError(
        f"model {shown!r} is not in sluicegate's model catalog; add it with sluicegate.register_model("
        f"{{{shown!r}: {{'litellm_provider': '…', 'mode': 'chat', 'input_cost_per_token': …, "
        f"'output_cost_per_token': …, 'max_input_tokens': …}}}})",
        model=model, provider=provider)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _litellm_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    out = {name: _plain(value) for name, value in entry.items() if name != "aliases"}
    # LiteLLM's legacy `max_tokens`: the output limit where one is published, else the context window.
    out["max_tokens"] = out.get("max_output_tokens") or out.get("max_input_tokens")
    return out


def get_model_info(model: str, custom_llm_provider: str | None = None) -> dict[str, Any]:
    """LiteLLM's `get_model_info`: the entry's fields (prices as floats); raises NotFoundError if unknown."""
    info = find_model(model, custom_llm_provider)
    if info is None:
        raise unknown_model_error(model, custom_llm_provider)
    out: dict[str, Any] = {"key": info.key, "litellm_provider": info.provider, "mode": info.mode}
    out.update((name, _plain(getattr(info, name))) for name in PRICE_FIELDS + INT_FIELDS + FLAG_FIELDS)
    out["tokenizer"] = info.tokenizer
    out.update((name, _plain(value)) for name, value in info.extra.items())
    out["max_tokens"] = info.max_output_tokens or info.max_input_tokens
    return out


def supports_function_calling(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the model takes `tools` / `functions`."""
    return supports(model, "function_calling", custom_llm_provider)


def supports_parallel_function_calling(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the model may call several tools in one turn."""
    return supports(model, "parallel_function_calling", custom_llm_provider)


def supports_tool_choice(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the model honours `tool_choice`."""
    return supports(model, "tool_choice", custom_llm_provider)


def supports_vision(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the model takes image input."""
    return supports(model, "vision", custom_llm_provider)


def supports_response_schema(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the model takes a JSON-schema `response_format`."""
    return supports(model, "response_schema", custom_llm_provider)


def supports_system_messages(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the model takes a system message."""
    return supports(model, "system_messages", custom_llm_provider)


def supports_prompt_caching(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the provider caches prompt prefixes for this model."""
    return supports(model, "prompt_caching", custom_llm_provider)


def supports_reasoning(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the model reasons before answering (reasoning_effort / thinking)."""
    return supports(model, "reasoning", custom_llm_provider)


def supports_audio_input(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the model takes audio input."""
    return supports(model, "audio_input", custom_llm_provider)


def supports_audio_output(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the model can answer with audio."""
    return supports(model, "audio_output", custom_llm_provider)


def supports_pdf_input(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the model takes PDF files."""
    return supports(model, "pdf_input", custom_llm_provider)


def supports_web_search(model: str, custom_llm_provider: str | None = None) -> bool:
    """LiteLLM-compatible: whether the provider offers web search with this model."""
    return supports(model, "web_search", custom_llm_provider)


def _registration_target(catalog: _Catalog, name: str, provider: str | None) -> tuple[str, dict[str, Any]]:
    """The canonical key a registration writes, and the entry it merges into."""
    if provider is None:
        if name in catalog.entries:
            return name, catalog.entries[name]
        prefix, slash, rest = name.partition("/")
        if slash and prefix in catalog.providers:
            provider, name = prefix, rest
        else:
            known = catalog.bare.get(name)
            if known is None:
                raise ValueError(f"cannot tell which provider serves {name!r}: give its entry a 'litellm_provider' "
                                 f"(e.g. 'openai') or key it 'provider/{name}'")
            provider = known.provider
    elif name.startswith(provider + "/"):
        name = name[len(provider) + 1:]
    key = f"{provider}/{name}"
    if key in catalog.entries:
        return key, catalog.entries[key]
    # A dated alias ("gpt-4o-2024-08-06") gets an entry of its own, seeded from its model, as LiteLLM keeps
    # one entry per snapshot: overriding the snapshot's price must not change the undated model's.
    aliased = catalog.in_provider.get((provider, name))
    if aliased is None:
        return key, {}
    return key, {k: v for k, v in catalog.entries[aliased.key].items() if k != "aliases"}


def _registration_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    out = {name: (_decimal(value) if "cost" in name and isinstance(value, int | float) else value)
           for name, value in fields.items() if name not in ("max_tokens", "key")}
    if "max_output_tokens" not in out and fields.get("max_tokens") is not None:
        out["max_output_tokens"] = fields["max_tokens"]  # LiteLLM's legacy name for the output limit
    return out


def _registration_file(path: str | os.PathLike[str]) -> Mapping[str, Mapping[str, Any]]:
    if str(path).startswith(("http://", "https://")):
        raise ValueError("sluicegate never downloads at run time: save the JSON file and pass its path")
    data = _read_json(path)
    if isinstance(data.get("models"), Mapping):
        return data["models"]  # a file in sluicegate's own models.json shape
    return data  # LiteLLM's shape: {name: {fields}}


def register_model(model_cost: Mapping[str, Mapping[str, Any]] | str | os.PathLike[str]) -> ModelCostView:
    """Add or override catalog entries, LiteLLM-style: `{name: {fields}}`, or the path of a JSON file of that shape.

    Names may be bare (`"my-model"` with `"litellm_provider"` in its entry) or `"provider/model"`; an
    existing entry is merged into, field by field. Takes effect at once in every lookup.

        sluicegate.register_model({"openai/gpt-4o": {"input_cost_per_token": 2e-06}})
    """
    if isinstance(model_cost, str | os.PathLike):
        model_cost = _registration_file(model_cost)
    global _current
    with _lock:
        catalog = _load_locked()
        entries = dict(catalog.entries)
        for name, fields in model_cost.items():
            if name == "sample_spec":  # LiteLLM's price file documents its schema in this pseudo-entry
                continue
            if not isinstance(fields, Mapping):
                raise ValueError(f"register_model: the entry for {name!r} must be a dict of fields")
            given = fields.get("litellm_provider")
            key, base = _registration_target(catalog, name, canonical_provider(given) if given else None)
            merged = {**entries.get(key, base), **_registration_fields(fields)}  # earlier names in this call count
            merged["litellm_provider"] = key.partition("/")[0]
            merged.setdefault("mode", "chat")
            entries[key] = merged
        _current = _Catalog(entries)
    return model_cost_view


# LiteLLM keys these providers' models without a prefix ("gpt-4o"); `model_cost` answers to both forms.
_BARE_KEY_PROVIDERS = ("openai",)


class ModelCostView(Mapping[str, dict[str, Any]]):
    """LiteLLM's `model_cost`, read-only: canonical keys plus LiteLLM's bare keys for OpenAI models.

    Each lookup returns a fresh dict with float prices; change prices with `register_model`.
    """

    __slots__ = ()

    @staticmethod
    def _keys() -> dict[str, str]:
        catalog = _catalog()
        keys = catalog.cost_keys
        if keys is None:
            keys = {key: key for key in catalog.entries}
            for info in catalog.infos.values():
                if info.provider in _BARE_KEY_PROVIDERS:
                    for name in (info.model, *info.aliases):
                        keys.setdefault(name, info.key)
            catalog.cost_keys = keys
        return keys

    def __getitem__(self, key: str) -> dict[str, Any]:
        canonical = self._keys()[key]
        return _litellm_entry(_catalog().entries[canonical])

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __repr__(self) -> str:
        return f"<sluicegate.model_cost: {len(self)} keys>"


model_cost_view = ModelCostView()
