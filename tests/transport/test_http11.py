"""The HTTP/1.1 client against real servers on 127.0.0.1: framing, keep-alive, the one stale-connection retry,
streams, timeouts, TLS, and what it sends byte for byte."""

from __future__ import annotations

import asyncio
import datetime
import gc
import gzip
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sluicegate.errors import APIConnectionError, Timeout
from sluicegate.providers.base import HttpRequest
from sluicegate.transport.base import USER_AGENT, Timeouts
from sluicegate.transport.http11 import Http11Transport

TIMEOUTS = Timeouts(total=10, connect=5, read=10)


@dataclass
class Seen:
    """One request as the server read it."""

    connection: int
    method: str
    target: str
    header_lines: list[tuple[str, str]]
    body: bytes

    @property
    def headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.header_lines}


# A handler answers one request and says whether to keep reading requests on the connection.
Handler = Callable[[Seen, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


@dataclass
class Upstream:
    """A scripted HTTP/1.1 server: it records connections, requests and the connections that ended."""

    handler: Handler
    port: int = 0
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)
    ended: asyncio.Queue[int] = field(default_factory=asyncio.Queue)  # connection numbers, as each one ends

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode().split("\r\n")[:-2]
                method, target, _ = request_line.split(" ")
                header_lines = [(name, value.strip()) for name, _, value in (line.partition(":") for line in lines)]
                seen = Seen(number, method, target, header_lines, b"")
                seen.body = await reader.readexactly(int(seen.headers.get("content-length", "0")))
                self.requests.append(seen)
                if not await self.handler(seen, reader, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        finally:
            writer.close()
            self.ended.put_nowait(number)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Upstream]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler, *, tls: ssl.SSLContext | None = None) -> Upstream:
        upstream = Upstream(handler)
        server = await asyncio.start_server(upstream.serve, "127.0.0.1", 0, ssl=tls)
        upstream.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return upstream

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def client() -> AsyncIterator[Http11Transport]:
    transport = Http11Transport()
    yield transport
    await transport.aclose()


def answer(body: bytes = b"hello", *, status: str = "200 OK", headers: str = "") -> Handler:
    async def handle(seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body)
        await writer.drain()
        return True

    return handle


def chat(url: str, path: str = "/v1/chat/completions", **kwargs: Any) -> HttpRequest:
    return HttpRequest("POST", url + path, **kwargs)


async def test_content_length_body_status_and_lower_cased_headers(serve, client):
    headers = "X-RateLimit-Remaining-Requests: 7\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
    upstream = await serve(answer(b'{"ok":true}', status="201 Created", headers=headers))
    response = await client.send(chat(upstream.url, json={"model": "m"}), TIMEOUTS)
    assert (response.status, response.body) == (201, b'{"ok":true}')
    assert response.headers["x-ratelimit-remaining-requests"] == "7"
    assert response.headers["set-cookie"] == "a=1, b=2"  # repeated headers joined


async def test_what_is_sent_json_body_default_headers_and_caller_headers_win_case_insensitively(serve, client):
    upstream = await serve(answer())
    await client.send(chat(upstream.url, json={"a": 1}, headers={"Authorization": "Bearer k", "X-Extra": "1"}),
                      TIMEOUTS)
    await client.send(chat(upstream.url, content=b"raw", headers={"Content-Type": "text/plain", "User-Agent": "me",
                                                                  "Accept-Encoding": "gzip"}), TIMEOUTS)
    first, second = upstream.requests
    assert first.body == b'{"a":1}'
    assert first.headers == {"host": f"127.0.0.1:{upstream.port}", "user-agent": USER_AGENT, "accept": "*/*",
                             "accept-encoding": "identity", "content-type": "application/json",
                             "authorization": "Bearer k", "x-extra": "1", "content-length": "7"}
    assert second.body == b"raw"
    names = [name.lower() for name, _ in second.header_lines]
    assert len(names) == len(set(names))  # "Content-Type" replaced the default, not sent beside it
    assert (second.headers["content-type"], second.headers["user-agent"], second.headers["accept-encoding"]) == (
        "text/plain", "me", "gzip")


async def test_the_url_path_and_query_are_sent_byte_for_byte(serve, client):
    upstream = await serve(answer())
    await client.send(chat(upstream.url, "/model/a%3Ab/converse?x=%2F&y=%20"), TIMEOUTS)
    await client.send(HttpRequest("GET", upstream.url), TIMEOUTS)
    assert [seen.target for seen in upstream.requests] == ["/model/a%3Ab/converse?x=%2F&y=%20", "/"]
    assert "content-length" not in upstream.requests[1].headers  # a GET without a body says nothing


async def test_chunked_body(serve, client):
    async def chunked(seen, reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        return True

    upstream = await serve(chunked)
    assert (await client.send(chat(upstream.url), TIMEOUTS)).body == b"hello world"
    assert (await client.send(chat(upstream.url), TIMEOUTS)).body == b"hello world"
    assert upstream.connections == 1


async def test_a_body_without_length_is_read_until_close_and_its_connection_not_reused(serve, client):
    async def until_close(seen, reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        return False  # the server closes

    upstream = await serve(until_close)
    assert (await client.send(chat(upstream.url), TIMEOUTS)).body == b"all of it"
    assert (await client.send(chat(upstream.url), TIMEOUTS)).body == b"all of it"
    assert upstream.connections == 2


async def test_keep_alive_reuses_one_connection_for_sequential_requests(serve, client):
    upstream = await serve(answer())
    for _ in range(5):
        assert (await client.send(chat(upstream.url), TIMEOUTS)).body == b"hello"
    assert (upstream.connections, len(upstream.requests)) == (1, 5)


async def test_connection_close_is_respected(serve, client):
    upstream = await serve(answer(headers="Connection: close\r\n"))  # and the server leaves the socket open
    await client.send(chat(upstream.url), TIMEOUTS)
    await client.send(chat(upstream.url), TIMEOUTS)
    assert upstream.connections == 2


async def test_no_body_for_head_and_204(serve, client):
    async def no_body(seen, reader, writer):
        if seen.method == "HEAD":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        return True

    upstream = await serve(no_body)
    head = await client.send(HttpRequest("HEAD", upstream.url + "/x"), TIMEOUTS)
    assert (head.status, head.headers["content-length"], head.body) == (200, "1234", b"")
    empty = await client.send(chat(upstream.url), TIMEOUTS)
    assert (empty.status, empty.body) == (204, b"")


async def test_a_pooled_connection_the_server_closed_is_retried_once_on_a_fresh_one(serve, client):
    async def closes_the_second_request(seen, reader, writer):
        if len(upstream.requests) == 2:
            return False  # read the request, then close without a byte: as a keep-alive timeout racing it
        return await answer()(seen, reader, writer)

    upstream = await serve(closes_the_second_request)
    await client.send(chat(upstream.url), TIMEOUTS)
    response = await client.send(chat(upstream.url, json={"n": 2}), TIMEOUTS)
    assert response.body == b"hello"
    assert [(seen.connection, seen.body) for seen in upstream.requests] == [(1, b""), (1, b'{"n":2}'),
                                                                            (2, b'{"n":2}')]


async def test_an_idle_connection_the_server_closed_is_not_an_error(serve, client):
    async def answer_then_close(seen, reader, writer):
        await answer()(seen, reader, writer)
        return False  # no Connection: close header: the client learns only from the socket

    upstream = await serve(answer_then_close)
    await client.send(chat(upstream.url), TIMEOUTS)
    assert await upstream.ended.get() == 1
    assert (await client.send(chat(upstream.url), TIMEOUTS)).body == b"hello"


async def test_a_fresh_connection_closed_before_the_response_is_not_retried(serve, client):
    async def close(seen, reader, writer):
        return False

    upstream = await serve(close)
    with pytest.raises(APIConnectionError, match="closed before the response arrived"):
        await client.send(chat(upstream.url), TIMEOUTS)
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(("sent", "error"), [
    (b"HTTP/1.1 200 OK\r\nContent-Le", "closed before the response was complete"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf", "closed before the response was complete"),
])
async def test_no_retry_once_response_bytes_arrived(serve, client, sent, error):
    async def part_of_the_second(seen, reader, writer):
        if len(upstream.requests) == 1:
            return await answer()(seen, reader, writer)
        writer.write(sent)
        return False

    upstream = await serve(part_of_the_second)
    await client.send(chat(upstream.url), TIMEOUTS)
    with pytest.raises(APIConnectionError, match=error):
        await client.send(chat(upstream.url), TIMEOUTS)  # on the pooled connection, yet not retried
    assert len(upstream.requests) == 2


async def test_stream_pieces_arrive_before_the_body_ends(serve, client):
    headers_seen, first_seen = asyncio.Event(), asyncio.Event()

    async def slow_stream(seen, reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        await writer.drain()
        await headers_seen.wait()
        writer.write(b"6\r\nfirst\n\r\n")
        await writer.drain()
        await first_seen.wait()  # set only once the client holds the first piece
        writer.write(b"7\r\nsecond\n\r\n0\r\n\r\n")
        return True

    upstream = await serve(slow_stream)
    stream = await client.open_stream(chat(upstream.url), TIMEOUTS)
    assert (stream.status, stream.headers["content-type"]) == (200, "text/event-stream")
    headers_seen.set()
    pieces = stream.aiter_bytes()
    assert await anext(pieces) == b"first\n"
    first_seen.set()
    assert [piece async for piece in pieces] == [b"second\n"]
    await stream.aclose()
    await client.send(chat(upstream.url), TIMEOUTS)  # read to the end: the connection went back to the pool
    assert upstream.connections == 1


async def test_closing_a_stream_early_closes_its_connection(serve, client):
    async def endless(seen, reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n")
        await writer.drain()
        await reader.read()  # until the client goes away
        return False

    upstream = await serve(endless)
    stream = await client.open_stream(chat(upstream.url), TIMEOUTS)
    assert await anext(stream.aiter_bytes()) == b"first\n"
    await stream.aclose()
    assert await asyncio.wait_for(upstream.ended.get(), 10) == 1  # the server saw the disconnect
    upstream.handler = answer()
    await client.send(chat(upstream.url), TIMEOUTS)
    assert upstream.connections == 2


async def test_a_stream_read_whole_with_aread(serve, client):
    upstream = await serve(answer(b'{"error": "nope"}', status="429 Too Many Requests"))
    stream = await client.open_stream(chat(upstream.url), TIMEOUTS)
    assert (stream.status, await stream.aread()) == (429, b'{"error": "nope"}')
    await stream.aclose()


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full: a new connection's SYN goes unanswered, so connecting hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, listener]:
        sock.close()


async def test_connect_timeout(client, full_backlog):
    with pytest.raises(Timeout, match=f"connection to 127.0.0.1:{full_backlog} timed out"):
        await client.send(chat(f"http://127.0.0.1:{full_backlog}"), Timeouts(total=30, connect=0.2, read=30))


async def test_total_timeout_for_a_call_and_for_a_stream_s_headers(serve, client):
    release = asyncio.Event()

    async def never_answers(seen, reader, writer):
        await release.wait()
        return False

    upstream = await serve(never_answers)
    try:
        with pytest.raises(Timeout, match=f"request to 127.0.0.1:{upstream.port} timed out"):
            await client.send(chat(upstream.url), Timeouts(total=0.2, connect=5, read=0.2))
        with pytest.raises(Timeout):
            await client.open_stream(chat(upstream.url), Timeouts(total=0.2, connect=5, read=30))
        assert len(upstream.requests) == 2  # a timeout is never retried by the transport
    finally:
        release.set()


async def test_a_stream_s_read_timeout_bounds_each_wait_for_more_bytes(serve, client):
    release = asyncio.Event()

    async def stalls(seen, reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n")
        await release.wait()
        return False

    upstream = await serve(stalls)
    try:
        stream = await client.open_stream(chat(upstream.url), Timeouts(total=30, connect=5, read=0.2))
        pieces = stream.aiter_bytes()
        assert await anext(pieces) == b"first\n"
        with pytest.raises(Timeout):
            await anext(pieces)
        await stream.aclose()
    finally:
        release.set()


async def test_connection_refused_names_host_and_port(client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(APIConnectionError, match=f"connection to 127.0.0.1:{port} failed: ConnectionRefusedError"):
        await client.send(chat(f"http://127.0.0.1:{port}"), TIMEOUTS)


async def test_malformed_and_oversized_responses_are_connection_errors(serve, client):
    async def garbage(seen, reader, writer):
        if seen.target == "/huge":
            writer.write(b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"a" * 8000 + b"\r\n")
            for _ in range(40):
                writer.write(b"X-More: " + b"b" * 8000 + b"\r\n")
                await writer.drain()
            return False
        writer.write(b"HTTP/1.1 abc nonsense\r\n\r\n")
        return False

    upstream = await serve(garbage)
    with pytest.raises(APIConnectionError, match="malformed response"):
        await client.send(chat(upstream.url), TIMEOUTS)
    with pytest.raises(APIConnectionError, match=r"malformed response .* headers longer than"):
        await client.send(chat(upstream.url, "/huge"), TIMEOUTS)


async def test_a_line_break_in_a_header_value_is_refused(serve, client):
    upstream = await serve(answer())
    with pytest.raises(ValueError, match="x-key"):
        await client.send(chat(upstream.url, headers={"x-key": "k\r\nx-injected: 1"}), TIMEOUTS)
    assert upstream.requests == []


@pytest.mark.parametrize("is_stream", [False, True])
async def test_a_gzip_body_is_decompressed(serve, client, is_stream):
    upstream = await serve(answer(gzip.compress(b"data: {}\n\n" * 100), headers="Content-Encoding: gzip\r\n"))
    request = chat(upstream.url)
    if is_stream:
        stream = await client.open_stream(request, TIMEOUTS)
        body = b"".join([piece async for piece in stream.aiter_bytes()])
    else:
        body = (await client.send(request, TIMEOUTS)).body
    assert body == b"data: {}\n\n" * 100


async def test_at_most_max_connections_in_flight_and_idle_ones_bounded(serve):
    async def slow(seen, reader, writer):
        await asyncio.sleep(0)
        return await answer()(seen, reader, writer)

    upstream = await serve(slow)
    one = Http11Transport(max_connections=1)
    few_idle = Http11Transport(max_idle_per_host=1)
    try:
        await asyncio.gather(*(one.send(chat(upstream.url), TIMEOUTS) for _ in range(3)))
        assert upstream.connections == 1
        await asyncio.gather(*(few_idle.send(chat(upstream.url), TIMEOUTS) for _ in range(3)))
        assert upstream.connections == 4  # three at once: none was idle yet
        closed = {await asyncio.wait_for(upstream.ended.get(), 10) for _ in range(2)}
        assert closed < {2, 3, 4}  # one of the three stays in the pool
    finally:
        await one.aclose()
        await few_idle.aclose()


async def test_idle_connections_expire_after_the_keep_alive_time(serve):
    upstream = await serve(answer())
    transport = Http11Transport(keepalive_s=0)
    try:
        await transport.send(chat(upstream.url), TIMEOUTS)
        await transport.send(chat(upstream.url), TIMEOUTS)
    finally:
        await transport.aclose()
    assert upstream.connections == 2


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sluicegate test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


async def test_https_with_a_trusted_certificate_works_and_an_untrusted_one_fails(serve, tmp_path):
    cert_file, key_file = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    upstream = await serve(answer(), tls=server_context)
    url = f"https://127.0.0.1:{upstream.port}"

    trusting = Http11Transport(ssl_context=ssl.create_default_context(cafile=str(cert_file)))
    default = Http11Transport()
    try:
        for _ in range(2):
            assert (await trusting.send(chat(url), TIMEOUTS)).body == b"hello"
        assert (await trusting.send(chat(f"https://localhost:{upstream.port}"), TIMEOUTS)).body == b"hello"
        with pytest.raises(APIConnectionError, match=f"connection to 127.0.0.1:{upstream.port} failed: .*CERT"):
            await default.send(chat(url), TIMEOUTS)
    finally:
        await trusting.aclose()
        await default.aclose()
    assert upstream.requests[0].headers["host"] == f"127.0.0.1:{upstream.port}"
    assert [seen.connection for seen in upstream.requests] == [1, 1, 2]  # keep-alive over TLS too


async def test_urls_it_cannot_send_to(client):
    with pytest.raises(APIConnectionError, match="unsupported URL scheme"):
        await client.send(HttpRequest("GET", "ftp://127.0.0.1/x"), TIMEOUTS)
    with pytest.raises(APIConnectionError, match="not an absolute"):
        await client.send(HttpRequest("GET", "/relative"), TIMEOUTS)


async def test_a_cancelled_call_closes_its_connection_and_frees_its_slot(serve):
    received = asyncio.Event()

    async def first_never_answers(seen, reader, writer):
        if len(upstream.requests) == 1:
            received.set()
            await reader.read()  # until the client goes away
            return False
        return await answer()(seen, reader, writer)

    upstream = await serve(first_never_answers)
    transport = Http11Transport(max_connections=1)
    try:
        call = asyncio.create_task(transport.send(chat(upstream.url), TIMEOUTS))
        await received.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await asyncio.wait_for(upstream.ended.get(), 10) == 1
        assert (await transport.send(chat(upstream.url), Timeouts(total=5, connect=5, read=5))).body == b"hello"
    finally:
        await transport.aclose()


async def test_a_stream_dropped_unread_frees_its_slot(serve):
    upstream = await serve(answer())
    transport = Http11Transport(max_connections=1)
    try:
        stream = await transport.open_stream(chat(upstream.url), TIMEOUTS)
        del stream
        gc.collect()
        assert (await transport.send(chat(upstream.url), Timeouts(total=5, connect=5, read=5))).body == b"hello"
    finally:
        await transport.aclose()


async def test_waiting_for_a_free_connection_is_bounded_by_the_timeout(serve):
    upstream = await serve(answer())
    transport = Http11Transport(max_connections=1)
    try:
        held = await transport.open_stream(chat(upstream.url), TIMEOUTS)
        with pytest.raises(Timeout, match="waiting for a free connection"):
            await transport.send(chat(upstream.url), Timeouts(total=0.2, connect=5, read=5))
        await held.aclose()
    finally:
        await transport.aclose()
