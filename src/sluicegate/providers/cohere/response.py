"""Cohere v2 chat and embed answers as OpenAI-shaped dicts (https://docs.cohere.com/reference/chat#response,
https://docs.cohere.com/reference/embed#response)."""

from __future__ import annotations

import base64
import struct
import time
from typing import Any

import orjson

from sluicegate.errors import APIError, InternalServerError, Timeout
from sluicegate.params import EmbeddingParams
from sluicegate.providers.base import Call, Headers

# https://docs.cohere.com/reference/chat#response.body.finish_reason. ERROR and TIMEOUT have no OpenAI
# equivalent: the generation failed, so they are raised (see `failed_generation`), never reported as "stop".
FINISH_REASONS = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}


def failed_generation(call: Call, finish_reason: Any, detail: str | None, headers: Headers) -> APIError | None:
    """The error a failed generation (finish_reason ERROR or TIMEOUT) stands for, or None."""
    if finish_reason == "ERROR":
        return InternalServerError(f"Cohere ended the generation with an error: {detail or 'no detail given'}",
                                   provider=call.provider, model=call.model, headers=headers)
    if finish_reason == "TIMEOUT":
        return Timeout(f"Cohere timed out while generating: {detail or 'no detail given'}",
                       provider=call.provider, model=call.model, headers=headers)
    return None


def finish_reason(value: Any) -> str:
    return FINISH_REASONS.get(str(value), "stop")


def usage(cohere_usage: dict[str, Any] | None) -> dict[str, Any]:
    """OpenAI usage from Cohere's: `tokens` counts what the model read and wrote (the `billed_units` subset is
    kept in provider_specific_fields); `cached_tokens` are prompt tokens served from Cohere's cache."""
    cohere_usage = cohere_usage or {}
    counted = cohere_usage.get("tokens") or cohere_usage.get("billed_units") or {}
    prompt = int(counted.get("input_tokens") or 0)
    completion = int(counted.get("output_tokens") or 0)
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": prompt + completion}
    cached = cohere_usage.get("cached_tokens")
    if cached:
        out["prompt_tokens_details"] = {"cached_tokens": int(cached)}
        out["cache_read_input_tokens"] = int(cached)
    return out


def logprobs(items: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """Cohere gives the log probability of each token of each text chunk, with no alternatives: one OpenAI entry
    per chunk, its logprob the sum (the chunk's joint probability)."""
    if not items:
        return None
    return {"content": [logprob_entry(item) for item in items]}


def logprob_entry(item: dict[str, Any]) -> dict[str, Any]:
    text = item.get("text") or ""
    return {"token": text, "logprob": sum(item.get("logprobs") or ()), "bytes": list(text.encode()),
            "top_logprobs": []}


def _loads(call: Call, status: int, headers: Headers, body: bytes, expected: str) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or expected not in data:
        raise APIError(f"{call.provider} returned a {status} response that is not a valid {call.kind} answer: "
                       f"{body[:200]!r}", provider=call.provider, model=call.model, status_code=502,
                       headers=headers)
    return data


def parse_response(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    if call.kind == "embedding":
        return parse_embeddings(call, status, headers, body)
    data = _loads(call, status, headers, body, "message")
    failed = failed_generation(call, data.get("finish_reason"), None, headers)
    if failed is not None:
        raise failed
    message = data["message"] or {}
    texts, thoughts = [], []
    for item in message.get("content") or ():
        if item.get("type") == "text":
            texts.append(item.get("text") or "")
        elif item.get("type") == "thinking":
            thoughts.append(item.get("thinking") or "")
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or message.get("tool_plan") or None}
    if thoughts:
        out["reasoning_content"] = "".join(thoughts)
    if message.get("tool_calls"):
        out["tool_calls"] = [_tool_call(c) for c in message["tool_calls"]]
    extras = {}
    if message.get("citations"):
        extras["citations"] = message["citations"]
    billed = (data.get("usage") or {}).get("billed_units")
    if billed:
        extras["billed_units"] = billed
    if extras:
        out["provider_specific_fields"] = extras
    choice: dict[str, Any] = {"index": 0, "message": out, "finish_reason": finish_reason(data.get("finish_reason"))}
    choice["logprobs"] = logprobs(data.get("logprobs"))
    return {"id": data.get("id") or "", "object": "chat.completion", "created": int(time.time()),
            "model": call.model, "choices": [choice], "usage": usage(data.get("usage"))}


def _tool_call(tool_call: dict[str, Any]) -> dict[str, Any]:
    function = tool_call.get("function") or {}
    return {"id": tool_call.get("id"), "type": "function",
            "function": {"name": function.get("name"), "arguments": function.get("arguments") or "{}"}}


def parse_embeddings(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    data = _loads(call, status, headers, body, "embeddings")
    vectors = data["embeddings"].get("float") if isinstance(data["embeddings"], dict) else None
    if not isinstance(vectors, list):
        raise APIError(f"{call.provider} answered without float embeddings (embedding_types must include "
                       "'float')", provider=call.provider, model=call.model, status_code=502, headers=headers)
    params = call.params
    as_base64 = isinstance(params, EmbeddingParams) and params.encoding_format == "base64"
    meta = data.get("meta") or {}
    counted = meta.get("billed_units") or meta.get("tokens") or {}
    tokens = int(counted.get("input_tokens") or 0)
    return {"object": "list", "model": call.model,
            "data": [{"object": "embedding", "index": i, "embedding": _encoded(v) if as_base64 else v}
                     for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _encoded(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
