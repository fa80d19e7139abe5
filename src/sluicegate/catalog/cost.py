"""What a call cost: the catalog's exact Decimal prices applied to an OpenAI-shaped usage.

Not a billing system: batch, priority and flex tiers, per-request search fees and audio/image token
prices are not modelled here.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sluicegate.catalog.lookup import ModelInfo, find_model, unknown_model_error
from sluicegate.errors import NotFoundError

# Gemini 2.5 Pro and Claude Sonnet 4 / 4.5 (1M context) bill the whole request at their *_above_200k_tokens
# prices once the prompt exceeds this many tokens (cached and cache-write tokens included).
LONG_CONTEXT_THRESHOLD_TOKENS = 200_000

_ZERO = Decimal(0)


def _field(obj: Any, name: str) -> Any:
    """A field of a dict or of an object (pydantic model, SDK response); None when absent."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(obj: Any, name: str) -> int:
    return int(_field(obj, name) or 0)


def _rate(info: ModelInfo, name: str, long_context: bool) -> Decimal | None:
    if long_context:
        tiered = getattr(info, f"{name}_above_200k_tokens")
        if tiered is not None:
            return tiered
    return getattr(info, name)


def _either(price: Decimal | None, otherwise: Decimal) -> Decimal:
    return otherwise if price is None else price  # not `or`: a price of 0 (a free cache read) is a price


def _missing_price(info: ModelInfo, name: str) -> NotFoundError:
    return NotFoundError(
        f"the catalog has no {name} for {info.key!r} (the provider publishes none); set one with "
        f"sluicegate.register_model({{{info.key!r}: {{{name!r}: …}}}})", model=info.model, provider=info.provider)


def cost_parts(info: ModelInfo, usage: Any) -> tuple[Decimal, Decimal]:
    """(prompt cost, completion cost) in USD for an OpenAI-shaped usage (a dict or a Usage object)."""
    prompt = _count(usage, "prompt_tokens")
    completion = _count(usage, "completion_tokens")
    # Cache reads arrive as OpenAI's prompt_tokens_details.cached_tokens or as Anthropic's
    # cache_read_input_tokens; they are the same tokens, so take one, never both.
    cache_read = max(_count(usage, "cache_read_input_tokens"),
                     _count(_field(usage, "prompt_tokens_details"), "cached_tokens"))
    cache_write = _count(usage, "cache_creation_input_tokens")
    long_context = prompt > LONG_CONTEXT_THRESHOLD_TOKENS

    input_rate = _rate(info, "input_cost_per_token", long_context)
    if input_rate is None:
        raise _missing_price(info, "input_cost_per_token")
    # prompt_tokens counts every input token, cached or not (OpenAI's convention; adapters for providers
    # that report cache tokens separately add them in). Cached reads and cache writes are priced at their
    # own rates and NOT also at the input rate; a model without a separate rate bills them as plain input.
    read_rate = _either(_rate(info, "cache_read_input_token_cost", long_context), input_rate)
    write_rate = _either(_rate(info, "cache_creation_input_token_cost", long_context), input_rate)
    uncached = max(prompt - cache_read - cache_write, 0)
    prompt_cost = uncached * input_rate + cache_read * read_rate + cache_write * write_rate

    if info.mode == "embedding":  # embeddings bill their input only
        return prompt_cost, _ZERO
    output_rate = _rate(info, "output_cost_per_token", long_context)
    if output_rate is None:
        raise _missing_price(info, "output_cost_per_token")
    # Reasoning tokens are part of completion_tokens; they cost output_cost_per_reasoning_token only
    # where the catalog sets one (it does only when the provider prices them differently).
    reasoning = min(_count(_field(usage, "completion_tokens_details"), "reasoning_tokens"), completion)
    reasoning_rate = _either(info.output_cost_per_reasoning_token, output_rate)
    completion_cost = (completion - reasoning) * output_rate + reasoning * reasoning_rate
    return prompt_cost, completion_cost


def usage_cost(info: ModelInfo, usage: Mapping[str, Any] | Any) -> Decimal:
    """The exact cost in USD of one call's usage (prompt plus completion)."""
    prompt_cost, completion_cost = cost_parts(info, usage)
    return prompt_cost + completion_cost


def _known_model(model: str, provider: str | None) -> ModelInfo:
    info = find_model(model, provider)
    if info is None:
        raise unknown_model_error(model, provider)
    return info


def cost_per_token(
    model: str = "",
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    custom_llm_provider: str | None = None,
    cache_read_input_tokens: int = 0,
    cache_creation_input_tokens: int = 0,
    usage_object: Any = None,
    **_: Any,
) -> tuple[float, float]:
    """LiteLLM-compatible: (prompt cost, completion cost) in USD. Cache token counts are part of prompt_tokens."""
    info = _known_model(model, custom_llm_provider)
    usage = usage_object if usage_object is not None else {
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "cache_read_input_tokens": cache_read_input_tokens,
        "cache_creation_input_tokens": cache_creation_input_tokens,
    }
    prompt_cost, completion_cost = cost_parts(info, usage)
    return float(prompt_cost), float(completion_cost)


def _response_model(response: Any, model: str | None, provider: str | None) -> tuple[str, str | None]:
    model = model or _field(response, "model") or ""
    hidden = _field(response, "_hidden_params")
    if not provider and isinstance(hidden, Mapping):
        provider = hidden.get("custom_llm_provider")
    return model, provider


def completion_cost(
    completion_response: Any = None,
    model: str | None = None,
    prompt: str = "",
    messages: list[dict[str, Any]] | None = None,
    completion: str = "",
    custom_llm_provider: str | None = None,
    **_: Any,
) -> float:
    """LiteLLM-compatible: the USD cost of a response (its `.usage`), or of prompt/messages and completion text.

    Without a usage to read, tokens are counted with `token_counter`. Raises NotFoundError for a model
    the catalog does not know.
    """
    model, provider = _response_model(completion_response, model, custom_llm_provider)
    info = _known_model(model, provider)
    usage = _field(completion_response, "usage")
    if usage is None:
        from sluicegate.catalog.tokens import token_counter  # tiktoken loads only when counting is needed

        prompt_tokens = token_counter(model=model, messages=messages) if messages else (
            token_counter(model=model, text=prompt) if prompt else 0)
        completion_tokens = token_counter(model=model, text=completion, count_response_tokens=True) if completion else 0
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    return float(usage_cost(info, usage))


def response_cost_or_none(
    response: Any, model: str | None = None, custom_llm_provider: str | None = None,
) -> Decimal | None:
    """The exact cost of a response from its usage, or None when the model, a price or the usage is unknown.

    For the SDK and the gateway to attach to every response without ever failing the call.
    """
    usage = _field(response, "usage")
    if usage is None:
        return None
    model, provider = _response_model(response, model, custom_llm_provider)
    info = find_model(model, provider) if model else None
    if info is None:
        return None
    try:
        return usage_cost(info, usage)
    except NotFoundError:  # a known model without a published price
        return None
