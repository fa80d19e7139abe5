"""AWS's binary event-stream framing (Bedrock's ConverseStream and InvokeModelWithResponseStream), decoded into
the same `SseEvent` values the SSE decoder yields, so a stream parser never sees bytes.

A message is: total length (u32), headers length (u32), CRC-32 of those 8 bytes, headers, payload, CRC-32 of
everything before it (https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#streaming-event-stream).
Headers are (name length u8, name, type u8, value). What the parser gets:

- `:message-type` "event": `SseEvent(event=<:event-type>, data=<payload as text>)`
- `:message-type` "exception": `SseEvent(event="exception:<:exception-type>", data=<payload>)`
- `:message-type` "error": `SseEvent(event="error:<:error-code>", data=<:error-message>)`
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from sluicegate.errors import APIConnectionError
from sluicegate.providers.base import SseEvent

_PRELUDE = struct.Struct(">III")
_MIN_MESSAGE = _PRELUDE.size + 4  # prelude and message CRC, no headers, no payload
_MAX_MESSAGE = 24 * 1024 * 1024  # AWS's limit is 16 MiB; a longer "length" means the stream is corrupt
# header value type → fixed size in bytes (None: a u16 length precedes the value)
_FIXED_SIZES = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 6: None, 7: None, 8: 8, 9: 16}


class EventStreamDecoder:
    """Fed bytes as they arrive; returns the events they complete. Same interface as `SseDecoder`."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[SseEvent]:
        self._buffer += chunk
        events: list[SseEvent] = []
        while len(self._buffer) >= _PRELUDE.size:
            total, headers_length, prelude_crc = _PRELUDE.unpack_from(self._buffer)
            if zlib.crc32(self._buffer[:8]) != prelude_crc or not _MIN_MESSAGE <= total <= _MAX_MESSAGE:
                raise _corrupt("the prelude checksum or length is wrong")
            if len(self._buffer) < total:
                break
            message = bytes(self._buffer[:total])
            del self._buffer[:total]
            (message_crc,) = struct.unpack_from(">I", message, total - 4)
            if zlib.crc32(message[:-4]) != message_crc:
                raise _corrupt("a message checksum is wrong")
            start = _PRELUDE.size
            headers = _headers(message[start:start + headers_length])
            payload = message[start + headers_length:-4]
            events.append(_event(headers, payload))
        return events

    def flush(self) -> list[SseEvent]:
        """End of stream: a partial message left over means the connection was cut mid-message."""
        if self._buffer:
            raise _corrupt(f"the stream ended inside a message ({len(self._buffer)} bytes left)")
        return []


def _event(headers: dict[str, Any], payload: bytes) -> SseEvent:
    kind = headers.get(":message-type", "event")
    text = payload.decode("utf-8", "replace")
    if kind == "exception":
        return SseEvent(data=text, event=f"exception:{headers.get(':exception-type', 'unknown')}")
    if kind == "error":
        return SseEvent(data=str(headers.get(":error-message", text)),
                        event=f"error:{headers.get(':error-code', 'unknown')}")
    return SseEvent(data=text, event=str(headers.get(":event-type", "")) or None)


def _headers(raw: bytes) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    i = 0
    try:
        while i < len(raw):
            name_length = raw[i]
            name = raw[i + 1:i + 1 + name_length].decode("utf-8")
            i += 1 + name_length
            kind = raw[i]
            i += 1
            size = _FIXED_SIZES.get(kind, -1)
            if size == -1:
                raise _corrupt(f"unknown header value type {kind}")
            if size is None:
                (size,) = struct.unpack_from(">H", raw, i)
                i += 2
            value = raw[i:i + size]
            i += size
            headers[name] = _header_value(kind, value)
    except (IndexError, struct.error, UnicodeDecodeError) as error:
        raise _corrupt("a header is cut short") from error
    return headers


def _header_value(kind: int, value: bytes) -> Any:
    if kind in (0, 1):
        return kind == 0
    if kind == 7:
        return value.decode("utf-8")
    if kind in (2, 3, 4, 5, 8):
        return int.from_bytes(value, "big", signed=True)
    return value  # bytes and UUIDs stay raw: no Bedrock header the parsers read has them


def _corrupt(reason: str) -> APIConnectionError:
    return APIConnectionError(f"corrupt AWS event stream: {reason}")


def encode_event(headers: dict[str, str], payload: bytes) -> bytes:
    """One message with string headers: what Bedrock sends (used by tests and simulators to frame events)."""
    raw = b"".join(len(name.encode()).to_bytes(1, "big") + name.encode() + b"\x07"
                   + len(value.encode()).to_bytes(2, "big") + value.encode() for name, value in headers.items())
    total = _PRELUDE.size + len(raw) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw))
    prelude += zlib.crc32(prelude).to_bytes(4, "big")
    body = prelude + raw + payload
    return body + zlib.crc32(body).to_bytes(4, "big")
