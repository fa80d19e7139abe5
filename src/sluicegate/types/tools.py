"""Tool calls an assistant message carries (complete, as in a response; partial ones live in chunks.py)."""

from __future__ import annotations

from typing import Literal

from sluicegate.types.base import OpenAIObject


class Function(OpenAIObject):
    name: str | None = None
    arguments: str = ""


class ChatCompletionMessageToolCall(OpenAIObject):
    id: str | None = None
    type: Literal["function"] = "function"
    function: Function
