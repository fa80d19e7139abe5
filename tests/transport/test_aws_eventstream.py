"""The AWS event-stream decoder, checked against botocore's own parser on the same bytes."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from botocore.eventstream import EventStreamBuffer

from sluicegate.errors import APIConnectionError
from sluicegate.providers.base import SseEvent
from sluicegate.transport.aws_eventstream import EventStreamDecoder, encode_event


def _event(event_type: str, payload: dict) -> bytes:
    return encode_event({":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
                        json.dumps(payload).encode())


STREAM = (_event("messageStart", {"role": "assistant"})
          + _event("contentBlockDelta", {"delta": {"text": "Hé"}, "contentBlockIndex": 0})
          + encode_event({":exception-type": "throttlingException", ":content-type": "application/json",
                          ":message-type": "exception"}, b'{"message":"Too many requests"}'))


def test_events_decode_to_their_type_and_payload():
    events = EventStreamDecoder().feed(STREAM)
    assert events == [
        SseEvent(data='{"role": "assistant"}', event="messageStart"),
        SseEvent(data='{"delta": {"text": "H\\u00e9"}, "contentBlockIndex": 0}', event="contentBlockDelta"),
        SseEvent(data='{"message":"Too many requests"}', event="exception:throttlingException"),
    ]


def test_botocore_reads_our_framing_the_same_way():
    buffer = EventStreamBuffer()
    buffer.add_data(STREAM)
    parsed = list(buffer)
    assert [m.headers[":event-type"] for m in parsed[:2]] == ["messageStart", "contentBlockDelta"]
    assert parsed[2].headers[":exception-type"] == "throttlingException"
    assert [m.payload.decode() for m in parsed] == [e.data for e in EventStreamDecoder().feed(STREAM)]


@pytest.mark.parametrize("size", [1, 3, 7, 16, 100])
def test_messages_split_across_reads_at_any_point(size):
    decoder = EventStreamDecoder()
    events = []
    for start in range(0, len(STREAM), size):
        events += decoder.feed(STREAM[start:start + size])
    assert events == EventStreamDecoder().feed(STREAM)
    assert decoder.flush() == []


def test_header_value_types_other_than_strings_are_read():
    # :message-type (string), a bool, an int32 and a byte array: botocore-supported types in one message.
    headers = (b"\x0d:message-type\x07\x00\x05event" + b"\x0b:event-type\x07\x00\x04ping"
               + b"\x04flag\x00" + b"\x05count\x04" + struct.pack(">i", -7) + b"\x03raw\x06\x00\x02ab")
    payload = b"{}"
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    message = prelude + zlib.crc32(prelude).to_bytes(4, "big") + headers + payload
    message += zlib.crc32(message).to_bytes(4, "big")
    assert EventStreamDecoder().feed(message) == [SseEvent(data="{}", event="ping")]


def test_a_wrong_message_checksum_is_a_connection_error():
    corrupt = bytearray(STREAM)
    corrupt[20] ^= 0xFF  # inside the first message's headers
    with pytest.raises(APIConnectionError, match="checksum"):
        EventStreamDecoder().feed(bytes(corrupt))


def test_a_stream_cut_inside_a_message_is_a_connection_error():
    decoder = EventStreamDecoder()
    assert len(decoder.feed(STREAM[:-5])) == 2
    with pytest.raises(APIConnectionError, match="ended inside a message"):
        decoder.flush()


def test_an_error_message_names_its_code():
    frame = encode_event({":message-type": "error", ":error-code": "InternalFailure",
                          ":error-message": "try again"}, b"")
    assert EventStreamDecoder().feed(frame) == [SseEvent(data="try again", event="error:InternalFailure")]
