"""A legacy text completion (`object: "text_completion"`), for `text_completion()` callers."""

from __future__ import annotations

from typing import Any

from pydantic import PrivateAttr

from sluicegate.types.base import OpenAIObject
from sluicegate.types.usage import Usage


class TextChoices(OpenAIObject):
    index: int = 0
    text: str = ""
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class TextCompletionResponse(OpenAIObject):
    id: str = ""
    object: str = "text_completion"
    created: int = 0
    model: str = ""
    choices: list[TextChoices]
    usage: Usage | None = None
    system_fingerprint: str | None = None

    _hidden_params: dict[str, Any] = PrivateAttr(default_factory=dict)
    _response_headers: dict[str, str] = PrivateAttr(default_factory=dict)
