"""Cost of a usage: exact Decimal arithmetic, cached / cache-write / reasoning tokens, long-context tiers."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from sluicegate.catalog import lookup
from sluicegate.catalog.cost import (
    completion_cost,
    cost_parts,
    cost_per_token,
    response_cost_or_none,
    usage_cost,
)
from sluicegate.catalog.lookup import ModelInfo, find_model, register_model
from sluicegate.errors import NotFoundError

D = Decimal


@pytest.fixture
def restore_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    lookup._catalog()
    monkeypatch.setattr(lookup, "_current", lookup._current)


def _info(model: str, provider: str | None = None) -> ModelInfo:
    info = find_model(model, provider)
    assert info is not None, model
    return info


def test_plain_usage_is_priced_exactly() -> None:
    # gpt-4o-mini: $0.15 / $0.60 per 1M tokens
    cost = usage_cost(_info("gpt-4o-mini"), {"prompt_tokens": 1000, "completion_tokens": 500})
    assert cost == D("1000") * D("0.00000015") + D("500") * D("0.0000006") == D("0.00045")
    assert isinstance(cost, Decimal)


def test_openai_cached_tokens_are_priced_at_the_cache_rate_and_not_also_as_input() -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "prompt_tokens_details": {"cached_tokens": 400}}
    # 600 uncached × 0.15/M + 400 cached × 0.075/M + 500 out × 0.60/M
    assert usage_cost(_info("gpt-4o-mini"), usage) == D("0.00009") + D("0.00003") + D("0.0003") == D("0.00042")


def test_anthropic_cache_reads_and_writes_are_priced_at_their_own_rates() -> None:
    usage = {"prompt_tokens": 3000, "completion_tokens": 200,
             "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 500}
    # claude-sonnet-4-5: input 3/M, cache read 0.30/M, cache write 3.75/M, output 15/M
    expected = 1500 * D("0.000003") + 1000 * D("0.0000003") + 500 * D("0.00000375") + 200 * D("0.000015")
    assert expected == D("0.009675")
    assert usage_cost(_info("claude-sonnet-4-5", "anthropic"), usage) == expected


def test_cache_reads_reported_in_both_shapes_are_counted_once() -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 0, "cache_read_input_tokens": 400,
             "prompt_tokens_details": {"cached_tokens": 400}}
    assert usage_cost(_info("gpt-4o-mini"), usage) == 600 * D("0.00000015") + 400 * D("0.000000075")


def test_usage_objects_are_read_like_dicts() -> None:
    usage = SimpleNamespace(prompt_tokens=1000, completion_tokens=500,
                            prompt_tokens_details=SimpleNamespace(cached_tokens=400), completion_tokens_details=None)
    assert usage_cost(_info("gpt-4o-mini"), usage) == D("0.00042")


def test_reasoning_tokens_cost_the_output_price_when_no_separate_price_is_set() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 1000, "completion_tokens_details": {"reasoning_tokens": 800}}
    # o3-mini: 1.10 / 4.40 per 1M; reasoning tokens are already inside completion_tokens
    assert usage_cost(_info("o3-mini"), usage) == 100 * D("0.0000011") + 1000 * D("0.0000044") == D("0.00451")


@pytest.mark.usefixtures("restore_catalog")
def test_reasoning_tokens_use_their_own_price_when_the_catalog_has_one() -> None:
    register_model({"acme/thinker": {"litellm_provider": "acme", "input_cost_per_token": 1e-06,
                                     "output_cost_per_token": 2e-06, "output_cost_per_reasoning_token": 5e-06,
                                     "max_input_tokens": 1000}})
    usage = {"prompt_tokens": 10, "completion_tokens": 100, "completion_tokens_details": {"reasoning_tokens": 60}}
    assert usage_cost(_info("acme/thinker"), usage) == 10 * D("0.000001") + 40 * D("0.000002") + 60 * D("0.000005")


@pytest.mark.usefixtures("restore_catalog")
def test_a_free_cache_read_is_free_not_billed_as_input() -> None:
    register_model({"acme/cached": {"litellm_provider": "acme", "input_cost_per_token": 1e-06,
                                    "output_cost_per_token": 1e-06, "cache_read_input_token_cost": 0,
                                    "max_input_tokens": 1000}})
    usage = {"prompt_tokens": 100, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 100}}
    assert usage_cost(_info("acme/cached"), usage) == 0


def test_long_prompts_switch_the_whole_request_to_the_tiered_prices() -> None:
    pro = _info("gemini/gemini-2.5-pro")  # 1.25 / 10 per 1M, 2.50 / 15 above 200k prompt tokens
    at_threshold = usage_cost(pro, {"prompt_tokens": 200_000, "completion_tokens": 1000})
    assert at_threshold == 200_000 * D("0.00000125") + 1000 * D("0.00001") == D("0.26")
    above = usage_cost(pro, {"prompt_tokens": 250_000, "completion_tokens": 1000})
    assert above == 250_000 * D("0.0000025") + 1000 * D("0.000015") == D("0.64")
    cached = usage_cost(pro, {"prompt_tokens": 250_000, "completion_tokens": 1000,
                              "prompt_tokens_details": {"cached_tokens": 100_000}})
    assert cached == 150_000 * D("0.0000025") + 100_000 * D("0.00000025") + 1000 * D("0.000015") == D("0.415")


def test_claude_long_context_tiers_cover_cache_writes() -> None:
    usage = {"prompt_tokens": 300_000, "completion_tokens": 100, "cache_creation_input_tokens": 100_000}
    # claude-sonnet-4 above 200k: input 6/M, cache write 7.50/M, output 22.50/M
    expected = 200_000 * D("0.000006") + 100_000 * D("0.0000075") + 100 * D("0.0000225")
    assert usage_cost(_info("claude-sonnet-4-20250514", "anthropic"), usage) == expected


def test_embeddings_bill_input_only() -> None:
    prompt_cost, completion_part = cost_parts(_info("text-embedding-3-small"),
                                              {"prompt_tokens": 1000, "completion_tokens": 7})
    assert (prompt_cost, completion_part) == (D("0.00002"), D(0))


def test_a_model_without_a_published_price_raises_naming_the_fix() -> None:
    with pytest.raises(NotFoundError, match="register_model"):
        usage_cost(_info("nvidia_nim/meta/llama-3.3-70b-instruct"), {"prompt_tokens": 1, "completion_tokens": 1})


# --- LiteLLM-compatible entry points ----------------------------------------------------------------------


def test_cost_per_token_returns_prompt_and_completion_costs() -> None:
    assert cost_per_token(model="gpt-4o-mini", prompt_tokens=1000, completion_tokens=500) == (
        float(D("0.00015")), float(D("0.0003")))
    prompt_cost, _ = cost_per_token(model="claude-sonnet-4-5", prompt_tokens=2000, completion_tokens=0,
                                    custom_llm_provider="anthropic", cache_read_input_tokens=1000,
                                    cache_creation_input_tokens=500)
    assert prompt_cost == float(500 * D("0.000003") + 1000 * D("0.0000003") + 500 * D("0.00000375"))
    usage = SimpleNamespace(prompt_tokens=10, completion_tokens=10, prompt_tokens_details=None,
                            completion_tokens_details=None)
    assert cost_per_token(model="gpt-4o", usage_object=usage) == (float(D("0.000025")), float(D("0.0001")))
    with pytest.raises(NotFoundError):
        cost_per_token(model="no-such-model", prompt_tokens=1)


class _Response:
    """A response object as the SDK returns it: attributes, and LiteLLM's _hidden_params."""

    def __init__(self, model: str, usage: Any, provider: str | None = None) -> None:
        self.model = model
        self.usage = usage
        self._hidden_params = {"custom_llm_provider": provider} if provider else {}


def test_completion_cost_of_a_response_dict_and_object() -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    assert completion_cost({"model": "gpt-4o-mini-2024-07-18", "usage": usage}) == float(D("0.00045"))
    bedrock = _Response("us.anthropic.claude-haiku-4-5-20251001-v1:0", usage, provider="bedrock")
    # the us. profile: 1.10 / 5.50 per 1M
    assert completion_cost(bedrock) == float(1000 * D("0.0000011") + 500 * D("0.0000055"))
    assert completion_cost(bedrock, model="gpt-4o-mini", custom_llm_provider="openai") == float(D("0.00045"))


def test_completion_cost_counts_tokens_when_there_is_no_usage() -> None:
    messages = [{"role": "user", "content": "hello world"}]  # 3 + 1 ("user") + 2 + 3 priming = 9 tokens
    cost = completion_cost(model="gpt-4o", messages=messages, completion="hello world")
    assert cost == float(9 * D("0.0000025") + 2 * D("0.00001"))
    assert completion_cost(model="gpt-4o", prompt="hello world") == float(2 * D("0.0000025"))


def test_completion_cost_of_an_unknown_model_raises() -> None:
    with pytest.raises(NotFoundError):
        completion_cost({"model": "no-such-model", "usage": {"prompt_tokens": 1, "completion_tokens": 1}})


def test_response_cost_or_none_never_raises() -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    assert response_cost_or_none({"model": "gpt-4o-mini", "usage": usage}) == D("0.00045")
    assert response_cost_or_none({"model": "no-such-model", "usage": usage}) is None
    assert response_cost_or_none({"model": "gpt-4o-mini"}) is None  # no usage to price
    assert response_cost_or_none(_Response("meta/llama-3.3-70b-instruct", usage, provider="nvidia_nim")) is None
