"""OpenAI chunks → Anthropic stream events: the full sequence, in Anthropic's order and shapes."""

from __future__ import annotations

import pytest

from sluicegate.errors import APIError
from sluicegate.gateway.anthropic.stream import MessageStream, encode
from tests.gateway.anthropic.wire import anthropic_events, decode, openai_chunks


def run(chunks, model="claude-x", stop_sequences=None):
    stream = MessageStream(model, stop_sequences)
    events = [event for chunk in chunks for event in stream.feed(chunk)] + stream.finish()
    return decode(b"".join(encode(event) for event in events))  # through the wire format and back


def chunk(delta=None, finish=None, usage=None, choices=True):
    body = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}] if choices else []}
    if usage:
        body["usage"] = usage
    return body


def tool(index, arguments, call_id=None, name=None):
    call = {"index": index, "function": {"arguments": arguments}}
    if call_id:
        call.update(id=call_id, type="function")
        call["function"]["name"] = name
    return {"tool_calls": [call]}


def start(upstream_id="chatcmpl-9", model="claude-x"):
    return ("message_start", {"type": "message_start", "message": {
        "id": "msg_" + upstream_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}})


def text_delta(index, text):
    return ("content_block_delta", {"type": "content_block_delta", "index": index,
                                    "delta": {"type": "text_delta", "text": text}})


def json_delta(index, partial):
    return ("content_block_delta", {"type": "content_block_delta", "index": index,
                                    "delta": {"type": "input_json_delta", "partial_json": partial}})


def block_start(index, block):
    return ("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})


def block_stop(index):
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


def end(stop_reason, usage):
    return [("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                "usage": usage}),
            ("message_stop", {"type": "message_stop"})]


PING = ("ping", {"type": "ping"})
USAGE = {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16, "prompt_tokens_details": {"cached_tokens": 2}}
ANTHROPIC_USAGE = {"input_tokens": 10, "output_tokens": 4, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 2}


def test_text_only():
    events = run([chunk({"role": "assistant", "content": ""}), chunk({"content": "Hello"}), chunk({"content": "!"}),
                  chunk(finish="stop"), chunk(usage=USAGE, choices=False)])
    assert events == [start(), block_start(0, {"type": "text", "text": ""}), PING, text_delta(0, "Hello"),
                      text_delta(0, "!"), block_stop(0), *end("end_turn", ANTHROPIC_USAGE)]


def test_recorded_openai_text_stream_has_the_recorded_anthropic_sequence():
    ours = run(openai_chunks("chat.stream.sse"))
    real = anthropic_events("text.stream.sse")
    assert [name for name, _ in ours if name != "content_block_delta"] == [
        name for name, _ in real if name != "content_block_delta"]
    real_keys = {name: set(data) for name, data in real}
    for name, data in ours:
        assert name == data["type"]
        assert set(data) == real_keys[name]
    assert set(ours[0][1]["message"]) == set(real[0][1]["message"])
    sent = "".join(c["choices"][0]["delta"].get("content") or "" for c in openai_chunks("chat.stream.sse")
                   if c["choices"])
    assert "".join(data["delta"]["text"] for name, data in ours if name == "content_block_delta") == sent


def test_tool_call_with_split_arguments():
    events = run(openai_chunks("chat-tools.stream.sse"))
    assert events == [
        start("chatcmpl-BfJ5xK2mQvPz8YtLr4Hn1Ce7WsA0o"),
        block_start(0, {"type": "tool_use", "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "name": "get_weather",
                        "input": {}}),
        PING, json_delta(0, '{"'), json_delta(0, "location"), json_delta(0, '":"'), json_delta(0, "Paris"),
        json_delta(0, '"}'), block_stop(0), *end("tool_use", {"output_tokens": 0})]


def test_text_then_two_tool_calls_never_interleave_blocks():
    events = run([chunk({"content": "Let me check."}),
                  chunk(tool(0, "", "call_a", "get_weather")), chunk(tool(0, '{"city":')), chunk(tool(0, '"Paris"}')),
                  chunk(tool(1, '{"tz":"CET"}', "call_b", "get_time")), chunk(finish="tool_calls"),
                  chunk(usage=USAGE, choices=False)])
    assert events == [
        start(), block_start(0, {"type": "text", "text": ""}), PING, text_delta(0, "Let me check."), block_stop(0),
        block_start(1, {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}}),
        json_delta(1, '{"city":'), json_delta(1, '"Paris"}'), block_stop(1),
        block_start(2, {"type": "tool_use", "id": "call_b", "name": "get_time", "input": {}}),
        json_delta(2, '{"tz":"CET"}'), block_stop(2), *end("tool_use", ANTHROPIC_USAGE)]
    real = [name for name, _ in anthropic_events("tool-use.stream.sse")]
    assert [n for n in real if n != "content_block_delta"][:6] == [
        n for n, _ in events if n != "content_block_delta"][:6]


def test_reasoning_then_text():
    events = run([chunk({"reasoning_content": "Hmm."}), chunk({"content": "Yes."}), chunk(finish="length")])
    assert events == [start(), block_start(0, {"type": "thinking", "thinking": "", "signature": ""}), PING,
                      ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
                      block_stop(0), block_start(1, {"type": "text", "text": ""}), text_delta(1, "Yes."),
                      block_stop(1), *end("max_tokens", {"output_tokens": 0})]


def test_usage_in_the_finish_chunk_and_other_choices_ignored():
    other = {"index": 1, "delta": {"content": "ignored"}, "finish_reason": None}
    first = chunk({"content": "A"})
    first["choices"].append(other)
    events = run([first, chunk(finish="stop", usage=USAGE)])
    assert [e for e in events if e[0] == "content_block_delta"] == [text_delta(0, "A")]
    assert events[-2][1]["usage"] == ANTHROPIC_USAGE


def test_an_empty_upstream_stream_still_frames_a_message():
    assert [name for name, _ in run([])] == ["message_start", "message_delta", "message_stop"]


def test_interleaved_tool_arguments_are_refused():
    stream = MessageStream("m")
    stream.feed(chunk(tool(0, "{", "call_a", "f")))
    stream.feed(chunk(tool(1, "{", "call_b", "g")))
    with pytest.raises(APIError, match="interleaved"):
        stream.feed(chunk(tool(0, "}")))
