"""Which adapter and endpoint serve a model string's prefix ("groq/llama-3.3-70b" → openai adapter, Groq row).

Adapters are imported on first use, by module path, so `import sluicegate` stays fast. Built-in providers are
registered with the same `register()` that an outside package reaches through the `sluicegate.providers` entry
point group (the entry point names a function that calls `register`).
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points

from sluicegate.providers.base import Adapter, Endpoint

_OPENAI = Endpoint(
    provider="openai",
    base_url="https://api.openai.com/v1",
    api_key_env=("OPENAI_API_KEY",),
    base_url_env=("OPENAI_BASE_URL", "OPENAI_API_BASE"),
    kinds=frozenset({"chat", "embedding", "text_completion"}),
    docs_url="https://platform.openai.com/docs/api-reference",
)
_BUILTIN = (
    _OPENAI,
    # Answers in-process, deterministically, with no key and no network (see sluicegate/mock.py): what a
    # newcomer's gateway serves before any provider key is set.
    Endpoint(provider="mock", base_url="mock://sluicegate", requires_api_key=False,
             kinds=frozenset({"chat", "embedding", "text_completion"}),
             notes="mock/<any name>: echoes the last user message; embeddings are hash-seeded unit vectors"),
    # LiteLLM's prefix for OpenAI's legacy /v1/completions models (gpt-3.5-turbo-instruct).
    Endpoint(provider="text-completion-openai", base_url=_OPENAI.base_url, api_key_env=_OPENAI.api_key_env,
             base_url_env=_OPENAI.base_url_env, kinds=frozenset({"text_completion"}),
             docs_url="https://platform.openai.com/docs/api-reference/completions"),
    # Any OpenAI-compatible server: the caller gives api_base (LiteLLM's `custom_openai`).
    Endpoint(provider="custom_openai", base_url=None, api_key_env=("OPENAI_API_KEY",), requires_api_key=False,
             kinds=frozenset({"chat", "embedding", "text_completion"})),
    Endpoint(
        provider="azure",
        base_url=None,
        adapter="azure",
        api_key_env=("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"),
        base_url_env=("AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"),
        kinds=frozenset({"chat", "embedding", "text_completion"}),
        docs_url="https://learn.microsoft.com/azure/ai-services/openai/reference",
    ),
    # The providers with their own wire formats. Each row's api_base means what LiteLLM documents for it.
    Endpoint(
        provider="anthropic",
        base_url="https://api.anthropic.com",  # the host root: the adapter appends /v1/messages
        adapter="anthropic",
        api_key_env=("ANTHROPIC_API_KEY",),
        base_url_env=("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"),
        kinds=frozenset({"chat"}),
        docs_url="https://docs.anthropic.com/en/api/messages",
    ),
    Endpoint(
        provider="gemini",
        base_url="https://generativelanguage.googleapis.com/v1beta",  # the adapter appends /models/<model>:…
        adapter="gemini",
        api_key_env=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        base_url_env=("GEMINI_API_BASE",),
        docs_url="https://ai.google.dev/api/generate-content",
    ),
    Endpoint(
        provider="vertex_ai",
        base_url=None,  # https://<location>-aiplatform.googleapis.com; api_base replaces the host
        adapter="vertex",
        requires_api_key=False,  # OAuth tokens from google-auth (a service-account key or ADC)
        requires_api_base=False,
        credential_options={
            "vertex_project": ("VERTEXAI_PROJECT", "VERTEX_PROJECT", "GOOGLE_CLOUD_PROJECT"),
            "vertex_location": ("VERTEXAI_LOCATION", "VERTEX_LOCATION", "GOOGLE_CLOUD_LOCATION"),
            "vertex_credentials": ("VERTEXAI_CREDENTIALS",),  # without it, Application Default Credentials
        },
        docs_url="https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest",
    ),
    Endpoint(
        provider="cohere",
        base_url="https://api.cohere.com",  # the host root; an api_base ending in /chat or /embed is used as is
        adapter="cohere",
        api_key_env=("COHERE_API_KEY", "CO_API_KEY"),
        base_url_env=("COHERE_API_BASE",),
        docs_url="https://docs.cohere.com/reference/chat",
    ),
    # LiteLLM's route name for Cohere's chat API: the same provider under the prefix older configs use.
    Endpoint(
        provider="cohere_chat",
        base_url="https://api.cohere.com",
        adapter="cohere",
        api_key_env=("COHERE_API_KEY", "CO_API_KEY"),
        base_url_env=("COHERE_API_BASE",),
        kinds=frozenset({"chat"}),
        docs_url="https://docs.cohere.com/reference/chat",
    ),
    Endpoint(
        provider="bedrock",
        base_url=None,  # https://bedrock-runtime.<region>.amazonaws.com, or aws_bedrock_runtime_endpoint
        adapter="bedrock",
        # Bedrock API keys (a bearer token) are optional: without one, SigV4 with botocore's credential chain.
        api_key_env=("AWS_BEARER_TOKEN_BEDROCK",),
        requires_api_key=False,
        requires_api_base=False,
        credential_options={
            "aws_access_key_id": (), "aws_secret_access_key": (), "aws_session_token": (),  # botocore reads env
            "aws_region_name": ("AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"),
            "aws_profile_name": (), "aws_role_name": (), "aws_session_name": (), "aws_external_id": (),
            "aws_web_identity_token": (), "aws_sts_endpoint": (),
            "aws_bedrock_runtime_endpoint": ("AWS_BEDROCK_RUNTIME_ENDPOINT",),
        },
        docs_url="https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html",
    ),
)

_endpoints: dict[str, Endpoint] = {}
_adapters: dict[str, Adapter] = {}
_lock = threading.Lock()
_loaded = False


def _load_builtins() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        from sluicegate.providers.compat import ENDPOINTS

        for row in (*_BUILTIN, *ENDPOINTS.values()):
            _endpoints.setdefault(row.provider, row)
        _loaded = True


def register(endpoint: Endpoint, adapter: Adapter | None = None) -> None:
    """Add or replace a provider prefix. Give `adapter` for one that does not live in sluicegate.providers."""
    _load_builtins()
    _endpoints[endpoint.provider] = endpoint
    if adapter is not None:
        _adapters[endpoint.adapter] = adapter


def endpoint(provider: str) -> Endpoint | None:
    """The endpoint row for a prefix; looks at installed plugins once before giving up."""
    if not _loaded:
        _load_builtins()
    row = _endpoints.get(provider)
    if row is None and _load_plugins():
        row = _endpoints.get(provider)
    return row


def providers() -> frozenset[str]:
    """Every prefix known now (built in and registered)."""
    _load_builtins()
    return frozenset(_endpoints)


def credential_option_names() -> frozenset[str]:
    """Every provider-specific credential option (aws_region_name, vertex_project …) of every known row."""
    _load_builtins()
    return frozenset(name for row in _endpoints.values() for name in row.credential_options)


def adapter(name: str) -> Adapter:
    """The adapter named by an endpoint row, imported on first use."""
    found = _adapters.get(name)
    if found is None:
        module = importlib.import_module(f"sluicegate.providers.{name}")
        found = _adapters[name] = module.ADAPTER
    return found


_plugins_loaded = False


def _load_plugins() -> bool:
    """Run each `sluicegate.providers` entry point once; True if any ran (so a lookup may now succeed)."""
    global _plugins_loaded
    if _plugins_loaded:
        return False
    _plugins_loaded = True
    found = entry_points(group="sluicegate.providers")
    for entry in found:
        entry.load()()
    return bool(found)
