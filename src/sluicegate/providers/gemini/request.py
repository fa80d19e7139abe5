"""The generateContent request body for an OpenAI chat call (https://ai.google.dev/api/generate-content).

`build_body` is independent of where the body goes (AI Studio's URL and API key, or Vertex AI's URL and OAuth
token): the Vertex adapter reuses it for Gemini models there.
"""

from __future__ import annotations

from typing import Any

from sluicegate.errors import BadRequestError
from sluicegate.params import ChatParams
from sluicegate.providers.base import Call
from sluicegate.providers.gemini.contents import build_contents
from sluicegate.providers.gemini.schema import to_gemini_schema

# reasoning_effort → thinkingBudget (tokens). Every budget lies inside the range of each 2.5 model (Pro
# 128–32768, Flash 0–24576, Flash-Lite 512–24576: https://ai.google.dev/gemini-api/docs/thinking#set-budget);
# "none" turns thinking off where the model allows it (Pro does not, and says so).
THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
# Gemini's own tools, passed through as given: {"googleSearch": {}}, {"codeExecution": {}} …
_NATIVE_TOOLS = frozenset({"googleSearch", "google_search", "googleSearchRetrieval", "google_search_retrieval",
                           "codeExecution", "code_execution", "urlContext", "url_context", "googleMaps",
                           "google_maps", "fileSearch", "file_search"})
# Provider keywords that are Gemini fields outside generationConfig, by the names LiteLLM users pass them.
_TOP_LEVEL = {"safety_settings": "safetySettings", "safetySettings": "safetySettings",
              "cached_content": "cachedContent", "cachedContent": "cachedContent",
              "labels": "labels", "tool_config": "toolConfig", "toolConfig": "toolConfig"}
_TOOL_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "any": "ANY"}


def build_body(call: Call) -> dict[str, Any]:
    """The JSON body of generateContent / streamGenerateContent for this chat call."""
    params = call.params
    if not isinstance(params, ChatParams):
        raise TypeError("build_body takes a chat call")
    contents, system = build_contents(call.messages)
    if not contents:
        raise BadRequestError("Gemini needs at least one user or assistant message besides the system prompt",
                              param="messages")
    body: dict[str, Any] = {"contents": contents}
    if system is not None:
        body["systemInstruction"] = system
    tools = _tools(params)
    if tools:
        body["tools"] = tools
    tool_config = _tool_config(params)
    if tool_config:
        body["toolConfig"] = tool_config
    config = generation_config(params)
    extras = dict(params.provider_params)
    thinking = _thinking_config(params, extras.pop("thinking", None))
    if thinking is not None:
        config["thinkingConfig"] = thinking
    for name, value in extras.items():
        if name in _TOP_LEVEL:
            body[_TOP_LEVEL[name]] = value
        else:  # top_k, response_modalities, media_resolution …: generationConfig fields in camelCase
            config[_camel(name)] = value
    if config:
        body["generationConfig"] = config
    body.update(call.extra_body)
    return body


def generation_config(params: ChatParams) -> dict[str, Any]:
    """generationConfig (https://ai.google.dev/api/generate-content#generationconfig) from OpenAI's names."""
    config: dict[str, Any] = {}
    simple = (("temperature", "temperature"), ("top_p", "topP"), ("n", "candidateCount"), ("seed", "seed"),
              ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty"))
    for name, gemini_name in simple:
        value = getattr(params, name)
        if value is not None:
            config[gemini_name] = value
    max_tokens = params.max_completion_tokens if params.max_completion_tokens is not None else params.max_tokens
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    if params.stop is not None:
        config["stopSequences"] = [params.stop] if isinstance(params.stop, str) else list(params.stop)
    if params.logprobs:
        config["responseLogprobs"] = True
        if params.top_logprobs is not None:
            config["logprobs"] = params.top_logprobs
    config.update(_response_format(params.response_format))
    return config


def _response_format(response_format: dict[str, Any] | None) -> dict[str, Any]:
    if not response_format:
        return {}
    kind = response_format.get("type")
    if kind == "text":
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema")
        if schema is None:
            return {"responseMimeType": "application/json"}
        return {"responseMimeType": "application/json",
                "responseSchema": to_gemini_schema(schema, where="response_format.json_schema.schema")}
    raise BadRequestError(f"response_format type {kind!r} is not one Gemini can take (text, json_object, "
                          "json_schema)", param="response_format")


def _tools(params: ChatParams) -> list[dict[str, Any]]:
    declarations: list[dict[str, Any]] = []
    native: list[dict[str, Any]] = []
    tools = list(params.tools or ()) + [{"type": "function", "function": f} for f in params.functions or ()]
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise BadRequestError(f"tools[{i}] must be an object", param=f"tools[{i}]")
        if tool.get("type") == "function":
            declarations.append(_declaration(tool.get("function") or {}, f"tools[{i}].function"))
        elif "type" not in tool and len(tool) == 1 and next(iter(tool)) in _NATIVE_TOOLS:
            native.append(tool)
        else:
            raise BadRequestError(f"tools[{i}] has type {tool.get('type')!r}; Gemini takes function tools and "
                                  f"its own tools ({', '.join(sorted(_NATIVE_TOOLS)[:4])} …)", param=f"tools[{i}]")
    out: list[dict[str, Any]] = [{"functionDeclarations": declarations}] if declarations else []
    return out + native


def _declaration(function: dict[str, Any], where: str) -> dict[str, Any]:
    name = function.get("name")
    if not name:
        raise BadRequestError(f"{where}.name is required", param=where)
    declaration: dict[str, Any] = {"name": name}
    if function.get("description"):
        declaration["description"] = function["description"]
    parameters = function.get("parameters")
    if parameters:
        converted = to_gemini_schema(parameters, where=f"{where}.parameters")
        # A function without arguments leaves `parameters` out: Gemini rejects an OBJECT with no properties.
        if converted.get("properties") or converted.get("type") not in (None, "OBJECT"):
            declaration["parameters"] = converted
    return declaration


def _tool_config(params: ChatParams) -> dict[str, Any] | None:
    choice = params.tool_choice
    if choice is None and params.function_call is not None:
        legacy = params.function_call
        choice = {"type": "function", "function": legacy} if isinstance(legacy, dict) else legacy
    if choice is None:
        return None
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICE_MODES:
            raise BadRequestError(f"tool_choice {choice!r} is not auto, none, required or a named function",
                                  param="tool_choice")
        return {"functionCallingConfig": {"mode": _TOOL_CHOICE_MODES[choice]}}
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if not name:
        raise BadRequestError("tool_choice must be auto, none, required or {'type': 'function', 'function': "
                              "{'name': …}}", param="tool_choice")
    # ANY restricted to one function: the model must call exactly that one.
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def _thinking_config(params: ChatParams, thinking: Any) -> dict[str, Any] | None:
    """thinkingConfig from `thinking` ({"type": "enabled", "budget_tokens": N}) or `reasoning_effort`."""
    if isinstance(thinking, dict):
        if thinking.get("type") == "disabled":
            return {"thinkingBudget": 0}
        config: dict[str, Any] = {"includeThoughts": True}
        if thinking.get("budget_tokens") is not None:
            config["thinkingBudget"] = thinking["budget_tokens"]
        return config
    if thinking is not None:
        raise BadRequestError("thinking must be {'type': 'enabled', 'budget_tokens': N} or {'type': 'disabled'}",
                              param="thinking")
    effort = params.reasoning_effort
    if effort is None:
        return None
    if effort not in THINKING_BUDGETS:
        raise BadRequestError(f"reasoning_effort {effort!r} is not one of {', '.join(THINKING_BUDGETS)}",
                              param="reasoning_effort")
    if effort == "none":
        return {"thinkingBudget": 0}
    return {"thinkingBudget": THINKING_BUDGETS[effort], "includeThoughts": True}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)
