"""The OpenAI-compatible providers: one fact sheet per `provider/` prefix, all served by the `openai` adapter.

Every row says where the provider lives (base URL, version path included, and the environment variables that
override it), which environment variables hold its key, and how its API differs from OpenAI's chat API:

- `unsupported_params`: OpenAI parameters the provider rejects or silently ignores. The shared check raises
  `UnsupportedParamsError` for them, or drops them under `drop_params`. A name is listed only when the
  provider's documentation says so, or when it is plainly absent from the provider's API reference.
  Two groups are left out on purpose: `user` (an end-user id that servers ignore and LiteLLM users send
  everywhere), and OpenAI-only newcomers (`store`, `service_tier`, `audio`, …) unless a provider's docs name
  them. Limits the table cannot express (a value range, "n must be 1", a model that ignores a parameter)
  go in `notes`.
- `renamed_params`: OpenAI name -> the provider's name. Most providers document only `max_tokens`, so
  `max_completion_tokens` is renamed to it.
- `kinds`: the endpoints the provider offers (`chat`, `embedding`, `text_completion`), as documented.

The prefixes are LiteLLM's, so model strings users already have keep working. `ollama` is absent on purpose:
its native API is not OpenAI's (point `openai/` at Ollama's `/v1` instead).

Adding a provider: append an `Endpoint(...)` to `_ROWS` with a `docs_url`, put a comment above each quirk
saying where you read it, add the prefix to `docs/providers/compatible.md`, and run
`tests/providers/test_compat.py`, which checks every row's shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

from sluicegate.providers.base import CallKind, Endpoint

_ALL_KINDS: frozenset[CallKind] = frozenset({"chat", "embedding", "text_completion"})
# The provider documents `max_tokens` only; OpenAI's newer name for the same limit is sent under it.
_MAX_TOKENS = MappingProxyType({"max_completion_tokens": "max_tokens"})

_ROWS: tuple[Endpoint, ...] = (
    Endpoint(
        provider="groq",
        base_url="https://api.groq.com/openai/v1",
        api_key_env=("GROQ_API_KEY",),
        base_url_env=("GROQ_API_BASE",),
        # console.groq.com/docs/openai: "will result in a 400 error if supplied".
        unsupported_params=frozenset({"logprobs", "logit_bias", "top_logprobs"}),
        # console.groq.com/docs/openai: text completions are unsupported; no embedding models are listed.
        kinds=frozenset({"chat"}),
        docs_url="https://console.groq.com/docs/openai",
        notes="n must be 1 and messages[].name is rejected (400); temperature 0 is sent on as 1e-8. "
              "Takes max_completion_tokens as is (Groq API reference).",
    ),
    Endpoint(
        provider="together_ai",
        # docs.together.ai/docs/inference/openai-compatibility: the base URL its examples use.
        base_url="https://api.together.ai/v1",
        # LiteLLM reads all three; Together's own examples use TOGETHER_API_KEY.
        api_key_env=("TOGETHERAI_API_KEY", "TOGETHER_AI_API_KEY", "TOGETHER_API_KEY"),
        base_url_env=("TOGETHER_AI_API_BASE",),
        # docs.together.ai: compatible across chat, completions and embeddings.
        kinds=_ALL_KINDS,
        docs_url="https://docs.together.ai/docs/inference/openai-compatibility",
        notes="Model ids are <org>/<model>. The older host api.together.xyz serves the same API.",
    ),
    Endpoint(
        provider="fireworks_ai",
        base_url="https://api.fireworks.ai/inference/v1",
        # LiteLLM reads these; Fireworks' docs only show the key inline.
        api_key_env=("FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY", "FIREWORKSAI_API_KEY"),
        base_url_env=("FIREWORKS_API_BASE",),
        # Fireworks' chat reference documents max_tokens (LiteLLM renames the same way).
        renamed_params=_MAX_TOKENS,
        kinds=_ALL_KINDS,
        model_prefix="accounts/fireworks/models/",  # so "fireworks_ai/llama-v3p1-8b-instruct" works too
        docs_url="https://docs.fireworks.ai/tools-sdks/openai-compatibility",
        # docs.fireworks.ai/tools-sdks/migrate-to-fireworks: the context-window behaviour.
        notes="Model ids are accounts/fireworks/models/<model>. When prompt + max_tokens exceeds the context "
              "window Fireworks lowers max_tokens instead of failing; send "
              "context_length_exceeded_behavior='error' to get OpenAI's error.",
    ),
    Endpoint(
        provider="deepseek",
        # api-docs.deepseek.com: base_url https://api.deepseek.com (/v1 is an alias, unrelated to versions).
        base_url="https://api.deepseek.com",
        api_key_env=("DEEPSEEK_API_KEY",),
        base_url_env=("DEEPSEEK_API_BASE",),
        # api-docs.deepseek.com/api/create-chat-completion: absent from the request body it documents
        # (checked against the ds-api crate, which mirrors that body field by field).
        unsupported_params=frozenset({"n", "seed", "logit_bias", "parallel_tool_calls", "functions",
                                      "function_call"}),
        # Same reference: the output limit is max_tokens.
        renamed_params=_MAX_TOKENS,
        # FIM completion lives under https://api.deepseek.com/beta, not this base: chat only here.
        kinds=frozenset({"chat"}),
        docs_url="https://api-docs.deepseek.com/api/create-chat-completion",
        # api-docs.deepseek.com/guides/reasoning_model: the model-level limits.
        notes="deepseek-reasoner: temperature, top_p, presence_penalty and frequency_penalty are accepted "
              "but ignored; logprobs and top_logprobs are errors; reasoning_content sent back in messages "
              "is a 400.",
    ),
    Endpoint(
        provider="xai",
        base_url="https://api.x.ai/v1",
        api_key_env=("XAI_API_KEY",),
        base_url_env=("XAI_API_BASE",),
        # docs.x.ai chat reference lists max_tokens (LiteLLM renames the same way).
        renamed_params=_MAX_TOKENS,
        # docs.x.ai REST reference: /v1/completions is kept as a legacy endpoint.
        kinds=frozenset({"chat", "text_completion"}),
        docs_url="https://docs.x.ai/docs/api-reference",
        # docs.x.ai chat reference: "not supported by reasoning models".
        notes="Reasoning models (grok-3-mini, grok-4 …) reject presence_penalty, frequency_penalty and stop; "
              "the legacy /completions does not serve reasoning models.",
    ),
    Endpoint(
        provider="mistral",
        base_url="https://api.mistral.ai/v1",
        api_key_env=("MISTRAL_API_KEY",),
        base_url_env=("MISTRAL_API_BASE",),
        # Mistral's OpenAPI spec (ChatCompletionRequest in mistralai/client-python): none of these exist,
        # and unknown fields are a 422.
        unsupported_params=frozenset({"logit_bias", "logprobs", "top_logprobs", "functions",
                                      "function_call"}),
        # Same spec: the seed is random_seed and the output limit is max_tokens.
        renamed_params=MappingProxyType({"max_completion_tokens": "max_tokens", "seed": "random_seed"}),
        # docs.mistral.ai/api: chat and embeddings; FIM is /v1/fim/completions, not OpenAI's /completions.
        kinds=frozenset({"chat", "embedding"}),
        docs_url="https://docs.mistral.ai/api/",
        # LiteLLM's Mistral config: tool_choice 'required' is sent as Mistral's 'any'.
        notes="Mistral's word for tool_choice 'required' is 'any'; a tool_choice object naming one "
              "function is not in its spec. safe_prompt is Mistral's own extra.",
    ),
    Endpoint(
        provider="openrouter",
        base_url="https://openrouter.ai/api/v1",
        api_key_env=("OPENROUTER_API_KEY", "OR_API_KEY"),
        base_url_env=("OPENROUTER_API_BASE",),
        # openrouter.ai/docs/api-reference: chat and the legacy completions endpoint.
        kinds=frozenset({"chat", "text_completion"}),
        docs_url="https://openrouter.ai/docs/api-reference/overview",
        # openrouter.ai/docs/api-reference/parameters: parameters the routed model lacks are ignored.
        notes="Parameters the routed model does not support are ignored rather than rejected. Model ids are "
              "<vendor>/<model>. Optional HTTP-Referer and X-Title headers attribute your app.",
    ),
    Endpoint(
        provider="perplexity",
        base_url="https://api.perplexity.ai",
        # LiteLLM reads PERPLEXITYAI_API_KEY first; Perplexity's own examples use PERPLEXITY_API_KEY.
        api_key_env=("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
        base_url_env=("PERPLEXITY_API_BASE",),
        # docs.perplexity.ai chat-completions reference (as read by LiteLLM; Pipecat's docs agree on tools):
        # no function calling, no logprobs, no logit_bias.
        unsupported_params=frozenset({"tools", "tool_choice", "parallel_tool_calls", "functions",
                                      "function_call", "logit_bias", "logprobs", "top_logprobs"}),
        # Same reference: the output limit is max_tokens.
        renamed_params=_MAX_TOKENS,
        kinds=frozenset({"chat"}),
        docs_url="https://docs.perplexity.ai/docs/sonar/openai-compatibility",
        notes="Search options (search_domain_filter, search_recency_filter, return_images …) pass through "
              "as extra keyword arguments; citations come back in the response.",
    ),
    Endpoint(
        provider="cerebras",
        base_url="https://api.cerebras.ai/v1",
        api_key_env=("CEREBRAS_API_KEY",),
        base_url_env=("CEREBRAS_API_BASE",),
        # inference-docs.cerebras.ai/resources/openai, "Currently unsupported OpenAI features": a 400 each
        # (quoted by req_llm's Cerebras guide; Portkey's gateway strips the same set).
        unsupported_params=frozenset({"frequency_penalty", "presence_penalty", "logit_bias",
                                      "parallel_tool_calls", "service_tier"}),
        # inference-docs.cerebras.ai/api-reference: chat and completions; no embeddings.
        kinds=frozenset({"chat", "text_completion"}),
        docs_url="https://inference-docs.cerebras.ai/resources/openai",
        notes="Takes max_completion_tokens as is. System messages act at developer level on gpt-oss.",
    ),
    Endpoint(
        provider="deepinfra",
        base_url="https://api.deepinfra.com/v1/openai",
        api_key_env=("DEEPINFRA_API_KEY",),
        base_url_env=("DEEPINFRA_API_BASE",),
        # deepinfra.com/docs/advanced/openai_api documents max_tokens (LiteLLM renames the same way).
        renamed_params=_MAX_TOKENS,
        kinds=_ALL_KINDS,
        docs_url="https://deepinfra.com/docs/advanced/openai_api",
        # deepinfra.com/docs/advanced/function_calling (as cited by LiteLLM).
        notes="tool_choice accepts only 'auto' and 'none'.",
    ),
    Endpoint(
        provider="nvidia_nim",
        base_url="https://integrate.api.nvidia.com/v1",
        # LiteLLM reads NVIDIA_NIM_API_KEY; NVIDIA's own examples use NVIDIA_API_KEY.
        api_key_env=("NVIDIA_NIM_API_KEY", "NVIDIA_API_KEY"),
        base_url_env=("NVIDIA_NIM_API_BASE",),
        kinds=frozenset({"chat", "embedding"}),
        docs_url="https://docs.api.nvidia.com/nim/reference/llm-apis",
        notes="Parameter support varies by model; none is rejected across the board. Point api_base at a "
              "self-hosted NIM to use it instead of NVIDIA's hosted catalog.",
    ),
    Endpoint(
        provider="sambanova",
        base_url="https://api.sambanova.ai/v1",
        api_key_env=("SAMBANOVA_API_KEY",),
        base_url_env=("SAMBANOVA_API_BASE",),
        # docs.sambanova.ai/docs/en/features/openai-compatibility: "not yet supported and will be ignored".
        unsupported_params=frozenset({"presence_penalty", "frequency_penalty", "logit_bias"}),
        # docs.sambanova.ai API reference: chat and completions.
        kinds=frozenset({"chat", "text_completion"}),
        docs_url="https://docs.sambanova.ai/docs/en/features/openai-compatibility",
        notes="n is 1-8, and n > 1 together with tools is a 400.",
    ),
    Endpoint(
        provider="hosted_vllm",
        base_url=None,  # a self-hosted server: the caller gives api_base
        api_key_env=("HOSTED_VLLM_API_KEY",),
        base_url_env=("HOSTED_VLLM_API_BASE",),
        requires_api_key=False,  # only when the server was started with --api-key
        kinds=_ALL_KINDS,
        docs_url="https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html",
        notes="api_base includes /v1 (http://host:8000/v1). Sampling extras (top_k, min_p, "
              "repetition_penalty …) pass through as extra keyword arguments.",
    ),
    Endpoint(
        provider="lm_studio",
        base_url="http://localhost:1234/v1",
        api_key_env=("LM_STUDIO_API_KEY",),
        base_url_env=("LM_STUDIO_API_BASE",),
        requires_api_key=False,
        kinds=_ALL_KINDS,
        docs_url="https://lmstudio.ai/docs/app/api/endpoints/openai",
        notes="The model id is whatever LM Studio lists under /v1/models.",
    ),
    Endpoint(
        provider="llamafile",
        base_url="http://127.0.0.1:8080/v1",
        api_key_env=("LLAMAFILE_API_KEY",),
        base_url_env=("LLAMAFILE_API_BASE",),
        requires_api_key=False,
        kinds=_ALL_KINDS,
        docs_url="https://github.com/Mozilla-Ocho/llamafile",
        notes="A llamafile serves one model; the model id in the request is not checked.",
    ),
    Endpoint(
        provider="github",
        # docs.github.com/en/github-models/quickstart: POST https://models.github.ai/inference/chat/completions.
        base_url="https://models.github.ai/inference",
        # LiteLLM reads GITHUB_API_KEY; GitHub's own tooling uses GITHUB_TOKEN (a PAT with models scope).
        api_key_env=("GITHUB_API_KEY", "GITHUB_TOKEN"),
        base_url_env=("GITHUB_API_BASE",),
        kinds=frozenset({"chat"}),
        docs_url="https://docs.github.com/en/rest/models/inference",
        notes="Model ids are <publisher>/<model> (openai/gpt-4.1). LiteLLM still defaults to the retired "
              "host models.inference.ai.azure.com; set GITHUB_API_BASE to it if you depend on it.",
    ),
    Endpoint(
        provider="dashscope",
        # LiteLLM's default: the international (Singapore) endpoint of Alibaba Cloud Model Studio.
        base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        api_key_env=("DASHSCOPE_API_KEY",),
        base_url_env=("DASHSCOPE_API_BASE",),
        kinds=frozenset({"chat", "embedding"}),
        docs_url="https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope",
        notes="Mainland-China accounts use https://dashscope.aliyuncs.com/compatible-mode/v1. Text-only "
              "models want message content as a string, not a list of parts (LiteLLM flattens it).",
    ),
    Endpoint(
        provider="moonshot",
        base_url="https://api.moonshot.ai/v1",
        api_key_env=("MOONSHOT_API_KEY",),
        base_url_env=("MOONSHOT_API_BASE",),
        # platform.moonshot.ai/docs/guide/migrating-from-openai-to-kimi: tools only, no legacy functions.
        unsupported_params=frozenset({"functions", "function_call"}),
        # Same guide: the output limit is max_tokens.
        renamed_params=_MAX_TOKENS,
        kinds=frozenset({"chat"}),
        docs_url="https://platform.moonshot.ai/docs/guide/migrating-from-openai-to-kimi",
        # Same guide: the value limits.
        notes="temperature is 0-1 (OpenAI: 0-2); n > 1 with temperature near 0 is invalid_request_error; "
              "tool_choice 'required' is not supported. China accounts use https://api.moonshot.cn/v1.",
    ),
    Endpoint(
        provider="novita",
        # LiteLLM's default (novita.ai/docs/guides/llm-api); newer Novita docs also show /openai/v1.
        base_url="https://api.novita.ai/v3/openai",
        api_key_env=("NOVITA_API_KEY",),
        base_url_env=("NOVITA_API_BASE",),
        # docs.litellm.ai/docs/providers/novita: /chat/completions and /completions.
        kinds=frozenset({"chat", "text_completion"}),
        docs_url="https://novita.ai/docs/guides/llm-api",
    ),
    Endpoint(
        provider="nebius",
        # docs.tokenfactory.nebius.com/api-reference/introduction: Nebius AI Studio is now Token Factory.
        base_url="https://api.tokenfactory.nebius.com/v1",
        api_key_env=("NEBIUS_API_KEY",),
        base_url_env=("NEBIUS_API_BASE",),
        # LiteLLM renames for Nebius the same way.
        renamed_params=_MAX_TOKENS,
        kinds=frozenset({"chat", "embedding"}),
        docs_url="https://docs.tokenfactory.nebius.com/api-reference/introduction",
        notes="LiteLLM still defaults to the older host api.studio.nebius.ai/v1.",
    ),
    Endpoint(
        provider="featherless_ai",
        base_url="https://api.featherless.ai/v1",
        # LiteLLM documents FEATHERLESS_AI_API_KEY; older LiteLLM code read FEATHERLESS_API_KEY.
        api_key_env=("FEATHERLESS_AI_API_KEY", "FEATHERLESS_API_KEY"),
        base_url_env=("FEATHERLESS_API_BASE",),
        renamed_params=_MAX_TOKENS,
        kinds=frozenset({"chat", "text_completion"}),
        docs_url="https://featherless.ai/docs/completions",
        notes="Model ids are Hugging Face repo ids. tool_choice accepts only 'auto' and 'none' (LiteLLM).",
    ),
    Endpoint(
        provider="hyperbolic",
        base_url="https://api.hyperbolic.xyz/v1",
        api_key_env=("HYPERBOLIC_API_KEY",),
        base_url_env=("HYPERBOLIC_API_BASE",),
        kinds=frozenset({"chat"}),
        docs_url="https://docs.hyperbolic.xyz/docs/rest-api",
    ),
    Endpoint(
        provider="volcengine",
        base_url="https://ark.cn-beijing.volces.com/api/v3",
        # LiteLLM reads VOLCENGINE_API_KEY; Volcengine Ark's own examples use ARK_API_KEY.
        api_key_env=("VOLCENGINE_API_KEY", "ARK_API_KEY"),
        base_url_env=("VOLCENGINE_API_BASE",),
        kinds=frozenset({"chat", "embedding"}),
        docs_url="https://www.volcengine.com/docs/82379/1330626",
        notes="The model is a model id or an inference endpoint id (ep-…).",
    ),
    Endpoint(
        provider="friendliai",
        base_url="https://api.friendli.ai/serverless/v1",
        api_key_env=("FRIENDLIAI_API_KEY", "FRIENDLI_TOKEN"),
        base_url_env=("FRIENDLI_API_BASE",),
        kinds=frozenset({"chat", "text_completion"}),
        docs_url="https://friendli.ai/docs/guides/serverless_endpoints/introduction",
        notes="Dedicated endpoints live under https://api.friendli.ai/dedicated/v1.",
    ),
)


def _index(rows: Iterable[Endpoint]) -> dict[str, Endpoint]:
    table: dict[str, Endpoint] = {}
    for row in rows:
        if row.provider in table:
            raise ValueError(f"duplicate provider prefix in the compatible-provider table: {row.provider!r}")
        table[row.provider] = row
    return table


ENDPOINTS: dict[str, Endpoint] = _index(_ROWS)
COMPAT_PROVIDERS: frozenset[str] = frozenset(ENDPOINTS)


def endpoint_for(provider: str) -> Endpoint | None:
    """The row for a `provider/` prefix, or None when the prefix is not an OpenAI-compatible provider."""
    return ENDPOINTS.get(provider)
