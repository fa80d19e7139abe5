"""Send a prepared call and get the raw answer: credentials fetched, request built, pooled transport, retries,
errors mapped, streams decoded into OpenAI chunk dicts.

No response objects here (and so no pydantic): the SDK wraps these answers in api.py, the gateway forwards them
as they are. Sync and async take the same steps; one waits with time.sleep, the other with asyncio.sleep.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from sluicegate import media
from sluicegate.errors import APIError
from sluicegate.prepare import Prepared
from sluicegate.providers.base import Credentials, SseEvent, StreamFormat, StreamParser
from sluicegate.transport import pool
from sluicegate.transport.base import AsyncStreamResponse, HttpResponse, SyncStreamResponse
from sluicegate.transport.retry import is_retryable, retry_delay_s
from sluicegate.transport.sse import SseDecoder

T = TypeVar("T")


async def send_async(prepared: Prepared) -> HttpResponse:
    """Send a prepared non-stream call, with retries; the raw answer (an error status raises)."""
    await _before_build(prepared)
    request = prepared.adapter.build_request(prepared.call)
    transport = await pool.async_transport()

    async def send() -> HttpResponse:
        return _checked(prepared, await transport.send(request, prepared.timeouts))

    return await _with_retries_async(prepared, send)


def send_sync(prepared: Prepared) -> HttpResponse:
    _before_build_sync(prepared)
    request = prepared.adapter.build_request(prepared.call)
    transport = pool.sync_transport()
    return _with_retries_sync(prepared, lambda: _checked(prepared, transport.send(request, prepared.timeouts)))


async def open_stream_async(prepared: Prepared) -> tuple[AsyncStreamResponse, AsyncIterator[dict[str, Any]]]:
    """Open a prepared stream, with retries before the first byte; its response and its chunk dicts."""
    response, batches = await open_stream_batches_async(prepared)
    return response, flatten(batches)


async def open_stream_batches_async(prepared: Prepared
                                    ) -> tuple[AsyncStreamResponse, AsyncIterator[list[dict[str, Any]]]]:
    """`open_stream_async`, with the chunks in batches: all that one read from the provider completed."""
    await _before_build(prepared)
    request = prepared.adapter.build_request(prepared.call)
    transport = await pool.async_transport()

    async def open_stream() -> AsyncStreamResponse:
        stream = await transport.open_stream(request, prepared.timeouts)
        if stream.status >= 400:
            body = await stream.aread()
            raise prepared.adapter.map_error(prepared.call, stream.status, stream.headers, body)
        return stream

    response = await _with_retries_async(prepared, open_stream)
    return response, chunk_batches(response, prepared.adapter.stream_parser(prepared.call), annotator(prepared),
                                   prepared.adapter.stream_format)


def open_stream_sync(prepared: Prepared) -> tuple[SyncStreamResponse, Iterator[dict[str, Any]]]:
    _before_build_sync(prepared)
    request = prepared.adapter.build_request(prepared.call)

    def open_stream() -> SyncStreamResponse:
        stream = pool.sync_transport().open_stream(request, prepared.timeouts)
        if stream.status >= 400:
            body = stream.read()
            raise prepared.adapter.map_error(prepared.call, stream.status, stream.headers, body)
        return stream

    response = _with_retries_sync(prepared, open_stream)
    return response, chunk_dicts_sync(response, prepared.adapter.stream_parser(prepared.call), annotator(prepared),
                                      prepared.adapter.stream_format)


def chunk_batches(response: AsyncStreamResponse, parser: StreamParser, annotate: Callable[[APIError], APIError],
                  stream_format: StreamFormat = "sse") -> AsyncIterator[list[dict[str, Any]]]:
    """The stream's OpenAI chunk dicts, in batches: all that one read from the provider completed.

    The gateway writes a batch to its client in one go (one write per read, not per event: nothing waits
    longer, and the per-write cost is paid once). Chunks decoded before an error event come out before the error
    is raised; the connection is closed when the generator ends, fails or is closed early.
    """

    async def generate() -> AsyncIterator[list[dict[str, Any]]]:
        decoder = _decoder(stream_format)
        batch: list[dict[str, Any]] = []
        try:
            # Read to the end even after the provider's done marker, so the connection returns to the pool.
            async for data in response.aiter_bytes():
                for event in decoder.feed(data):
                    batch += parser.feed(event)
                if batch:
                    yield batch
                    batch = []
            for event in decoder.flush():
                batch += parser.feed(event)
            batch += parser.finish()
            if batch:
                yield batch
        except APIError as error:
            if batch:
                yield batch
            raise annotate(error) from None
        finally:
            await response.aclose()

    return generate()


def flatten(batches: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[dict[str, Any]]:
    """Chunk batches one chunk at a time (closing it closes the stream)."""

    async def generate() -> AsyncIterator[dict[str, Any]]:
        try:
            async for batch in batches:
                for chunk in batch:
                    yield chunk
        finally:
            await batches.aclose()  # type: ignore[attr-defined]  # an async generator

    return generate()


def chunk_dicts_sync(response: SyncStreamResponse, parser: StreamParser, annotate: Callable[[APIError], APIError],
                     stream_format: StreamFormat = "sse") -> Iterator[dict[str, Any]]:
    """The stream's OpenAI chunk dicts one by one, for the sync transport."""
    decoder = _decoder(stream_format)
    try:
        for data in response.iter_bytes():
            for event in decoder.feed(data):
                yield from parser.feed(event)
        for event in decoder.flush():
            yield from parser.feed(event)
        yield from parser.finish()
    except APIError as error:
        raise annotate(error) from None
    finally:
        response.close()


class _Decoder(Protocol):
    def feed(self, chunk: bytes) -> list[SseEvent]: ...

    def flush(self) -> list[SseEvent]: ...


def _decoder(stream_format: StreamFormat) -> _Decoder:
    if stream_format == "aws-eventstream":
        from sluicegate.transport.aws_eventstream import EventStreamDecoder  # only Bedrock streams need it

        return EventStreamDecoder()
    return SseDecoder()


async def _before_build(prepared: Prepared) -> None:
    """The I/O a call needs before its request can be built: tokens, credential chains, remote media."""
    await _fetch_token(prepared)
    call, adapter = prepared.call, prepared.adapter
    if adapter.authenticate is not None:
        call.credentials = await asyncio.to_thread(adapter.authenticate, call)
    if adapter.inline_media and call.kind == "chat" and media.remote_urls(call.messages, adapter.keeps_url):
        call.messages = await media.inline_async(call.messages, prepared.settings, adapter.keeps_url)


def _before_build_sync(prepared: Prepared) -> None:
    _fetch_token_sync(prepared)
    call, adapter = prepared.call, prepared.adapter
    if adapter.authenticate is not None:
        call.credentials = adapter.authenticate(call)
    if adapter.inline_media and call.kind == "chat" and media.remote_urls(call.messages, adapter.keeps_url):
        call.messages = media.inline_sync(call.messages, prepared.settings, adapter.keeps_url)


def _with_retries_sync(prepared: Prepared, attempt: Callable[[], T]) -> T:
    tries = 0
    while True:
        try:
            return attempt()
        except APIError as error:
            annotate(prepared, error)
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
            annotate(prepared, error)
            if tries >= prepared.num_retries or not is_retryable(error):
                raise
            tries += 1
            await asyncio.sleep(_delay(prepared, tries, error))


def _delay(prepared: Prepared, tries: int, error: APIError) -> float:
    settings = prepared.settings
    return retry_delay_s(tries, error, initial_s=settings.retry_initial_delay_s, max_s=settings.retry_max_delay_s)


def _checked(prepared: Prepared, response: HttpResponse) -> HttpResponse:
    if response.status >= 400:
        raise prepared.adapter.map_error(prepared.call, response.status, response.headers, response.body)
    return response


def annotate(prepared: Prepared, error: APIError) -> APIError:
    """Name the provider and model on an error, and take any echoed credential out of its message."""
    error.provider = error.provider or prepared.call.provider
    error.model = error.model or prepared.call.model
    _redact(error, prepared.call.credentials)
    return error


def annotator(prepared: Prepared) -> Callable[[APIError], APIError]:
    return lambda error: annotate(prepared, error)


def _redact(error: APIError, credentials: Credentials) -> None:
    """An upstream that echoes the caller's key in its error must not put it in our exception."""
    for secret in credentials.secrets():
        if secret and len(secret) >= 8 and secret in error.message:
            error.message = error.message.replace(secret, secret[:3] + "…" + secret[-4:])
            error.args = (error.message,)
            error.body = None  # the parsed body holds the same text


async def _fetch_token(prepared: Prepared) -> None:
    if prepared.token_provider is not None:
        token = prepared.token_provider()
        _set_token(prepared, await token if inspect.isawaitable(token) else token)


def _fetch_token_sync(prepared: Prepared) -> None:
    if prepared.token_provider is not None:
        token = prepared.token_provider()
        if inspect.isawaitable(token):
            raise TypeError("azure_ad_token_provider returned an awaitable: use acompletion() for async providers")
        _set_token(prepared, token)


def _set_token(prepared: Prepared, token: Any) -> None:
    if not isinstance(token, str) or not token:
        raise TypeError("azure_ad_token_provider must return a non-empty token string")
    call = prepared.call
    call.credentials = replace(call.credentials, azure_ad_token=token)
