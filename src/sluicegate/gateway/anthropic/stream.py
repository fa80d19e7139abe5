"""OpenAI chat chunks → Anthropic stream events, in Anthropic's order (https://docs.anthropic.com/en/api/messages-streaming).

message_start, then per content block content_block_start / content_block_delta… / content_block_stop (blocks
never interleave; indexes count up from 0; one ping after the first block starts, where Anthropic sends it), then
message_delta (stop_reason, usage) and message_stop.
The one stateful piece of the translation: a fresh `MessageStream` per response, fed chunk by chunk.
"""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.errors import APIError
from sluicegate.gateway.anthropic.response import map_stop, map_usage, message_id, tool_use_id

Event = tuple[str, dict[str, Any]]  # (event name, data); the data's "type" is the same name


def encode(event: Event) -> bytes:
    """One server-sent event as Anthropic frames it: `event: <type>` then `data: <json>`."""
    name, data = event
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessageStream:
    """Feed it each OpenAI chunk, then call `finish()` once the upstream stream has ended."""

    def __init__(self, model: str, stop_sequences: list[str] | None = None) -> None:
        self._model = model
        self._stop_sequences = stop_sequences or []
        self._is_started = False
        self._open: str | int | None = None  # "text", "thinking", or the OpenAI index of the open tool call
        self._next_index = 0
        self._tool_calls_seen: set[int] = set()
        self._finish_reason: str | None = None
        self._matched_stop: Any = None
        self._usage: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        events = self._start(chunk.get("id"))
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue  # Anthropic has no `n`: only the first choice is an answer
            events += self._delta(choice.get("delta") or {})
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
                self._matched_stop = choice.get("stop_reason")
        return events

    def finish(self) -> list[Event]:
        events = self._start(None)
        events += self._close()
        stop_reason, stop_sequence = map_stop(self._finish_reason, bool(self._tool_calls_seen), self._matched_stop,
                                              self._stop_sequences)
        usage: dict[str, Any] = map_usage(self._usage)
        if self._usage is None:  # the upstream reported none: say only what Anthropic requires
            usage = {"output_tokens": 0}
        events.append(("message_delta", {"type": "message_delta",
                                         "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                                         "usage": usage}))
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def _start(self, upstream_id: Any) -> list[Event]:
        if self._is_started:
            return []
        self._is_started = True
        message: dict[str, Any] = {
            "id": message_id(upstream_id), "type": "message", "role": "assistant", "model": self._model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},  # OpenAI reports usage only at the end
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _delta(self, delta: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        reasoning = delta.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            events += self._switch("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            events.append(self._block_delta({"type": "thinking_delta", "thinking": reasoning}))
        content = delta.get("content")
        if isinstance(content, str) and content:
            events += self._switch("text", {"type": "text", "text": ""})
            events.append(self._block_delta({"type": "text_delta", "text": content}))
        for call in delta.get("tool_calls") or []:
            events += self._tool_call(call)
        return events

    def _tool_call(self, call: dict[str, Any]) -> list[Event]:
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        arguments = function.get("arguments") or ""
        events: list[Event] = []
        if position != self._open:
            if position in self._tool_calls_seen:
                if not arguments:
                    return []
                # Anthropic blocks cannot reopen; OpenAI sends each call's fragments together, so this is rare.
                raise APIError("the upstream interleaved the arguments of parallel tool calls, which an Anthropic "
                               "stream cannot carry; retry without streaming", status_code=502)
            self._tool_calls_seen.add(position)
            block: dict[str, Any] = {"type": "tool_use", "id": tool_use_id(call.get("id")),
                                     "name": function.get("name") or "", "input": {}}
            events += self._switch(position, block)
        if arguments:
            events.append(self._block_delta({"type": "input_json_delta", "partial_json": arguments}))
        return events

    def _switch(self, kind: str | int, block: dict[str, Any]) -> list[Event]:
        """Close the open block unless it is `kind`, and start `block` in its place."""
        if self._open == kind:
            return []
        events = self._close()
        self._open = kind
        events.append(("content_block_start", {"type": "content_block_start", "index": self._next_index,
                                               "content_block": block}))
        if self._next_index == 0:
            events.append(("ping", {"type": "ping"}))
        return events

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        self._next_index += 1
        return [("content_block_stop", {"type": "content_block_stop", "index": self._next_index - 1})]

    def _block_delta(self, delta: dict[str, Any]) -> Event:
        return "content_block_delta", {"type": "content_block_delta", "index": self._next_index, "delta": delta}
