"""Fetching remote images for providers that cannot: the SSRF guards, the bounds, and the rewrite to data: URLs."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from sluicegate import media
from sluicegate.errors import BadRequestError
from sluicegate.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
LOOPBACK_ONLY = Settings(media_allowed_networks=("127.0.0.1/32",))


@pytest.fixture
async def image_server() -> AsyncIterator[str]:
    async def image(_: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def untyped(_: web.Request) -> web.Response:
        return web.Response(body=PNG, headers={"content-type": "application/octet-stream"})

    async def to_image(_: web.Request) -> web.Response:
        raise web.HTTPFound("/image.png")

    async def to_metadata(_: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def to_other_loopback(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.2:{request.url.port}/image.png")

    async def loop(_: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    released = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        await released.wait()  # until teardown: longer than any client timeout under test
        return web.Response(body=PNG)

    async def missing(_: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    for path, handler in [("/image.png", image), ("/photo.jpg", untyped), ("/redirect", to_image),
                          ("/to-metadata", to_metadata), ("/to-other", to_other_loopback), ("/loop", loop),
                          ("/slow", slow), ("/missing", missing)]:
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        released.set()
        await runner.cleanup()


def _image_message(url: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                         {"type": "image_url", "image_url": {"url": url, "detail": "low"}}]}]


def test_remote_urls_finds_image_and_file_urls_only():
    messages = [
        {"role": "system", "content": "plain text"},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "image_url", "image_url": "http://example.com/b.png"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "file", "file": {"file_id": "https://example.com/doc.pdf"}},
            {"type": "file", "file": {"file_id": "file-abc123"}},
            {"type": "text", "text": "https://example.com/not-an-image"},
        ]},
    ]
    assert media.remote_urls(messages) == ["https://example.com/a.png", "http://example.com/b.png",
                                           "https://example.com/doc.pdf"]


async def test_an_image_url_becomes_a_data_url_and_the_original_is_untouched(image_server):
    messages = _image_message(f"{image_server}/image.png")
    inlined = await media.inline_async(messages, LOOPBACK_ONLY)
    part = inlined[0]["content"][1]
    assert part == {"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + base64.b64encode(PNG).decode(), "detail": "low"}}
    assert messages[0]["content"][1]["image_url"]["url"] == f"{image_server}/image.png"


async def test_a_file_url_becomes_file_data_with_a_type_guessed_from_the_path(image_server):
    messages = [{"role": "user", "content": [{"type": "file", "file": {"file_id": f"{image_server}/photo.jpg"}}]}]
    inlined = await media.inline_async(messages, LOOPBACK_ONLY)
    assert inlined[0]["content"][0]["file"] == {
        "file_data": "data:image/jpeg;base64," + base64.b64encode(PNG).decode()}


async def test_redirects_are_followed_within_the_guard(image_server):
    data_url = await media.fetch_data_url(f"{image_server}/redirect", LOOPBACK_ONLY)
    assert data_url.startswith("data:image/png;base64,")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/x.png",  # loopback
    "http://localhost:9/x.png",  # a name that resolves to loopback
    "http://10.0.0.8/x.png",  # private
    "http://192.168.1.1/x.png",
    "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service (link-local)
    "http://100.100.100.200/latest/meta-data/",  # shared address space (Alibaba's metadata service)
    "http://[::1]:9/x.png",
    "http://[::ffff:127.0.0.1]:9/x.png",  # IPv4-mapped loopback
    "http://[fd00:ec2::254]/latest/meta-data/",  # AWS's IPv6 metadata address (unique local)
    "http://0.0.0.0:9/x.png",
])
async def test_non_public_addresses_are_refused_by_default(url):
    with pytest.raises(BadRequestError, match="non-public address") as caught:
        await media.fetch_data_url(url, Settings())
    assert caught.value.status_code == 400
    assert caught.value.code == "media_fetch_failed"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x.png", "gopher://example.com/"])
async def test_only_http_and_https_are_fetched(url):
    with pytest.raises(BadRequestError, match="only http and https"):
        await media.fetch_data_url(url, Settings())


async def test_a_redirect_to_the_metadata_service_is_refused(image_server):
    with pytest.raises(BadRequestError, match=r"non-public address \(169\.254\.169\.254\)"):
        await media.fetch_data_url(f"{image_server}/to-metadata", LOOPBACK_ONLY)


async def test_a_redirect_to_an_address_outside_the_allowed_network_is_refused(image_server):
    with pytest.raises(BadRequestError, match=r"non-public address \(127\.0\.0\.2\)"):
        await media.fetch_data_url(f"{image_server}/to-other", LOOPBACK_ONLY)


async def test_redirect_chains_are_bounded(image_server):
    with pytest.raises(BadRequestError, match="more than 3 redirects"):
        await media.fetch_data_url(f"{image_server}/loop", LOOPBACK_ONLY)


async def test_the_body_size_is_bounded(image_server):
    small = Settings(media_allowed_networks=("127.0.0.1/32",), media_max_bytes=8)
    with pytest.raises(BadRequestError, match="larger than 8 bytes"):
        await media.fetch_data_url(f"{image_server}/image.png", small)


async def test_the_fetch_time_is_bounded(image_server):
    hasty = Settings(media_allowed_networks=("127.0.0.1/32",), media_timeout_s=0.2)
    with pytest.raises(BadRequestError, match="took too long"):
        await media.fetch_data_url(f"{image_server}/slow", hasty)


async def test_an_error_status_is_a_clear_bad_request(image_server):
    with pytest.raises(BadRequestError, match="HTTP 404"):
        await media.fetch_data_url(f"{image_server}/missing", LOOPBACK_ONLY)


async def test_the_sync_twin_works_inside_a_running_event_loop(image_server):
    # A sync completion() called from async code: the fetch runs on its own loop in a worker thread.
    inlined = await asyncio.to_thread(media.inline_sync, _image_message(f"{image_server}/image.png"),
                                      LOOPBACK_ONLY)
    assert inlined[0]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_urls_the_provider_reads_itself_are_kept():
    messages = _image_message("https://generativelanguage.googleapis.com/v1beta/files/abc-123")
    messages[0]["content"].append({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}})

    def keep(url: str) -> bool:
        return url.startswith("https://generativelanguage.googleapis.com/")

    assert media.remote_urls(messages, keep) == ["https://example.com/a.png"]
