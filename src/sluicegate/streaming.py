"""Streams as SDK callers iterate them (sync, async, mocked), and `stream_chunk_builder` to rebuild a full answer.

A stream is opened before the call returns, so an error status (bad key, rate limit) raises at the call and can
be retried; after that, chunks are decoded and yielded as the bytes arrive. Leaving a stream early (break,
`close()`, `async with`) closes the connection, which cancels the upstream request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

from sluicegate.types.chat import ChatCompletion
from sluicegate.types.chunks import ChatCompletionChunk
from sluicegate.types.completions import TextCompletionResponse

ChunkType = type[ChatCompletionChunk] | type[TextCompletionResponse]
UsageHook = Callable[[dict[str, Any]], dict[str, Any]]  # usage -> hidden params (cost …) for its chunk


def _wrap(data: dict[str, Any], chunk_type: ChunkType, on_usage: UsageHook) -> Any:
    chunk = chunk_type.model_validate(data)
    if data.get("usage"):
        chunk._hidden_params.update(on_usage(data["usage"]))
    return chunk


class AsyncStream:
    """`async for chunk in stream` yields `ChatCompletionChunk`s (or text-completion chunks)."""

    def __init__(self, chunks: AsyncIterator[dict[str, Any]], chunk_type: ChunkType, on_usage: UsageHook,
                 headers: dict[str, str]) -> None:
        self.response_headers = headers
        self.usage: dict[str, Any] | None = None  # what the provider reported at the end, if it did
        self._chunks = chunks
        self._chunk_type = chunk_type
        self._on_usage = on_usage

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        data = await self._chunks.__anext__()
        if data.get("usage"):
            self.usage = data["usage"]
        return _wrap(data, self._chunk_type, self._on_usage)

    async def aclose(self) -> None:
        await self._chunks.aclose()  # type: ignore[attr-defined]  # an async generator

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class SyncStream:
    """`for chunk in stream` yields `ChatCompletionChunk`s (or text-completion chunks)."""

    def __init__(self, chunks: Iterator[dict[str, Any]], chunk_type: ChunkType, on_usage: UsageHook,
                 headers: dict[str, str]) -> None:
        self.response_headers = headers
        self.usage: dict[str, Any] | None = None
        self._chunks = chunks
        self._chunk_type = chunk_type
        self._on_usage = on_usage

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> Any:
        data = next(self._chunks)
        if data.get("usage"):
            self.usage = data["usage"]
        return _wrap(data, self._chunk_type, self._on_usage)

    def close(self) -> None:
        self._chunks.close()  # type: ignore[attr-defined]  # a generator

    def __enter__(self) -> SyncStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MockStream:
    """A mocked stream: iterate it with `for` or `async for`, like a real one."""

    def __init__(self, chunks: list[dict[str, Any]], hidden: dict[str, Any]) -> None:
        chunk_type = TextCompletionResponse if chunks and chunks[0]["object"] == "text_completion" else (
            ChatCompletionChunk)
        self._chunks = [chunk_type.model_validate(c) for c in chunks]
        if self._chunks:
            self._chunks[-1]._hidden_params.update(hidden)
        self.response_headers: dict[str, str] = {}
        self.usage = next((c["usage"] for c in chunks if c.get("usage")), None)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._chunks)

    async def _aiter(self) -> AsyncIterator[Any]:
        for chunk in self._chunks:
            yield chunk

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiter()

    def close(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _read(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    value = getattr(obj, key, default)
    return default if value is None else value


def _dump(chunk: Any) -> dict[str, Any]:
    if isinstance(chunk, Mapping):
        return dict(chunk)
    return chunk.model_dump(exclude_none=True)


def stream_chunk_builder(chunks: Iterable[Any], messages: list[dict[str, Any]] | None = None) -> Any:
    """Rebuild the full response from a stream's chunks (objects or dicts), as if the call had not streamed.

    Content, reasoning content, refusals and tool calls (arguments joined per index) are reassembled per choice;
    usage is the stream's own when it sent one, else counted: prompt from `messages`, completion from the text.
    Text-completion chunks rebuild a text completion.
    """
    dumped = [_dump(c) for c in chunks]
    if not dumped:
        return None
    first = dumped[0]
    is_text = first.get("object") == "text_completion"
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in dumped:
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            _merge_choice(choices.setdefault(choice.get("index", 0), {}), choice, is_text)
    built: dict[str, Any] = {
        "id": first.get("id", ""), "created": first.get("created", 0), "model": first.get("model", ""),
        "object": "text_completion" if is_text else "chat.completion",
        "system_fingerprint": next((c["system_fingerprint"] for c in dumped if c.get("system_fingerprint")),
                                   None),
        "choices": [_finish_choice(i, choices[i], is_text) for i in sorted(choices)],
    }
    built["usage"] = usage or _counted_usage(built, messages, is_text)
    return (TextCompletionResponse if is_text else ChatCompletion).model_validate(built)


def _merge_choice(acc: dict[str, Any], choice: dict[str, Any], is_text: bool) -> None:
    if choice.get("finish_reason"):
        acc["finish_reason"] = choice["finish_reason"]
    if choice.get("logprobs"):
        acc.setdefault("logprobs", {"content": []})["content"].extend(choice["logprobs"].get("content") or [])
    if is_text:
        acc["text"] = acc.get("text", "") + (choice.get("text") or "")
        return
    delta = choice.get("delta") or {}
    for field in ("content", "reasoning_content", "refusal"):
        if delta.get(field):
            acc[field] = acc.get(field, "") + delta[field]
    if delta.get("role"):
        acc["role"] = delta["role"]
    if delta.get("thinking_blocks"):  # whole blocks with their signatures, needed again on the next turn
        acc.setdefault("thinking_blocks", []).extend(delta["thinking_blocks"])
    if delta.get("provider_specific_fields"):
        acc.setdefault("provider_specific_fields", {}).update(delta["provider_specific_fields"])
    for call in delta.get("tool_calls") or ():
        calls = acc.setdefault("tool_calls", {})
        slot = calls.setdefault(call.get("index", 0), {"id": None, "type": "function",
                                                        "function": {"name": None, "arguments": ""}})
        if call.get("id"):
            slot["id"] = call["id"]
        function = call.get("function") or {}
        if function.get("name"):
            slot["function"]["name"] = function["name"]
        slot["function"]["arguments"] += function.get("arguments") or ""
        if call.get("provider_specific_fields"):  # Gemini's thought signature on a call
            slot.setdefault("provider_specific_fields", {}).update(call["provider_specific_fields"])
    if delta.get("function_call"):
        fc = acc.setdefault("function_call", {"name": None, "arguments": ""})
        fc["name"] = delta["function_call"].get("name") or fc["name"]
        fc["arguments"] += delta["function_call"].get("arguments") or ""


def _finish_choice(index: int, acc: dict[str, Any], is_text: bool) -> dict[str, Any]:
    if is_text:
        return {"index": index, "text": acc.get("text", ""), "finish_reason": acc.get("finish_reason"),
                "logprobs": acc.get("logprobs")}
    message: dict[str, Any] = {"role": acc.get("role", "assistant"), "content": acc.get("content")}
    for field in ("reasoning_content", "refusal", "function_call", "thinking_blocks", "provider_specific_fields"):
        if field in acc:
            message[field] = acc[field]
    if acc.get("tool_calls"):
        message["tool_calls"] = [acc["tool_calls"][i] for i in sorted(acc["tool_calls"])]
    return {"index": index, "message": message, "finish_reason": acc.get("finish_reason"),
            "logprobs": acc.get("logprobs")}


def _counted_usage(built: dict[str, Any], messages: list[dict[str, Any]] | None, is_text: bool) -> dict[str, int]:
    from sluicegate.catalog.tokens import token_counter

    model = built["model"]
    prompt = token_counter(model=model, messages=messages) if messages else 0
    texts: list[str] = []
    for choice in built["choices"]:
        if is_text:
            texts.append(choice["text"])
            continue
        message = choice["message"]
        texts.append(message.get("content") or "")
        texts.extend(c["function"]["arguments"] for c in message.get("tool_calls") or ())
    completion = sum(token_counter(model=model, text=t) for t in texts if t)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

