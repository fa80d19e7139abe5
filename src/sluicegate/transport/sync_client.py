"""The sync transport: one pooled httpx client per process, thread-safe, keep-alive per upstream.

httpx has no whole-call timeout, so a non-stream call reads the body in pieces and stops at the deadline.
Redirects are never followed: a provider key must not travel to wherever a 3xx points.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson

from sluicegate.errors import APIConnectionError, Timeout
from sluicegate.providers.base import HttpRequest
from sluicegate.transport.base import USER_AGENT, HttpResponse, Timeouts


def _body(request: HttpRequest) -> tuple[bytes | None, dict[str, str]]:
    if request.json is not None:
        return orjson.dumps(request.json), {"content-type": "application/json", **request.headers}
    return request.content, request.headers


def _connection_error(error: httpx.HTTPError, url: str) -> APIConnectionError:
    host = url.split("/")[2] if "://" in url else url
    if isinstance(error, httpx.TimeoutException):
        return Timeout(f"request to {host} timed out")
    return APIConnectionError(f"connection to {host} failed: {type(error).__name__}: {error}")


def _httpx_timeout(timeouts: Timeouts, read: float) -> httpx.Timeout:
    return httpx.Timeout(connect=timeouts.connect, read=read, write=timeouts.total, pool=timeouts.total)


class HttpxStream:
    __slots__ = ("_context", "_response", "_url", "headers", "status")

    def __init__(self, context: Any, response: httpx.Response, url: str) -> None:
        self._context = context
        self._response = response
        self._url = url
        self.status = response.status_code
        self.headers = {k.lower(): v for k, v in response.headers.items()}

    def iter_bytes(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_bytes()
        except httpx.HTTPError as error:
            raise _connection_error(error, self._url) from error
        finally:
            self.close()

    def read(self) -> bytes:
        try:
            return b"".join(self._response.iter_bytes())
        except httpx.HTTPError as error:
            raise _connection_error(error, self._url) from error
        finally:
            self.close()

    def close(self) -> None:
        self._context.__exit__(None, None, None)


class HttpxTransport:
    def __init__(self, *, max_connections: int = 1000) -> None:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=100)
        self._client = httpx.Client(limits=limits, follow_redirects=False, trust_env=True,
                                    headers={"user-agent": USER_AGENT})

    def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResponse:
        data, headers = _body(request)
        deadline = time.monotonic() + timeouts.total
        try:
            with self._client.stream(request.method, request.url, content=data, headers=headers,
                                     timeout=_httpx_timeout(timeouts, timeouts.total)) as response:
                parts = []
                for part in response.iter_bytes():  # decoded: providers gzip their answers
                    parts.append(part)
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("total timeout exceeded")
                return HttpResponse(response.status_code,
                                    {k.lower(): v for k, v in response.headers.items()}, b"".join(parts))
        except httpx.HTTPError as error:
            raise _connection_error(error, request.url) from error

    def open_stream(self, request: HttpRequest, timeouts: Timeouts) -> HttpxStream:
        data, headers = _body(request)
        context = self._client.stream(request.method, request.url, content=data, headers=headers,
                                      timeout=_httpx_timeout(timeouts, min(timeouts.read, timeouts.total)))
        try:
            response = context.__enter__()
        except httpx.HTTPError as error:
            raise _connection_error(error, request.url) from error
        return HttpxStream(context, response, request.url)

    def close(self) -> None:
        self._client.close()
