"""The Anthropic adapter: the exact Messages API request for each feature, and its answers, streams and errors
translated to OpenAI's shapes; then end to end through sluicegate.completion against the simulator."""

from pathlib import Path

import orjson
import pytest

import sluicegate
from sluicegate.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UnsupportedParamsError,
)
from sluicegate.params import ChatParams, build_params
from sluicegate.providers import anthropic
from sluicegate.providers.base import Call, Credentials, SseEvent
from sluicegate.providers.registry import endpoint
from sluicegate.transport.retry import is_retryable
from sluicegate.transport.sse import SseDecoder

FIXTURES = Path(__file__).parents[1] / "fixtures" / "anthropic"
HI = [{"role": "user", "content": "Hi"}]
TEXT_HI = [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a place",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}


def chat_call(messages=None, model="claude-sonnet-4-5", stream=False, creds=None, **params):
    return Call(kind="chat", provider="anthropic", model=model, endpoint=endpoint("anthropic"),
                credentials=creds or Credentials(api_key="sk-ant-test", api_base="https://api.anthropic.com"),
                params=build_params(ChatParams, params), messages=messages or HI, is_stream=stream)


def body_of(messages=None, **params):
    return anthropic.build_body(chat_call(messages, **params))


def events(name):
    return SseDecoder().feed((FIXTURES / name).read_bytes())


def streamed(call, name):
    parser = anthropic.AnthropicStream(call)
    chunks = [chunk for event in events(name) for chunk in parser.feed(event)]
    assert parser.is_done
    return chunks


def without_created(value):
    if isinstance(value, list):
        return [without_created(v) for v in value]
    return {k: v for k, v in value.items() if k != "created"}


# Requests.

def test_request_url_headers_and_minimal_body():
    request = anthropic.build_request(chat_call(max_tokens=100))
    assert (request.method, request.url) == ("POST", "https://api.anthropic.com/v1/messages")
    assert request.headers == {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01",
                               "content-type": "application/json"}
    assert request.json == {"model": "claude-sonnet-4-5", "messages": TEXT_HI, "max_tokens": 100}


@pytest.mark.parametrize(("api_base", "url"), [
    ("https://proxy.example", "https://proxy.example/v1/messages"),
    ("https://proxy.example/", "https://proxy.example/v1/messages"),
    ("https://proxy.example/v1", "https://proxy.example/v1/messages"),
    ("https://proxy.example/anthropic/v1/messages", "https://proxy.example/anthropic/v1/messages"),
])
def test_api_base_is_the_host_root_unless_it_already_names_the_endpoint(api_base, url):
    call = chat_call(creds=Credentials(api_key="k", api_base=api_base))
    assert anthropic.build_request(call).url == url


def test_extra_headers_pass_through_and_betas_merge_comma_joined():
    messages = [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file_011CNha8iCJcU1wXNR6q4V8w"}}]}]
    call = chat_call(messages, stream=True)
    call.extra_headers = {"Anthropic-Beta": "context-1m-2025-08-07, files-api-2025-04-14", "x-trace": "t"}
    headers = anthropic.build_request(call).headers
    assert headers["anthropic-beta"] == "context-1m-2025-08-07,files-api-2025-04-14"
    assert headers["x-trace"] == "t"
    assert headers["accept"] == "text/event-stream"
    assert "Anthropic-Beta" not in headers


def test_system_and_developer_messages_become_system_blocks_keeping_cache_control():
    messages = [
        {"role": "system", "content": [
            {"type": "text", "text": "Be brief."},
            {"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}}]},
        {"role": "developer", "content": "Use metric units.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"role": "user", "content": "Hi"},
    ]
    assert body_of(messages)["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Use metric units.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]


def test_multi_turn_merges_consecutive_roles_drops_names_and_trims_the_prefill():
    messages = [
        {"role": "user", "content": "Hi", "name": "alice"},
        {"role": "user", "content": [{"type": "text", "text": "Still there?", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": "Yes.", "name": "bot"},
        {"role": "user", "content": "Name a colour"},
        {"role": "assistant", "content": "The colour is "},
    ]
    assert body_of(messages)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "Still there?",
                                                                     "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Yes."}]},
        {"role": "user", "content": [{"type": "text", "text": "Name a colour"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "The colour is"}]},  # prefill, no trailing space
    ]


def test_images_and_documents():
    pdf = "data:application/pdf;base64,JVBERi0xLjQ="
    text = "data:text/plain;base64,aGVsbG8="
    messages = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "image_url", "image_url": "https://example.com/sky.jpg"},
        {"type": "file", "file": {"file_data": pdf, "filename": "report.pdf"}, "cache_control": {"type": "ephemeral"}},
        {"type": "file", "file": {"file_data": text}},
        {"type": "file", "file": {"file_data": "data:image/jpeg;base64,/9j/4AAQ"}},
        {"type": "file", "file": {"file_id": "https://example.com/paper.pdf"}},
        {"type": "file", "file": {"file_id": "file_011CNha8iCJcU1wXNR6q4V8w"}},
        {"type": "text", "text": "Summarise"},
    ]}]
    assert body_of(messages)["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/sky.jpg"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="},
         "cache_control": {"type": "ephemeral"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/paper.pdf"}},
        {"type": "document", "source": {"type": "file", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w"}},
        {"type": "text", "text": "Summarise"},
    ]
    assert anthropic.build_request(chat_call(messages)).headers["anthropic-beta"] == "files-api-2025-04-14"
    assert anthropic.ADAPTER.inline_media is False  # Anthropic fetches URL images and documents itself


@pytest.mark.parametrize(("part", "says"), [
    ({"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}, "audio"),
    ({"type": "video_url", "video_url": {"url": "https://x"}}, "video_url"),
    ({"type": "file", "file": {"file_data": "data:audio/wav;base64,AAA"}}, "audio/wav"),
    ({"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}, "http"),
])
def test_content_parts_anthropic_cannot_take_are_errors(part, says):
    with pytest.raises(BadRequestError, match=says):
        body_of([{"role": "user", "content": [part]}])


def test_tools_tool_calls_and_results():
    messages = [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}},
            {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "09:00"}],
         "cache_control": {"type": "ephemeral"}},
        {"role": "user", "content": "Thanks"},
    ]
    tools = [{**WEATHER, "cache_control": {"type": "ephemeral"}}, TIME,
             {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}]
    body = body_of(messages, tools=tools, tool_choice="auto")
    assert body["messages"][1:] == [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "09:00"}],
             "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Thanks"}]},
    ]
    assert body["tools"] == [
        {"name": "get_weather", "description": "Weather for a place", "input_schema": WEATHER["function"]["parameters"],
         "cache_control": {"type": "ephemeral"}},
        {"name": "get_time", "input_schema": TIME["function"]["parameters"]},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
    ]
    assert body["tool_choice"] == {"type": "auto"}


@pytest.mark.parametrize(("choice", "parallel", "expected"), [
    ("auto", None, {"type": "auto"}),
    ("none", None, {"type": "none"}),
    ("required", None, {"type": "any"}),
    ({"type": "function", "function": {"name": "get_time"}}, None, {"type": "tool", "name": "get_time"}),
    ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    (None, True, None),
])
def test_tool_choice_and_parallel_tool_calls(choice, parallel, expected):
    body = body_of(tools=[WEATHER, TIME], tool_choice=choice, parallel_tool_calls=parallel)
    assert body.get("tool_choice") == expected


def test_tool_call_arguments_must_be_a_json_object():
    messages = [{"role": "assistant", "tool_calls": [
        {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]
    with pytest.raises(BadRequestError, match="not valid JSON"):
        body_of(messages)


def test_generation_parameters_and_provider_params():
    body = body_of(temperature=0.2, top_p=0.9, stop="END", user="user-1", top_k=40, max_completion_tokens=300,
                   stream_options={"include_usage": True}, n=1, logprobs=False)
    assert body == {"model": "claude-sonnet-4-5", "messages": TEXT_HI, "temperature": 0.2, "top_p": 0.9,
                    "stop_sequences": ["END"], "metadata": {"user_id": "user-1"}, "top_k": 40, "max_tokens": 300}


def test_max_tokens_defaults_to_the_catalogs_output_limit():
    assert body_of()["max_tokens"] == 64000  # claude-sonnet-4-5 in the catalog
    assert body_of(model="claude-3-5-haiku-20241022")["max_tokens"] == 8192
    assert body_of(model="claude-from-the-future")["max_tokens"] == 4096
    assert body_of(max_tokens=10)["max_tokens"] == 10


@pytest.mark.parametrize(("effort", "budget"), [("minimal", 1024), ("low", 1024), ("medium", 2048),
                                                ("high", 4096)])
def test_reasoning_effort_maps_to_a_thinking_budget(effort, budget):
    assert body_of(reasoning_effort=effort)["thinking"] == {"type": "enabled", "budget_tokens": budget}


def test_reasoning_effort_none_sends_no_thinking_and_a_callers_thinking_wins():
    assert "thinking" not in body_of(reasoning_effort="none")
    thinking = {"type": "enabled", "budget_tokens": 10000}
    assert body_of(reasoning_effort="low", thinking=thinking)["thinking"] == thinking
    budget_over_default = body_of(model="claude-from-the-future", reasoning_effort="high")
    assert budget_over_default["max_tokens"] > budget_over_default["thinking"]["budget_tokens"]


def test_thinking_blocks_go_back_first_on_assistant_turns():
    blocks = [{"type": "thinking", "thinking": "Need the weather.", "signature": "sig"},
              {"type": "redacted_thinking", "data": "enc"}]
    messages = [*HI, {"role": "assistant", "content": "Checking.", "reasoning_content": "Need the weather.",
                      "thinking_blocks": blocks,
                      "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "ok"}]
    assert body_of(messages)["messages"][1]["content"] == [
        *blocks, {"type": "text", "text": "Checking."}, {"type": "tool_use", "id": "t1", "name": "f", "input": {}}]


def test_response_format_is_a_forced_tool():
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    body = body_of(response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}})
    assert body["tools"] == [{"name": "json_response", "description": "Respond with JSON matching this schema.",
                              "input_schema": schema}]
    assert body["tool_choice"] == {"type": "tool", "name": "json_response"}
    body = body_of(response_format={"type": "json_object"})
    assert body["tools"][0]["input_schema"] == {"type": "object"}
    with_tools = body_of(response_format={"type": "json_object"}, tools=[WEATHER])
    assert [t["name"] for t in with_tools["tools"]] == ["get_weather", "json_response"]
    assert "tool_choice" not in with_tools  # the caller's tools stay usable: the model chooses
    thinking = body_of(response_format={"type": "json_object"}, reasoning_effort="low")
    assert "tool_choice" not in thinking  # Anthropic refuses a forced tool while thinking


def test_extra_body_and_stream_flag():
    call = chat_call(stream=True, max_tokens=5)
    call.extra_body = {"service_tier": "standard_only"}
    assert anthropic.build_body(call) == {"model": "claude-sonnet-4-5", "messages": TEXT_HI, "max_tokens": 5,
                                          "stream": True, "service_tier": "standard_only"}


@pytest.mark.parametrize("param", [{"seed": 1}, {"presence_penalty": 0.5}, {"frequency_penalty": 0.5},
                                   {"logit_bias": {"1": 1}}, {"logprobs": True}, {"top_logprobs": 2}, {"n": 2}])
def test_parameters_anthropic_cannot_take_are_errors_or_dropped(param, anthropic_sim):
    target = {"model": "anthropic/claude-sonnet-4-5", "api_base": anthropic_sim.base_url, "api_key": "sk-ant-test"}
    with pytest.raises(UnsupportedParamsError):
        sluicegate.completion(messages=HI, **target, **param)
    response = sluicegate.completion(messages=HI, drop_params=True, **target, **param)
    assert response.choices[0].message.content == "Hello from the simulator. You said: Hi"
    assert set(anthropic_sim.requests[-1].json) == {"model", "messages", "max_tokens"}


# Responses.

def test_text_response():
    data = anthropic.parse_response(chat_call(), 200, {}, (FIXTURES / "text.response.json").read_bytes())
    assert without_created(data) == {
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "object": "chat.completion", "model": "claude-sonnet-4-5-20250929",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi! My name is Claude."},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2095, "completion_tokens": 503, "total_tokens": 2598,
                  "prompt_tokens_details": {"cached_tokens": 0}, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0}}
    assert isinstance(data["created"], int)


def test_tool_use_response():
    data = anthropic.parse_response(chat_call(), 200, {}, (FIXTURES / "tool-use.response.json").read_bytes())
    assert data["choices"] == [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "I'll check the current weather in San Francisco for you.",
        "tool_calls": [{"id": "toolu_01A09q90qw90lq917835lq9", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"location":"San Francisco, CA","unit":"celsius"}'}}]}}]


def test_thinking_response_and_cache_usage():
    data = anthropic.parse_response(chat_call(), 200, {}, (FIXTURES / "thinking.response.json").read_bytes())
    message = data["choices"][0]["message"]
    assert message["content"] == "Based on my analysis..."
    assert message["reasoning_content"] == "Let me analyze this step by step..."
    assert [b["type"] for b in message["thinking_blocks"]] == ["thinking", "redacted_thinking"]
    assert message["thinking_blocks"][0]["signature"].startswith("WaUjzkyp")
    assert data["usage"] == {"prompt_tokens": 12 + 1500 + 2048, "completion_tokens": 248,
                             "total_tokens": 12 + 1500 + 2048 + 248, "prompt_tokens_details": {"cached_tokens": 2048},
                             "cache_creation_input_tokens": 1500, "cache_read_input_tokens": 2048}


def test_json_tool_call_is_the_content():
    answer = {"type": "message", "id": "msg_1", "model": "claude-sonnet-4-5", "stop_reason": "tool_use",
              "content": [{"type": "tool_use", "id": "toolu_1", "name": "json_response", "input": {"city": "Paris"}}],
              "usage": {"input_tokens": 10, "output_tokens": 5}}
    call = chat_call(response_format={"type": "json_object"})
    data = anthropic.parse_response(call, 200, {}, orjson.dumps(answer))
    assert data["choices"][0] == {"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": '{"city":"Paris"}'}}
    assert data["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                             "prompt_tokens_details": {"cached_tokens": 0}}


@pytest.mark.parametrize(("stop_reason", "finish"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
    ("refusal", "content_filter"), ("model_context_window_exceeded", "length"), ("pause_turn", "stop")])
def test_finish_reasons(stop_reason, finish):
    answer = orjson.loads((FIXTURES / "refusal.response.json").read_bytes())
    answer["stop_reason"] = stop_reason
    data = anthropic.parse_response(chat_call(), 200, {}, orjson.dumps(answer))
    assert data["choices"][0]["finish_reason"] == finish


def test_server_tool_blocks_and_citations_go_to_provider_specific_fields():
    citation = {"type": "web_search_result_location", "url": "https://a.example", "cited_text": "x"}
    answer = {"type": "message", "id": "m", "model": "c", "stop_reason": "end_turn", "usage": {},
              "content": [
                  {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
                  {"type": "text", "text": "Found it.", "citations": [citation]}]}
    message = anthropic.parse_response(chat_call(), 200, {}, orjson.dumps(answer))["choices"][0]["message"]
    assert message["provider_specific_fields"] == {"citations": [citation], "content_blocks": [
        answer["content"][0]]}


def test_a_body_that_is_not_a_message_is_an_error():
    with pytest.raises(APIError, match="not a message"):
        anthropic.parse_response(chat_call(), 200, {}, b'{"type": "completion"}')


# Streams.

def test_text_stream():
    chunks = streamed(chat_call(stream=True, stream_options={"include_usage": True}), "text.stream.sse")
    head = {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "object": "chat.completion.chunk",
            "model": "claude-sonnet-4-5-20250929"}
    assert without_created(chunks) == [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {"content": "!"}, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**head, "choices": [], "usage": {"prompt_tokens": 25, "completion_tokens": 15, "total_tokens": 40,
                                          "prompt_tokens_details": {"cached_tokens": 0}}},
    ]


def test_tool_use_stream_without_usage_chunk():
    chunks = streamed(chat_call(stream=True), "tool-use.stream.sse")
    deltas = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks]
    assert deltas == [
        ({"role": "assistant", "content": ""}, None), ({"content": "Okay"}, None),
        ({"content": ", let me check the weather."}, None),
        ({"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                          "function": {"name": "get_weather", "arguments": ""}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"location":'}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": ' "San Francisco, CA"}'}}]}, None),
        ({}, "tool_calls"),
    ]


def test_thinking_and_parallel_tools_stream():
    chunks = streamed(chat_call(stream=True, stream_options={"include_usage": True}), "thinking-tool.stream.sse")
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[1:4] == [
        {"reasoning_content": "The user wants the weather."}, {"reasoning_content": " I should call get_weather."},
        {"thinking_blocks": [{"type": "thinking", "thinking": "The user wants the weather. I should call get_weather.",
                              "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}]}]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert [(c["index"], c.get("id")) for c in calls] == [
        (0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6"), (0, None), (0, None), (1, "toolu_01B2y2gK45rBnl3uOsUo8Vq7"), (1, None)]
    built = sluicegate.stream_chunk_builder(chunks)
    assert [c.function.arguments for c in built.choices[0].message.tool_calls] == ['{"location": "Paris"}',
                                                                                  '{"zone": "CET"}']
    assert built.choices[0].finish_reason == "tool_calls"
    assert chunks[-1]["usage"] == {"prompt_tokens": 2410, "completion_tokens": 95, "total_tokens": 2505,
                                   "prompt_tokens_details": {"cached_tokens": 1800},
                                   "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1800}


def test_json_answer_streams_as_content():
    call = chat_call(stream=True, response_format={"type": "json_object"})
    parser = anthropic.AnthropicStream(call)
    sent = [
        {"type": "message_start",
         "message": {"id": "m", "model": "c", "usage": {"input_tokens": 3, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "tool_use", "id": "toolu_1", "name": "json_response", "input": {}}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": " 1}"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 6}},
    ]
    chunks = [c for e in sent for c in parser.feed(SseEvent(data=orjson.dumps(e).decode(), event=e["type"]))]
    assert [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks] == [
        ({"role": "assistant", "content": ""}, None), ({"content": '{"a":'}, None), ({"content": " 1}"}, None),
        ({}, "stop")]


def test_error_event_mid_stream_raises_the_mapped_error():
    parser = anthropic.AnthropicStream(chat_call(stream=True))
    (event,) = events("error-stream.sse")
    with pytest.raises(ServiceUnavailableError) as caught:
        parser.feed(event)
    assert (caught.value.status_code, caught.value.code, caught.value.message) == (529, "overloaded_error",
                                                                                   "Overloaded")


# Errors.

@pytest.mark.parametrize(("status", "kind", "cls"), [
    (400, "invalid_request_error", BadRequestError), (401, "authentication_error", AuthenticationError),
    (403, "permission_error", PermissionDeniedError), (404, "not_found_error", NotFoundError),
    (413, "request_too_large", BadRequestError), (429, "rate_limit_error", RateLimitError),
    (500, "api_error", InternalServerError), (529, "overloaded_error", ServiceUnavailableError)])
def test_errors_map_to_the_right_class(status, kind, cls):
    body = orjson.dumps({"type": "error", "error": {"type": kind, "message": "m"}, "request_id": "req_1"})
    error = anthropic.map_error(chat_call(), status, {"request-id": "req_1"}, body)
    assert type(error) is cls
    assert (error.status_code, error.code, error.message, error.provider) == (status, kind, "m", "anthropic")


def test_overloaded_keeps_529_and_is_retried():
    error = anthropic.map_error(chat_call(), 529, {}, (FIXTURES / "error-529.json").read_bytes())
    assert isinstance(error, ServiceUnavailableError)
    assert error.status_code == 529
    assert is_retryable(error)


def test_prompt_too_long_is_a_context_window_error():
    error = anthropic.map_error(chat_call(), 400, {}, (FIXTURES / "error-400-prompt-too-long.json").read_bytes())
    assert isinstance(error, ContextWindowExceededError)


def test_rate_limit_keeps_retry_after_and_rate_limit_headers():
    headers = {"retry-after": "7", "anthropic-ratelimit-input-tokens-remaining": "0"}
    error = anthropic.map_error(chat_call(), 429, headers, (FIXTURES / "error-429.json").read_bytes())
    assert isinstance(error, RateLimitError)
    assert error.headers == headers


def test_error_bodies_that_are_not_json_still_map():
    error = anthropic.map_error(chat_call(), 502, {}, b"<html>Bad gateway</html>")
    assert isinstance(error, InternalServerError)
    assert "Bad gateway" in error.message


# End to end, against the simulator.

def _target(sim):
    return {"model": "anthropic/claude-sonnet-4-5", "api_base": sim.base_url, "api_key": "sk-ant-test"}


def test_completion_and_stream_end_to_end(anthropic_sim):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "ping pong"}]
    response = sluicegate.completion(messages=messages, **_target(anthropic_sim))
    assert response.choices[0].message.content == "Hello from the simulator. You said: ping pong"
    assert response.choices[0].finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (7, 8)
    assert response._hidden_params["response_cost"] > 0
    sent = anthropic_sim.requests[-1]
    assert (sent.path, sent.headers["x-api-key"], sent.headers["anthropic-version"]) == (
        "/v1/messages", "sk-ant-test", "2023-06-01")
    assert sent.json["system"] == [{"type": "text", "text": "Be brief."}]
    chunks = list(sluicegate.completion(messages=messages, stream=True, stream_options={"include_usage": True},
                                        **_target(anthropic_sim)))
    assert len(chunks) > 4
    built = sluicegate.stream_chunk_builder(chunks)
    assert built.choices[0].message.content == response.choices[0].message.content
    assert built.usage.total_tokens == response.usage.total_tokens


async def test_async_tool_round_trip_with_thinking(anthropic_sim):
    target = _target(anthropic_sim)
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = await sluicegate.acompletion(messages=messages, tools=[WEATHER], reasoning_effort="low", **target)
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.reasoning_content == "Thinking about: Weather in Paris?"
    call = message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"location":"example"}')
    messages += [message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}]
    second = await sluicegate.acompletion(messages=messages, tools=[WEATHER], reasoning_effort="low", **target)
    assert second.choices[0].message.content == "Hello from the simulator. The tool said: 18C and sunny"
    # Without the thinking block the simulator, like Anthropic, refuses the turn.
    messages[1] = {k: v for k, v in messages[1].items() if k != "thinking_blocks"}
    with pytest.raises(BadRequestError, match="must start with a thinking block"):
        await sluicegate.acompletion(messages=messages, tools=[WEATHER], reasoning_effort="low", **target)


def test_parallel_tool_calls_stream_end_to_end(anthropic_sim):
    chunks = list(sluicegate.completion(messages=[{"role": "user", "content": "Both please"}], tools=[WEATHER, TIME],
                                        stream=True, **_target(anthropic_sim)))
    built = sluicegate.stream_chunk_builder(chunks)
    calls = built.choices[0].message.tool_calls
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("get_weather", '{"location":"example"}'), ("get_time", '{"zone":"example"}')]
    assert all(c.id.startswith("toolu_") for c in calls)
    assert built.choices[0].finish_reason == "tool_calls"
    one = sluicegate.completion(messages=[{"role": "user", "content": "One"}], tools=[WEATHER, TIME],
                                parallel_tool_calls=False, **_target(anthropic_sim))
    assert len(one.choices[0].message.tool_calls) == 1


def test_json_schema_end_to_end(anthropic_sim):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "rank": {"type": "integer"}},
              "required": ["city", "rank"]}
    response_format = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}
    response = sluicegate.completion(messages=HI, response_format=response_format, **_target(anthropic_sim))
    assert orjson.loads(response.choices[0].message.content) == {"city": "example", "rank": 1}
    assert response.choices[0].finish_reason == "stop"
    chunks = list(sluicegate.completion(messages=HI, response_format=response_format, stream=True,
                                        **_target(anthropic_sim)))
    built = sluicegate.stream_chunk_builder(chunks)
    assert orjson.loads(built.choices[0].message.content) == {"city": "example", "rank": 1}
    assert built.choices[0].finish_reason == "stop"


def test_prompt_caching_end_to_end(anthropic_sim):
    system = {"role": "system", "content": [{"type": "text", "text": "A long shared context " * 50,
                                             "cache_control": {"type": "ephemeral"}}]}
    messages = [system, {"role": "user", "content": "Question"}]
    first = sluicegate.completion(messages=messages, **_target(anthropic_sim))
    second = sluicegate.completion(messages=messages, **_target(anthropic_sim))
    assert first.usage.cache_creation_input_tokens == 200
    assert second.usage.cache_read_input_tokens == 200
    assert second.usage.prompt_tokens_details.cached_tokens == 200
    assert first.usage.prompt_tokens == second.usage.prompt_tokens == 204
    assert second._hidden_params["response_cost"] < first._hidden_params["response_cost"]


def test_errors_end_to_end(anthropic_sim):
    anthropic_sim.script(529, headers={"retry-after": "0"})
    response = sluicegate.completion(messages=HI, num_retries=1, **_target(anthropic_sim))  # retried
    assert response.choices[0].message.content.endswith("You said: Hi")
    anthropic_sim.script(429)
    with pytest.raises(RateLimitError) as caught:
        sluicegate.completion(messages=HI, num_retries=0, **_target(anthropic_sim))
    assert caught.value.headers["anthropic-ratelimit-requests-remaining"] == "0"
    with pytest.raises(AuthenticationError):
        sluicegate.completion(messages=HI, num_retries=0, **{**_target(anthropic_sim), "api_key": "wrong"})
    anthropic_sim.context_limit = 3
    with pytest.raises(ContextWindowExceededError):
        sluicegate.completion(messages=[{"role": "user", "content": "far too many words"}], num_retries=0,
                              **_target(anthropic_sim))


def test_error_event_mid_stream_end_to_end(anthropic_sim):
    anthropic_sim.script_stream_error(after_events=4)
    stream = iter(sluicegate.completion(messages=HI, stream=True, num_retries=0, **_target(anthropic_sim)))
    first = next(stream)  # the chunks before the error are delivered
    assert first.choices[0].delta.role == "assistant"
    with pytest.raises(ServiceUnavailableError):
        list(stream)


def test_catalog_decides_whether_reasoning_effort_is_supported():
    assert "reasoning_effort" in anthropic.supported_params(chat_call())
    assert "reasoning_effort" not in anthropic.supported_params(chat_call(model="claude-3-5-haiku-20241022"))
    assert "reasoning_effort" in anthropic.supported_params(chat_call(model="claude-from-the-future"))
    assert "n" not in anthropic.supported_params(chat_call(n=2))
