"""OpenAI chat completion → Anthropic message: the exact object an Anthropic client parses."""

from __future__ import annotations

import anthropic
import pytest

from sluicegate.gateway.anthropic.response import map_stop, map_usage, to_message
from tests.gateway.anthropic.wire import load_json


def completion(message, finish="stop", usage=None, **choice):
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish, **choice}],
            "usage": usage or {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}


def test_text_answer_has_anthropics_exact_shape():
    message = to_message(load_json("openai", "chat.response.json"), "claude-x", [])
    real = load_json("anthropic", "text.response.json")
    assert list(message) == list(real)
    assert list(message["usage"]) == list(real["usage"])
    assert message["id"] == "msg_" + load_json("openai", "chat.response.json")["id"]
    assert (message["type"], message["role"], message["model"]) == ("message", "assistant", "claude-x")
    assert message["stop_reason"] == "end_turn"
    assert message["stop_sequence"] is None
    assert anthropic.types.Message.model_validate(message).content[0].type == "text"


def test_tool_call_answer():
    message = to_message(load_json("openai", "chat-tools.response.json"), "claude-x", [])
    assert message["content"] == [{"type": "tool_use", "id": "call_12345xyz", "name": "get_weather",
                                   "input": {"location": "Paris, France"}}]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {"input_tokens": 82, "output_tokens": 17, "cache_creation_input_tokens": 0,
                                "cache_read_input_tokens": 0}
    assert [b["type"] for b in load_json("anthropic", "tool-use.response.json")["content"]][-1] == "tool_use"


def test_reasoning_text_and_tool_call_come_in_anthropics_block_order():
    message = to_message(completion({"reasoning_content": "Think.", "content": "Checking.", "tool_calls": [
        {"id": "", "type": "function", "function": {"name": "f", "arguments": ""}}]}, finish="tool_calls"), "m", [])
    thinking, text, tool = message["content"]
    assert thinking == {"type": "thinking", "thinking": "Think.", "signature": ""}
    assert text == {"type": "text", "text": "Checking."}
    assert tool["id"].startswith("toolu_")
    assert tool["input"] == {}
    anthropic.types.Message.model_validate(message)


def test_invalid_tool_arguments_keep_the_raw_text():
    message = to_message(completion({"content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": "}}]}), "m", [])
    assert message["content"] == [{"type": "text", "text": "{\"a\": "},
                                  {"type": "tool_use", "id": "call_1", "name": "f", "input": {}}]


@pytest.mark.parametrize(("finish", "tools", "matched", "expected"), [
    ("stop", False, None, ("end_turn", None)),
    ("length", False, None, ("max_tokens", None)),
    ("tool_calls", True, None, ("tool_use", None)),
    ("stop", True, None, ("tool_use", None)),
    ("content_filter", False, None, ("refusal", None)),
    (None, False, None, ("end_turn", None)),
    ("stop", False, "END", ("stop_sequence", "END")),
    ("stop", False, "OTHER", ("end_turn", None)),
    ("stop", False, 128009, ("end_turn", None)),  # vLLM reports a stop token id this way
])
def test_stop_reasons(finish, tools, matched, expected):
    assert map_stop(finish, tools, matched, ["END"]) == expected


def test_refusal():
    message = to_message(completion({"content": None, "refusal": "I can't help with that."}), "m", [])
    assert message["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert message["stop_reason"] == "refusal"


def test_usage_reports_cached_tokens_apart():
    usage = {"prompt_tokens": 1000, "completion_tokens": 50, "prompt_tokens_details": {"cached_tokens": 800}}
    assert map_usage(usage) == {"input_tokens": 200, "output_tokens": 50, "cache_creation_input_tokens": 0,
                                "cache_read_input_tokens": 800}
    written = {"prompt_tokens": 1000, "completion_tokens": 5, "cache_creation_input_tokens": 300,
               "cache_read_input_tokens": 100}
    assert map_usage(written) == {"input_tokens": 600, "output_tokens": 5, "cache_creation_input_tokens": 300,
                                  "cache_read_input_tokens": 100}


def test_stop_sequence_reported_by_the_server():
    data = completion({"content": "Done"}, stop_reason="END")
    assert to_message(data, "m", ["END"])["stop_sequence"] == "END"
