"""A chat completion, as OpenAI returns it (`object: "chat.completion"`); LiteLLM calls it ModelResponse."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import PrivateAttr

from sluicegate.types.base import OpenAIObject
from sluicegate.types.tools import ChatCompletionMessageToolCall, Function
from sluicegate.types.usage import Usage


class Message(OpenAIObject):
    role: Literal["assistant", "user", "system", "tool", "developer", "function"] = "assistant"
    content: str | None = None
    tool_calls: list[ChatCompletionMessageToolCall] | None = None
    function_call: Function | None = None
    refusal: str | None = None
    reasoning_content: str | None = None  # thinking text, for providers that return it (LiteLLM's name)
    audio: dict[str, Any] | None = None
    annotations: list[dict[str, Any]] | None = None


class Choices(OpenAIObject):
    index: int = 0
    message: Message
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletion(OpenAIObject):
    """The full answer to a chat call. `_hidden_params["response_cost"]` holds the call's cost in USD."""

    id: str = ""
    object: Literal["chat.completion"] = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choices]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    # Provider extras the OpenAI shape has no field for (one slot, not scattered fields).
    provider_specific_fields: dict[str, Any] | None = None

    _hidden_params: dict[str, Any] = PrivateAttr(default_factory=dict)
    _response_headers: dict[str, str] = PrivateAttr(default_factory=dict)


ModelResponse = ChatCompletion  # LiteLLM's name
