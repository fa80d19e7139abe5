"""The Converse request body (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html)
for an OpenAI chat call: inference settings, tools, structured output, reasoning and model-specific fields.

- `response_format` (json_schema / json_object) becomes a forced tool (`json_tool_call`) whose input schema is
  the requested schema: every model family on Bedrock that calls tools can do it, unlike a native output format;
  response.py turns the call back into JSON message content.
- `tool_choice: "none"` has no Converse equivalent: the tools are left out of the request. Bedrock insists on a
  toolConfig when the history holds tool calls or results; then the tools are sent with auto choice.
- reasoning: Anthropic models take `thinking` {type, budget_tokens} (reasoning_effort low/medium/high → 1024/2048/
  4096 tokens); Amazon Nova takes `reasoningConfig`; other families (OpenAI's gpt-oss …) take `reasoning_effort`
  as is. All of them travel in additionalModelRequestFields. Whether a model reasons at all comes from the catalog.
- keyword arguments that are not OpenAI parameters: the Converse fields (guardrailConfig, performanceConfig,
  requestMetadata, promptVariables, additionalModelResponseFieldPaths, serviceTier, outputConfig) go top level;
  `top_k` and anything else go in additionalModelRequestFields, where each model reads its own.
"""

from __future__ import annotations

from typing import Any

from sluicegate.errors import BadRequestError
from sluicegate.params import ChatParams
from sluicegate.providers.base import Call
from sluicegate.providers.bedrock import messages as convert_messages
from sluicegate.providers.bedrock import models

JSON_TOOL = "json_tool_call"  # the forced tool that carries a response_format schema
_TOP_LEVEL = frozenset({"guardrailConfig", "performanceConfig", "requestMetadata", "promptVariables",
                        "additionalModelResponseFieldPaths", "serviceTier", "outputConfig"})
_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096}
_NO_REASONING = frozenset({"none", "disable", "disabled"})


def body(call: Call) -> dict[str, Any]:
    """The Converse (and ConverseStream: same body) request for a chat call."""
    params = call.params
    assert isinstance(params, ChatParams)
    system, turns = convert_messages.convert(call.messages)
    out: dict[str, Any] = {"messages": turns}
    if system:
        out["system"] = system
    extra = dict(call.params.provider_params)
    additional: dict[str, Any] = dict(extra.pop("additionalModelRequestFields", None) or {})
    thinking = _reasoning(call, params, extra, additional)
    inference = _inference_config(call, params, thinking)
    if inference:
        out["inferenceConfig"] = inference
    tool_config = _tool_config(call, params, forced_allowed=thinking is None)
    if tool_config:
        out["toolConfig"] = tool_config
    if params.user:
        out["requestMetadata"] = {"user": params.user}  # tags the invocation log, as OpenAI's `user` does
    top_k = extra.pop("top_k", None)
    if top_k is not None:
        if models.family(models.model_id(call)) == "amazon":  # Nova: additionalModelRequestFields.inferenceConfig
            additional.setdefault("inferenceConfig", {})["topK"] = top_k
        else:
            additional["top_k"] = top_k
    for name, value in extra.items():
        if name in _TOP_LEVEL:
            out[name] = value
        else:
            additional[name] = value
    if additional:
        out["additionalModelRequestFields"] = additional
    out.update(call.extra_body)
    return out


def _inference_config(call: Call, params: ChatParams, thinking: dict[str, Any] | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = params.max_completion_tokens or params.max_tokens
    if max_tokens is None and _requires_max_tokens(call, thinking):
        info = models.model_info(models.model_id(call))
        if info is not None and info.max_output_tokens:
            max_tokens = info.max_output_tokens
    if max_tokens is not None:
        config["maxTokens"] = max_tokens
    if params.temperature is not None:
        config["temperature"] = params.temperature
    if params.top_p is not None:
        config["topP"] = params.top_p
    if params.stop is not None:
        config["stopSequences"] = [params.stop] if isinstance(params.stop, str) else list(params.stop)
    return config


def _requires_max_tokens(call: Call, thinking: dict[str, Any] | None) -> bool:
    """Anthropic's models need max_tokens (their Messages API has no default), and a thinking budget must fit
    below it; other families default it on Bedrock's side."""
    return thinking is not None or models.family(models.model_id(call)) == "anthropic"


def _reasoning(call: Call, params: ChatParams, extra: dict[str, Any],
               additional: dict[str, Any]) -> dict[str, Any] | None:
    """Put the reasoning request in additionalModelRequestFields; the Anthropic `thinking` object when one."""
    family = models.family(models.model_id(call))
    thinking = extra.pop("thinking", None)
    if thinking is not None:
        if not isinstance(thinking, dict):
            raise BadRequestError("thinking must be an object such as {'type': 'enabled', 'budget_tokens': 2048}",
                                  provider=call.provider, model=call.model, param="thinking")
        additional["thinking"] = thinking
        return thinking if thinking.get("type") == "enabled" else None
    effort = params.reasoning_effort
    if effort is None or effort in _NO_REASONING:
        return None
    if family == "anthropic":
        if effort not in _BUDGETS:
            raise BadRequestError(f"reasoning_effort must be one of {', '.join(_BUDGETS)}, not {effort!r}",
                                  provider=call.provider, model=call.model, param="reasoning_effort")
        thinking = {"type": "enabled", "budget_tokens": _BUDGETS[effort]}
        additional["thinking"] = thinking
        return thinking
    if family == "amazon":  # Nova 2: https://docs.aws.amazon.com/nova/latest/userguide/extended-thinking.html
        additional["reasoningConfig"] = {"type": "enabled", "maxReasoningEffort": effort}
    else:
        additional["reasoning_effort"] = effort
    return None


def _tool_config(call: Call, params: ChatParams, *, forced_allowed: bool) -> dict[str, Any] | None:
    tools: list[dict[str, Any]] = []
    for tool in params.tools or []:
        tools.append(_tool(tool, call))
        if tool.get("cache_control"):  # a cachePoint after a tool caches every definition up to it
            tools.append(dict(convert_messages.CACHE_POINT))
    choice = params.tool_choice
    has_history = convert_messages.has_tool_blocks(call.messages)
    if choice == "none":
        if not has_history:
            tools = []
        choice = None
    converse_choice = _tool_choice(choice, call) if tools else None
    schema_tool = _response_format_tool(params.response_format)
    if schema_tool is not None:
        tools.append(schema_tool)
        if not params.tools and forced_allowed:
            converse_choice = {"tool": {"name": JSON_TOOL}}
    if not tools:
        return None
    config: dict[str, Any] = {"tools": tools}
    if converse_choice is not None:
        config["toolChoice"] = converse_choice
    return config


def _tool(tool: dict[str, Any], call: Call) -> dict[str, Any]:
    if tool.get("type") == "cache_point" or "cachePoint" in tool:  # LiteLLM's way to place a tools cache point
        return dict(convert_messages.CACHE_POINT)
    function = tool.get("function")
    if tool.get("type") != "function" or not isinstance(function, dict) or not function.get("name"):
        raise BadRequestError(f"Bedrock takes function tools only, not {tool.get('type')!r}",
                              provider=call.provider, model=call.model, param="tools")
    spec: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        spec["description"] = function["description"]
    spec["inputSchema"] = {"json": function.get("parameters") or {"type": "object", "properties": {}}}
    return {"toolSpec": spec}


def _tool_choice(choice: Any, call: Call) -> dict[str, Any] | None:
    if choice is None or choice == "auto":
        return {"auto": {}} if choice == "auto" else None
    if choice == "required":
        return {"any": {}}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if choice.get("type") == "function" and name:
            return {"tool": {"name": name}}
    raise BadRequestError(f"tool_choice must be 'auto', 'none', 'required' or a named function, not {choice!r}",
                          provider=call.provider, model=call.model, param="tool_choice")


def _response_format_tool(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    if not response_format or response_format.get("type") == "text":
        return None
    if response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") or {"type": "object"}
        description = spec.get("description") or f"Respond with a JSON object ({spec.get('name', 'response')})."
    elif response_format.get("type") == "json_object":
        schema = {"type": "object"}
        description = "Respond with a JSON object."
    else:
        raise BadRequestError(f"unknown response_format type {response_format.get('type')!r}",
                              provider="bedrock", param="response_format")
    return {"toolSpec": {"name": JSON_TOOL, "description": description, "inputSchema": {"json": schema}}}
