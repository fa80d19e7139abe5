"""The OpenAI-compatible provider table: every row well-formed, and spot checks of facts from the docs."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest

from sluicegate.params import CHAT_PARAM_NAMES, ChatParams
from sluicegate.providers import compat
from sluicegate.providers.base import Call, Credentials, Endpoint
from sluicegate.providers.compat import COMPAT_PROVIDERS, ENDPOINTS, endpoint_for

ROWS = list(ENDPOINTS.values())
IDS = list(ENDPOINTS)
LOCAL_SERVERS = {"hosted_vllm", "lm_studio", "llamafile"}
KINDS = {"chat", "embedding", "text_completion"}
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_ADAPTER_MISSING = "the adapter module or one of its imports does not exist yet"
DOC = Path(__file__).resolve().parents[2] / "docs" / "providers" / "compatible.md"


# ---- every row is well-formed ------------------------------------------------------------------------------

def test_every_prefix_appears_once_and_keys_match_rows() -> None:
    assert len(compat._ROWS) == len(ENDPOINTS)
    assert all(key == row.provider for key, row in ENDPOINTS.items())
    assert frozenset(ENDPOINTS) == COMPAT_PROVIDERS


def test_a_duplicate_prefix_is_refused() -> None:
    row = Endpoint(provider="dup", base_url="https://example.test/v1", api_key_env=("DUP_API_KEY",))
    with pytest.raises(ValueError, match="dup"):
        compat._index([row, row])


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_prefix_is_a_lowercase_identifier(row: Endpoint) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9_]*", row.provider)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_unsupported_params_are_openai_chat_parameters(row: Endpoint) -> None:
    assert isinstance(row.unsupported_params, frozenset)
    assert row.unsupported_params <= CHAT_PARAM_NAMES, row.unsupported_params - CHAT_PARAM_NAMES


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_renames_map_openai_names_to_other_strings(row: Endpoint) -> None:
    for name, target in row.renamed_params.items():
        assert name in CHAT_PARAM_NAMES
        assert isinstance(target, str)
        assert target
        assert target != name
        assert name not in row.unsupported_params  # a renamed parameter is supported by definition


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_default_params_are_named_by_strings(row: Endpoint) -> None:
    assert all(isinstance(name, str) and name for name in row.default_params)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_base_url_is_https_except_local_servers(row: Endpoint) -> None:
    if row.base_url is None:
        assert row.provider == "hosted_vllm"  # the only row with no usable default
        return
    parts = urlsplit(row.base_url)
    assert parts.netloc
    assert not row.base_url.endswith("/")
    assert not parts.query
    assert not parts.fragment
    if row.provider in LOCAL_SERVERS:
        assert parts.scheme == "http"
        assert parts.hostname in ("localhost", "127.0.0.1")
    else:
        assert parts.scheme == "https"


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_env_var_names_are_upper_case(row: Endpoint) -> None:
    assert row.api_key_env, "every row names at least one key variable, even when the key is optional"
    assert row.base_url_env, "every row can be pointed elsewhere from the environment"
    for name in (*row.api_key_env, *row.base_url_env):
        assert ENV_NAME.fullmatch(name), name
    assert len(set(row.api_key_env)) == len(row.api_key_env)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_only_local_servers_run_without_a_key(row: Endpoint) -> None:
    assert row.requires_api_key is (row.provider not in LOCAL_SERVERS)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_kinds_are_known_and_include_chat(row: Endpoint) -> None:
    assert isinstance(row.kinds, frozenset)
    assert "chat" in row.kinds
    assert row.kinds <= KINDS


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_docs_url_is_present(row: Endpoint) -> None:
    assert row.docs_url.startswith("https://")


@pytest.mark.parametrize("adapter", sorted({row.adapter for row in ROWS}))
def test_every_adapter_named_exists(adapter: str) -> None:
    module = pytest.importorskip(f"sluicegate.providers.{adapter}", reason=_ADAPTER_MISSING)
    assert module.ADAPTER.name == adapter


def test_every_prefix_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [prefix for prefix in ENDPOINTS if f"`{prefix}/" not in text]
    assert not missing


# ---- lookups -----------------------------------------------------------------------------------------------

def test_endpoint_for_known_and_unknown_prefixes() -> None:
    assert endpoint_for("groq") is ENDPOINTS["groq"]
    assert endpoint_for("openai") is None  # served by its own adapter, not this table
    assert endpoint_for("nope") is None


def test_ollama_is_not_in_the_table() -> None:
    assert not {"ollama", "ollama_chat"} & COMPAT_PROVIDERS  # its native API is not OpenAI's


# ---- facts checked against providers' docs -----------------------------------------------------------------

def test_groq() -> None:
    groq = ENDPOINTS["groq"]
    assert groq.base_url == "https://api.groq.com/openai/v1"
    assert groq.api_key_env == ("GROQ_API_KEY",)
    assert {"logprobs", "logit_bias", "top_logprobs"} <= groq.unsupported_params
    assert groq.kinds == {"chat"}


def test_mistral_renames_seed_and_max_completion_tokens() -> None:
    mistral = ENDPOINTS["mistral"]
    assert mistral.base_url == "https://api.mistral.ai/v1"
    assert mistral.renamed_params == {"max_completion_tokens": "max_tokens", "seed": "random_seed"}


def test_perplexity_has_no_tools() -> None:
    perplexity = ENDPOINTS["perplexity"]
    assert perplexity.base_url == "https://api.perplexity.ai"
    assert {"tools", "tool_choice"} <= perplexity.unsupported_params
    assert perplexity.api_key_env[:2] == ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY")


def test_cerebras_and_sambanova_drop_the_penalties() -> None:
    for prefix in ("cerebras", "sambanova"):
        assert {"presence_penalty", "frequency_penalty", "logit_bias"} <= ENDPOINTS[prefix].unsupported_params


def test_litellm_key_variables_are_read() -> None:
    assert "TOGETHERAI_API_KEY" in ENDPOINTS["together_ai"].api_key_env
    assert "TOGETHER_API_KEY" in ENDPOINTS["together_ai"].api_key_env
    assert {"FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"} <= set(ENDPOINTS["fireworks_ai"].api_key_env)
    assert ENDPOINTS["nvidia_nim"].api_key_env[0] == "NVIDIA_NIM_API_KEY"


def test_local_servers() -> None:
    assert ENDPOINTS["hosted_vllm"].base_url is None
    assert ENDPOINTS["hosted_vllm"].base_url_env == ("HOSTED_VLLM_API_BASE",)
    assert ENDPOINTS["lm_studio"].base_url == "http://localhost:1234/v1"
    assert ENDPOINTS["llamafile"].base_url == "http://127.0.0.1:8080/v1"


def test_deepseek_reasoner_limits_are_noted_not_enforced() -> None:
    deepseek = ENDPOINTS["deepseek"]
    assert "temperature" not in deepseek.unsupported_params  # only deepseek-reasoner ignores it
    assert "deepseek-reasoner" in deepseek.notes


# ---- the row reaches the wire through the openai adapter ---------------------------------------------------

def _call(prefix: str, params: ChatParams) -> Call:
    endpoint = ENDPOINTS[prefix]
    return Call(kind="chat", provider=prefix, model="some-model", endpoint=endpoint,
                credentials=Credentials(api_key="sk-test"), params=params,
                messages=[{"role": "user", "content": "hi"}])


@pytest.fixture
def openai_adapter() -> ModuleType:
    return pytest.importorskip("sluicegate.providers.openai", reason=_ADAPTER_MISSING)


def test_mistral_body_uses_mistral_names(openai_adapter: ModuleType) -> None:
    request = openai_adapter.build_request(_call("mistral", ChatParams(seed=7, max_completion_tokens=5)))
    assert request.url == "https://api.mistral.ai/v1/chat/completions"
    assert request.json["random_seed"] == 7
    assert request.json["max_tokens"] == 5
    assert "seed" not in request.json
    assert "max_completion_tokens" not in request.json


def test_unsupported_params_leave_the_supported_set(openai_adapter: ModuleType) -> None:
    supported = openai_adapter.supported_params(_call("groq", ChatParams()))
    assert "logprobs" not in supported
    assert "temperature" in supported
