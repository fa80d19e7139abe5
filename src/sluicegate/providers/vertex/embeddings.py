"""Google's text embedding models on Vertex AI, through the `:predict` method
(https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api)."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson

from sluicegate.errors import APIError, BadRequestError
from sluicegate.params import EmbeddingParams
from sluicegate.providers.base import Call, Headers


def build_body(call: Call) -> dict[str, Any]:
    params = call.params
    if not isinstance(params, EmbeddingParams):
        raise TypeError("build_body takes an embedding call")
    texts = [params.input] if isinstance(params.input, str) else params.input
    if not texts or not all(isinstance(text, str) for text in texts):
        raise BadRequestError("Vertex AI embeddings take a string or a list of strings (not token ids)",
                              param="input", model=call.model)
    extras = dict(params.provider_params)
    task_type = extras.pop("task_type", None)
    title = extras.pop("title", None)
    instances = []
    for text in texts:
        instance: dict[str, Any] = {"content": text}
        if task_type:
            instance["task_type"] = task_type
        if title:
            instance["title"] = title
        instances.append(instance)
    parameters: dict[str, Any] = {}
    if params.dimensions is not None:
        parameters["outputDimensionality"] = params.dimensions
    for name, value in extras.items():  # autoTruncate …
        parameters[name] = value
    body: dict[str, Any] = {"instances": instances}
    if parameters:
        body["parameters"] = parameters
    return body


def parse_response(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    try:
        predictions = orjson.loads(body)["predictions"]
        vectors = [p["embeddings"]["values"] for p in predictions]
        tokens = sum(int(p["embeddings"].get("statistics", {}).get("token_count", 0)) for p in predictions)
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise APIError(f"Vertex AI returned an embedding answer this adapter cannot read: {body[:200]!r}",
                       provider=call.provider, model=call.model, status_code=502, headers=headers) from error
    as_base64 = isinstance(call.params, EmbeddingParams) and call.params.encoding_format == "base64"
    data = [{"object": "embedding", "index": i,
             "embedding": _base64(vector) if as_base64 else vector} for i, vector in enumerate(vectors)]
    return {"object": "list", "data": data, "model": call.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
