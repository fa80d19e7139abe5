"""Streams as callers iterate them (sync and async), and `stream_chunk_builder` to rebuild a full answer.

A stream is opened before the call returns, so an error status (bad key, rate limit) raises at the call and can
be retried; after that, chunks are decoded and yielded as the bytes arrive. Leaving a stream early (break,
`close()`, `async with`) closes the connection, which cancels the upstream request.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sluicegate.errors import APIError
from sluicegate.providers.base import StreamParser
from sluicegate.transport.base import AsyncStreamResponse, SyncStreamResponse
from sluicegate.transport.sse import SseDecoder
from sluicegate.types.chat import ChatCompletion
from sluicegate.types.chunks import ChatCompletionChunk
from sluicegate.types.completions import TextCompletionResponse


class ChunkAssembler:
    """The I/O-free middle of a stream: bytes in, public chunk objects out, usage and text remembered."""

    __slots__ = ("_annotate", "_chunk_type", "_decoder", "_on_usage", "_parser", "ended", "failure", "pending",
                 "usage")

    def __init__(self, parser: StreamParser, chunk_type: type[ChatCompletionChunk] | type[TextCompletionResponse],
                 on_usage: Callable[[dict[str, Any]], dict[str, Any]],
                 annotate: Callable[[APIError], APIError]) -> None:
        self._parser = parser
        self._decoder = SseDecoder()
        self._chunk_type = chunk_type
        self._on_usage = on_usage  # usage -> hidden params (cost …) for the chunk that carries the usage
        self._annotate = annotate
        self.pending: deque[dict[str, Any]] = deque()
        self.ended = False
        self.usage: dict[str, Any] | None = None
        # An error event ends the stream, but the chunks decoded before it are still delivered first.
        self.failure: APIError | None = None

    def feed(self, data: bytes) -> None:
        try:
            for event in self._decoder.feed(data):
                self.pending.extend(self._parser.feed(event))
        except APIError as error:
            self.failure = self._annotate(error)
            self.ended = True

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    @property
    def is_done(self) -> bool:
        return self._parser.is_done

    def end(self) -> None:
        """The byte stream is over (or the provider said it is done): release what is held back."""
        if self.ended:
            return
        try:
            for event in self._decoder.flush():
                self.pending.extend(self._parser.feed(event))
            self.pending.extend(self._parser.finish())
        except APIError as error:
            self.failure = self._annotate(error)
        finally:
            self.ended = True

    def pop(self) -> Any:
        data = self.pending.popleft()
        chunk = self._chunk_type.model_validate(data)
        if data.get("usage"):
            self.usage = data["usage"]
            chunk._hidden_params.update(self._on_usage(self.usage))
        return chunk


class AsyncStream:
    """`async for chunk in stream` yields `ChatCompletionChunk`s (or text-completion chunks)."""

    def __init__(self, response: AsyncStreamResponse, assembler: ChunkAssembler,
                 annotate: Callable[[APIError], APIError]) -> None:
        self.response_headers = response.headers
        self._response = response
        self._bytes = response.aiter_bytes()
        self._assembler = assembler
        self._annotate = annotate

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        assembler = self._assembler
        while not assembler.pending:
            if assembler.ended:
                await self.aclose()
                assembler.raise_failure()
                raise StopAsyncIteration
            try:
                if assembler.is_done:
                    raise StopAsyncIteration
                data = await self._bytes.__anext__()
            except StopAsyncIteration:
                await self._end()
                continue
            except APIError as error:
                await self.aclose()
                raise self._annotate(error) from None
            assembler.feed(data)
        return assembler.pop()

    async def _end(self) -> None:
        try:
            self._assembler.end()
        finally:
            await self.aclose()

    @property
    def usage(self) -> dict[str, Any] | None:
        """The usage the provider reported at the end of the stream, if it did."""
        return self._assembler.usage

    async def aclose(self) -> None:
        await self._response.aclose()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class SyncStream:
    """`for chunk in stream` yields `ChatCompletionChunk`s (or text-completion chunks)."""

    def __init__(self, response: SyncStreamResponse, assembler: ChunkAssembler,
                 annotate: Callable[[APIError], APIError]) -> None:
        self.response_headers = response.headers
        self._response = response
        self._bytes = response.iter_bytes()
        self._assembler = assembler
        self._annotate = annotate

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> Any:
        assembler = self._assembler
        while not assembler.pending:
            if assembler.ended:
                self.close()
                assembler.raise_failure()
                raise StopIteration
            try:
                if assembler.is_done:
                    raise StopIteration
                data = next(self._bytes)
            except StopIteration:
                try:
                    assembler.end()
                finally:
                    self.close()
                continue
            except APIError as error:
                self.close()
                raise self._annotate(error) from None
            assembler.feed(data)
        return assembler.pop()

    @property
    def usage(self) -> dict[str, Any] | None:
        return self._assembler.usage

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> SyncStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
    if delta.get("function_call"):
        fc = acc.setdefault("function_call", {"name": None, "arguments": ""})
        fc["name"] = delta["function_call"].get("name") or fc["name"]
        fc["arguments"] += delta["function_call"].get("arguments") or ""


def _finish_choice(index: int, acc: dict[str, Any], is_text: bool) -> dict[str, Any]:
    if is_text:
        return {"index": index, "text": acc.get("text", ""), "finish_reason": acc.get("finish_reason"),
                "logprobs": acc.get("logprobs")}
    message: dict[str, Any] = {"role": acc.get("role", "assistant"), "content": acc.get("content")}
    for field in ("reasoning_content", "refusal", "function_call"):
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

