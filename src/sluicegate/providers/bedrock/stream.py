"""ConverseStream events → OpenAI chat.completion.chunk dicts (https://docs.aws.amazon.com/bedrock/latest/
APIReference/API_runtime_ConverseStream.html).

The transport decodes the binary event stream; each event arrives as `SseEvent(event=<:event-type>, data=<JSON>)`:
messageStart, contentBlockStart (a toolUse block's id and name), contentBlockDelta (text, toolUse.input
fragments, reasoningContent text/signature/redactedContent), contentBlockStop, messageStop (stopReason) and
metadata (usage, metrics). Tool blocks get OpenAI indexes 0, 1, … in the order they start, whatever their
contentBlockIndex. A finished thinking block is sent once, whole, as `delta.thinking_blocks`, so the caller can
pass it back (with its signature) on the next turn.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from sluicegate.params import ChatParams
from sluicegate.providers.base import Call, SseEvent
from sluicegate.providers.bedrock import models
from sluicegate.providers.bedrock.errors import stream_error
from sluicegate.providers.bedrock.request import JSON_TOOL
from sluicegate.providers.bedrock.response import finish_reason, response_id, usage, wants_json


class ConverseStream:
    """One ConverseStream's state: tool indexes by block, thinking text held until its block ends."""

    __slots__ = ("_call", "_created", "_id", "_include_usage", "_json_blocks", "_model", "_reasoning",
                 "_redacted", "_signatures", "_tool_index", "is_done")

    def __init__(self, call: Call) -> None:
        self._call = call
        self._id = response_id({})
        self._created = int(time.time())
        self._model = models.model_id(call)
        options = call.params.stream_options if isinstance(call.params, ChatParams) else None
        self._include_usage = bool(options and options.get("include_usage"))
        self._tool_index: dict[int, int] = {}  # contentBlockIndex → OpenAI tool_calls index
        self._json_blocks: set[int] = set()  # blocks of the response_format tool: their input is the content
        self._reasoning: dict[int, list[str]] = {}
        self._signatures: dict[int, str] = {}
        self._redacted: dict[int, str] = {}
        self.is_done = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created, "model": self._model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def feed(self, event: SseEvent) -> list[dict[str, Any]]:
        name = event.event or ""
        if name.startswith(("exception:", "error:")):
            self.is_done = True
            raise stream_error(self._call, name, event.data)
        if self.is_done or not event.data:
            return []
        data = orjson.loads(event.data)
        handler = _HANDLERS.get(name)
        return handler(self, data) if handler else []  # events added to the API later are ignored

    def _message_start(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return [self._chunk({"role": data.get("role", "assistant"), "content": ""})]

    def _block_start(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        use = (data.get("start") or {}).get("toolUse")
        if not use:
            return []
        block = int(data.get("contentBlockIndex", 0))
        if use.get("name") == JSON_TOOL and wants_json(self._call):
            self._json_blocks.add(block)
            return []
        index = self._tool_index[block] = len(self._tool_index)
        return [self._chunk({"tool_calls": [{"index": index, "id": use.get("toolUseId"), "type": "function",
                                             "function": {"name": use.get("name"), "arguments": ""}}]})]

    def _block_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        block = int(data.get("contentBlockIndex", 0))
        delta = data.get("delta") or {}
        if "text" in delta:
            return [self._chunk({"content": delta["text"]})] if delta["text"] else []
        if "toolUse" in delta:
            fragment = (delta["toolUse"] or {}).get("input", "")
            if block in self._json_blocks:
                return [self._chunk({"content": fragment})] if fragment else []
            index = self._tool_index.get(block)
            if index is None or not fragment:
                return []
            return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})]
        reasoning = delta.get("reasoningContent")
        if reasoning:
            return self._reasoning_delta(block, reasoning)
        return []

    def _reasoning_delta(self, block: int, reasoning: dict[str, Any]) -> list[dict[str, Any]]:
        if "signature" in reasoning:
            self._signatures[block] = self._signatures.get(block, "") + reasoning["signature"]
        if "redactedContent" in reasoning:
            self._redacted[block] = self._redacted.get(block, "") + reasoning["redactedContent"]
        text = reasoning.get("text")
        if not text:
            return []
        self._reasoning.setdefault(block, []).append(text)
        return [self._chunk({"reasoning_content": text})]

    def _block_stop(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        block = int(data.get("contentBlockIndex", 0))
        thinking: dict[str, Any] | None = None
        if block in self._redacted:
            thinking = {"type": "redacted_thinking", "data": self._redacted.pop(block)}
        elif block in self._reasoning or block in self._signatures:
            thinking = {"type": "thinking", "thinking": "".join(self._reasoning.pop(block, []))}
            if block in self._signatures:
                thinking["signature"] = self._signatures.pop(block)
        return [self._chunk({"thinking_blocks": [thinking]})] if thinking else []

    def _message_stop(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        reason = finish_reason(data.get("stopReason"), bool(self._tool_index))
        chunk = self._chunk({}, reason)
        fields = data.get("additionalModelResponseFields")
        if fields:
            chunk["choices"][0]["delta"]["provider_specific_fields"] = {"additionalModelResponseFields": fields}
        return [chunk]

    def _metadata(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        self.is_done = True
        if not self._include_usage:
            return []
        chunk = self._chunk({})
        chunk["choices"] = []
        chunk["usage"] = usage(data.get("usage") or {})
        return [chunk]

    def finish(self) -> list[dict[str, Any]]:
        return []


_HANDLERS = {
    "messageStart": ConverseStream._message_start, "contentBlockStart": ConverseStream._block_start,
    "contentBlockDelta": ConverseStream._block_delta, "contentBlockStop": ConverseStream._block_stop,
    "messageStop": ConverseStream._message_stop, "metadata": ConverseStream._metadata,
}
