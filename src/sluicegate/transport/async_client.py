"""The fallback async transport (behind a proxy, without httptools, or with SLUICEGATE_HTTP_CLIENT=aiohttp; see
pool.py): one pooled aiohttp session per event loop, keep-alive connections per upstream.

aiohttp was chosen over httpx's async client by measurement (benchmarks/sdk_overhead.py): it adds less
CPU per call. Redirects are never followed: a provider key must not travel to wherever a 3xx points.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import yarl

from sluicegate.errors import APIConnectionError, Timeout
from sluicegate.providers.base import HttpRequest
from sluicegate.transport.base import USER_AGENT, HttpResponse, Timeouts

_JSON = {"content-type": "application/json"}


def _body(request: HttpRequest) -> tuple[bytes | None, dict[str, str]]:
    if request.json is not None:
        return orjson.dumps(request.json), {**_JSON, **request.headers}
    return request.content, request.headers


def _as_sent(url: str) -> yarl.URL:
    """The URL exactly as the adapter built it: yarl would otherwise decode %3A and the like, and a SigV4
    signature (Bedrock) covers the path as encoded."""
    return yarl.URL(url, encoded=True)


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _connection_error(error: BaseException, url: str) -> APIConnectionError:
    host = url.split("/")[2] if "://" in url else url
    if isinstance(error, asyncio.TimeoutError):
        return Timeout(f"request to {host} timed out")
    return APIConnectionError(f"connection to {host} failed: {type(error).__name__}: {error}".rstrip(": "))


class AiohttpStream:
    """A response whose body is read as it arrives; closing it early closes the connection (cancelling the
    upstream), reading it to the end returns the connection to the pool."""

    __slots__ = ("_response", "_url", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse, url: str) -> None:
        self._response = response
        self._url = url
        self.status = response.status
        self.headers = _lower(response.headers)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as error:
            raise _connection_error(error, self._url) from error
        self._response.release()

    async def aread(self) -> bytes:
        try:
            return await self._response.read()
        except (TimeoutError, aiohttp.ClientError) as error:
            raise _connection_error(error, self._url) from error
        finally:
            self._response.release()

    async def aclose(self) -> None:
        if not self._response.closed:
            self._response.close()


class AiohttpTransport:
    def __init__(self, *, max_connections: int = 1000, max_per_host: int = 0) -> None:
        connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=max_per_host,
                                         ttl_dns_cache=300, enable_cleanup_closed=True)
        # Proxies come from HTTPS_PROXY / NO_PROXY as in httpx and the provider SDKs, but are read once here:
        # aiohttp's trust_env=True re-reads them (and ~/.netrc) in a thread pool on every request, which
        # measured at two thirds of the SDK's whole per-call overhead (benchmarks/sdk_overhead.py).
        self._proxies = urllib.request.getproxies()
        self._proxy_by_origin: dict[str, str | None] = {}
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=True,
                                              headers={"user-agent": USER_AGENT})
        self._closed = False

    def _proxy(self, url: str) -> str | None:
        scheme, _, rest = url.partition("://")
        origin = scheme + "://" + rest.split("/", 1)[0]
        if origin not in self._proxy_by_origin:
            host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
            proxy = self._proxies.get(scheme)
            self._proxy_by_origin[origin] = None if proxy is None or urllib.request.proxy_bypass(host) else proxy
        return self._proxy_by_origin[origin]

    async def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResponse:
        data, headers = _body(request)
        timeout = aiohttp.ClientTimeout(total=timeouts.total, sock_connect=timeouts.connect)
        try:
            async with self._session.request(request.method, _as_sent(request.url), data=data, headers=headers,
                                             timeout=timeout, allow_redirects=False,
                                             proxy=self._proxy(request.url)) as response:
                body = await response.read()
                return HttpResponse(response.status, _lower(response.headers), body)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise _connection_error(error, request.url) from error

    async def open_stream(self, request: HttpRequest, timeouts: Timeouts) -> AiohttpStream:
        data, headers = _body(request)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect, sock_read=timeouts.read)
        try:
            async with asyncio.timeout(timeouts.total):  # bounds the wait for the response headers
                response = await self._session.request(request.method, _as_sent(request.url), data=data,
                                                       headers=headers, timeout=timeout,
                                                       allow_redirects=False, proxy=self._proxy(request.url))
        except (TimeoutError, aiohttp.ClientError) as error:
            raise _connection_error(error, request.url) from error
        return AiohttpStream(response, request.url)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._session.close()
