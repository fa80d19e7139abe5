"""An OpenAI chat call → the body of Anthropic's POST /v1/messages (https://docs.anthropic.com/en/api/messages).

`build_body` is independent of where the body goes: the Vertex AI adapter sends the same body to its own URL
(dropping `model`, adding `anthropic_version`). URL and headers are built in `__init__.py`.
"""

from __future__ import annotations

from typing import Any

from sluicegate.catalog.lookup import find_model
from sluicegate.errors import BadRequestError
from sluicegate.params import CHAT_PARAM_NAMES, ChatParams
from sluicegate.providers.anthropic.messages import betas, convert_messages
from sluicegate.providers.base import Call

# Anthropic requires max_tokens; without a catalog entry for the model this is the default.
DEFAULT_MAX_TOKENS = 4096
# reasoning_effort → thinking.budget_tokens. LiteLLM's table (so callers see the same spend), with "minimal" at
# Anthropic's smallest allowed budget, 1024 (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking).
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096}
# response_format is honoured with a tool the model is made to call, whose input is the JSON answer: tool input
# schemas work on every Claude model, while Anthropic's own structured outputs exist only on some, behind a beta.
# The response parsers turn this tool's call back into the message content (finish_reason "stop").
JSON_TOOL_NAME = "json_response"
_TOOL_CHOICES = {"auto": "auto", "none": "none", "required": "any"}
# OpenAI parameters Anthropic has no equivalent for: an error, or dropped with drop_params. (`n`, `logprobs`
# are accepted only at the values that ask for nothing: see supported_params.)
_UNSUPPORTED = frozenset({
    "seed", "logprobs", "top_logprobs", "presence_penalty", "frequency_penalty", "logit_bias", "modalities",
    "audio", "prediction", "service_tier", "store", "web_search_options", "verbosity", "prompt_cache_key",
    "safety_identifier", "functions", "function_call", "n",
})
_TOOL_PARAMS = frozenset({"tools", "tool_choice", "parallel_tool_calls"})


def build_body(call: Call) -> dict[str, Any]:
    """The Messages API body for a chat call: conversation, generation settings, tools, thinking, output format.

    >>> build_body(call)["messages"]
    [{'role': 'user', 'content': [{'type': 'text', 'text': 'Hi'}]}]
    """
    params = call.params
    if not isinstance(params, ChatParams):
        raise BadRequestError("Anthropic's Messages API serves chat calls only", provider=call.provider,
                              model=call.model)
    conversation = convert_messages(call.messages)
    body: dict[str, Any] = {"model": call.model, "messages": conversation.messages}
    if conversation.system:
        body["system"] = conversation.system
    _generation(params, body)
    _thinking(params, body)
    _tools(params, body)
    _max_tokens(call, params, body)
    body.update(params.provider_params)  # top_k, thinking, metadata, … as the caller gave them
    if call.is_stream:
        body["stream"] = True
    body.update(call.extra_body)
    return body


def required_betas(call: Call) -> list[str]:
    """The `anthropic-beta` features the call's content needs (the Files API for file_id documents)."""
    return betas(call.messages)


def _generation(params: ChatParams, body: dict[str, Any]) -> None:
    if params.temperature is not None:
        body["temperature"] = params.temperature
    if params.top_p is not None:
        body["top_p"] = params.top_p
    if params.stop is not None:
        body["stop_sequences"] = [params.stop] if isinstance(params.stop, str) else list(params.stop)
    if params.user is not None:
        body["metadata"] = {"user_id": params.user}


def _thinking(params: ChatParams, body: dict[str, Any]) -> None:
    """reasoning_effort → extended thinking; a caller's own `thinking` provider param wins (sent as given)."""
    effort = params.reasoning_effort
    if effort is None or "thinking" in params.provider_params or effort in ("none", "disable"):
        return
    budget = THINKING_BUDGETS.get(effort)
    if budget is None:
        raise BadRequestError(f"reasoning_effort must be one of {', '.join(THINKING_BUDGETS)} or none for "
                              f"Anthropic, not {effort!r}", provider="anthropic", param="reasoning_effort")
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}


def _is_thinking(body: dict[str, Any], params: ChatParams) -> bool:
    thinking = params.provider_params.get("thinking", body.get("thinking"))
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _tools(params: ChatParams, body: dict[str, Any]) -> None:
    tools = [_tool(tool) for tool in params.tools or ()]
    choice = _tool_choice(params.tool_choice)
    json_tool = _json_tool(params.response_format)
    if json_tool is not None:
        tools.append(json_tool)
        # Forcing the tool is the reliable way; Anthropic refuses a forced tool while thinking, and forcing it
        # would hide the caller's own tools, so then the model is offered it and chooses (auto).
        if not params.tools and not _is_thinking(body, params) and choice is None:
            choice = {"type": "tool", "name": JSON_TOOL_NAME}
    if tools:
        body["tools"] = tools
    if params.parallel_tool_calls is False:
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    if choice is not None:
        body["tool_choice"] = choice


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") != "function":
        return tool  # Anthropic's own tool types (web_search_20250305, bash_20250124 …) go as given
    function = tool.get("function") or {}
    if not function.get("name"):
        raise BadRequestError("each tool needs function.name", provider="anthropic", param="tools")
    out: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    out["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
    if "cache_control" in tool:
        out["cache_control"] = tool["cache_control"]
    return out


def _tool_choice(choice: str | dict[str, Any] | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICES:
            raise BadRequestError(f"tool_choice must be auto, none, required or a named function, not {choice!r}",
                                  provider="anthropic", param="tool_choice")
        return {"type": _TOOL_CHOICES[choice]}
    name = (choice.get("function") or {}).get("name") if choice.get("type") == "function" else None
    if not name:
        raise BadRequestError("a named tool_choice must be {'type': 'function', 'function': {'name': …}}",
                              provider="anthropic", param="tool_choice")
    return {"type": "tool", "name": name}


def _json_tool(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    kind = (response_format or {}).get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return {"name": JSON_TOOL_NAME, "description": "Respond with a JSON object.",
                "input_schema": {"type": "object"}}
    if kind == "json_schema":
        spec = (response_format or {}).get("json_schema") or {}
        schema = spec.get("schema") or {"type": "object"}
        if schema.get("type") != "object":
            raise BadRequestError("Anthropic answers in JSON through a tool, whose schema must be an object: "
                                  "wrap the schema in an object property", provider="anthropic",
                                  param="response_format")
        description = spec.get("description") or "Respond with JSON matching this schema."
        return {"name": JSON_TOOL_NAME, "description": description, "input_schema": schema}
    raise BadRequestError(f"response_format type {kind!r} is not supported for Anthropic",
                          provider="anthropic", param="response_format")


def _max_tokens(call: Call, params: ChatParams, body: dict[str, Any]) -> None:
    """Anthropic requires max_tokens: the caller's, else the catalog's output limit for the model."""
    asked = params.max_completion_tokens or params.max_tokens
    if asked is not None:
        body["max_tokens"] = asked
        return
    info = find_model(call.model, call.provider)
    limit = info.max_output_tokens if info and info.max_output_tokens else DEFAULT_MAX_TOKENS
    budget = (body.get("thinking") or {}).get("budget_tokens")
    if isinstance(budget, int) and budget >= limit:  # the budget must fit below max_tokens
        limit = budget + DEFAULT_MAX_TOKENS
    body["max_tokens"] = limit


def supported_params(call: Call) -> frozenset[str]:
    """The OpenAI parameters Anthropic can express for this call (catalog-driven for tools and reasoning)."""
    supported = CHAT_PARAM_NAMES - _UNSUPPORTED
    params = call.params
    if isinstance(params, ChatParams):
        # n=1 and logprobs=false ask for what Anthropic does anyway: accept them instead of failing the call.
        if params.n == 1:
            supported |= {"n"}
        if params.logprobs is False:
            supported |= {"logprobs"}
    info = find_model(call.model, call.provider)
    if info is not None:
        if not info.supports_function_calling:
            supported -= _TOOL_PARAMS
        if not info.supports_reasoning:
            supported -= {"reasoning_effort"}
    return supported
