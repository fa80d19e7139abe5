"""sluicegate: one OpenAI-format interface to every major LLM provider.

    import sluicegate
    response = sluicegate.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])

Public names are imported on first use (PEP 562), so `import sluicegate` stays fast. Module attributes that
LiteLLM users set (`sluicegate.drop_params = True`, `num_retries`, `request_timeout`, `api_key`, …) read and
write the one `sluicegate.settings.defaults` object.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from sluicegate.settings import SETTING_NAMES, defaults

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "completion": "sluicegate.api", "acompletion": "sluicegate.api",
    "embedding": "sluicegate.api", "aembedding": "sluicegate.api",
    "text_completion": "sluicegate.api", "atext_completion": "sluicegate.api",
    "stream_chunk_builder": "sluicegate.streaming",
    "aclose": "sluicegate.transport.pool",
    "ChatCompletion": "sluicegate.types", "ModelResponse": "sluicegate.types",
    "ChatCompletionChunk": "sluicegate.types", "ModelResponseStream": "sluicegate.types",
    "EmbeddingResponse": "sluicegate.types", "TextCompletionResponse": "sluicegate.types",
    "Message": "sluicegate.types", "Choices": "sluicegate.types", "Delta": "sluicegate.types",
    "StreamingChoices": "sluicegate.types", "Usage": "sluicegate.types",
    "get_model_info": "sluicegate.catalog", "model_cost": "sluicegate.catalog",
    "register_model": "sluicegate.catalog", "completion_cost": "sluicegate.catalog",
    "cost_per_token": "sluicegate.catalog", "token_counter": "sluicegate.catalog",
    "encode": "sluicegate.catalog", "decode": "sluicegate.catalog",
    "supports_function_calling": "sluicegate.catalog",
    "supports_parallel_function_calling": "sluicegate.catalog", "supports_vision": "sluicegate.catalog",
    "supports_response_schema": "sluicegate.catalog", "supports_reasoning": "sluicegate.catalog",
    "supports_prompt_caching": "sluicegate.catalog", "supports_audio_input": "sluicegate.catalog",
    "supports_audio_output": "sluicegate.catalog", "supports_system_messages": "sluicegate.catalog",
    "supports_tool_choice": "sluicegate.catalog", "supports_web_search": "sluicegate.catalog",
    "supports_pdf_input": "sluicegate.catalog",
    "Settings": "sluicegate.settings",
    "Router": "sluicegate.router",
    **{name: "sluicegate.errors" for name in (
        "SluicegateError", "ConfigError", "APIError", "APIConnectionError", "Timeout", "APIStatusError",
        "BadRequestError", "ContextWindowExceededError", "ContentPolicyViolationError",
        "UnsupportedParamsError", "AuthenticationError", "PermissionDeniedError", "NotFoundError",
        "ConflictError", "UnprocessableEntityError", "RateLimitError", "InternalServerError",
        "ServiceUnavailableError")},
}

__all__ = sorted([*_EXPORTS, "settings", "__version__"])


def __getattr__(name: str) -> Any:
    if name in SETTING_NAMES:
        return getattr(defaults, name)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sluicegate' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    if name != "model_cost":  # a live view; everything else is cached on the module after first use
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *SETTING_NAMES})


class _Module(types.ModuleType):
    """Routes `sluicegate.<setting> = value` to the settings object instead of the module dict."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SETTING_NAMES:
            setattr(defaults, name, value)
        else:
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Module

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names above load on first use
    from sluicegate.api import (
        acompletion,
        aembedding,
        atext_completion,
        completion,
        embedding,
        text_completion,
    )
    from sluicegate.catalog import (
        completion_cost,
        cost_per_token,
        decode,
        encode,
        get_model_info,
        model_cost,
        register_model,
        supports_function_calling,
        supports_vision,
        token_counter,
    )
    from sluicegate.errors import *
    from sluicegate.router import Router
    from sluicegate.settings import Settings
    from sluicegate.streaming import stream_chunk_builder
    from sluicegate.transport.pool import aclose
    from sluicegate.types import ChatCompletion, ChatCompletionChunk, EmbeddingResponse, ModelResponse
