"""streamGenerateContent?alt=sse → OpenAI chat.completion.chunk dicts.

Each SSE event is a whole GenerateContentResponse holding the next parts of each candidate
(https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent). Text and thought parts become
content / reasoning_content deltas. A functionCall part arrives complete (name and all arguments at once); it
becomes the two deltas OpenAI sends for a call: one with index, id, type, name and `arguments: ""`, then one
with the arguments. usageMetadata is cumulative on every event, so the last one seen is the stream's usage,
sent as the final `choices: []` chunk when `stream_options.include_usage` asked for it. An error arrives as
`data: {"error": {...}}` and raises from `feed`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from sluicegate.errors import APIError
from sluicegate.params import ChatParams
from sluicegate.providers.base import Call, SseEvent
from sluicegate.providers.gemini.errors import stream_error
from sluicegate.providers.gemini.response import (
    add_parts,
    check_prompt_feedback,
    finish_reason,
    logprobs,
    response_id,
    usage,
)


@dataclass(slots=True)
class _Choice:
    calls: int = 0  # tool calls sent so far: the next call's OpenAI index
    finished: bool = False


class GeminiStream:
    """Stateful per stream: the chunk id, which choices have begun, tool call indexes, the latest usage."""

    __slots__ = ("_call", "_choices", "_created", "_id", "_model", "_usage", "is_done")

    def __init__(self, call: Call) -> None:
        self._call = call
        self._choices: dict[int, _Choice] = {}
        self._id: str | None = None
        self._model = call.model
        self._created = int(time.time())
        self._usage: dict[str, Any] | None = None
        self.is_done = False

    def feed(self, event: SseEvent) -> list[dict[str, Any]]:
        if not event.data or self.is_done:
            return []
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise APIError(f"Gemini sent a stream event that is not JSON: {event.data[:200]!r}",
                           provider=self._call.provider, model=self._call.model, status_code=502) from None
        if isinstance(data, list) and data:  # without alt=sse Google streams a JSON array; tolerate its items
            data = data[0]
        if not isinstance(data, dict):
            return []
        if isinstance(data.get("error"), dict):
            self.is_done = True
            raise stream_error(self._call, data["error"])
        check_prompt_feedback(self._call, data, {})
        if self._id is None:
            self._id = response_id(data)
        self._model = data.get("modelVersion") or self._model
        if data.get("usageMetadata"):
            self._usage = usage(data["usageMetadata"])
        chunks = []
        for position, candidate in enumerate(data.get("candidates") or ()):
            chunks += self._candidate(candidate.get("index", position), candidate)
        return chunks

    def _candidate(self, index: int, candidate: dict[str, Any]) -> list[dict[str, Any]]:
        state = self._choices.get(index)
        delta: dict[str, Any] = {}
        if state is None:  # the choice's first chunk carries the role, as OpenAI's does
            state = self._choices[index] = _Choice()
            delta = {"role": "assistant", "content": ""}
        add_parts(delta, (candidate.get("content") or {}).get("parts") or ())
        calls = delta.pop("tool_calls", [])
        chunks = []
        found_logprobs = logprobs(candidate)
        if delta or found_logprobs:
            chunks.append(self._chunk(index, delta, logprobs=found_logprobs))
        for call in calls:
            chunks += self._tool_call_deltas(index, state, call)
        reason = candidate.get("finishReason")
        if reason and not state.finished:
            state.finished = True
            final: dict[str, Any] = {}
            if reason != "STOP":
                final["provider_specific_fields"] = {"finish_reason": reason}
            chunks.append(self._chunk(index, final, finish_reason(reason, state.calls > 0)))
        return chunks

    def _tool_call_deltas(self, index: int, state: _Choice, call: dict[str, Any]) -> list[dict[str, Any]]:
        position = state.calls
        state.calls += 1
        head: dict[str, Any] = {"index": position, "id": call["id"], "type": "function",
                                "function": {"name": call["function"]["name"], "arguments": ""}}
        if "provider_specific_fields" in call:
            head["provider_specific_fields"] = call["provider_specific_fields"]
        arguments = {"index": position, "function": {"arguments": call["function"]["arguments"]}}
        return [self._chunk(index, {"tool_calls": [head]}), self._chunk(index, {"tool_calls": [arguments]})]

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None,
               logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": index, "delta": delta, "finish_reason": finish}
        if logprobs is not None:
            choice["logprobs"] = logprobs
        return {"id": self._id or "", "object": "chat.completion.chunk", "created": self._created,
                "model": self._model, "choices": [choice]}

    def finish(self) -> list[dict[str, Any]]:
        """The usage chunk, when the caller asked for it (stream_options.include_usage)."""
        if self.is_done:
            return []
        self.is_done = True
        params = self._call.params
        options = params.stream_options if isinstance(params, ChatParams) else None
        if self._usage is None or not (options or {}).get("include_usage"):
            return []
        return [{"id": self._id or "", "object": "chat.completion.chunk", "created": self._created,
                 "model": self._model, "choices": [], "usage": self._usage}]
