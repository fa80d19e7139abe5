"""The OpenAI / Azure OpenAI simulator's response bodies, built from request bodies by pure functions.

Chat completions and their stream chunks, legacy text completions, embeddings and the model list, with the
token-counting, tool-argument, json-schema and logprobs rules that `openai.py`'s module docstring states.
Nothing here does I/O; a request the real API would reject raises `ApiError` with the body to send.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import struct
import time
import uuid
from dataclasses import dataclass
from typing import Any

from tests.simulators.openai_errors import ApiError, error_body
from tests.simulators.schema_example import example

_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_PREFIX = "Hello from the simulator. You said: "
_TOOL_PREFIX = "Hello from the simulator. The tool said: "
_FINGERPRINT = "fp_sim0c0ffee"
_MODELS = (
    ("gpt-4o", 1715367049, "system"),
    ("gpt-4o-mini", 1721172741, "system"),
    ("gpt-4.1", 1744316542, "system"),
    ("o3-mini", 1737146383, "system"),
    ("gpt-3.5-turbo-instruct", 1692901427, "system"),
    ("text-embedding-3-small", 1705948997, "system"),
    ("text-embedding-3-large", 1705953180, "system"),
    ("text-embedding-ada-002", 1671217299, "openai-internal"),
)
_SAFE_FILTERS = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


@dataclass
class _Answer:
    content: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str


def _tokens(text: str) -> list[str]:
    """Split text into word-tokens that join back to it exactly (leading whitespace stays with its word)."""
    pieces = re.findall(r"\s*\S+", text)
    rest = text[len("".join(pieces)):]
    if rest:
        pieces = [*pieces[:-1], pieces[-1] + rest] if pieces else [rest]
    return pieces


def _count(text: str) -> int:
    return len(text.split())


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    total = 0
    for message in messages:
        total += 3 + _count(_message_text(message))
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            total += _count(str(function.get("name", ""))) + _count(str(function.get("arguments", "")))
    return total


def _tool_arguments(tool: dict[str, Any]) -> str:
    parameters = (tool.get("function") or {}).get("parameters") or {}
    return json.dumps(example(parameters) or {}, separators=(",", ":"))


def _chosen_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return []
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        named = [t for t in tools if (t.get("function") or {}).get("name") == name]
        return named[:1] or [{"type": "function", "function": {"name": name}}]
    if len(tools) >= 2 and body.get("parallel_tool_calls") is not False:
        return tools[:2]
    return tools[:1]


def _answer_text(messages: list[dict[str, Any]]) -> str:
    trailing_tools: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        trailing_tools.insert(0, _message_text(message))
    if trailing_tools:
        return _TOOL_PREFIX + " | ".join(trailing_tools)
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    return _PREFIX + (_message_text(last_user) if last_user else "")


def _chat_answer(body: dict[str, Any]) -> _Answer:
    messages = body["messages"]
    if messages[-1].get("role") == "user":
        tools = _chosen_tools(body)
        if tools:
            calls = [
                {"id": "call_" + uuid.uuid4().hex[:24], "type": "function",
                 "function": {"name": (t.get("function") or {}).get("name"), "arguments": _tool_arguments(t)}}
                for t in tools
            ]
            return _Answer(None, calls, "tool_calls")
    text = _answer_text(messages)
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_object":
        text = json.dumps({"reply": text})
    elif response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        text = json.dumps(example(schema))
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return _truncate(text, limit)


def _truncate(text: str, limit: int | None) -> _Answer:
    tokens = _tokens(text)
    if isinstance(limit, int) and len(tokens) > limit:
        return _Answer("".join(tokens[:limit]), [], "length")
    return _Answer(text, [], "stop")


def _completion_tokens(answer: _Answer) -> int:
    if answer.tool_calls:
        return sum(_count(c["function"]["name"] or "") + _count(c["function"]["arguments"])
                   for c in answer.tool_calls)
    return _count(answer.content or "")


def _usage(prompt: int, completion: int, *, details: bool = True) -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}
    if details:
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        usage["completion_tokens_details"] = {
            "reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        }
    return usage


def _token_logprob(token: str, position: int, top: int) -> dict[str, Any]:
    logprob = -0.125 * (position % 4 + 1)
    alternatives = [{"token": token, "logprob": logprob, "bytes": list(token.encode())}]
    for rank in range(1, top):
        alt = f"{token}~{rank}"
        alternatives.append({"token": alt, "logprob": logprob - 1.5 * rank, "bytes": list(alt.encode())})
    return {"token": token, "logprob": logprob, "bytes": list(token.encode()),
            "top_logprobs": alternatives[:top]}


def _split(text: str, parts_min: int, size_max: int) -> list[str]:
    size = max(1, min(size_max, len(text) // parts_min))
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _stream_pieces(content: str, with_logprobs: bool) -> list[str]:
    pieces = _tokens(content)
    if len(pieces) < 3 and len(content) >= 3 and not with_logprobs:
        size = math.ceil(len(content) / 3)
        pieces = [content[i:i + size] for i in range(0, len(content), size)]
    return pieces


def _vector(text: str, dims: int) -> list[float]:
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    values = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return list(struct.unpack(f"<{dims}f", struct.pack(f"<{dims}f", *(v / norm for v in values))))


def models_body(model_id: str | None) -> dict[str, Any]:
    """GET /models (`model_id` None: the list) or GET /models/{model_id} (one model, else 404)."""
    models = [{"id": name, "object": "model", "created": created, "owned_by": owner}
              for name, created, owner in _MODELS]
    if model_id is None:
        return {"object": "list", "data": models}
    found = next((m for m in models if m["id"] == model_id), None)
    if found is None:
        raise ApiError(404, error_body(f"The model '{model_id}' does not exist", param="model",
                                    code="model_not_found"))
    return found


def _validate_messages(messages: Any) -> list[dict[str, Any]]:
    if messages is None:
        raise ApiError(400, error_body("Missing required parameter: 'messages'.", param="messages",
                                    code="missing_required_parameter"))
    if not isinstance(messages, list) or not messages:
        message = ("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
                   "empty array instead.")
        raise ApiError(400, error_body(message, param="messages", code="empty_array"))
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role is None:
            raise ApiError(400, error_body(f"Missing required parameter: 'messages[{index}].role'.",
                                        param=f"messages[{index}].role", code="missing_required_parameter"))
        if role not in _ROLES:
            raise ApiError(400, error_body(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', "
                "'tool', and 'developer'.", param=f"messages[{index}].role", code="invalid_value"))
    return messages


def chat_bodies(body: dict[str, Any], model: str, is_azure: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The stream chunks and the non-stream body for one chat request (only one of them is sent)."""
    messages = _validate_messages(body.get("messages"))
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_object" and not any(
        "json" in _message_text(m).lower() for m in messages
    ):
        raise ApiError(400, error_body("'messages' must contain the word 'json' in some form, to use "
                                    "'response_format' of type 'json_object'.", param="messages"))
    n = body.get("n") or 1
    answers = [_chat_answer(body) for _ in range(n)]
    top = int(body.get("top_logprobs") or 0) if body.get("logprobs") else 0
    with_logprobs = bool(body.get("logprobs"))
    usage = _usage(_prompt_tokens(messages), sum(_completion_tokens(a) for a in answers))
    tier = body.get("service_tier")
    head: dict[str, Any] = {
        "id": "chatcmpl-" + uuid.uuid4().hex[:29], "object": "chat.completion", "created": int(time.time()),
        "model": model, "service_tier": "default" if tier in (None, "auto") else tier,
        "system_fingerprint": _FINGERPRINT,
    }
    if is_azure:
        del head["service_tier"]
    choices = [_chat_choice(i, a, with_logprobs, top, is_azure) for i, a in enumerate(answers)]
    completion = {**head, "choices": choices, "usage": usage}
    if is_azure:
        completion["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": _SAFE_FILTERS}]
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    obfuscate = not is_azure and (body.get("stream_options") or {}).get("include_obfuscation") is not False
    chunk_head = {**head, "object": "chat.completion.chunk"}
    steps = [_chat_steps(a, with_logprobs, top) for a in answers]
    chunks = _interleave(chunk_head, steps, include_usage=include_usage, obfuscate=obfuscate,
                         is_azure=is_azure)
    if include_usage:
        chunks.append(_chunk(chunk_head, [], include_usage, obfuscate) | {"usage": usage})
    if is_azure:
        chunks.insert(0, {"choices": [], "created": 0, "id": "", "model": "", "object": "",
                          "prompt_filter_results": completion["prompt_filter_results"]})
    return chunks, completion


def _chat_choice(index: int, answer: _Answer, with_logprobs: bool, top: int,
                 is_azure: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content, "refusal": None,
                               "annotations": []}
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    logprobs = None
    if with_logprobs and answer.content is not None:
        tokens = _tokens(answer.content)
        logprobs = {"content": [_token_logprob(t, i, top) for i, t in enumerate(tokens)], "refusal": None}
    choice = {"index": index, "message": message, "logprobs": logprobs, "finish_reason": answer.finish_reason}
    if is_azure:
        choice["content_filter_results"] = _SAFE_FILTERS
    return choice


_Step = tuple[dict[str, Any], Any, str | None]  # (delta, logprobs, finish_reason)


def _chat_steps(answer: _Answer, with_logprobs: bool, top: int) -> list[_Step]:
    """One choice's stream as (delta, logprobs, finish_reason) steps, in OpenAI's order."""
    steps: list[_Step] = []
    if answer.tool_calls:
        for index, call in enumerate(answer.tool_calls):
            opening = {"index": index, "id": call["id"], "type": "function",
                       "function": {"name": call["function"]["name"], "arguments": ""}}
            if index == 0:
                first = {"role": "assistant", "content": None, "tool_calls": [opening], "refusal": None}
                steps.append((first, None, None))
            else:
                steps.append(({"tool_calls": [opening]}, None, None))
            for fragment in _split(call["function"]["arguments"], 2, 8):
                delta = {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
                steps.append((delta, None, None))
    else:
        empty_logprobs: dict[str, Any] | None = {"content": [], "refusal": None} if with_logprobs else None
        steps.append(({"role": "assistant", "content": "", "refusal": None}, empty_logprobs, None))
        for position, piece in enumerate(_stream_pieces(answer.content or "", with_logprobs)):
            logprobs = None
            if with_logprobs:
                logprobs = {"content": [_token_logprob(piece, position, top)], "refusal": None}
            steps.append(({"content": piece}, logprobs, None))
    steps.append(({}, None, answer.finish_reason))
    return steps


def _chunk(head: dict[str, Any], choices: list[dict[str, Any]], include_usage: bool,
           obfuscate: bool) -> dict[str, Any]:
    chunk = {**head, "choices": choices}
    if include_usage:
        chunk["usage"] = None
    if obfuscate:
        chunk["obfuscation"] = "sim" + "x" * (len(json.dumps(choices)) % 7)
    return chunk


def _interleave(head: dict[str, Any], steps: list[list[_Step]], *,
                include_usage: bool, obfuscate: bool, is_azure: bool) -> list[dict[str, Any]]:
    chunks = []
    for position in range(max(len(s) for s in steps)):
        for index, choice_steps in enumerate(steps):
            if position >= len(choice_steps):
                continue
            delta, logprobs, finish_reason = choice_steps[position]
            choice: dict[str, Any] = {"index": index, "delta": delta, "logprobs": logprobs,
                                      "finish_reason": finish_reason}
            if is_azure:  # Azure reports the filters on content deltas, `{}` on the others
                choice["content_filter_results"] = _SAFE_FILTERS if delta.get("content") else {}
            chunks.append(_chunk(head, [choice], include_usage, obfuscate))
    return chunks


def _prompts(prompt: Any) -> list[str]:
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, int) for p in prompt):
        return [" ".join(map(str, prompt))]
    if isinstance(prompt, list):
        return [p if isinstance(p, str) else " ".join(map(str, p)) for p in prompt] or [""]
    return [""]


def _legacy_logprobs(text: str, top: int) -> dict[str, Any]:
    tokens = _tokens(text)
    entries = [_token_logprob(t, i, max(top, 1)) for i, t in enumerate(tokens)]
    offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
    return {"tokens": tokens, "token_logprobs": [e["logprob"] for e in entries],
            "top_logprobs": [{a["token"]: a["logprob"] for a in e["top_logprobs"][:top]} for e in entries],
            "text_offset": offsets}


def completions_bodies(body: dict[str, Any], model: str,
                 is_azure: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Legacy /completions: `text_completion` objects; max_tokens defaults to 16 as in the real API."""
    prompts = _prompts(body.get("prompt"))
    n = body.get("n") or 1
    limit = body.get("max_tokens") if body.get("max_tokens") is not None else 16
    top = body.get("logprobs")
    answers = [_truncate(_PREFIX + prompt, limit) for prompt in prompts for _ in range(n)]
    head = {"id": "cmpl-" + uuid.uuid4().hex[:29], "object": "text_completion", "created": int(time.time()),
            "model": model, "system_fingerprint": _FINGERPRINT}
    choices: list[dict[str, Any]] = []
    for index, answer in enumerate(answers):
        text = (prompts[index // n] if body.get("echo") else "") + (answer.content or "")
        logprobs = _legacy_logprobs(text, top) if isinstance(top, int) else None
        choices.append({"text": text, "index": index, "logprobs": logprobs,
                        "finish_reason": answer.finish_reason})
        if is_azure:
            choices[-1]["content_filter_results"] = _SAFE_FILTERS
    completion_tokens = sum(_count(a.content or "") for a in answers)
    usage = _usage(sum(_count(p) for p in prompts), completion_tokens, details=False)
    completion = {**head, "choices": choices, "usage": usage}
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    steps: list[list[tuple[str, str | None]]] = []
    for choice, answer in zip(choices, answers, strict=True):
        pieces: list[tuple[str, str | None]] = [(p, None) for p in _stream_pieces(choice["text"], False)]
        steps.append([*pieces, ("", answer.finish_reason)])
    chunks = []
    for position in range(max(len(s) for s in steps)):
        for index, choice_steps in enumerate(steps):
            if position < len(choice_steps):
                text, finish_reason = choice_steps[position]
                choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}
                chunks.append(_chunk(head, [choice], include_usage, obfuscate=False))
    if include_usage:
        chunks.append({**head, "choices": [], "usage": usage})
    return chunks, completion


def embeddings_body(body: dict[str, Any], model: str) -> dict[str, Any]:
    raw = body.get("input")
    if raw is None:
        raise ApiError(400, error_body("Missing required parameter: 'input'.", param="input",
                                    code="missing_required_parameter"))
    if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw)):
        raw = [raw]
    if not isinstance(raw, list) or not raw or any(item in ("", []) for item in raw):
        raise ApiError(400, error_body("'$.input' is invalid. Please check the API reference: "
                                    "https://platform.openai.com/docs/api-reference."))
    dimensions = body.get("dimensions")
    if dimensions is not None and model == "text-embedding-ada-002":
        raise ApiError(400, error_body("This model does not support specifying dimensions.", param="dimensions"))
    dims = dimensions or (3072 if model.endswith("text-embedding-3-large") else 1536)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(raw):
        text = item if isinstance(item, str) else " ".join(map(str, item))
        vector = _vector(text, dims)
        embedding: Any = vector
        if as_base64:
            embedding = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(_count(item) if isinstance(item, str) else len(item) for item in raw)
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

