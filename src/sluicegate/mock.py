"""`mock_response` and the `mock/` provider: deterministic answers without any network call.

The `mock/` provider answers every chat or text call with "This is a mock answer from sluicegate. You said:
<the last user text>" and every embedding with hash-seeded unit vectors (`dimensions`, default 16), so a gateway
with no provider key still shows the whole path working.

Tool calling: when a chat call offers `tools`, its `tool_choice` is not "none" and its last message is the
user's, the `mock/` provider calls the tool `tool_choice` names, else the first one (`finish_reason: "tool_calls"`,
`content: null`, id `call_` + a stable hash). The arguments fill the schema's `required` properties: string →
"example", number/integer → 1, boolean → true, enum → its first value, object → recurse, array → one item.
Streamed, the call arrives as OpenAI sends one: a delta with index, id, type and name, then argument fragments.

`mock_response` on any call:

- a string: the assistant's content (or a text completion's text); usage is counted with the model's tokenizer
  (prompt from the messages, completion from the string), so cost and token accounting behave as in a real call;
- an exception instance: raised as if the provider had failed (provider and model filled in);
- a dict or response object: returned as the response.

It is only ever used when the caller passes it: never a fallback for a failed call.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import uuid
from typing import Any

from sluicegate.catalog.tokens import token_counter
from sluicegate.errors import APIError, BadRequestError
from sluicegate.prepare import PROVIDER_MOCK, Prepared


def mock_data(prepared: Prepared) -> dict[str, Any]:
    """The response dict for a mocked call; raises the mocked exception."""
    mock = prepared.mock_response
    call = prepared.call
    if mock == PROVIDER_MOCK:
        if call.kind == "embedding":
            return _embeddings(prepared)
        tool = _tool_to_call(prepared)
        if tool is not None:
            return _tool_call_answer(prepared, tool)
        mock = "This is a mock answer from sluicegate. You said: " + _last_user_text(prepared)
    if isinstance(mock, BaseException):
        if isinstance(mock, APIError):
            mock.provider = mock.provider or call.provider
            mock.model = mock.model or call.model
        raise mock
    if hasattr(mock, "model_dump"):
        return mock.model_dump()
    if isinstance(mock, dict):
        return mock
    if not isinstance(mock, str):
        raise BadRequestError("mock_response must be a string, a response dict or an exception instance",
                              provider=call.provider, model=call.model, param="mock_response")
    if call.kind == "embedding":
        raise BadRequestError("mock_response is supported for chat and text completions, not embeddings",
                              provider=call.provider, model=call.model, param="mock_response")
    is_text = call.kind == "text_completion"
    prompt = (token_counter(model=call.model, text=str(call.params.prompt)) if is_text  # type: ignore[union-attr]
              else token_counter(model=call.model, messages=call.messages))
    completion = token_counter(model=call.model, text=mock) if mock else 0
    choice: dict[str, Any] = ({"index": 0, "text": mock, "finish_reason": "stop"} if is_text else
                              {"index": 0, "message": {"role": "assistant", "content": mock},
                               "finish_reason": "stop"})
    return _response(prepared, choice, prompt, completion)


def _response(prepared: Prepared, choice: dict[str, Any], prompt: int, completion: int) -> dict[str, Any]:
    is_text = prepared.call.kind == "text_completion"
    return {
        "id": ("cmpl-mock-" if is_text else "chatcmpl-mock-") + uuid.uuid4().hex[:24],
        "object": "text_completion" if is_text else "chat.completion",
        "created": int(time.time()),
        "model": prepared.call.model,
        "choices": [choice],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    }


def _tool_to_call(prepared: Prepared) -> dict[str, Any] | None:
    """The function the `mock/` provider calls, or None when it answers in text (see the module docstring)."""
    call = prepared.call
    if call.kind != "chat" or not call.messages or call.messages[-1].get("role") != "user":
        return None
    params = call.params
    functions = [t["function"] for t in params.tools or () if isinstance(t, dict)  # type: ignore[union-attr]
                 and isinstance(t.get("function"), dict)]
    choice = params.tool_choice  # type: ignore[union-attr]
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        named = next((f for f in functions if f.get("name") == name), None)
        if named is None:
            raise BadRequestError(f"tool_choice names {name!r}, which is not among the tools offered",
                                  provider=call.provider, model=call.model, param="tool_choice")
        return named
    return functions[0]


def _tool_call_answer(prepared: Prepared, function: dict[str, Any]) -> dict[str, Any]:
    call = prepared.call
    name = str(function.get("name", ""))
    arguments = json.dumps(_example_value(function.get("parameters") or {}), separators=(",", ":"))
    digest = hashlib.sha256(f"{name}\0{arguments}\0{_last_user_text(prepared)}".encode()).hexdigest()
    tool_call = {"id": "call_" + digest[:24], "type": "function", "function": {"name": name, "arguments": arguments}}
    choice = {"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [tool_call]},
              "finish_reason": "tool_calls"}
    prompt = token_counter(model=call.model, messages=call.messages)
    return _response(prepared, choice, prompt, token_counter(model=call.model, text=name + arguments))


def _example_value(schema: dict[str, Any]) -> Any:
    """A value that satisfies `schema`, with only its required properties filled in."""
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    variants = schema.get("anyOf") or schema.get("oneOf")
    if variants:
        return _example_value(variants[0])
    kind = schema.get("type")
    if isinstance(kind, list):  # ["string", "null"]: the first type that is not null
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        return {key: _example_value(properties.get(key) or {}) for key in schema.get("required") or ()}
    if kind == "array":
        return [_example_value(schema.get("items") or {})]
    return {"number": 1, "integer": 1, "boolean": True, "null": None}.get(str(kind), "example")


def mock_chunks(prepared: Prepared) -> list[dict[str, Any]]:
    """The mocked answer as the chunks a provider would stream (words with their spaces, then finish)."""
    data = mock_data(prepared)
    is_text = data["object"] == "text_completion"
    base = {"id": data["id"], "object": "text_completion" if is_text else "chat.completion.chunk",
            "created": data["created"], "model": data["model"]}
    choice = data["choices"][0]
    text = choice.get("text", "") if is_text else (choice["message"].get("content") or "")
    pieces = re.findall(r"\s*\S+\s*", text) or [text]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        if is_text:
            body = {"index": 0, "text": delta.get("content", ""), "finish_reason": finish}
        else:
            body = {"index": 0, "delta": delta, "finish_reason": finish}
        return {**base, "choices": [body]}

    tool_calls = [] if is_text else choice["message"].get("tool_calls") or []
    if tool_calls:
        deltas = _tool_call_deltas(tool_calls)
        chunks = [chunk({"role": "assistant", "content": None, "tool_calls": deltas[:1]})]
        chunks += [chunk({"tool_calls": [delta]}) for delta in deltas[1:]]
    else:
        chunks = [] if is_text else [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"content": piece}) for piece in pieces]
    chunks.append(chunk({}, choice.get("finish_reason") or "stop"))
    options = getattr(prepared.call.params, "stream_options", None) or {}
    if options.get("include_usage"):
        chunks.append({**base, "choices": [], "usage": data["usage"]})
    return chunks


def _tool_call_deltas(tool_calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each call's head, then its arguments in fragments (at least two: even "{}" splits), as OpenAI streams."""
    deltas: list[dict[str, Any]] = []
    for index, tool_call in enumerate(tool_calls):
        function = tool_call["function"]
        deltas.append({"index": index, "id": tool_call["id"], "type": "function",
                       "function": {"name": function["name"], "arguments": ""}})
        arguments = function["arguments"]
        size = max(1, min(8, len(arguments) // 2))
        deltas += [{"index": index, "function": {"arguments": arguments[i:i + size]}}
                   for i in range(0, len(arguments), size)]
    return deltas


def _last_user_text(prepared: Prepared) -> str:
    call = prepared.call
    if call.kind == "text_completion":
        prompt = call.params.prompt  # type: ignore[union-attr]
        return prompt if isinstance(prompt, str) else str(prompt)
    for message in reversed(call.messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts: the text ones
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
            return str(content or "")
    return ""


def _embeddings(prepared: Prepared) -> dict[str, Any]:
    params = prepared.call.params
    raw = params.input  # type: ignore[union-attr]
    inputs = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else list(raw)
    dimensions = params.dimensions or 16  # type: ignore[union-attr]
    data = [{"object": "embedding", "index": i, "embedding": _unit_vector(str(text), dimensions)}
            for i, text in enumerate(inputs)]
    tokens = sum(token_counter(model=prepared.call.model, text=str(text)) for text in inputs)
    return {"object": "list", "data": data, "model": prepared.call.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _unit_vector(text: str, dimensions: int) -> list[float]:
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values += [(b - 127.5) / 127.5 for b in digest]
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]
