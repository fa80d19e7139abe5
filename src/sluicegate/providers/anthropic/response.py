"""An Anthropic `message` → an OpenAI chat.completion dict (https://docs.anthropic.com/en/api/messages).

Also the two mappings the stream parser shares: stop_reason → finish_reason, and usage → OpenAI usage.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from sluicegate.errors import APIError
from sluicegate.params import ChatParams
from sluicegate.providers.anthropic.request import JSON_TOOL_NAME
from sluicegate.providers.base import Call, Headers

# https://docs.anthropic.com/en/api/handling-stop-reasons. pause_turn (a server tool paused a long turn; the
# caller sends the answer back to continue) ends this answer normally.
FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
                  "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter"}


def finish_reason(stop_reason: str | None, *, json_answer: bool = False) -> str:
    """OpenAI's finish_reason; a call of the response_format tool alone is a finished answer ("stop")."""
    if stop_reason == "tool_use" and json_answer:
        return "stop"
    return FINISH_REASONS.get(stop_reason or "", "stop")


def map_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic's usage → OpenAI's: prompt_tokens counts every input token, cached or not."""
    uncached = usage.get("input_tokens") or 0
    cache_read = usage.get("cache_read_input_tokens") or 0
    cache_write = usage.get("cache_creation_input_tokens") or 0
    prompt = uncached + cache_read + cache_write
    completion = usage.get("output_tokens") or 0
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": prompt + completion,
                           "prompt_tokens_details": {"cached_tokens": cache_read}}
    thinking = (usage.get("output_tokens_details") or {}).get("thinking_tokens")
    if thinking is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": thinking}
    for name in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        if usage.get(name) is not None:
            out[name] = usage[name]
    return out


def is_json_answer(call: Call) -> bool:
    """Whether the call asked for JSON through the response_format tool (see request.JSON_TOOL_NAME)."""
    params = call.params
    return isinstance(params, ChatParams) and (params.response_format or {}).get("type") in ("json_object",
                                                                                             "json_schema")


def parse_response(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get("type") != "message" or not isinstance(data.get("content"), list):
        raise APIError(f"anthropic returned a {status} response that is not a message: {body[:200]!r}",
                       provider=call.provider, model=call.model, status_code=502, headers=headers)
    message, only_json = _message(data["content"], is_json_answer(call))
    return {
        "id": data.get("id", ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": data.get("model") or call.model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": finish_reason(data.get("stop_reason"), json_answer=only_json)}],
        "usage": map_usage(data.get("usage") or {}),
    }


def _message(blocks: list[dict[str, Any]], json_answer: bool) -> tuple[dict[str, Any], bool]:
    """The OpenAI message for a list of content blocks, and whether the answer is the JSON tool's call alone."""
    texts: list[str] = []
    reasoning: list[str] = []
    thinking_blocks: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    extras: dict[str, list[Any]] = {}
    json_text: str | None = None
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
            if block.get("citations"):
                extras.setdefault("citations", []).extend(block["citations"])
        elif kind == "tool_use" and json_answer and block.get("name") == JSON_TOOL_NAME:
            json_text = orjson.dumps(block.get("input") or {}).decode()
        elif kind == "tool_use":
            tool_calls.append({"id": block.get("id", ""), "type": "function", "function": {
                "name": block.get("name", ""), "arguments": orjson.dumps(block.get("input") or {}).decode()}})
        elif kind == "thinking":
            reasoning.append(block.get("thinking", ""))
            thinking_blocks.append({"type": "thinking", "thinking": block.get("thinking", ""),
                                    "signature": block.get("signature", "")})
        elif kind == "redacted_thinking":
            thinking_blocks.append({"type": "redacted_thinking", "data": block.get("data", "")})
        else:  # server tools' blocks (server_tool_use, web_search_tool_result …): OpenAI has no field for them
            extras.setdefault("content_blocks", []).append(block)
    # The JSON answer is the content; text the model wrote around the tool call is not part of it.
    content = json_text if json_text is not None else ("".join(texts) if texts else None)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if thinking_blocks:
        message["thinking_blocks"] = thinking_blocks
    if extras:
        message["provider_specific_fields"] = extras
    return message, json_text is not None and not tool_calls
