"""One attempt on one deployment through the SDK, and the stream a routed call returns.

The SDK call gets the deployment's litellm_params as keywords and `num_retries=0`: the router owns retries, so
attempts never multiply across layers. A stream is opened and its first chunk read before the call counts as
a success: until then a failure can still be retried elsewhere; after, it ends the stream with the error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from sluicegate.errors import APIError
from sluicegate.router.selection import Pick

_SDK_CALLS = {"chat": "acompletion", "embedding": "aembedding", "text_completion": "atext_completion"}
# Request keywords that steer the router; never sent on.
ROUTER_KEYWORDS = frozenset({"tags", "fallbacks", "context_window_fallbacks", "content_policy_fallbacks",
                             "num_retries", "max_retries", "model_group"})

Report = Callable[["RoutedStream", "BaseException | None"], Awaitable[None]]  # a stream's end


def deployment_kwargs(pick: Pick, kwargs: Mapping[str, Any], default_timeout: Any,
                      defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The SDK keywords for one attempt: the request's over the deployment's over the router's
    `default_litellm_params` (their `metadata` dicts merged the same way), the deployment's model, no retries.

    Timeout, per attempt: the request's `timeout`, else the deployment's (`stream_timeout` for streams), else the
    default params', else the router's."""
    deployment = pick.deployment
    is_stream = bool(kwargs.get("stream"))
    defaults = {k: v for k, v in (defaults or {}).items() if v is not None and k not in ROUTER_KEYWORDS}
    sent = {k: v for k, v in kwargs.items() if k not in ROUTER_KEYWORDS}
    params = {**defaults, **deployment.call_params, **sent, "model": deployment.model, "num_retries": 0}
    metadata = [m for m in (defaults.get("metadata"), deployment.call_params.get("metadata"), sent.get("metadata"))
                if isinstance(m, Mapping)]
    if len(metadata) > 1:
        params["metadata"] = {k: v for m in metadata for k, v in m.items()}
    if kwargs.get("timeout") is None and kwargs.get("request_timeout") is None:
        timeout = deployment.timeout(is_stream=is_stream)
        if timeout is None:
            timeout = defaults.get("timeout", default_timeout)
        params["timeout"] = timeout
    return params


async def call_sdk(kind: str, pick: Pick, kwargs: dict[str, Any], *, clock: Callable[[], float],
                   report: Report) -> Any:
    """Call the deployment; a stream comes back as a RoutedStream whose first chunk has already arrived."""
    # Imported on first use: the gateway routes with its own calls and must not load the SDK's pydantic response
    # types (~0.4 s of cold start) for nothing.
    from sluicegate import api

    sdk_call: Callable[..., Awaitable[Any]] = getattr(api, _SDK_CALLS[kind])
    result = await sdk_call(**kwargs)
    if not kwargs.get("stream"):
        return result
    chunks = aiter(result)
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await _close(result)
        raise
    return RoutedStream(pick, result, chunks, first, clock() - pick.started, report)


async def _close(stream: Any) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


class RoutedStream:
    """A routed stream: chunks as the deployment sends them, each tagged with the router's hidden params.

    When it ends (finished, failed or closed early) the router is told once, with the stream's token usage.
    """

    settles_later = True  # `Router.execute` leaves the report to the stream's end
    def __init__(self, pick: Pick, source: Any, chunks: AsyncIterator[Any], first: Any, ttft_s: float,
                 report: Report) -> None:
        self.pick = pick
        self.ttft_s = ttft_s
        self._hidden_params: dict[str, Any] = {}
        self.response_headers: dict[str, str] = getattr(source, "response_headers", {})
        self._source = source
        self._chunks = chunks
        self._first = first
        self._report: Report | None = report

    @property
    def usage(self) -> Any:
        return getattr(self._source, "usage", None)

    def __aiter__(self) -> RoutedStream:
        return self

    async def __anext__(self) -> Any:
        if self._first is not None:
            chunk, self._first = self._first, None
        else:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                await self._end(None)
                raise
            except APIError as error:
                await self._end(error)
                raise
        hidden = getattr(chunk, "_hidden_params", None)
        if isinstance(hidden, dict):
            hidden.update(self._hidden_params)
        return chunk

    async def _end(self, error: BaseException | None) -> None:
        report, self._report = self._report, None
        if report is not None:
            await report(self, error)

    async def aclose(self) -> None:
        try:
            await _close(self._source)
        finally:
            await self._end(None)

    async def __aenter__(self) -> RoutedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def total_tokens(usage: Any) -> int | None:
    """`total_tokens` of a usage object or dict, or None."""
    if usage is None:
        return None
    value = usage.get("total_tokens") if isinstance(usage, Mapping) else getattr(usage, "total_tokens", None)
    return int(value) if value is not None else None
