from sluicegate.providers.base import SseEvent
from sluicegate.transport.sse import SseDecoder


def test_events_split_across_reads_are_joined():
    decoder = SseDecoder()
    assert decoder.feed(b'data: {"a"') == []
    assert decoder.feed(b": 1}\n") == []
    assert decoder.feed(b"\n") == [SseEvent(data='{"a": 1}')]


def test_crlf_split_between_reads_is_one_line_end():
    decoder = SseDecoder()
    events = decoder.feed(b"data: one\r") + decoder.feed(b"\n\r\n") + decoder.feed(b"data: two\r\n\r\n")
    assert [e.data for e in events] == ["one", "two"]


def test_multiline_data_event_name_id_and_comments():
    decoder = SseDecoder()
    events = decoder.feed(b": keep-alive\nevent: message_start\nid: 7\ndata: a\ndata:b\n\n")
    assert events == [SseEvent(data="a\nb", event="message_start", id="7")]


def test_flush_returns_an_event_without_trailing_blank_line():
    decoder = SseDecoder()
    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.flush() == [SseEvent(data="[DONE]")]


def test_utf8_is_decoded_per_line_not_per_read():
    decoder = SseDecoder()
    raw = "data: héllo ✓\n\n".encode()
    events = []
    for i in range(len(raw)):  # one byte at a time: multi-byte characters straddle reads
        events += decoder.feed(raw[i:i + 1])
    assert events == [SseEvent(data="héllo ✓")]
