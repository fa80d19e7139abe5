"""The SDK's calls: completion / acompletion, embedding / aembedding, text_completion / atext_completion.

Each call is: prepare (resolve the model, type the parameters, resolve credentials) → the adapter builds the
HTTP request → the pooled transport sends it, retrying what is worth retrying → the adapter parses the answer
→ the public response object, with cost attached. Sync and async share everything but the waiting.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any, Literal, TypedDict, TypeVar, Unpack

from sluicegate.errors import APIError
from sluicegate.mock import MockStream, mock_chunks, mock_data
from sluicegate.prepare import Prepared, prepare
from sluicegate.providers.base import Credentials, HttpRequest
from sluicegate.responses import build_response, hidden_params
from sluicegate.streaming import AsyncStream, SyncStream, chunk_batches, chunk_dicts_sync, flatten
from sluicegate.transport import pool
from sluicegate.transport.base import AsyncStreamResponse, HttpResponse, SyncStreamResponse
from sluicegate.transport.retry import is_retryable, retry_delay_s
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
    if prepared.token_provider is not None:
        token = prepared.token_provider()
        if inspect.isawaitable(token):
            raise TypeError("azure_ad_token_provider returned an awaitable: use acompletion() for async providers")
        _set_token(prepared, token)
    request = prepared.adapter.build_request(prepared.call)
    transport = pool.sync_transport()
    if prepared.call.is_stream:
        response: SyncStreamResponse = _with_retries_sync(prepared, lambda: _open_sync(prepared, request))
        chunks = chunk_dicts_sync(response, prepared.adapter.stream_parser(prepared.call), _annotator(prepared))
        return SyncStream(chunks, _chunk_type(prepared), _usage_hook(prepared, response.headers), response.headers)
    sent: HttpResponse = _with_retries_sync(prepared, lambda: _checked(prepared, transport.send(
        request, prepared.timeouts)))
    return _parsed(prepared, sent)


async def _run_async(prepared: Prepared) -> Any:
    if prepared.mock_response is not None:
        return _mocked(prepared)
    if prepared.call.is_stream:
        response, chunks = await open_stream_async(prepared)
        return AsyncStream(chunks, _chunk_type(prepared), _usage_hook(prepared, response.headers), response.headers)
    sent = await send_async(prepared)
    return _parsed(prepared, sent)


async def send_async(prepared: Prepared) -> HttpResponse:
    """Send a prepared non-stream call, with retries; the raw answer (the gateway parses it itself)."""
    await _fetch_token(prepared)
    request = prepared.adapter.build_request(prepared.call)
    transport = await pool.async_transport()

    async def send() -> HttpResponse:
        return _checked(prepared, await transport.send(request, prepared.timeouts))

    return await _with_retries_async(prepared, send)


async def open_stream_async(prepared: Prepared) -> tuple[AsyncStreamResponse, AsyncIterator[dict[str, Any]]]:
    """Open a prepared stream, with retries before the first byte; its response and its chunk dicts."""
    response, batches = await open_stream_batches_async(prepared)
    return response, flatten(batches)


async def open_stream_batches_async(prepared: Prepared
                                    ) -> tuple[AsyncStreamResponse, AsyncIterator[list[dict[str, Any]]]]:
    """`open_stream_async`, with the chunks in batches: all that one read from the provider completed."""
    await _fetch_token(prepared)
    request = prepared.adapter.build_request(prepared.call)
    transport = await pool.async_transport()

    async def open_stream() -> AsyncStreamResponse:
        stream = await transport.open_stream(request, prepared.timeouts)
        if stream.status >= 400:
            body = await stream.aread()
            raise prepared.adapter.map_error(prepared.call, stream.status, stream.headers, body)
        return stream

    response = await _with_retries_async(prepared, open_stream)
    return response, chunk_batches(response, prepared.adapter.stream_parser(prepared.call), _annotator(prepared))


async def _fetch_token(prepared: Prepared) -> None:
    if prepared.token_provider is not None:
        token = prepared.token_provider()
        _set_token(prepared, await token if inspect.isawaitable(token) else token)


T = TypeVar("T")


def _with_retries_sync(prepared: Prepared, attempt: Callable[[], T]) -> T:
    tries = 0
    while True:
        try:
            return attempt()
        except APIError as error:
            _annotate(prepared, error)
            if tries >= prepared.num_retries or not is_retryable(error):
                raise
            tries += 1
            time.sleep(_delay(prepared, tries, error))


async def _with_retries_async(prepared: Prepared, attempt: Callable[[], Any]) -> Any:
    tries = 0
    while True:
        try:
            return await attempt()
        except APIError as error:
            _annotate(prepared, error)
            if tries >= prepared.num_retries or not is_retryable(error):
                raise
            tries += 1
            await asyncio.sleep(_delay(prepared, tries, error))


def _delay(prepared: Prepared, tries: int, error: APIError) -> float:
    settings = prepared.settings
    return retry_delay_s(tries, error, initial_s=settings.retry_initial_delay_s, max_s=settings.retry_max_delay_s)


def _open_sync(prepared: Prepared, request: HttpRequest) -> SyncStreamResponse:
    stream = pool.sync_transport().open_stream(request, prepared.timeouts)
    if stream.status >= 400:
        body = stream.read()
        raise prepared.adapter.map_error(prepared.call, stream.status, stream.headers, body)
    return stream


def _checked(prepared: Prepared, response: HttpResponse) -> HttpResponse:
    if response.status >= 400:
        raise prepared.adapter.map_error(prepared.call, response.status, response.headers, response.body)
    return response


def _parsed(prepared: Prepared, response: HttpResponse) -> Any:
    data = prepared.adapter.parse_response(prepared.call, response.status, response.headers, response.body)
    return build_response(prepared, data, response.headers)


def _annotate(prepared: Prepared, error: APIError) -> APIError:
    error.provider = error.provider or prepared.call.provider
    error.model = error.model or prepared.call.model
    _redact(error, prepared.call.credentials)
    return error


def _redact(error: APIError, credentials: Credentials) -> None:
    """An upstream that echoes the caller's key in its error must not put it in our exception."""
    for secret in (credentials.api_key, credentials.azure_ad_token):
        if secret and len(secret) >= 8 and secret in error.message:
            error.message = error.message.replace(secret, secret[:3] + "…" + secret[-4:])
            error.args = (error.message,)
            error.body = None  # the parsed body holds the same text


def _annotator(prepared: Prepared) -> Callable[[APIError], APIError]:
    return lambda error: _annotate(prepared, error)


def _usage_hook(prepared: Prepared, headers: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda usage: hidden_params(prepared, None, usage, headers)


def _chunk_type(prepared: Prepared) -> type[ChatCompletionChunk] | type[TextCompletionResponse]:
    return TextCompletionResponse if prepared.call.kind == "text_completion" else ChatCompletionChunk


def _set_token(prepared: Prepared, token: Any) -> None:
    if not isinstance(token, str) or not token:
        raise TypeError("azure_ad_token_provider must return a non-empty token string")
    call = prepared.call
    call.credentials = replace(call.credentials, azure_ad_token=token)


def _mocked(prepared: Prepared) -> Any:
    if prepared.call.is_stream:
        chunks = mock_chunks(prepared)
        usage = next((c["usage"] for c in chunks if c.get("usage")), None)
        return MockStream(chunks, hidden_params(prepared, None, usage, {}))
    return build_response(prepared, mock_data(prepared), {})
