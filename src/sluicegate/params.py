"""OpenAI request parameters as typed objects, and the one check for parameters a provider cannot take.

Parameters keep OpenAI's names. A field left at `None` was not set by the caller and is never sent.
Keyword arguments that are not OpenAI parameters travel in `provider_params` and are sent as given
(a provider's own extension, e.g. `top_k` for vLLM), as LiteLLM users expect.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sluicegate.errors import BadRequestError, UnsupportedParamsError


@dataclass(slots=True)
class ChatParams:
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    n: int | None = None
    seed: int | None = None
    user: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    stream_options: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    service_tier: str | None = None
    store: bool | None = None
    web_search_options: dict[str, Any] | None = None
    verbosity: str | None = None
    prompt_cache_key: str | None = None
    safety_identifier: str | None = None
    # Deprecated by OpenAI in favour of tools/tool_choice, still accepted by its API.
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    provider_params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EmbeddingParams:
    input: str | list[str] | list[int] | list[list[int]] = ""
    dimensions: int | None = None
    encoding_format: str | None = None
    user: str | None = None
    provider_params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class TextCompletionParams:
    prompt: str | list[str] | list[int] | list[list[int]] = ""
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None
    logprobs: int | None = None
    echo: bool | None = None
    best_of: int | None = None
    suffix: str | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    stream_options: dict[str, Any] | None = None
    provider_params: dict[str, Any] = field(default_factory=dict)


Params = ChatParams | EmbeddingParams | TextCompletionParams

# Fields of each params type that are OpenAI parameters (everything but provider_params), computed once.
_OPENAI_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls) if f.name != "provider_params")
    for cls in (ChatParams, EmbeddingParams, TextCompletionParams)
}
CHAT_PARAM_NAMES: frozenset[str] = frozenset(_OPENAI_FIELDS[ChatParams])
EMBEDDING_PARAM_NAMES: frozenset[str] = frozenset(_OPENAI_FIELDS[EmbeddingParams])
TEXT_COMPLETION_PARAM_NAMES: frozenset[str] = frozenset(_OPENAI_FIELDS[TextCompletionParams])


def _accepted_types(annotation: str) -> tuple[type, ...]:
    """The runtime types a field's annotation allows ("float | None" → int, float): outer types only."""
    names = {part.strip().split("[", 1)[0] for part in annotation.split("|")} - {"None"}
    accepted: list[type] = []
    for name in names:
        accepted += _RUNTIME_TYPES[name]
    return tuple(accepted)


_RUNTIME_TYPES: dict[str, list[type]] = {"float": [int, float], "int": [int], "str": [str], "bool": [bool],
                                         "list": [list], "dict": [dict], "Any": [object]}


_TYPES: dict[type, dict[str, tuple[type, ...]]] = {
    cls: {f.name: _accepted_types(str(f.type)) for f in fields(cls) if f.name != "provider_params"}
    for cls in (ChatParams, EmbeddingParams, TextCompletionParams)
}
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "a boolean", list: "a list",
               dict: "an object", object: "any value"}


def build_params(cls: type[Params], kwargs: dict[str, Any]) -> Params:
    """Split keyword arguments into the typed OpenAI fields and the provider's own extras.

    A known field of the wrong type (`n="many"`) is a BadRequestError here, never a provider's problem.
    """
    types = _TYPES[cls]
    known: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for name, value in kwargs.items():
        if value is None:
            continue
        accepted = types.get(name)
        if accepted is None:
            extras[name] = value
            continue
        # bool is an int to Python, never to an API: temperature=True is a mistake.
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            wanted = " or ".join(dict.fromkeys(_TYPE_NAMES[t] for t in accepted))
            raise BadRequestError(f"{name} must be {wanted}, not {type(value).__name__} ({value!r:.40})",
                                  param=name, code="invalid_type")
        known[name] = value
    return cls(**known, provider_params=extras)


def set_params(params: Params) -> dict[str, Any]:
    """The OpenAI parameters the caller set (not None), by name, in declaration order."""
    out: dict[str, Any] = {}
    for name in _OPENAI_FIELDS[type(params)]:
        value = getattr(params, name)
        if value is not None:
            out[name] = value
    return out


def enforce_supported(
    params: Params, supported: frozenset[str], *, drop_params: bool, provider: str, model: str
) -> list[str]:
    """Raise for parameters the provider cannot take, or clear them when `drop_params`; returns those dropped."""
    unsupported = [name for name in _OPENAI_FIELDS[type(params)]
                   if name not in supported and getattr(params, name) is not None
                   and name not in ("input", "prompt")]
    if not unsupported:
        return []
    if not drop_params:
        names = ", ".join(unsupported)
        raise UnsupportedParamsError(
            f"{provider} does not support the parameter(s) {names} for model {model}. "
            "Pass drop_params=True (or set sluicegate.drop_params = True) to drop them instead.",
            provider=provider, model=model, param=unsupported[0])
    for name in unsupported:
        setattr(params, name, None)
    return unsupported
