"""Anthropic's stream events → OpenAI chat.completion.chunk dicts (https://docs.anthropic.com/en/api/messages-streaming).

Events come in this order: message_start; per content block content_block_start, content_block_delta…,
content_block_stop (pings anywhere); message_delta (stop_reason, cumulative usage); message_stop. An `error`
event may arrive instead of the rest. Events of unknown types are skipped, as Anthropic asks of clients.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from sluicegate.params import ChatParams
from sluicegate.providers.anthropic.errors import stream_error
from sluicegate.providers.anthropic.request import JSON_TOOL_NAME
from sluicegate.providers.anthropic.response import finish_reason, is_json_answer, map_usage
from sluicegate.providers.base import Call, SseEvent


class _Block:
    """What the parser remembers of an open content block."""

    __slots__ = ("data", "kind", "signature", "thinking", "tool_index")

    def __init__(self, kind: str, tool_index: int | None = None, data: str = "") -> None:
        self.kind = kind  # "text", "tool", "json", "thinking", "redacted_thinking" or "other"
        self.tool_index = tool_index  # the OpenAI tool_calls index of a tool_use block
        self.thinking: list[str] = []
        self.signature = ""
        self.data = data  # a redacted_thinking block's encrypted data


class AnthropicStream:
    """Fresh per stream: tracks the content blocks by Anthropic index and the usage that arrives in two parts."""

    __slots__ = ("_blocks", "_call", "_created", "_id", "_include_usage", "_is_json_answer", "_model",
                 "_tool_count", "_usage", "is_done")

    def __init__(self, call: Call) -> None:
        self._call = call
        params = call.params
        options = params.stream_options if isinstance(params, ChatParams) else None
        self._include_usage = bool((options or {}).get("include_usage"))
        self._is_json_answer = is_json_answer(call)
        self._id = ""
        self._model = call.model
        self._created = int(time.time())
        self._blocks: dict[int, _Block] = {}
        self._tool_count = 0
        self._usage: dict[str, Any] = {}
        self.is_done = False

    def feed(self, event: SseEvent) -> list[dict[str, Any]]:
        if self.is_done or not event.data:
            return []
        data = orjson.loads(event.data)
        kind = str(data.get("type") or event.event)
        if kind == "error":
            self.is_done = True
            raise stream_error(self._call, event.data)
        handler = _HANDLERS.get(kind)
        return handler(self, data) if handler is not None else []

    def finish(self) -> list[dict[str, Any]]:
        return []

    def _message_start(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        message = data.get("message") or {}
        self._id = message.get("id", "")
        self._model = message.get("model") or self._model
        self._usage = dict(message.get("usage") or {})
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        block = data.get("content_block") or {}
        kind = block.get("type")
        index = data.get("index", 0)
        if kind == "text":
            self._blocks[index] = _Block("text")
            return [self._chunk({"content": block["text"]})] if block.get("text") else []
        if kind == "tool_use" and self._is_json_answer and block.get("name") == JSON_TOOL_NAME:
            self._blocks[index] = _Block("json")
            return []
        if kind == "tool_use":
            self._blocks[index] = _Block("tool", self._tool_count)
            self._tool_count += 1
            call = {"index": self._blocks[index].tool_index, "id": block.get("id", ""), "type": "function",
                    "function": {"name": block.get("name", ""), "arguments": ""}}
            return [self._chunk({"tool_calls": [call]})]
        if kind == "thinking":
            self._blocks[index] = _Block("thinking")
            return self._thinking_delta(index, block.get("thinking", ""))
        if kind == "redacted_thinking":
            self._blocks[index] = _Block("redacted_thinking", data=block.get("data", ""))
            return []
        self._blocks[index] = _Block("other")  # server tool blocks: nothing an OpenAI client can show
        return []

    def _block_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        index = data.get("index", 0)
        delta = data.get("delta") or {}
        kind = delta.get("type")
        block = self._blocks.get(index)
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "input_json_delta" and delta.get("partial_json") and block is not None:
            if block.kind == "json":  # the response_format tool's input is the answer itself
                return [self._chunk({"content": delta["partial_json"]})]
            if block.kind == "tool":
                call = {"index": block.tool_index, "function": {"arguments": delta["partial_json"]}}
                return [self._chunk({"tool_calls": [call]})]
        if kind == "thinking_delta":
            return self._thinking_delta(index, delta.get("thinking", ""))
        if kind == "signature_delta" and block is not None:
            block.signature += delta.get("signature", "")
        return []

    def _thinking_delta(self, index: int, text: str) -> list[dict[str, Any]]:
        if not text:
            return []
        self._blocks[index].thinking.append(text)
        return [self._chunk({"reasoning_content": text})]

    def _block_stop(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """A finished thinking block is sent whole, signature included, for the caller to send back next turn."""
        block = self._blocks.get(data.get("index", 0))
        if block is None:
            return []
        if block.kind == "thinking":
            whole = {"type": "thinking", "thinking": "".join(block.thinking), "signature": block.signature}
        elif block.kind == "redacted_thinking":
            whole = {"type": "redacted_thinking", "data": block.data}
        else:
            return []
        return [self._chunk({"thinking_blocks": [whole]})]

    def _message_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        # message_delta's usage counts are cumulative: they replace message_start's where given.
        self._usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
        stop_reason = (data.get("delta") or {}).get("stop_reason")
        json_only = self._is_json_answer and self._tool_count == 0
        chunks = [self._chunk({}, finish_reason(stop_reason, json_answer=json_only))]
        if self._include_usage:
            chunks.append({"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                           "model": self._model, "choices": [], "usage": map_usage(self._usage)})
        return chunks

    def _message_stop(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        self.is_done = True
        return []

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created, "model": self._model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


_HANDLERS = {
    "message_start": AnthropicStream._message_start,
    "content_block_start": AnthropicStream._block_start,
    "content_block_delta": AnthropicStream._block_delta,
    "content_block_stop": AnthropicStream._block_stop,
    "message_delta": AnthropicStream._message_delta,
    "message_stop": AnthropicStream._message_stop,
}
