"""Cohere's v2 chat stream as OpenAI chunks (https://docs.cohere.com/docs/streaming).

Each SSE event carries its kind twice (`event:` and the JSON's `type`); the JSON is trusted. Text and thinking
arrive as content-delta (thinking → `reasoning_content`), the tool plan as tool-plan-delta (→ `content`, as the
non-stream answer has it), tool calls as tool-call-start/-delta/-end keyed by Cohere's block index, which is
shared with content blocks: each call gets its own OpenAI index 0, 1, … in order of appearance. message-end
carries the finish reason and usage; a finish reason of ERROR or TIMEOUT ends the stream with an error.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from sluicegate.errors import APIConnectionError, APIError
from sluicegate.params import ChatParams
from sluicegate.providers.base import Call, SseEvent
from sluicegate.providers.cohere.errors import map_error
from sluicegate.providers.cohere.response import failed_generation, finish_reason, logprob_entry, usage


class CohereStream:
    __slots__ = ("_call", "_created", "_id", "_include_usage", "_saw_events", "_tool_indexes", "is_done")

    def __init__(self, call: Call) -> None:
        self._call = call
        self._created = int(time.time())
        self._id = ""
        params = call.params
        options = params.stream_options if isinstance(params, ChatParams) else None
        self._include_usage = bool(options and options.get("include_usage"))
        self._tool_indexes: dict[int, int] = {}  # Cohere block index → OpenAI tool_call index
        self._saw_events = False
        self.is_done = False

    def feed(self, event: SseEvent) -> list[dict[str, Any]]:
        data = event.data
        if data == "[DONE]":
            self.is_done = True
            return []
        if not data or self.is_done:
            return []
        payload = orjson.loads(data)
        self._saw_events = True
        kind = payload.get("type") or event.event
        if kind is None and "message" in payload:  # an error body sent in place of an event
            self.is_done = True
            raise map_error(self._call, 500, {}, data.encode())
        handler = _HANDLERS.get(str(kind))
        return handler(self, payload) if handler is not None else []  # "debug" and future kinds: nothing to say

    def finish(self) -> list[dict[str, Any]]:
        if self._saw_events and not self.is_done:
            raise APIConnectionError("the Cohere stream ended before its message-end event",
                                     provider=self._call.provider, model=self._call.model)
        return []

    def _chunk(self, delta: dict[str, Any], finish: str | None = None,
               logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        if logprobs is not None:
            choice["logprobs"] = logprobs
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                "model": self._call.model, "choices": [choice]}

    def _message_start(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        self._id = payload.get("id") or self._id
        return [self._chunk({"role": "assistant", "content": ""})]

    def _content(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        content = _message(payload).get("content") or {}
        delta = {}
        if content.get("text"):
            delta["content"] = content["text"]
        if content.get("thinking"):
            delta["reasoning_content"] = content["thinking"]
        item = payload.get("logprobs")
        logprobs = {"content": [logprob_entry(item)]} if item else None
        return [self._chunk(delta, logprobs=logprobs)] if delta else []

    def _tool_plan(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        plan = _message(payload).get("tool_plan")
        return [self._chunk({"content": plan})] if plan else []

    def _tool_call_start(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        started = _message(payload).get("tool_calls") or {}
        function = started.get("function") or {}
        index = self._tool_indexes.setdefault(int(payload.get("index") or 0), len(self._tool_indexes))
        call = {"index": index, "id": started.get("id"), "type": "function",
                "function": {"name": function.get("name"), "arguments": function.get("arguments") or ""}}
        return [self._chunk({"tool_calls": [call]})]

    def _tool_call_delta(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        fragment = ((_message(payload).get("tool_calls") or {}).get("function") or {}).get("arguments")
        index = self._tool_indexes.get(int(payload.get("index") or 0))
        if not fragment or index is None:
            return []
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})]

    def _citation(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        citation = _message(payload).get("citations")
        if not citation:
            return []
        return [self._chunk({"provider_specific_fields": {"citations": [citation]}})]

    def _message_end(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        self.is_done = True
        delta = payload.get("delta") or {}
        reason = delta.get("finish_reason")
        failed: APIError | None = failed_generation(self._call, reason, delta.get("error"), {})
        if failed is not None:
            raise failed
        end = {}
        billed = (delta.get("usage") or {}).get("billed_units")
        if billed:
            end["provider_specific_fields"] = {"billed_units": billed}
        chunks = [self._chunk(end, finish_reason(reason))]
        if self._include_usage:
            chunks.append({"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                           "model": self._call.model, "choices": [], "usage": usage(delta.get("usage"))})
        return chunks


def _message(payload: dict[str, Any]) -> dict[str, Any]:
    return (payload.get("delta") or {}).get("message") or {}


_HANDLERS = {
    "message-start": CohereStream._message_start,
    "content-start": CohereStream._content,
    "content-delta": CohereStream._content,
    "tool-plan-delta": CohereStream._tool_plan,
    "tool-call-start": CohereStream._tool_call_start,
    "tool-call-delta": CohereStream._tool_call_delta,
    "citation-start": CohereStream._citation,
    "message-end": CohereStream._message_end,
}
