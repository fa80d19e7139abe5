"""The Cohere adapter: the exact v2 request Cohere receives, and its answers, streams and errors parsed."""

import base64
import json
import struct
from pathlib import Path

import pytest

import sluicegate
from sluicegate.catalog import lookup
from sluicegate.errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
    UnprocessableEntityError,
    UnsupportedParamsError,
)
from sluicegate.params import ChatParams, EmbeddingParams, build_params
from sluicegate.providers import cohere
from sluicegate.providers.base import Call, Credentials, SseEvent
from sluicegate.providers.registry import endpoint
from sluicegate.transport.sse import SseDecoder

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cohere"
MESSAGES = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Tell me about LLMs"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather now",
                                            "parameters": {"type": "object",
                                                           "properties": {"location": {"type": "string"}},
                                                           "required": ["location"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


def chat_call(messages=MESSAGES, model="command-a-03-2025", stream=False, api_base=None, **params):
    return Call(kind="chat", provider="cohere", model=model, endpoint=endpoint("cohere"),
                credentials=Credentials(api_key="co-key", api_base=api_base or "https://api.cohere.com"),
                params=build_params(ChatParams, params), messages=messages, is_stream=stream)


def embed_call(api_base="https://api.cohere.com", **params):
    return Call(kind="embedding", provider="cohere", model="embed-english-v3.0", endpoint=endpoint("cohere"),
                credentials=Credentials(api_key="co-key", api_base=api_base),
                params=build_params(EmbeddingParams, params))


def body(call):
    return cohere.build_request(call).json


def fixture(name):
    return (FIXTURES / name).read_bytes()


def feed_all(call, raw: bytes):
    parser = cohere.ADAPTER.stream_parser(call)
    decoder = SseDecoder()
    chunks = []
    for event in decoder.feed(raw) + decoder.flush():
        chunks += parser.feed(event)
    return chunks + parser.finish(), parser


# Requests


def test_chat_request_matches_the_reference_body():
    call = chat_call(max_tokens=200, temperature=0.3, stop=["\n\n"], top_p=0.75, seed=42)
    request = cohere.build_request(call)
    assert request.method == "POST"
    assert request.url == "https://api.cohere.com/v2/chat"
    assert request.headers == {"authorization": "Bearer co-key"}
    assert request.json == json.loads(fixture("chat.request.json"))


@pytest.mark.parametrize(("api_base", "chat_url", "embed_url"), [
    ("https://api.cohere.com", "https://api.cohere.com/v2/chat", "https://api.cohere.com/v2/embed"),
    ("https://api.cohere.ai/v2/chat", "https://api.cohere.ai/v2/chat", "https://api.cohere.ai/v2/embed"),
    ("https://proxy.example/cohere/chat/", "https://proxy.example/cohere/chat", "https://proxy.example/cohere/embed"),
    ("https://proxy.example/v2/embed", "https://proxy.example/v2/chat", "https://proxy.example/v2/embed"),
    ("https://proxy.example/v2", "https://proxy.example/v2/chat", "https://proxy.example/v2/embed"),
])
def test_api_base_means_what_litellm_users_configure(api_base, chat_url, embed_url):
    assert cohere.build_request(chat_call(api_base=api_base)).url == chat_url
    assert cohere.build_request(embed_call(api_base=api_base, input="x")).url == embed_url


def test_stream_request_asks_for_events_and_extras_pass_through():
    call = chat_call(stream=True, top_k=5, documents=["Penguins are tall."], safety_mode="STRICT",
                     max_completion_tokens=9, frequency_penalty=0.1, presence_penalty=0.2, logprobs=True, n=1)
    call.extra_headers = {"x-client-name": "tests"}
    call.extra_body = {"priority": 1}
    request = cohere.build_request(call)
    assert request.headers == {"authorization": "Bearer co-key", "accept": "text/event-stream",
                               "x-client-name": "tests"}
    assert request.json == {"model": "command-a-03-2025", "messages": MESSAGES, "max_tokens": 9,
                            "frequency_penalty": 0.1, "presence_penalty": 0.2, "logprobs": True, "k": 5,
                            "documents": ["Penguins are tall."], "safety_mode": "STRICT", "stream": True,
                            "priority": 1}


def test_messages_system_developer_names_multi_turn_and_images():
    messages = [
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "name": "ann", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            {"type": "image_url", "image_url": "https://example.com/cat.png"}]},
        {"role": "assistant", "name": "bot", "content": "A cat."},
        {"role": "user", "content": "Thanks"},
    ]
    assert body(chat_call(messages))["messages"] == [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]},
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "Thanks"},
    ]


def test_tool_round_trip_messages():
    messages = [
        {"role": "user", "content": "Weather in Paris and the time?"},
        {"role": "assistant", "content": "I will look both up.", "tool_calls": [
            {"id": "get_weather_1", "type": "function", "function": {"name": "get_weather",
                                                                   "arguments": '{"location":"Paris"}'}},
            {"id": "get_time_2", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "get_weather_1", "name": "get_weather", "content": "20C"},
        {"role": "tool", "tool_call_id": "get_time_2", "content": [
            {"type": "text", "text": "noon"},
            {"type": "document", "document": {"id": "clock", "data": {"time": "12:00"}}}]},
    ]
    assert body(chat_call(messages, tools=[WEATHER, TIME]))["messages"][1:] == [
        {"role": "assistant", "tool_plan": "I will look both up.", "tool_calls": [
            {"id": "get_weather_1", "type": "function", "function": {"name": "get_weather",
                                                                   "arguments": '{"location":"Paris"}'}},
            {"id": "get_time_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "get_weather_1", "content": "20C"},
        {"role": "tool", "tool_call_id": "get_time_2", "content": [
            {"type": "text", "text": "noon"},
            {"type": "document", "document": {"id": "clock", "data": {"time": "12:00"}}}]},
    ]


def test_assistant_reasoning_goes_back_as_thinking_content():
    messages = [{"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": "4", "reasoning_content": "Simple sum."},
                {"role": "user", "content": "And 3+3?"}]
    assert body(chat_call(messages))["messages"][1] == {
        "role": "assistant", "content": [{"type": "thinking", "thinking": "Simple sum."},
                                         {"type": "text", "text": "4"}]}


def test_tools_and_tool_choice():
    strict = {"type": "function", "function": {**TIME["function"], "strict": True}}
    sent = body(chat_call(tools=[WEATHER, strict], tool_choice="required"))
    assert sent["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather now",
                                          "parameters": WEATHER["function"]["parameters"]}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}]
    assert sent["tool_choice"] == "REQUIRED"
    assert sent["strict_tools"] is True
    assert body(chat_call(tools=[WEATHER], tool_choice="none"))["tool_choice"] == "NONE"
    assert "tool_choice" not in body(chat_call(tools=[WEATHER], tool_choice="auto"))
    no_params = {"type": "function", "function": {"name": "ping"}}
    assert body(chat_call(tools=[no_params]))["tools"][0]["function"]["parameters"] == {"type": "object",
                                                                                        "properties": {}}


def test_named_tool_choice_sends_that_tool_alone_as_required():
    sent = body(chat_call(tools=[WEATHER, TIME], tool_choice={"type": "function", "function": {"name": "get_time"}}))
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_time"]
    assert sent["tool_choice"] == "REQUIRED"
    with pytest.raises(BadRequestError, match="not in tools"):
        body(chat_call(tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}}))


@pytest.mark.parametrize(("response_format", "sent"), [
    ({"type": "json_object"}, {"type": "json_object"}),
    ({"type": "text"}, {"type": "text"}),
    ({"type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": {
        "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}},
     {"type": "json_object", "json_schema": {"type": "object", "properties": {"name": {"type": "string"}},
                                             "required": ["name"]}}),
])
def test_response_format(response_format, sent):
    assert body(chat_call(response_format=response_format))["response_format"] == sent


@pytest.mark.parametrize(("effort", "thinking"), [
    ("low", {"type": "enabled", "token_budget": 1024}), ("medium", {"type": "enabled", "token_budget": 2048}),
    ("high", {"type": "enabled", "token_budget": 4096}), ("none", {"type": "disabled"}),
])
def test_reasoning_effort_becomes_a_thinking_budget(effort, thinking):
    assert body(chat_call(model="command-a-reasoning-08-2025", reasoning_effort=effort))["thinking"] == thinking


def test_unexpressible_content_is_an_error_naming_it():
    pdf = {"type": "file", "file": {"file_data": "data:application/pdf;base64,AA"}}
    file_part = [{"role": "user", "content": [pdf]}]
    with pytest.raises(BadRequestError, match="documents"):
        body(chat_call(file_part))
    audio = [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]
    with pytest.raises(BadRequestError, match="input_audio"):
        body(chat_call(audio))
    with pytest.raises(BadRequestError, match="only text"):
        body(chat_call([{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]))
    with pytest.raises(BadRequestError, match="role 'function'"):
        body(chat_call([{"role": "function", "name": "f", "content": "x"}]))


@pytest.mark.parametrize("params", [
    {"n": 2}, {"logit_bias": {"1": 1.0}}, {"top_logprobs": 2}, {"user": "u1"}, {"parallel_tool_calls": False},
    {"reasoning_effort": "low"},  # command-a-03-2025 is no reasoning model, says the catalog
])
def test_parameters_cohere_cannot_express_are_refused_or_dropped(params, cohere_sim):
    target = {"model": "cohere/command-a-03-2025", "api_base": cohere_sim.base_url, "api_key": "co-test"}
    with pytest.raises(UnsupportedParamsError):
        sluicegate.completion(messages=MESSAGES, **target, **params)
    sluicegate.completion(messages=MESSAGES, drop_params=True, **target, **params)
    assert set(params) - set(cohere_sim.requests[-1].json) == set(params)


def test_parallel_tool_calls_true_and_n_1_are_accepted():
    call = chat_call(parallel_tool_calls=True, n=1, tools=[WEATHER])
    assert {"parallel_tool_calls", "n"} <= cohere.supported_params(call)


def test_embedding_request():
    request = cohere.build_request(embed_call(input=["hello", "goodbye"], dimensions=4))
    assert request.url == "https://api.cohere.com/v2/embed"
    assert request.json == json.loads(fixture("embed.request.json"))
    sent = body(embed_call(input="q", input_type="search_query", truncate="END", encoding_format="base64"))
    assert sent == {"model": "embed-english-v3.0", "texts": ["q"], "input_type": "search_query",
                    "embedding_types": ["float"], "truncate": "END"}
    with pytest.raises(BadRequestError, match="token ids"):
        body(embed_call(input=[[1, 2, 3]]))
    assert "user" not in cohere.supported_params(embed_call(input="x"))


# Responses


def test_chat_response():
    parsed = cohere.parse_response(chat_call(), 200, {}, fixture("chat.response.json"))
    assert parsed["created"] > 0
    assert parsed == {
        "id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4", "object": "chat.completion", "created": parsed["created"],
        "model": "command-a-03-2025",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": {
            "role": "assistant",
            "content": "LLMs stand for Large Language Models, which are a type of neural network model.",
            "provider_specific_fields": {"billed_units": {"input_tokens": 5, "output_tokens": 17}}}}],
        "usage": {"prompt_tokens": 71, "completion_tokens": 17, "total_tokens": 88}}


def test_tool_response_plan_is_content_and_cached_tokens_are_reported():
    parsed = cohere.parse_response(chat_call(), 200, {}, fixture("chat-tools.response.json"))
    choice = parsed["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I will look up the weather in Toronto and in Paris."
    assert choice["message"]["tool_calls"] == [
        {"id": "get_weather_1byjy32y4hvq", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"location":"Toronto"}'}},
        {"id": "get_weather_4bvwdqkqd1yz", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'}}]
    assert parsed["usage"] == {"prompt_tokens": 913, "completion_tokens": 81, "total_tokens": 994,
                               "prompt_tokens_details": {"cached_tokens": 512}, "cache_read_input_tokens": 512}


def test_reasoning_response_and_citations_with_logprobs():
    parsed = cohere.parse_response(chat_call(), 200, {}, fixture("chat-reasoning.response.json"))
    message = parsed["choices"][0]["message"]
    assert message["content"] == "17 × 23 = 391."
    assert message["reasoning_content"] == "The user asks for 17 * 23. 17 * 20 = 340, 17 * 3 = 51, so 391."
    parsed = cohere.parse_response(chat_call(), 200, {}, fixture("chat-citations.response.json"))
    citations = json.loads(fixture("chat-citations.response.json"))["message"]["citations"]
    assert parsed["choices"][0]["message"]["provider_specific_fields"]["citations"] == citations
    assert parsed["choices"][0]["logprobs"] == {"content": [
        {"token": "The", "logprob": -0.031, "bytes": [84, 104, 101], "top_logprobs": []},
        {"token": " tallest", "logprob": -0.75, "bytes": list(b" tallest"), "top_logprobs": []}]}


@pytest.mark.parametrize(("cohere_reason", "openai_reason"), [
    ("COMPLETE", "stop"), ("STOP_SEQUENCE", "stop"), ("MAX_TOKENS", "length"), ("TOOL_CALL", "tool_calls")])
def test_finish_reasons(cohere_reason, openai_reason):
    answer = {"id": "x", "finish_reason": cohere_reason, "message": {"role": "assistant", "content": []}}
    parsed = cohere.parse_response(chat_call(), 200, {}, json.dumps(answer).encode())
    assert parsed["choices"][0]["finish_reason"] == openai_reason


@pytest.mark.parametrize(("cohere_reason", "error"), [("ERROR", InternalServerError), ("TIMEOUT", Timeout)])
def test_failed_generations_are_errors_not_finish_reasons(cohere_reason, error):
    answer = {"id": "x", "finish_reason": cohere_reason, "message": {"role": "assistant", "content": []}}
    with pytest.raises(error):
        cohere.parse_response(chat_call(), 200, {}, json.dumps(answer).encode())


def test_embedding_response_float_and_base64():
    parsed = cohere.parse_response(embed_call(input=["hello", "goodbye"]), 200, {}, fixture("embed.response.json"))
    vectors = json.loads(fixture("embed.response.json"))["embeddings"]["float"]
    assert parsed == {"object": "list", "model": "embed-english-v3.0", "usage": {"prompt_tokens": 2,
                                                                                 "total_tokens": 2},
                      "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]}
    encoded = cohere.parse_response(embed_call(input=["a", "b"], encoding_format="base64"), 200, {},
                                    fixture("embed.response.json"))
    decoded = struct.unpack("<4f", base64.b64decode(encoded["data"][0]["embedding"]))
    assert decoded == pytest.approx(vectors[0])


# Streams


def test_text_stream():
    call = chat_call(stream=True, stream_options={"include_usage": True})
    chunks, parser = feed_all(call, fixture("chat.stream.sse"))
    assert parser.is_done
    assert [c["choices"][0]["delta"] for c in chunks[:-1]] == [
        {"role": "assistant", "content": ""}, {"content": "Hola"}, {"content": " Juan"},
        {"provider_specific_fields": {"billed_units": {"input_tokens": 5, "output_tokens": 2}}}]
    assert {c["id"] for c in chunks} == {"5c1f2a64-9c5b-4f0e-a0d3-6b7c1f2d9e10"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 70, "completion_tokens": 2, "total_tokens": 72}


def test_tool_stream_gives_openai_tool_call_deltas_with_stable_indexes():
    chunks, _ = feed_all(chat_call(stream=True), fixture("chat-tools.stream.sse"))
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[1:3] == [{"content": "I will"}, {"content": " search."}]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert calls[0] == {"index": 0, "id": "database_agent_3v76fs3zjrgq", "type": "function",
                        "function": {"name": "database_agent", "arguments": ""}}
    assert all(set(c) == {"index", "function"} for c in calls[1:5] + calls[6:])
    assert calls[5] == {"index": 1, "id": "get_time_b9k2mz71qw0d", "type": "function",
                        "function": {"name": "get_time", "arguments": ""}}
    assert "".join(c["function"]["arguments"] for c in calls if c["index"] == 0) == '{\n    "query": "Juan"\n}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert len(chunks) == len(deltas)  # no usage chunk unless asked for


def test_reasoning_stream():
    chunks, _ = feed_all(chat_call(stream=True), fixture("chat-reasoning.stream.sse"))
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[1:4] == [{"reasoning_content": "17 * 23 ="}, {"reasoning_content": " 391."}, {"content": "391"}]


def test_citation_and_logprob_events():
    parser = cohere.ADAPTER.stream_parser(chat_call(stream=True))
    citation = {"start": 0, "end": 5, "text": "Hello", "sources": [], "type": "TEXT_CONTENT"}
    chunks = parser.feed(SseEvent(json.dumps({"type": "citation-start", "index": 0,
                                              "delta": {"message": {"citations": citation}}})))
    assert chunks[0]["choices"][0]["delta"] == {"provider_specific_fields": {"citations": [citation]}}
    delta = {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Hi"}}},
             "logprobs": {"text": "Hi", "token_ids": [5], "logprobs": [-0.5]}}
    chunk = parser.feed(SseEvent(json.dumps(delta)))[0]
    assert chunk["choices"][0]["logprobs"] == {"content": [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105],
                                                            "top_logprobs": []}]}


def test_error_mid_stream_raises_after_the_chunks_before_it():
    parser = cohere.ADAPTER.stream_parser(chat_call(stream=True))
    start = {"id": "m1", "type": "message-start", "delta": {"message": {"role": "assistant"}}}
    assert parser.feed(SseEvent(json.dumps(start), "message-start"))
    end = {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "model overloaded"}}
    with pytest.raises(InternalServerError, match="model overloaded"):
        parser.feed(SseEvent(json.dumps(end), "message-end"))
    parser = cohere.ADAPTER.stream_parser(chat_call(stream=True))
    with pytest.raises(InternalServerError, match="internal server error"):
        parser.feed(SseEvent(fixture("error-500.json").decode()))


def test_a_stream_cut_before_message_end_is_a_connection_error():
    raw = fixture("chat.stream.sse")
    cut = raw[:raw.index(b"event: message-end")]
    with pytest.raises(APIConnectionError, match="message-end"):
        feed_all(chat_call(stream=True), cut)


# Errors


@pytest.mark.parametrize(("name", "status", "error"), [
    ("error-400-too-many-tokens.json", 400, ContextWindowExceededError),
    ("error-400-blocked.json", 400, ContentPolicyViolationError),
    ("error-400.json", 400, BadRequestError),
    ("error-401.json", 401, AuthenticationError),
    ("error-402.json", 402, BadRequestError),
    ("error-404.json", 404, NotFoundError),
    ("error-422.json", 422, UnprocessableEntityError),
    ("error-429.json", 429, RateLimitError),
    ("error-499.json", 499, APIStatusError),
    ("error-500.json", 500, InternalServerError),
    ("error-503.json", 503, ServiceUnavailableError),
])
def test_errors_map_to_the_right_class(name, status, error):
    raw = fixture(name)
    mapped = cohere.map_error(chat_call(), status, {"retry-after": "3"}, raw)
    assert type(mapped) is error
    assert mapped.status_code == status
    assert mapped.message == json.loads(raw)["message"]
    assert mapped.headers == {"retry-after": "3"}
    assert mapped.body == json.loads(raw)


def test_non_json_error_body():
    mapped = cohere.map_error(chat_call(), 502, {}, b"<html>Bad gateway</html>")
    assert isinstance(mapped, InternalServerError)
    assert mapped.message == "<html>Bad gateway</html>"


# End to end against the simulator


@pytest.fixture
def target(cohere_sim):
    return {"model": "cohere/command-a-03-2025", "api_base": cohere_sim.base_url, "api_key": "co-test"}


def test_completion_end_to_end(cohere_sim, target):
    response = sluicegate.completion(messages=MESSAGES, max_tokens=50, **target)
    assert response.choices[0].message.content == "Hello from the simulator. You said: Tell me about LLMs"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == 3 + 5 + 3 + 4
    assert response._hidden_params["response_cost"] > 0
    sent = cohere_sim.requests[-1]
    assert sent.path == "/v2/chat"
    assert sent.headers["authorization"] == "Bearer co-test"
    assert sent.json == {"model": "command-a-03-2025", "messages": MESSAGES, "max_tokens": 50}


def test_tools_end_to_end_stream_and_result_turn(cohere_sim, target):
    chunks = list(sluicegate.completion(messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER, TIME],
                                        stream=True, stream_options={"include_usage": True}, **target))
    built = sluicegate.stream_chunk_builder(chunks)
    message = built.choices[0].message
    assert built.choices[0].finish_reason == "tool_calls"
    assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("get_weather", {"location": "example"}), ("get_time", {})]
    assert built.usage.completion_tokens > 0
    follow_up = [{"role": "user", "content": "Weather?"}, message.model_dump(exclude_none=True),
                 *({"role": "tool", "tool_call_id": c.id, "content": f"result {i}"}
                   for i, c in enumerate(message.tool_calls))]
    answer = sluicegate.completion(messages=follow_up, tools=[WEATHER, TIME], **target)
    assert answer.choices[0].message.content == "Hello from the simulator. The tool said: result 0 | result 1"
    assert cohere_sim.requests[-1].json["messages"][1]["tool_plan"] == message.content


async def test_acompletion_stream_with_a_mid_stream_error(cohere_sim, target):
    cohere_sim.script_stream_error(after_events=4, message="generation failed")
    stream = await sluicegate.acompletion(messages=MESSAGES, stream=True, **target)
    seen = []

    async def read_all():
        async for chunk in stream:
            seen.append(chunk)

    with pytest.raises(InternalServerError, match="generation failed"):
        await read_all()
    assert "".join(c.choices[0].delta.content or "" for c in seen) == "Hello from"


def test_errors_end_to_end(cohere_sim, target):
    cohere_sim.script(429)
    with pytest.raises(RateLimitError):
        sluicegate.completion(messages=MESSAGES, num_retries=0, **target)
    with pytest.raises(AuthenticationError, match="invalid api token"):
        sluicegate.completion(messages=MESSAGES, **{**target, "api_key": "wrong"})
    cohere_sim.script(400, {"id": "e", "message": "too many tokens: size limit exceeded by 11326 tokens."})
    with pytest.raises(ContextWindowExceededError):
        sluicegate.completion(messages=MESSAGES, **target)


def test_reasoning_json_schema_and_documents_end_to_end(cohere_sim, target, monkeypatch):
    lookup._catalog()
    monkeypatch.setattr(lookup, "_current", lookup._current)  # the registration below must not leak
    lookup.register_model({"cohere/command-a-reasoning-08-2025": {"mode": "chat", "supports_reasoning": True,
                                                             "supports_function_calling": True,
                                                             "supports_tool_choice": True}})
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    response = sluicegate.completion(
        messages=MESSAGES, reasoning_effort="low", documents=[{"id": "d1", "data": {"text": "LLMs are big."}}],
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}},
        **{**target, "model": "cohere/command-a-reasoning-08-2025"})
    message = response.choices[0].message
    assert json.loads(message.content) == {"name": "example"}
    assert message.reasoning_content
    assert message.provider_specific_fields["citations"][0]["sources"][0]["id"] == "d1"
    assert cohere_sim.requests[-1].json["thinking"] == {"type": "enabled", "token_budget": 1024}


def test_embedding_end_to_end(cohere_sim):
    response = sluicegate.embedding(model="cohere/embed-english-v3.0", input=["a b", "c"], dimensions=8,
                                    api_base=cohere_sim.base_url, api_key="co-test")
    assert [len(d.embedding) for d in response.data] == [8, 8]
    assert response.usage.prompt_tokens == 3
    assert cohere_sim.requests[-1].path == "/v2/embed"
