"""A fast mock OpenAI upstream for the benchmarks: canned answers over HTTP/1.1 keep-alive, stdlib only.

    python benchmarks/mock_openai.py [--port 0]

Prints `READY <port>` on stdout once listening, then serves until SIGTERM / SIGINT. Every POST gets the
same `chat.completion` JSON (the shape OpenAI returns for gpt-4o-mini), or, when the request body asks for
`"stream": true`, a 20-chunk `chat.completion.chunk` SSE stream plus `data: [DONE]`, sent chunked as OpenAI
does. The bodies are built once at start-up, so the server's per-request work is parsing the request head
and one `write()`; it runs in its own process (pinned to its own core by sdk_overhead.py) so its CPU never
shows in the measured client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
from typing import Any

CREATED = 1763769600  # fixed, so bodies are byte-identical between runs
MODEL = "gpt-4o-mini-2024-07-18"
FINGERPRINT = "fp_560af6e559"
# 1 role chunk + 18 content chunks + 1 finish chunk = 20 data chunks, then "data: [DONE]"
PIECES = ["The", " quick", " brown", " fox", " darted", " across", " the", " frosty", " meadow",
          ",", " pausing", " only", " to", " sniff", " the", " cold", " air", "."]
CONTENT = "".join(PIECES)
STREAM_CHUNKS = len(PIECES) + 2
PROMPT_TOKENS = 8
COMPLETION_TOKENS = len(PIECES)

_STREAM_FLAG = re.compile(rb'"stream"\s*:\s*true')


def chat_completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-BenchMock0000000000000000001",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": CONTENT, "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def stream_events() -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-BenchMock0000000000000000002",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    events += [chunk({"content": piece}, None) for piece in PIECES]
    events.append(chunk({}, "stop"))
    return events


def _compact(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _head(content_type: str, extra: str) -> bytes:
    return (f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\nx-request-id: req_bench\r\n"
            f"openai-processing-ms: 1\r\nconnection: keep-alive\r\n{extra}\r\n").encode()


def json_response() -> bytes:
    body = _compact(chat_completion())
    return _head("application/json", f"content-length: {len(body)}\r\n") + body


def sse_response() -> bytes:
    events = [b"data: " + _compact(e) + b"\n\n" for e in stream_events()] + [b"data: [DONE]\n\n"]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
    return _head("text/event-stream; charset=utf-8", "transfer-encoding: chunked\r\n") + chunked


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and pipelining; request bodies by content-length or chunked."""

    plain = json_response()
    stream = sse_response()

    def __init__(self) -> None:
        self._buf = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while self._transport is not None:
            taken = self._one_request()
            if taken is None:
                return

    def _one_request(self) -> int | None:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self._buf[:end].lower()
        start = end + 4
        body_and_len = _read_body(head, self._buf, start)
        if body_and_len is None:
            return None
        body, consumed = body_and_len
        self._buf = self._buf[consumed:]
        assert self._transport is not None
        if b"expect: 100-continue" in head:  # not sent by the clients measured, but cheap to honour
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._transport.write(self.stream if _STREAM_FLAG.search(body) else self.plain)
        return consumed

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


def _read_body(head: bytes, buf: bytes, start: int) -> tuple[bytes, int] | None:
    """(body, bytes consumed through the end of the request), or None while incomplete."""
    if b"transfer-encoding: chunked" in head:
        return _read_chunked(buf, start)
    match = re.search(rb"content-length:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    if len(buf) < start + length:
        return None
    return buf[start:start + length], start + length


def _read_chunked(buf: bytes, pos: int) -> tuple[bytes, int] | None:
    parts: list[bytes] = []
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(buf[pos:line_end].split(b";")[0], 16)
        pos = line_end + 2
        if size == 0:
            trailer_end = buf.find(b"\r\n", pos)
            return (b"".join(parts), trailer_end + 2) if trailer_end >= 0 else None
        if len(buf) < pos + size + 2:
            return None
        parts.append(buf[pos:pos + size])
        pos += size + 2


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on READY)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
