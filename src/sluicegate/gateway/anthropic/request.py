"""An Anthropic Messages request → the OpenAI chat call that means the same (messages plus keyword params).

Reference: https://docs.anthropic.com/en/api/messages and the `anthropic` SDK's `types/message_create_params.py`.
Pure: no catalog look-ups, no I/O. What an OpenAI-format model cannot honour is refused with a 400 naming the
field, except thinking blocks in the history and caching hints, which are dropped (see docs/gateway/anthropic.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sluicegate.errors import BadRequestError

# Top-level fields translated below.
_TRANSLATED = frozenset({"model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
                         "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "output_config"})
# Hints about how Anthropic itself serves or bills a request; they do not change what the answer means.
_IGNORED = frozenset({"cache_control", "service_tier", "inference_geo", "speed", "diagnostics", "user_profile_id",
                      "workspace_id"})
# What POST /v1/messages/count_tokens takes: the prompt, without generation settings.
_COUNT_FIELDS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config"})

# thinking.budget_tokens → reasoning_effort: the inverse of LiteLLM's effort → budget table (low 1024, medium
# 2048, high 4096), so a budget LiteLLM would send for an effort maps back to that effort.
_LOW_BELOW = 2048
_MEDIUM_BELOW = 4096
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


@dataclass(slots=True)
class ChatRequest:
    """An Anthropic request as an OpenAI chat call, plus what translating the answer back needs."""

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)  # OpenAI chat keywords, ready for prepare()
    reasoning_effort: str | None = None  # sent only to deployments whose model supports reasoning
    stop_sequences: list[str] = field(default_factory=list)
    is_stream: bool = False


def to_chat(body: dict[str, Any], *, for_count: bool = False) -> ChatRequest:
    """Translate a Messages request body (or a count_tokens body, with `for_count`); 400 on anything invalid."""
    _check_fields(body, (_COUNT_FIELDS if for_count else _TRANSLATED) | _IGNORED)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid("model", "Field required: the name of a model this gateway serves")
    if not for_count:
        _require_max_tokens(body.get("max_tokens"))
    messages = [*_system(body.get("system")), *_messages(body.get("messages"))]
    request = ChatRequest(model=model, messages=messages, is_stream=body.get("stream") is True)
    _generation(body, request)
    _tooling(body, request)
    request.reasoning_effort = _effort(body.get("thinking"), body.get("output_config"))
    return request


def _check_fields(body: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _invalid(unknown[0], "Extra inputs are not permitted (this gateway translates the Messages API "
                                   "for OpenAI-format models and does not support this field)")


def _require_max_tokens(value: Any) -> None:
    if value is None:
        raise _invalid("max_tokens", "Field required: the most tokens the answer may have")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _invalid("max_tokens", f"must be a positive integer, not {value!r:.40}")


def _generation(body: dict[str, Any], request: ChatRequest) -> None:
    params = request.params
    if body.get("max_tokens") is not None:
        params["max_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p", "top_k"):  # top_k has no OpenAI field: it travels as a provider param
        value = body.get(name)
        if value is not None:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise _invalid(name, f"must be a number, not {value!r:.40}")
            params[name] = value
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise _invalid("stop_sequences", "must be a list of strings")
        if stops:
            params["stop"] = list(stops)
            request.stop_sequences = list(stops)
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise _invalid("metadata", "must be an object")
        if isinstance(metadata.get("user_id"), str):
            params["user"] = metadata["user_id"]
    if request.is_stream:
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}  # so message_delta can carry real output_tokens
    response_format = _response_format(body.get("output_config"))
    if response_format is not None:
        params["response_format"] = response_format


def _tooling(body: dict[str, Any], request: ChatRequest) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _invalid("tools", "must be a list of tools")
        if tools:
            request.params["tools"] = [_tool(tool, f"tools.{i}") for i, tool in enumerate(tools)]
    choice = body.get("tool_choice")
    if choice is not None:
        request.params.update(_tool_choice(choice))


def _tool(tool: Any, where: str) -> dict[str, Any]:
    if not isinstance(tool, dict):
        raise _invalid(where, "must be an object")
    kind = tool.get("type", "custom")
    if kind != "custom":  # Anthropic-defined tools (bash_…, web_search_…): only Claude knows their schemas
        raise _invalid(f"{where}.type", f"tool type {kind!r} is Anthropic-specific and cannot be sent to an "
                                        "OpenAI-format model; define it as a custom tool with an input_schema")
    name, schema = tool.get("name"), tool.get("input_schema")
    if not isinstance(name, str) or not name:
        raise _invalid(f"{where}.name", "Field required")
    if not isinstance(schema, dict):
        raise _invalid(f"{where}.input_schema", "Field required: the tool's JSON schema")
    function: dict[str, Any] = {"name": name}
    if tool.get("description"):
        function["description"] = tool["description"]
    function["parameters"] = schema
    if tool.get("strict") is True:
        function["strict"] = True
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> dict[str, Any]:
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in _TOOL_CHOICES:
        out: dict[str, Any] = {"tool_choice": _TOOL_CHOICES[kind]}
    elif kind == "tool":
        if not isinstance(choice.get("name"), str):
            raise _invalid("tool_choice.name", "Field required when tool_choice.type is 'tool'")
        out = {"tool_choice": {"type": "function", "function": {"name": choice["name"]}}}
    else:
        raise _invalid("tool_choice", "must be {'type': 'auto' | 'any' | 'tool' | 'none'}")
    if choice.get("disable_parallel_tool_use") is True:
        out["parallel_tool_calls"] = False
    return out


def _effort(thinking: Any, output_config: Any) -> str | None:
    effort = None
    if thinking is not None:
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        if kind == "enabled":
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or isinstance(budget, bool):
                raise _invalid("thinking.budget_tokens", "Field required: an integer number of tokens")
            effort = "low" if budget < _LOW_BELOW else "medium" if budget < _MEDIUM_BELOW else "high"
        elif kind not in ("disabled", "adaptive"):  # adaptive: the model decides, so no effort is sent
            raise _invalid("thinking", "must be {'type': 'enabled', 'budget_tokens': N}, 'disabled' or 'adaptive'")
    if isinstance(output_config, dict) and output_config.get("effort") is not None:
        effort = _EFFORTS.get(output_config["effort"])
        if effort is None:
            raise _invalid("output_config.effort", f"must be one of {', '.join(_EFFORTS)}")
    return effort


def _response_format(output_config: Any) -> dict[str, Any] | None:
    if output_config is None:
        return None
    if not isinstance(output_config, dict):
        raise _invalid("output_config", "must be an object")
    fmt = output_config.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        raise _invalid("output_config.format", "must be {'type': 'json_schema', 'schema': {...}}")
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": fmt["schema"], "strict": True}}


def _system(system: Any) -> list[dict[str, Any]]:
    if system is None or system == "":
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}]
    if isinstance(system, list):
        texts = [_text_of(block, f"system.{i}") for i, block in enumerate(system)]
        return [{"role": "system", "content": "\n\n".join(texts)}] if texts else []
    raise _invalid("system", "must be a string or a list of text blocks")


def _text_of(block: Any, where: str) -> str:
    if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
        raise _invalid(where, "must be a text block {'type': 'text', 'text': ...}")
    return str(block["text"])


def _messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages", "Field required: a non-empty list of {'role', 'content'} messages")
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise _invalid(where, "must be an object with 'role' and 'content'")
        role, content = message.get("role"), message.get("content")
        if not isinstance(content, str | list):
            raise _invalid(f"{where}.content", "must be a string or a list of content blocks")
        if role == "user":
            out += _user(content, where)
        elif role == "assistant":
            out += _assistant(content, where)
        elif role == "system":
            out += _system(content)
        else:
            raise _invalid(f"{where}.role", f"must be 'user' or 'assistant', not {role!r:.40}")
    return out


def _user(content: str | list[Any], where: str) -> list[dict[str, Any]]:
    """A user turn: its tool results become `tool` messages first, then the rest as one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        at = f"{where}.content.{j}"
        kind = _block_type(block, at)
        if kind == "tool_result":
            message, moved = _tool_result(block, at)
            tool_messages.append(message)
            parts += moved
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            parts.append(_part(block, kind, at))
    out = tool_messages
    if parts:
        is_plain = len(parts) == 1 and parts[0]["type"] == "text"
        out.append({"role": "user", "content": parts[0]["text"] if is_plain else parts})
    return out


def _assistant(content: str | list[Any], where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "assistant", "content": content}]
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        at = f"{where}.content.{j}"
        kind = _block_type(block, at)
        if kind == "text":
            texts.append(_text_of(block, at))
        elif kind == "tool_use":
            calls.append(_tool_call(block, at))
        elif kind not in ("thinking", "redacted_thinking"):  # OpenAI-format upstreams cannot take these back
            raise _unsupported_block(kind, at)
    if not texts and not calls:
        return []  # a turn of thinking only
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def _tool_call(block: dict[str, Any], where: str) -> dict[str, Any]:
    call_id, name = block.get("id"), block.get("name")
    if not isinstance(call_id, str) or not isinstance(name, str):
        raise _invalid(where, "a tool_use block needs 'id' and 'name'")
    arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _tool_result(block: dict[str, Any], where: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The `tool` message for a tool_result, and the image/document parts a tool message cannot carry."""
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str):
        raise _invalid(f"{where}.tool_use_id", "Field required")
    content = block.get("content", "")
    texts: list[str] = []
    moved: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for k, inner in enumerate(content):
            at = f"{where}.content.{k}"
            kind = _block_type(inner, at)
            if kind == "text":
                texts.append(_text_of(inner, at))
            elif kind in ("image", "document"):  # OpenAI tool messages are text only: these follow as user content
                moved.append(_part(inner, kind, at))
            else:
                raise _unsupported_block(kind, at)
    else:
        raise _invalid(f"{where}.content", "must be a string or a list of content blocks")
    text = "\n".join(texts)
    if block.get("is_error") is True:
        text = "Error: " + text
    return {"role": "tool", "tool_call_id": call_id, "content": text}, moved


def _part(block: dict[str, Any], kind: str, where: str) -> dict[str, Any]:
    """A user content block as an OpenAI content part."""
    if kind == "text":
        return {"type": "text", "text": _text_of(block, where)}
    raw_source = block.get("source")
    source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
    source_type = source.get("type")
    if kind == "image" and source_type == "base64":
        return {"type": "image_url", "image_url": {"url": _data_url(source, f"{where}.source")}}
    if kind == "image" and source_type == "url" and isinstance(source.get("url"), str):
        return {"type": "image_url", "image_url": {"url": source["url"]}}
    if kind == "document" and source_type == "base64":
        file: dict[str, Any] = {"file_data": _data_url(source, f"{where}.source")}
        if isinstance(block.get("title"), str):
            file["filename"] = block["title"]
        return {"type": "file", "file": file}
    if kind == "document" and source_type == "text" and isinstance(source.get("data"), str):
        return {"type": "text", "text": source["data"]}
    if kind in ("image", "document"):
        raise _invalid(f"{where}.source", f"{kind} source type {source_type!r} is not supported here: send "
                                          "base64 data" + (" or a URL" if kind == "image" else " or plain text"))
    raise _unsupported_block(kind, where)


def _data_url(source: dict[str, Any], where: str) -> str:
    media_type, data = source.get("media_type"), source.get("data")
    if not isinstance(media_type, str) or not isinstance(data, str):
        raise _invalid(where, "a base64 source needs 'media_type' and 'data'")
    return f"data:{media_type};base64,{data}"


def _block_type(block: Any, where: str) -> str:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise _invalid(where, "must be a content block with a 'type'")
    return str(block["type"])


def _unsupported_block(kind: str, where: str) -> BadRequestError:
    return _invalid(f"{where}.type", f"content block type {kind!r} is not supported here (this gateway "
                                     "translates the Messages API for OpenAI-format models)")


def _invalid(param: str, reason: str) -> BadRequestError:
    return BadRequestError(f"{param}: {reason}", param=param, code="invalid_request")
