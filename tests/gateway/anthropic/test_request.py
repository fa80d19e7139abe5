"""Anthropic request → OpenAI chat call: the exact messages and parameters an upstream receives."""

from __future__ import annotations

import pytest

from sluicegate.errors import BadRequestError
from sluicegate.gateway.anthropic.request import to_chat
from tests.gateway.anthropic.wire import load_json

USER = [{"role": "user", "content": "Hi"}]


def base(**fields):
    return {"model": "claude-x", "max_tokens": 100, "messages": USER, **fields}


def test_a_full_tool_conversation_translates_exactly():
    chat = to_chat(load_json("anthropic", "tool-conversation.request.json"))
    expected = load_json("anthropic", "tool-conversation.openai.json")
    assert chat.model == "claude-sonnet-4-5"
    assert chat.messages == expected["messages"]
    assert chat.params == expected["params"]
    assert chat.stop_sequences == ["\n\nHuman:"]
    assert chat.reasoning_effort is None
    assert not chat.is_stream


def test_plain_text_request():
    chat = to_chat(base(system="Be brief."))
    assert chat.messages == [{"role": "system", "content": "Be brief."}, *USER]
    assert chat.params == {"max_tokens": 100}


def test_stream_asks_the_upstream_for_usage():
    assert to_chat(base(stream=True)).params == {"max_tokens": 100, "stream": True,
                                                 "stream_options": {"include_usage": True}}


@pytest.mark.parametrize(("choice", "expected"), [
    ({"type": "auto"}, {"tool_choice": "auto"}),
    ({"type": "any"}, {"tool_choice": "required"}),
    ({"type": "none"}, {"tool_choice": "none"}),
    ({"type": "tool", "name": "f"}, {"tool_choice": {"type": "function", "function": {"name": "f"}}}),
    ({"type": "auto", "disable_parallel_tool_use": True}, {"tool_choice": "auto", "parallel_tool_calls": False}),
    ({"type": "any", "disable_parallel_tool_use": False}, {"tool_choice": "required"}),
])
def test_tool_choice_forms(choice, expected):
    params = to_chat(base(tool_choice=choice)).params
    assert {k: v for k, v in params.items() if k != "max_tokens"} == expected


def test_strict_tool():
    tool = {"name": "f", "input_schema": {"type": "object"}, "strict": True, "type": "custom"}
    assert to_chat(base(tools=[tool])).params["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": True}}]


@pytest.mark.parametrize(("budget", "effort"), [(1024, "low"), (2047, "low"), (2048, "medium"), (4095, "medium"),
                                                (4096, "high"), (31999, "high")])
def test_thinking_budget_becomes_an_effort(budget, effort):
    chat = to_chat(base(max_tokens=40000, thinking={"type": "enabled", "budget_tokens": budget}))
    assert chat.reasoning_effort == effort
    assert "reasoning_effort" not in chat.params  # added per deployment, only where the model can reason


def test_output_config_effort_and_json_schema():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    chat = to_chat(base(thinking={"type": "adaptive"},
                        output_config={"effort": "max", "format": {"type": "json_schema", "schema": schema}}))
    assert chat.reasoning_effort == "high"
    assert chat.params["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "output", "schema": schema, "strict": True}}


def test_tool_result_images_follow_as_user_content():
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    chat = to_chat(base(messages=[{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "a chart"}, image]}]}]))
    assert chat.messages == [
        {"role": "tool", "tool_call_id": "call_1", "content": "a chart"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]


def test_documents_become_file_or_text_parts():
    pdf = {"type": "document", "title": "a.pdf", "source": {"type": "base64", "media_type": "application/pdf",
                                                           "data": "JVBE"}}
    note = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "a note"}}
    chat = to_chat(base(messages=[{"role": "user", "content": [pdf, note]}]))
    assert chat.messages[0]["content"] == [
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
        {"type": "text", "text": "a note"}]


def test_a_thinking_only_assistant_turn_is_dropped():
    chat = to_chat(base(messages=[*USER, {"role": "assistant", "content": [
        {"type": "redacted_thinking", "data": "xyz"}]}, {"role": "user", "content": "Go on"}]))
    assert chat.messages == [*USER, {"role": "user", "content": "Go on"}]


def test_count_tokens_body_needs_no_max_tokens_and_refuses_generation_fields():
    assert to_chat({"model": "m", "messages": USER}, for_count=True).messages == USER
    with pytest.raises(BadRequestError, match="stream"):
        to_chat({"model": "m", "messages": USER, "stream": True}, for_count=True)


def test_ignored_hints_are_accepted():
    assert to_chat(base(service_tier="auto", cache_control={"type": "ephemeral"})).params == {"max_tokens": 100}


@pytest.mark.parametrize(("body", "param"), [
    ({"max_tokens": 1, "messages": USER}, "model"),
    ({"model": "m", "messages": USER}, "max_tokens"),
    ({"model": "m", "max_tokens": 0, "messages": USER}, "max_tokens"),
    ({"model": "m", "max_tokens": True, "messages": USER}, "max_tokens"),
    ({"model": "m", "max_tokens": 1, "messages": []}, "messages"),
    (base(frobnicate=1), "frobnicate"),
    (base(container="c"), "container"),
    (base(tools=[{"type": "web_search_20250305", "name": "web_search"}]), "tools.0.type"),
    (base(tools=[{"name": "f"}]), "tools.0.input_schema"),
    (base(tool_choice={"type": "sometimes"}), "tool_choice"),
    (base(thinking={"type": "enabled"}), "thinking.budget_tokens"),
    (base(stop_sequences="END"), "stop_sequences"),
    (base(temperature="hot"), "temperature"),
    (base(messages=[{"role": "tool", "content": "x"}]), "messages.0.role"),
    (base(messages=[{"role": "user", "content": [{"type": "search_result", "source": "s"}]}]),
     "messages.0.content.0.type"),
    (base(messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]),
     "messages.0.content.0.source"),
    (base(messages=[{"role": "assistant", "content": [{"type": "server_tool_use", "id": "s", "name": "web_search",
                                                        "input": {}}]}]), "messages.0.content.0.type"),
])
def test_invalid_requests_name_the_field(body, param):
    with pytest.raises(BadRequestError) as caught:
        to_chat(body)
    assert caught.value.param == param
    assert caught.value.message.startswith(param + ":")
