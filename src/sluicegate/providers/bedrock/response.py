"""A Converse response → an OpenAI chat.completion dict (https://docs.aws.amazon.com/bedrock/latest/APIReference/
API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax), and the pieces the stream parser shares: usage,
finish reasons, thinking blocks.

Converse's `inputTokens` leaves out cached tokens (`totalTokens` = input + output + cache read + cache write), so
OpenAI's `prompt_tokens` is their sum, with the cache reads in `prompt_tokens_details.cached_tokens`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from sluicegate.errors import APIError
from sluicegate.params import ChatParams
from sluicegate.providers.base import Call, Headers
from sluicegate.providers.bedrock import models
from sluicegate.providers.bedrock.request import JSON_TOOL

# https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax
FINISH_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "model_context_window_exceeded": "length",
    "tool_use": "tool_calls", "guardrail_intervened": "content_filter", "content_filtered": "content_filter",
    "malformed_model_output": "stop", "malformed_tool_use": "stop",
}


def finish_reason(stop_reason: str | None, has_tool_calls: bool) -> str:
    reason = FINISH_REASONS.get(stop_reason or "end_turn", "stop")
    if reason == "tool_calls" and not has_tool_calls:  # the only tool called was the response_format one
        return "stop"
    return reason


def usage(raw: dict[str, Any]) -> dict[str, Any]:
    """Converse TokenUsage → OpenAI usage, cache reads and writes counted in prompt_tokens."""
    uncached = int(raw.get("inputTokens") or 0)
    output = int(raw.get("outputTokens") or 0)
    read = int(raw.get("cacheReadInputTokens") or 0)
    write = int(raw.get("cacheWriteInputTokens") or 0)
    prompt = uncached + read + write
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output,
                           "prompt_tokens_details": {"cached_tokens": read}}
    if "cacheReadInputTokens" in raw or "cacheWriteInputTokens" in raw:
        out["cache_read_input_tokens"] = read
        out["cache_creation_input_tokens"] = write
    return out


def thinking_block(reasoning: dict[str, Any]) -> dict[str, Any]:
    """A Converse reasoningContent block as the Anthropic-style block a caller sends back on the next turn."""
    if "redactedContent" in reasoning:
        return {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
    text = reasoning.get("reasoningText") or {}
    block: dict[str, Any] = {"type": "thinking", "thinking": text.get("text", "")}
    if text.get("signature"):
        block["signature"] = text["signature"]
    return block


def wants_json(call: Call) -> bool:
    """Whether the call's response_format turned into the forced JSON tool (its call is the answer's content)."""
    params = call.params
    return isinstance(params, ChatParams) and bool(params.response_format) and \
        (params.response_format or {}).get("type") in ("json_schema", "json_object")


def response_id(headers: Headers) -> str:
    return "chatcmpl-" + (headers.get("x-amzn-requestid") or uuid.uuid4().hex)


def parse_chat(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    data = _loads(body)
    output = data.get("output") if isinstance(data, dict) else None
    message = output.get("message") if isinstance(output, dict) else None
    if not isinstance(message, dict):
        raise APIError(f"bedrock returned a {status} response that is not a Converse answer: {body[:200]!r}",
                       provider=call.provider, model=call.model, status_code=502, headers=headers)
    texts: list[str] = []
    reasoning: list[str] = []
    thinking_blocks: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    extras: dict[str, Any] = {}
    for block in message.get("content") or []:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            arguments = orjson.dumps(use.get("input") or {}).decode()
            if use.get("name") == JSON_TOOL and wants_json(call):
                texts.append(arguments)
            else:
                tool_calls.append({"id": use.get("toolUseId"), "type": "function",
                                   "function": {"name": use.get("name"), "arguments": arguments}})
        elif "reasoningContent" in block:
            thinking = thinking_block(block["reasoningContent"])
            thinking_blocks.append(thinking)
            if thinking["type"] == "thinking":
                reasoning.append(thinking["thinking"])
        else:  # citationsContent, image … : kept, OpenAI has no field for them
            extras.setdefault("content_blocks", []).append(block)
    out_message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if tool_calls:
        out_message["tool_calls"] = tool_calls
    if thinking_blocks:
        out_message["reasoning_content"] = "".join(reasoning)
        out_message["thinking_blocks"] = thinking_blocks
    for name in ("additionalModelResponseFields", "trace", "metrics", "performanceConfig", "serviceTier"):
        if data.get(name):
            extras[name] = data[name]
    if data.get("stopReason"):
        extras["stop_reason"] = data["stopReason"]
    if extras:
        out_message["provider_specific_fields"] = extras
    return {
        "id": response_id(headers), "object": "chat.completion", "created": int(time.time()),
        "model": models.model_id(call),
        "choices": [{"index": 0, "message": out_message,
                     "finish_reason": finish_reason(data.get("stopReason"), bool(tool_calls))}],
        "usage": usage(data.get("usage") or {}),
    }


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
