"""An embeddings answer, as OpenAI returns it (`object: "list"` of `embedding` items)."""

from __future__ import annotations

from typing import Any

from pydantic import PrivateAttr

from sluicegate.types.base import OpenAIObject
from sluicegate.types.usage import Usage


class Embedding(OpenAIObject):
    object: str = "embedding"
    index: int = 0
    embedding: list[float] | str  # a base64 string when encoding_format="base64"


class EmbeddingResponse(OpenAIObject):
    object: str = "list"
    data: list[Embedding]
    model: str = ""
    usage: Usage | None = None

    _hidden_params: dict[str, Any] = PrivateAttr(default_factory=dict)
    _response_headers: dict[str, str] = PrivateAttr(default_factory=dict)
