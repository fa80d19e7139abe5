"""The model catalog: prices, context limits and capability flags per model, cost of a usage, token counts.

Importing this package costs next to nothing: each name below is imported from its module on first use
(PEP 562), and the catalog file and tokenizer files are read only when a lookup or a count needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sluicegate.catalog.cost import (
        completion_cost,
        cost_parts,
        cost_per_token,
        response_cost_or_none,
        usage_cost,
    )
    from sluicegate.catalog.lookup import (
        ModelCostView,
        ModelInfo,
        find_model,
        get_model_info,
        register_model,
        resolve_provider,
        supports,
        supports_audio_input,
        supports_audio_output,
        supports_function_calling,
        supports_parallel_function_calling,
        supports_pdf_input,
        supports_prompt_caching,
        supports_reasoning,
        supports_response_schema,
        supports_system_messages,
        supports_tool_choice,
        supports_vision,
        supports_web_search,
    )
    from sluicegate.catalog.lookup import model_cost_view as model_cost
    from sluicegate.catalog.tokens import decode, encode, encoding_for_model, get_encoding, token_counter

_HOMES = {
    "sluicegate.catalog.lookup": (
        "ModelCostView", "ModelInfo", "find_model", "get_model_info", "register_model", "resolve_provider",
        "supports", "supports_audio_input", "supports_audio_output", "supports_function_calling",
        "supports_parallel_function_calling", "supports_pdf_input", "supports_prompt_caching",
        "supports_reasoning", "supports_response_schema", "supports_system_messages", "supports_tool_choice",
        "supports_vision", "supports_web_search",
    ),
    "sluicegate.catalog.cost": ("completion_cost", "cost_parts", "cost_per_token", "response_cost_or_none",
                                "usage_cost"),
    "sluicegate.catalog.tokens": ("decode", "encode", "encoding_for_model", "get_encoding", "token_counter"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}
_RENAMED = {"model_cost": ("sluicegate.catalog.lookup", "model_cost_view")}

__all__ = [  # kept literal for type checkers and linters; a test checks it matches the tables above
    "ModelCostView", "ModelInfo", "completion_cost", "cost_parts", "cost_per_token", "decode", "encode",
    "encoding_for_model", "find_model", "get_encoding", "get_model_info", "model_cost", "register_model",
    "resolve_provider", "response_cost_or_none", "supports", "supports_audio_input", "supports_audio_output",
    "supports_function_calling", "supports_parallel_function_calling", "supports_pdf_input",
    "supports_prompt_caching", "supports_reasoning", "supports_response_schema", "supports_system_messages",
    "supports_tool_choice", "supports_vision", "supports_web_search", "token_counter", "usage_cost",
]


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        module, attribute = _RENAMED[name]
    elif name in _MODULE_OF:
        module, attribute = _MODULE_OF[name], name
    else:
        raise AttributeError(f"module 'sluicegate.catalog' has no attribute {name!r}")
    value = getattr(import_module(module), attribute)
    globals()[name] = value  # later reads skip this function
    return value


def __dir__() -> list[str]:
    return __all__
