"""One streamed piece of a chat completion (`object: "chat.completion.chunk"`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, PrivateAttr

from sluicegate.types.base import OpenAIObject
from sluicegate.types.usage import Usage


class ChoiceDeltaFunction(OpenAIObject):
    name: str | None = None
    arguments: str | None = None


class ChoiceDeltaToolCall(OpenAIObject):
    index: int = 0
    id: str | None = None
    type: str | None = None
    function: ChoiceDeltaFunction | None = None


class Delta(OpenAIObject):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ChoiceDeltaToolCall] | None = None
    function_call: ChoiceDeltaFunction | None = None
    refusal: str | None = None
    reasoning_content: str | None = None


class StreamingChoices(OpenAIObject):
    index: int = 0
    delta: Delta = Delta()
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletionChunk(OpenAIObject):
    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[StreamingChoices] = Field(default_factory=list)
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    provider_specific_fields: dict[str, Any] | None = None

    _hidden_params: dict[str, Any] = PrivateAttr(default_factory=dict)


ModelResponseStream = ChatCompletionChunk  # LiteLLM's name
