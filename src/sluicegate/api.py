"""The SDK's calls: completion / acompletion, embedding / aembedding, text_completion / atext_completion.

Each call is: prepare (resolve the model, type the parameters, resolve credentials) → engine.py sends it
(request built by the adapter, pooled transport, retries) → the adapter parses the answer → the public response
object, with cost attached (this module's part).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypedDict, Unpack

from sluicegate.engine import open_stream_async, open_stream_sync, send_async, send_sync
from sluicegate.mock import mock_chunks, mock_data
from sluicegate.prepare import Prepared, prepare
from sluicegate.responses import build_response, hidden_params
from sluicegate.streaming import AsyncStream, MockStream, SyncStream
from sluicegate.transport.base import HttpResponse
from sluicegate.types.chat import ChatCompletion
from sluicegate.types.chunks import ChatCompletionChunk
from sluicegate.types.completions import TextCompletionResponse
from sluicegate.types.embeddings import EmbeddingResponse


class CallOptions(TypedDict, total=False):
    """Keywords that steer a call (as LiteLLM names them). Anything not listed is sent to the provider."""

    timeout: float | Any  # seconds for each attempt, or an httpx.Timeout-like object
    api_base: str
    base_url: str
    api_key: str
    api_version: str
    organization: str
    project: str
    extra_headers: dict[str, str]
    extra_body: dict[str, Any]
    drop_params: bool
    num_retries: int
    metadata: dict[str, Any]
    mock_response: Any
    custom_llm_provider: str
    azure_ad_token: str
    azure_ad_token_provider: Callable[[], Any]
    input_cost_per_token: float
    output_cost_per_token: float
    base_model: str


class CompletionKwargs(CallOptions, total=False):
    stream: bool
    temperature: float
    top_p: float
    max_tokens: int
    max_completion_tokens: int
    stop: str | list[str]
    n: int
    seed: int
    user: str
    tools: list[dict[str, Any]]
    tool_choice: str | dict[str, Any]
    parallel_tool_calls: bool
    response_format: dict[str, Any]
    logprobs: bool
    top_logprobs: int
    presence_penalty: float
    frequency_penalty: float
    logit_bias: dict[str, float]
    stream_options: dict[str, Any]
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | str


class EmbeddingKwargs(CallOptions, total=False):
    dimensions: int
    encoding_format: Literal["float", "base64"]
    user: str


class TextCompletionKwargs(CallOptions, total=False):
    stream: bool
    max_tokens: int
    temperature: float
    top_p: float
    n: int
    stop: str | list[str]
    seed: int
    user: str
    logprobs: int
    echo: bool
    suffix: str


def completion(model: str, messages: list[Any] | None = None,
               **kwargs: Unpack[CompletionKwargs]) -> ChatCompletion | SyncStream | MockStream:
    """Chat completion with any provider, OpenAI's format in and out.

    >>> r = sluicegate.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    >>> r.choices[0].message.content
    """
    return _run_sync(prepare("chat", model, dict(kwargs), messages=messages))


async def acompletion(model: str, messages: list[Any] | None = None,
                      **kwargs: Unpack[CompletionKwargs]) -> ChatCompletion | AsyncStream | MockStream:
    """Async `completion`; with `stream=True` it returns an async iterator of chunks."""
    return await _run_async(prepare("chat", model, dict(kwargs), messages=messages))


def embedding(model: str, input: Any = None, **kwargs: Unpack[EmbeddingKwargs]) -> EmbeddingResponse:
    """Embeddings for a string or a list of strings (or token arrays)."""
    return _run_sync(prepare("embedding", model, {**kwargs, "input": input}))


async def aembedding(model: str, input: Any = None,  # OpenAI's parameter name
                     **kwargs: Unpack[EmbeddingKwargs]) -> EmbeddingResponse:
    return await _run_async(prepare("embedding", model, {**kwargs, "input": input}))


def text_completion(model: str, prompt: Any = None,
                    **kwargs: Unpack[TextCompletionKwargs]) -> TextCompletionResponse | SyncStream | MockStream:
    """OpenAI's legacy /v1/completions (prompt in, text out)."""
    return _run_sync(prepare("text_completion", model, {**kwargs, "prompt": prompt}))


async def atext_completion(model: str, prompt: Any = None, **kwargs: Unpack[TextCompletionKwargs]
                           ) -> TextCompletionResponse | AsyncStream | MockStream:
    return await _run_async(prepare("text_completion", model, {**kwargs, "prompt": prompt}))


# The two runners take identical steps; one waits with time.sleep, the other with asyncio.sleep.

def _run_sync(prepared: Prepared) -> Any:
    if prepared.mock_response is not None:
        return _mocked(prepared)
    if prepared.call.is_stream:
        response, chunks = open_stream_sync(prepared)
        return SyncStream(chunks, _chunk_type(prepared), _usage_hook(prepared, response.headers), response.headers)
    return _parsed(prepared, send_sync(prepared))


async def _run_async(prepared: Prepared) -> Any:
    if prepared.mock_response is not None:
        return _mocked(prepared)
    if prepared.call.is_stream:
        response, chunks = await open_stream_async(prepared)
        return AsyncStream(chunks, _chunk_type(prepared), _usage_hook(prepared, response.headers), response.headers)
    return _parsed(prepared, await send_async(prepared))


def _parsed(prepared: Prepared, response: HttpResponse) -> Any:
    data = prepared.adapter.parse_response(prepared.call, response.status, response.headers, response.body)
    return build_response(prepared, data, response.headers)


def _usage_hook(prepared: Prepared, headers: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda usage: hidden_params(prepared, None, usage, headers)


def _chunk_type(prepared: Prepared) -> type[ChatCompletionChunk] | type[TextCompletionResponse]:
    return TextCompletionResponse if prepared.call.kind == "text_completion" else ChatCompletionChunk


def _mocked(prepared: Prepared) -> Any:
    if prepared.call.is_stream:
        chunks = mock_chunks(prepared)
        usage = next((c["usage"] for c in chunks if c.get("usage")), None)
        return MockStream(chunks, hidden_params(prepared, None, usage, {}))
    return build_response(prepared, mock_data(prepared), {})
