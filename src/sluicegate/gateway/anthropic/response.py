"""An OpenAI chat completion → the Anthropic `message` object its SDK parses (`anthropic.types.Message`).

Pure. The usage and stop-reason rules here are shared with stream.py, so both paths answer alike.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from sluicegate.errors import APIError

# OpenAI finish_reason → Anthropic stop_reason (https://docs.anthropic.com/en/api/messages, `stop_reason`).
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                 "content_filter": "refusal"}


def message_id(upstream_id: Any) -> str:
    return "msg_" + (str(upstream_id) if upstream_id else uuid.uuid4().hex)


def tool_use_id(upstream_id: Any) -> str:
    """The upstream call id as is (clients send it back in tool_result), or a fresh Anthropic-style one."""
    return str(upstream_id) if upstream_id else "toolu_" + uuid.uuid4().hex[:24]


def map_stop(finish_reason: Any, has_tool_calls: bool, matched: Any,
             stop_sequences: list[str]) -> tuple[str, str | None]:
    """(stop_reason, stop_sequence). OpenAI does not say which stop sequence ended the answer; servers that do
    (vLLM's `stop_reason`) are believed when the string is one the caller asked for."""
    if isinstance(matched, str) and matched in stop_sequences:
        return "stop_sequence", matched
    if has_tool_calls and finish_reason in ("stop", "tool_calls", "function_call", None):
        return "tool_use", None  # some servers finish a tool call with "stop"
    return _STOP_REASONS.get(str(finish_reason), "end_turn"), None


def map_usage(openai_usage: dict[str, Any] | None) -> dict[str, int]:
    """Anthropic usage from OpenAI usage. Anthropic's input_tokens exclude cached tokens (read or written), which
    it reports apart; OpenAI's prompt_tokens include them."""
    if not openai_usage:
        return {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    details = openai_usage.get("prompt_tokens_details") or {}
    cache_read = int(details.get("cached_tokens") or openai_usage.get("cache_read_input_tokens") or 0)
    cache_creation = int(openai_usage.get("cache_creation_input_tokens") or 0)
    prompt = int(openai_usage.get("prompt_tokens") or 0)
    return {"input_tokens": max(prompt - cache_read - cache_creation, 0),
            "output_tokens": int(openai_usage.get("completion_tokens") or 0),
            "cache_creation_input_tokens": cache_creation, "cache_read_input_tokens": cache_read}


def to_message(data: dict[str, Any], model: str, stop_sequences: list[str]) -> dict[str, Any]:
    """The Anthropic message for an OpenAI chat completion; `model` is the name the client asked for."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise APIError(f"the upstream answered without a choice: {str(data)[:200]}", status_code=502)
    choice = choices[0]
    message = choice.get("message") or {}
    calls = message.get("tool_calls") or []
    stop_reason, stop_sequence = map_stop(choice.get("finish_reason"), bool(calls), choice.get("stop_reason"),
                                      stop_sequences)
    if message.get("refusal") and not message.get("content"):
        stop_reason = "refusal"
    return {"id": message_id(data.get("id")), "type": "message", "role": "assistant", "model": model,
            "content": content_blocks(message), "stop_reason": stop_reason, "stop_sequence": stop_sequence,
            "usage": map_usage(data.get("usage"))}


def content_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """thinking (from reasoning_content), then text, then one tool_use block per tool call."""
    blocks: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = _text(message.get("content")) or message.get("refusal") or ""
    if text:
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        blocks += _tool_use(call)
    return blocks


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts, as a few servers answer
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content if isinstance(content, str) else ""


def _tool_use(call: dict[str, Any]) -> list[dict[str, Any]]:
    """A tool_use block. Arguments that are not a JSON object become `input: {}`, and the raw text is kept in a
    text block just before it, so the client sees exactly what the model produced."""
    function = call.get("function") or {}
    raw = function.get("arguments") or ""
    block: dict[str, Any] = {"type": "tool_use", "id": tool_use_id(call.get("id")),
                             "name": function.get("name") or "", "input": {}}
    if isinstance(raw, dict):  # a few servers send the arguments already parsed
        block["input"] = raw
        return [block]
    try:
        parsed = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        block["input"] = parsed
        return [block]
    return [{"type": "text", "text": raw}, block]
