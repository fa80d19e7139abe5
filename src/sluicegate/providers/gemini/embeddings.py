"""OpenAI embeddings ↔ Gemini batchEmbedContents (https://ai.google.dev/api/embeddings#method:-models.batchembedcontents).

Each input string is one request of the batch. `dimensions` → outputDimensionality; `task_type` and `title`
(provider keywords) → taskType / title. The Gemini API reports no token usage for embeddings, so usage is an
estimate: the inputs counted with the catalog's tokenizer (tiktoken cl100k_base, shipped with sluicegate).
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from sluicegate.catalog.tokens import token_counter
from sluicegate.errors import APIError, BadRequestError
from sluicegate.params import EmbeddingParams
from sluicegate.providers.base import Call, Headers
from sluicegate.providers.gemini.response import load_json

_REQUEST_FIELDS = {"task_type": "taskType", "taskType": "taskType", "title": "title"}


def build_embedding_body(call: Call) -> dict[str, Any]:
    """The batchEmbedContents body: one request per input string."""
    params = call.params
    if not isinstance(params, EmbeddingParams):
        raise TypeError("build_embedding_body takes an embedding call")
    texts = _texts(params.input)
    extra: dict[str, Any] = {}
    if params.dimensions is not None:
        extra["outputDimensionality"] = params.dimensions
    for name, value in params.provider_params.items():
        if name not in _REQUEST_FIELDS:
            raise BadRequestError(f"Gemini embeddings take no parameter {name!r} (they take dimensions, "
                                  "task_type and title)", param=name)
        extra[_REQUEST_FIELDS[name]] = value
    model = call.model if call.model.startswith("models/") else f"models/{call.model}"
    body = {"requests": [{"model": model, "content": {"parts": [{"text": text}]}, **extra} for text in texts]}
    body.update(call.extra_body)
    return body


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise BadRequestError("Gemini embeddings take a string or a list of strings (not token ids)", param="input")


def parse_embeddings(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    """OpenAI's embedding list for a batchEmbedContents answer."""
    data = load_json(call, status, headers, body)
    embeddings = data.get("embeddings")
    if not isinstance(embeddings, list):
        raise APIError(f"{call.provider} returned a {status} response without embeddings: {body[:200]!r}",
                       provider=call.provider, model=call.model, status_code=502, headers=headers)
    params = call.params
    as_base64 = isinstance(params, EmbeddingParams) and params.encoding_format == "base64"
    items = []
    for index, embedding in enumerate(embeddings):
        values = embedding.get("values") or []
        vector: Any = _base64(values) if as_base64 else values
        items.append({"object": "embedding", "index": index, "embedding": vector})
    prompt = _prompt_tokens(call, data)
    return {"object": "list", "data": items, "model": call.model,
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt}}


def _base64(values: list[float]) -> str:
    """OpenAI's base64 encoding: the float32 little-endian bytes of the vector."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def _prompt_tokens(call: Call, data: dict[str, Any]) -> int:
    reported = (data.get("usageMetadata") or {}).get("promptTokenCount")
    if isinstance(reported, int):
        return reported
    params = call.params
    texts = _texts(params.input) if isinstance(params, EmbeddingParams) else []
    return sum(token_counter(text=text) for text in texts)
