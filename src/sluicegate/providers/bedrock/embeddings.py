"""Bedrock embeddings through InvokeModel (POST /model/{id}/invoke), for the two families that embed text:

- Amazon Titan (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html):
  {"inputText", "dimensions"?, "normalize"?} → {"embedding", "inputTextTokenCount"}. One text per request:
  since one call is one HTTP request, a list of several inputs is a BadRequestError that says so.
- Cohere Embed (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed.html):
  {"texts", "input_type", "truncate"?, "embedding_types"?} → {"embeddings": [[…]] or {"float": [[…]]}, …};
  up to 96 texts in one request. `input_type` defaults to "search_document" (Cohere requires one); its token
  count comes from Bedrock's `x-amzn-bedrock-input-token-count` header.

`dimensions` is Titan's `dimensions` and Cohere's `output_dimension` (embed v4); other keyword arguments go into
the body as given. `encoding_format: "base64"` is served by encoding the floats as float32 little-endian.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson

from sluicegate.errors import APIError, BadRequestError
from sluicegate.params import EmbeddingParams
from sluicegate.providers.base import Call, Headers
from sluicegate.providers.bedrock import models

_FAMILIES = ("amazon", "cohere")


def _inputs(call: Call, params: EmbeddingParams) -> list[str]:
    value = params.input
    inputs: list[Any] = [value] if isinstance(value, str) else list(value)
    if not inputs or not all(isinstance(item, str) for item in inputs):
        raise BadRequestError("Bedrock embeds text: input must be a string or a list of strings (token ids are "
                              "not accepted)", provider=call.provider, model=call.model, param="input")
    return inputs


def _family(call: Call) -> str:
    family = models.family(models.model_id(call))
    if family not in _FAMILIES:
        raise BadRequestError(f"bedrock/{call.model} is not a text embedding model this adapter knows: Amazon "
                              "Titan (amazon.titan-embed-…) and Cohere (cohere.embed-…) are",
                              provider=call.provider, model=call.model)
    return str(family)


def body(call: Call) -> dict[str, Any]:
    params = call.params
    assert isinstance(params, EmbeddingParams)
    inputs = _inputs(call, params)
    extra = dict(params.provider_params)
    if _family(call) == "amazon":
        if len(inputs) != 1:
            raise BadRequestError(
                f"Amazon Titan embeds one text per request and this call has {len(inputs)}: call embedding() "
                "once per text (concurrently with aembedding), or use a Cohere model (cohere.embed-…), which "
                "takes up to 96", provider=call.provider, model=call.model, param="input")
        out: dict[str, Any] = {"inputText": inputs[0]}
        if params.dimensions is not None:
            out["dimensions"] = params.dimensions
    else:
        out = {"texts": inputs, "input_type": extra.pop("input_type", "search_document")}
        if params.dimensions is not None:
            out["output_dimension"] = params.dimensions
    out.update(extra)
    out.update(call.extra_body)
    return out


def parse(call: Call, status: int, headers: Headers, raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    vectors = _vectors(data)
    if vectors is None:
        raise APIError(f"bedrock returned a {status} response that is not an embedding: {raw[:200]!r}",
                       provider=call.provider, model=call.model, status_code=502, headers=headers)
    tokens = data.get("inputTextTokenCount") if isinstance(data, dict) else None
    if tokens is None:
        tokens = headers.get("x-amzn-bedrock-input-token-count")
    count = int(tokens or 0)
    as_base64 = isinstance(call.params, EmbeddingParams) and call.params.encoding_format == "base64"
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": index,
                  "embedding": _base64(vector) if as_base64 else vector} for index, vector in enumerate(vectors)],
        "model": models.model_id(call),
        "usage": {"prompt_tokens": count, "total_tokens": count},
    }


def _vectors(data: Any) -> list[list[float]] | None:
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("embedding"), list):  # Titan
        return [data["embedding"]]
    embeddings = data.get("embeddings")
    if isinstance(embeddings, dict):  # Cohere with embedding_types: {"float": [[…]], "int8": …}
        embeddings = embeddings.get("float") or next(iter(embeddings.values()), None)
    if isinstance(embeddings, list) and all(isinstance(item, list) for item in embeddings):
        return embeddings
    return None


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
