"""The catalog data and its lookup API: key forms, aliases, fallbacks, registration, LiteLLM-shaped views."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import sluicegate.catalog as catalog
from sluicegate.catalog import lookup
from sluicegate.catalog.lookup import (
    FLAG_FIELDS,
    INT_FIELDS,
    PRICE_FIELDS,
    find_model,
    get_model_info,
    model_cost_view,
    register_model,
    resolve_provider,
    supports,
)
from sluicegate.errors import NotFoundError

MODELS_JSON = Path(lookup.CATALOG_FILE)
# Fields an entry may carry beyond the ones ModelInfo names: LiteLLM's names for prices we keep but do not
# apply (1-hour cache writes, audio input, Vertex's per-character embedding price).
KNOWN_EXTRA_FIELDS = {"cache_creation_input_token_cost_above_1hr", "input_cost_per_audio_token",
                      "input_cost_per_character"}
ENCODINGS = {"o200k_base", "cl100k_base", "r50k_base", "p50k_base"}


@pytest.fixture
def restore_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations in a test must not leak into the next one."""
    lookup._catalog()
    monkeypatch.setattr(lookup, "_current", lookup._current)


def _raw_models() -> dict[str, dict]:
    return json.loads(MODELS_JSON.read_text(encoding="utf-8"))["models"]


# --- the data file -------------------------------------------------------------------------------------


def test_catalog_file_is_well_formed_per_schema() -> None:
    data = json.loads(MODELS_JSON.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1
    models = data["models"]
    assert 150 <= len(models) <= 250
    allowed = {"litellm_provider", "mode", "tokenizer", "aliases", *PRICE_FIELDS, *INT_FIELDS, *FLAG_FIELDS,
               *KNOWN_EXTRA_FIELDS}
    for key, entry in models.items():
        provider, slash, name = key.partition("/")
        assert slash, key
        assert name, key
        assert entry["litellm_provider"] == provider, key
        assert entry["mode"] in {"chat", "completion", "embedding"}, key
        assert set(entry) <= allowed, (key, set(entry) - allowed)
        assert isinstance(entry["max_input_tokens"], int), key
        assert entry["max_input_tokens"] > 0, key
        if "max_output_tokens" in entry:
            assert isinstance(entry["max_output_tokens"], int), key
            assert entry["max_output_tokens"] > 0, key
        for price in PRICE_FIELDS:
            if price in entry and entry[price] is not None:
                assert isinstance(entry[price], int | float), (key, price)
                assert entry[price] >= 0, (key, price)
        assert "input_cost_per_token" in entry, key
        if entry["mode"] in ("chat", "completion"):
            assert "output_cost_per_token" in entry, key
            assert all(isinstance(entry[flag], bool) for flag in FLAG_FIELDS), key
            if entry["input_cost_per_token"] is None or entry["output_cost_per_token"] is None:
                assert provider == "nvidia_nim", f"{key}: only NVIDIA NIM publishes no per-token price"
        else:
            assert isinstance(entry["output_vector_size"], int), key
        assert entry.get("tokenizer") in ENCODINGS | {None}, key
        assert all(isinstance(alias, str) and "/" not in alias for alias in entry.get("aliases", ())), key


def test_every_provider_the_brief_names_is_in_the_catalog() -> None:
    providers = {key.partition("/")[0] for key in _raw_models()}
    assert providers >= {"openai", "azure", "anthropic", "gemini", "vertex_ai", "bedrock", "cohere", "groq",
                         "together_ai", "fireworks_ai", "deepseek", "xai", "mistral", "openrouter", "perplexity",
                         "cerebras", "deepinfra", "nvidia_nim", "sambanova"}


def test_no_alias_shadows_another_model_of_the_same_provider() -> None:
    names: dict[tuple[str, str], str] = {}
    for key, entry in _raw_models().items():
        provider, _, name = key.partition("/")
        for alias in (name, *entry.get("aliases", ())):
            assert (provider, alias) not in names, (key, names.get((provider, alias)))
            names[(provider, alias)] = key


def test_prices_load_as_exact_decimals() -> None:
    info = find_model("openai/gpt-4o-mini")
    assert info is not None
    assert info.input_cost_per_token == Decimal("0.00000015")
    assert info.output_cost_per_token == Decimal("0.0000006")
    assert info.cache_read_input_token_cost == Decimal("0.000000075")


# --- find_model ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "provider"), [
    ("openai/gpt-4o-mini", None),  # canonical key
    ("gpt-4o-mini", None),  # bare name: openai is preferred over azure and openrouter
    ("gpt-4o-mini-2024-07-18", None),  # dated alias
    ("gpt-4o-mini", "openai"),  # provider + bare name
    ("openai/gpt-4o-mini", "openai"),  # provider + prefixed name
    ("gpt-4o-mini-2024-07-18", "openai"),  # provider + alias
])
def test_find_model_accepts_every_key_form(model: str, provider: str | None) -> None:
    info = find_model(model, provider)
    assert info is not None
    assert (info.key, info.provider, info.model, info.mode) == ("openai/gpt-4o-mini", "openai", "gpt-4o-mini", "chat")


def test_find_model_keeps_the_provider_a_prefix_names() -> None:
    assert find_model("azure/gpt-4o").key == "azure/gpt-4o"  # type: ignore[union-attr]
    assert find_model("gpt-4o", "azure").key == "azure/gpt-4o"  # type: ignore[union-attr]
    assert find_model("openrouter/openai/gpt-4o").key == "openrouter/openai/gpt-4o"  # type: ignore[union-attr]
    assert find_model("groq/gpt-4o") is None  # a known prefix never borrows another provider's model


def test_azure_falls_back_to_the_openai_model_of_the_same_name() -> None:
    assert find_model("azure/text-embedding-3-small").key == "openai/text-embedding-3-small"  # type: ignore[union-attr]
    assert find_model("gpt-5.1", "azure").key == "openai/gpt-5.1"  # type: ignore[union-attr]
    assert find_model("azure/no-such-model") is None


def test_find_model_reads_litellm_route_names_as_providers() -> None:
    assert find_model("gpt-3.5-turbo-instruct", "text-completion-openai").mode == "completion"  # type: ignore[union-attr]
    assert find_model("gemini-2.5-pro", "vertex_ai-language-models").key == "vertex_ai/gemini-2.5-pro"  # type: ignore[union-attr]
    assert find_model("command-r-08-2024", "cohere_chat").key == "cohere/command-r-08-2024"  # type: ignore[union-attr]


def test_find_model_provider_specific_names() -> None:
    vertex = find_model("claude-sonnet-4-5@20250929", "vertex_ai")
    assert vertex is not None
    assert vertex.key == "vertex_ai/claude-sonnet-4-5"
    geo = find_model("bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert geo is not None
    assert geo.input_cost_per_token == Decimal("0.0000033")
    together = find_model("meta-llama/Llama-3.3-70B-Instruct-Turbo")  # a bare name that contains a slash
    assert together is not None
    assert together.provider == "together_ai"


def test_find_model_returns_none_for_unknown_models() -> None:
    assert find_model("no-such-model") is None
    assert find_model("openai/no-such-model") is None
    assert find_model("gpt-4o-mini", "anthropic") is None


def test_model_info_is_frozen_and_hashable() -> None:
    info = find_model("gpt-4o")
    assert info is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.mode = "embedding"  # type: ignore[misc]
    assert hash(info) == hash(find_model("openai/gpt-4o"))


def test_resolve_provider_of_bare_and_prefixed_names() -> None:
    assert resolve_provider("gpt-4o-mini") == "openai"
    assert resolve_provider("claude-sonnet-4-5") == "anthropic"
    assert resolve_provider("claude-sonnet-4-5-20250929") == "anthropic"
    assert resolve_provider("gemini-2.5-flash") == "gemini"
    assert resolve_provider("anthropic.claude-opus-4-6-v1") == "bedrock"
    assert resolve_provider("deepseek-reasoner") == "deepseek"
    assert resolve_provider("azure/some-deployment") == "azure"  # a known prefix answers for itself
    assert resolve_provider("no-such-model") is None


# --- capabilities ----------------------------------------------------------------------------------------


def test_supports_reads_capability_flags_from_the_data() -> None:
    assert supports("gpt-4o", "vision")
    assert supports("gpt-4o", "supports_vision")  # LiteLLM's field name works too
    assert not supports("gpt-3.5-turbo", "vision")
    assert supports("o3-mini", "reasoning")
    assert not supports("gpt-4o", "reasoning")
    assert supports("gemini-2.5-flash", "audio_input")
    assert not supports("no-such-model", "function_calling")
    assert not supports("gpt-4o", "no_such_capability")


def test_litellm_supports_functions() -> None:
    assert catalog.supports_function_calling("gpt-4o-mini")
    assert not catalog.supports_function_calling("text-embedding-3-small")
    assert catalog.supports_parallel_function_calling("gpt-4.1")
    assert not catalog.supports_parallel_function_calling("o3")
    assert catalog.supports_vision("claude-sonnet-4-5", custom_llm_provider="anthropic")
    assert catalog.supports_response_schema("gemini/gemini-2.5-pro")
    assert catalog.supports_reasoning("deepseek/deepseek-reasoner")
    assert not catalog.supports_reasoning("deepseek-chat")
    assert catalog.supports_prompt_caching("claude-haiku-4-5")
    assert not catalog.supports_prompt_caching("gpt-4")
    assert catalog.supports_audio_input("gemini-2.5-pro")
    assert not catalog.supports_audio_output("gpt-4o")
    assert catalog.supports_system_messages("gpt-4o")
    assert catalog.supports_tool_choice("gpt-4o")
    assert catalog.supports_web_search("perplexity/sonar")
    assert not catalog.supports_web_search("gpt-4o-mini")
    assert catalog.supports_pdf_input("claude-opus-4-1")
    assert not catalog.supports_pdf_input("o3-mini")
    assert not catalog.supports_vision("no-such-model")


# --- LiteLLM-shaped views --------------------------------------------------------------------------------


def test_get_model_info_returns_litellm_fields() -> None:
    info = get_model_info("gpt-4o-mini-2024-07-18")
    assert info["key"] == "openai/gpt-4o-mini"
    assert info["litellm_provider"] == "openai"
    assert info["input_cost_per_token"] == 1.5e-07
    assert isinstance(info["input_cost_per_token"], float)
    assert info["max_tokens"] == info["max_output_tokens"] == 16384
    assert info["max_input_tokens"] == 128000
    assert info["supports_vision"] is True
    assert info["cache_creation_input_token_cost"] is None
    anthropic = get_model_info("claude-sonnet-4-5", custom_llm_provider="anthropic")
    assert anthropic["cache_creation_input_token_cost_above_1hr"] == 6e-06  # extra fields come through


def test_get_model_info_of_an_unknown_model_says_how_to_register_it() -> None:
    with pytest.raises(NotFoundError) as caught:
        get_model_info("my-private-model", custom_llm_provider="openai")
    message = str(caught.value)
    assert "openai/my-private-model" in message
    assert "register_model" in message
    assert caught.value.status_code == 404


def test_model_cost_is_keyed_canonically_and_by_litellm_bare_openai_keys() -> None:
    assert model_cost_view["gpt-4o"] == model_cost_view["openai/gpt-4o"]
    assert model_cost_view["gpt-4o-2024-08-06"]["input_cost_per_token"] == 2.5e-06
    entry = model_cost_view["anthropic/claude-sonnet-4-5"]
    assert entry["litellm_provider"] == "anthropic"
    assert entry["max_tokens"] == 64000
    assert "openai/gpt-4o" in model_cost_view
    assert "no-such-model" not in model_cost_view
    assert len(model_cost_view) == len(list(model_cost_view)) > len(_raw_models())
    assert catalog.model_cost is model_cost_view


def test_model_cost_is_read_only() -> None:
    with pytest.raises(TypeError):
        model_cost_view["gpt-4o"] = {}  # type: ignore[index]
    model_cost_view["gpt-4o"]["input_cost_per_token"] = 0.0
    assert model_cost_view["gpt-4o"]["input_cost_per_token"] == 2.5e-06


# --- register_model --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("restore_catalog")
def test_register_model_adds_a_new_model() -> None:
    register_model({"my-model": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06,
                                 "output_cost_per_token": 2e-06, "max_tokens": 4096, "supports_vision": True}})
    info = find_model("my-model")
    assert info is not None
    assert info.key == "openai/my-model"
    assert info.input_cost_per_token == Decimal("0.000001")
    assert info.max_output_tokens == 4096  # LiteLLM's legacy max_tokens read as the output limit
    assert resolve_provider("my-model") == "openai"
    assert supports("my-model", "vision")
    assert model_cost_view["my-model"]["output_cost_per_token"] == 2e-06


@pytest.mark.usefixtures("restore_catalog")
def test_register_model_overrides_an_existing_entry_by_merging() -> None:
    assert find_model("gpt-4o").input_cost_per_token == Decimal("0.0000025")  # type: ignore[union-attr]  # now cached
    register_model({"gpt-4o": {"input_cost_per_token": 2e-06}})  # bare, no provider: the known model
    info = find_model("gpt-4o")
    assert info is not None
    assert info.input_cost_per_token == Decimal("0.000002")
    assert info.output_cost_per_token == Decimal("0.00001")
    assert info.max_input_tokens == 128000
    assert get_model_info("openai/gpt-4o")["input_cost_per_token"] == 2e-06
    assert model_cost_view["gpt-4o"]["input_cost_per_token"] == 2e-06


@pytest.mark.usefixtures("restore_catalog")
def test_register_model_gives_a_dated_alias_its_own_entry() -> None:
    register_model({"gpt-4o-2024-08-06": {"litellm_provider": "openai", "input_cost_per_token": 3e-06}})
    snapshot = find_model("gpt-4o-2024-08-06")
    assert snapshot is not None
    assert snapshot.key == "openai/gpt-4o-2024-08-06"
    assert snapshot.input_cost_per_token == Decimal("0.000003")
    assert snapshot.max_input_tokens == 128000
    assert find_model("gpt-4o").input_cost_per_token == Decimal("0.0000025")  # type: ignore[union-attr]
    assert find_model("gpt-4o-2024-11-20").key == "openai/gpt-4o"  # type: ignore[union-attr]


@pytest.mark.usefixtures("restore_catalog")
def test_register_model_maps_litellm_provider_names(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({
        "gemini-9-pro": {"litellm_provider": "vertex_ai-language-models", "mode": "chat",
                         "input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06, "max_input_tokens": 1000},
        "azure/eu/gpt-4o": {"litellm_provider": "azure", "input_cost_per_token": 2.75e-06,
                            "output_cost_per_token": 1.1e-05, "max_input_tokens": 128000},
        "sample_spec": {"litellm_provider": "one of …", "max_input_tokens": "max input tokens"},
    }))
    register_model(str(path))
    assert find_model("vertex_ai/gemini-9-pro").output_cost_per_token == Decimal("0.000004")  # type: ignore[union-attr]
    assert find_model("azure/eu/gpt-4o").input_cost_per_token == Decimal("0.00000275")  # type: ignore[union-attr]
    assert find_model("gpt-4o", "azure").input_cost_per_token == Decimal("0.0000025")  # type: ignore[union-attr]


@pytest.mark.usefixtures("restore_catalog")
def test_register_model_refuses_what_it_cannot_place() -> None:
    with pytest.raises(ValueError, match="litellm_provider"):
        register_model({"mystery-model": {"input_cost_per_token": 1e-06}})
    with pytest.raises(ValueError, match="never downloads"):
        register_model("https://example.com/model_prices.json")
    with pytest.raises(ValueError, match="must be a dict"):
        register_model({"openai/x": 5})  # type: ignore[dict-item]
    assert find_model("mystery-model") is None


@pytest.mark.usefixtures("restore_catalog")
def test_registered_capability_flags_beyond_the_known_ones_are_answered() -> None:
    register_model({"anthropic/claude-sonnet-4-5": {"supports_computer_use": True}})
    assert supports("claude-sonnet-4-5", "computer_use")
    assert not supports("claude-haiku-4-5", "computer_use")


# --- the package surface ---------------------------------------------------------------------------------


def test_package_all_matches_its_lazy_export_tables() -> None:
    assert sorted(catalog.__all__) == sorted([*catalog._MODULE_OF, *catalog._RENAMED])
    for name in catalog.__all__:
        assert getattr(catalog, name) is not None


def test_importing_the_catalog_reads_no_file_and_loads_no_tokenizer() -> None:
    code = ("import sys, sluicegate.catalog, sluicegate.catalog.lookup as lookup; "
            "print(lookup._current is None, 'tiktoken' in sys.modules, 'sluicegate.catalog.tokens' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False", "False"]
