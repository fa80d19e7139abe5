"""Fetch the http(s) images and files in chat messages for providers that cannot fetch URLs themselves (Gemini,
Bedrock), and inline them as `data:` URLs. Not a general HTTP client: it exists only for that step.

A URL in a message is chosen by whoever sends the request, so the fetch is guarded (SSRF):
- http and https only; every address a host name resolves to must be public (no loopback, private, link-local
  — which holds the cloud metadata address 169.254.169.254 — shared, multicast or reserved ranges), unless the
  operator lists its network in `Settings.media_allowed_networks`;
- the connection goes to the address that was checked (the resolver is the guard, so DNS rebinding between
  check and connect is impossible), and redirects are followed by hand, each hop checked again, at most 3;
- the body is bounded (`media_max_bytes`) and so is the time (`media_timeout_s`).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import mimetypes
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

from sluicegate.errors import BadRequestError
from sluicegate.settings import Settings

_MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


KeepUrl = Callable[[str], bool]


def _url_slots(messages: list[dict[str, Any]], keep: KeepUrl | None = None
               ) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(holder dict, key, url) for every remote URL a content part carries, less those `keep` keeps."""
    for holder, key, url in _all_url_slots(messages):
        if keep is None or not keep(url):
            yield holder, key, url


def _all_url_slots(messages: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str, str]]:
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "image_url":
                image = part.get("image_url")
                if isinstance(image, str) and _is_remote(image):
                    yield part, "image_url", image
                elif isinstance(image, dict) and _is_remote(image.get("url")):
                    yield image, "url", image["url"]
            elif part.get("type") == "file":
                file = part.get("file")
                if isinstance(file, dict) and _is_remote(file.get("file_id")):  # LiteLLM's "file_id as a URL"
                    yield file, "file_id", file["file_id"]


def _is_remote(url: Any) -> bool:
    return isinstance(url, str) and url[:8].lower().startswith(("http://", "https://"))


def remote_urls(messages: list[dict[str, Any]], keep: KeepUrl | None = None) -> list[str]:
    """The http(s) URLs in the messages' content parts, in order (less those `keep` keeps)."""
    return [url for _, _, url in _url_slots(messages, keep)]


async def inline_async(messages: list[dict[str, Any]], settings: Settings, keep: KeepUrl | None = None
                       ) -> list[dict[str, Any]]:
    """A copy of the messages with every remote URL (but those `keep` keeps) replaced by a data: URL of what it
    points to."""
    copied = _deep_copy(messages)
    slots = list(_url_slots(copied, keep))
    fetched = await asyncio.gather(*(fetch_data_url(url, settings) for _, _, url in slots))
    for (holder, key, _), data_url in zip(slots, fetched, strict=True):
        if key == "file_id":
            holder.pop("file_id")
            holder["file_data"] = data_url
        else:
            holder[key] = data_url
    return copied


def inline_sync(messages: list[dict[str, Any]], settings: Settings, keep: KeepUrl | None = None
                ) -> list[dict[str, Any]]:
    """`inline_async` for sync callers, on a private event loop in a worker thread (the caller may be inside
    a running loop already, where asyncio.run would refuse)."""
    result: list[list[dict[str, Any]]] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(inline_async(messages, settings, keep)))
        except BaseException as error:  # handed to the caller's thread below
            failure.append(error)

    worker = threading.Thread(target=run, name="sluicegate-media")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return result[0]


def _deep_copy(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def copy(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: copy(v) for k, v in value.items()}
        if isinstance(value, list):
            return [copy(v) for v in value]
        return value

    return copy(messages)


async def fetch_data_url(url: str, settings: Settings) -> str:
    """Download `url` under the guards above; a `data:<type>;base64,…` URL of its body."""
    import aiohttp  # the SDK's transport dependency; imported here so `import sluicegate` stays light

    timeout = aiohttp.ClientTimeout(total=settings.media_timeout_s)
    resolver = _GuardedResolver(settings)
    # _GuardedResolver has AbstractResolver's methods; subclassing it would import aiohttp with this module.
    connector = aiohttp.TCPConnector(resolver=cast(Any, resolver), use_dns_cache=False, limit=4)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            current = url
            for _ in range(_MAX_REDIRECTS + 1):
                _check_url(current, settings)
                async with session.get(current, allow_redirects=False) as response:
                    if response.status in _REDIRECTS and "location" in response.headers:
                        current = urljoin(current, response.headers["location"])
                        continue
                    if response.status != 200:
                        raise _refused(url, f"it answered HTTP {response.status}")
                    body = await _read_bounded(response, url, settings.media_max_bytes)
                    media_type = _media_type(response.headers.get("content-type"), current)
                    return f"data:{media_type};base64,{base64.b64encode(body).decode()}"
            raise _refused(url, f"more than {_MAX_REDIRECTS} redirects")
    except (aiohttp.ClientError, TimeoutError) as error:  # the guard's refusals are BadRequestErrors already
        reason = "it took too long" if isinstance(error, TimeoutError) else f"{type(error).__name__}"
        raise _refused(url, reason) from None


async def _read_bounded(response: Any, url: str, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _refused(url, f"it is larger than {limit} bytes")
    body = bytearray()
    async for piece in response.content.iter_chunked(65536):
        body += piece
        if len(body) > limit:
            raise _refused(url, f"it is larger than {limit} bytes")
    return bytes(body)


def _media_type(content_type: str | None, url: str) -> str:
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream":
        return declared
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed or "application/octet-stream"


def _check_url(url: str, settings: Settings) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refused(url, "only http and https URLs can be fetched")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return  # a host name: the resolver checks every address it resolves to
    _check_address(literal, url, settings)


def _check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, url: str, settings: Settings) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in ipaddress.ip_network(net, strict=False) for net in settings.media_allowed_networks):
        return
    if not address.is_global or address.is_multicast:
        raise _refused(url, f"it resolves to a non-public address ({address})")


def _refused(url: str, reason: str) -> BadRequestError:
    shown = url if len(url) <= 200 else url[:200] + "…"
    return BadRequestError(f"could not fetch {shown} to pass it to the provider: {reason}", param="messages",
                           code="media_fetch_failed")


class _GuardedResolver:
    """aiohttp's resolver interface: resolve with the system, then refuse any non-public address."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=socket.AF_UNSPEC)
        found = []
        for family_found, _, proto, _, sockaddr in infos:
            address = ipaddress.ip_address(sockaddr[0])
            _check_address(address, f"http://{host}", self._settings)
            found.append({"hostname": host, "host": str(address), "port": port, "family": family_found,
                          "proto": proto, "flags": socket.AI_NUMERICHOST})
        if not found:
            raise _refused(f"http://{host}", "its name does not resolve")
        return found

    async def close(self) -> None:
        return None
