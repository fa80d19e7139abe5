"""The Gemini adapter: the exact body Gemini receives for each feature, and its answers, streams and errors parsed;
then end to end through sluicegate.completion / acompletion / embedding against the Gemini simulator."""

import base64
import json
import struct
from pathlib import Path

import orjson
import pytest

import sluicegate
from sluicegate.errors import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UnsupportedParamsError,
)
from sluicegate.params import ChatParams, EmbeddingParams, build_params
from sluicegate.providers import gemini
from sluicegate.providers.base import Call, Credentials, SseEvent
from sluicegate.providers.registry import endpoint
from sluicegate.transport.sse import SseDecoder

FIXTURES = Path(__file__).parents[1] / "fixtures" / "gemini"
BASE = "https://generativelanguage.googleapis.com/v1beta"
HI = [{"role": "user", "content": "Hi"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
WEATHER_DECL = {"name": "get_weather", "parameters": {"type": "OBJECT", "properties": {"location": {"type": "STRING"}},
                                                      "required": ["location"]}}


def chat_call(messages=HI, stream=False, model="gemini-2.5-flash", **params):
    return Call(kind="chat", provider="gemini", model=model, endpoint=endpoint("gemini"),
                credentials=Credentials(api_key="gm-key", api_base=BASE),
                params=build_params(ChatParams, params), messages=messages, is_stream=stream)


def body(messages=HI, **params):
    return gemini.build_request(chat_call(messages, **params)).json


def fixture(name):
    return (FIXTURES / name).read_bytes()


def parse(name, call=None):
    return gemini.parse_response(call or chat_call(), 200, {}, fixture(name))


def stream(name, call=None):
    parser = gemini.GeminiStream(call or chat_call(stream=True))
    decoder = SseDecoder()
    chunks = []
    for event in decoder.feed(fixture(name)) + decoder.flush():
        chunks += parser.feed(event)
    return chunks + parser.finish()


# ---- requests


def test_url_headers_and_minimal_body():
    request = gemini.build_request(chat_call())
    assert request.method == "POST"
    assert request.url == f"{BASE}/models/gemini-2.5-flash:generateContent"
    assert request.headers == {"x-goog-api-key": "gm-key"}  # the key never goes in the URL
    assert request.json == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    streamed = gemini.build_request(chat_call(stream=True))
    assert streamed.url == f"{BASE}/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert streamed.headers == {"x-goog-api-key": "gm-key", "accept": "text/event-stream"}


def test_full_conversation_translates_to_the_exact_gemini_body():
    given = json.loads(fixture("conversation.openai.json"))
    model, messages = given.pop("model"), given.pop("messages")
    assert gemini.build_request(chat_call(messages, model=model, **given)).json == json.loads(
        fixture("conversation.request.json"))


def test_system_and_developer_become_system_instruction_and_roles_merge():
    messages = [{"role": "user", "content": "a"}, {"role": "system", "content": "s"},
                {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"},
                {"role": "assistant", "content": [{"type": "text", "text": "d"}]}]
    assert body(messages) == {
        "contents": [{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
                     {"role": "model", "parts": [{"text": "c"}, {"text": "d"}]}],
        "systemInstruction": {"parts": [{"text": "s"}]}}


def test_only_a_system_prompt_is_an_error():
    with pytest.raises(BadRequestError, match="at least one user"):
        body([{"role": "system", "content": "s"}])


@pytest.mark.parametrize(("choice", "config"), [
    ("auto", {"mode": "AUTO"}), ("none", {"mode": "NONE"}), ("required", {"mode": "ANY"}),
    ({"type": "function", "function": {"name": "get_weather"}},
     {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
])
def test_tool_choice(choice, config):
    assert body(tools=[WEATHER], tool_choice=choice) == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "tools": [{"functionDeclarations": [WEATHER_DECL]}],
        "toolConfig": {"functionCallingConfig": config}}


def test_legacy_functions_and_native_tools():
    sent = body(functions=[WEATHER["function"]], function_call={"name": "get_weather"},
                tools=[{"googleSearch": {}}])
    assert sent["tools"] == [{"functionDeclarations": [WEATHER_DECL]}, {"googleSearch": {}}]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}


def test_unknown_tool_type_and_part_type_are_errors():
    with pytest.raises(BadRequestError, match="tools\\[0\\] has type 'web_search'"):
        body(tools=[{"type": "web_search"}])
    with pytest.raises(BadRequestError, match="'video_url' content part"):
        body([{"role": "user", "content": [{"type": "video_url", "video_url": "x"}]}])
    with pytest.raises(BadRequestError, match="input_audio"):
        body([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "m4a"}}]}])


def test_tool_result_for_an_unknown_call_is_an_error():
    with pytest.raises(BadRequestError, match="needs the function's name"):
        body([{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nope", "content": "r"}])


def test_schema_conversion_inlines_refs_and_drops_what_gemini_rejects():
    schema = {"type": "object", "additionalProperties": False, "title": "Q", "properties": {
        "tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}, "maxItems": 3},
        "when": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
        "kind": {"const": "a"}, "n": {"type": "integer", "enum": [1, 2], "minimum": 0},
        "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "extra": {"allOf": [{"$ref": "#/definitions/Tag"}], "description": "more"}},
        "definitions": {"Tag": {"type": "object", "properties": {"name": {"type": "string"}}}}}
    tag = {"type": "OBJECT", "properties": {"name": {"type": "STRING"}}}
    assert gemini.build_body(chat_call(response_format={"type": "json_schema", "json_schema": {
        "name": "q", "schema": schema, "strict": True}}))["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {"type": "OBJECT", "title": "Q", "properties": {
            "tags": {"type": "ARRAY", "items": tag, "maxItems": 3},
            "when": {"nullable": True, "type": "STRING", "format": "date-time"},
            "kind": {"enum": ["a"]}, "n": {"type": "INTEGER", "minimum": 0, "description": "One of: 1, 2."},
            "either": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
            "extra": {**tag, "description": "more"}}}}


def test_unresolvable_ref_is_an_error():
    with pytest.raises(BadRequestError, match="cannot resolve"):
        body(tools=[{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"a": {"$ref": "https://x/y.json"}}}}}])


def test_response_format_json_object_and_text():
    assert body(response_format={"type": "json_object"})["generationConfig"] == {
        "responseMimeType": "application/json"}
    assert "generationConfig" not in body(response_format={"type": "text"})


@pytest.mark.parametrize(("effort", "config"), [
    ("none", {"thinkingBudget": 0}), ("minimal", {"thinkingBudget": 512, "includeThoughts": True}),
    ("low", {"thinkingBudget": 1024, "includeThoughts": True}),
    ("high", {"thinkingBudget": 24576, "includeThoughts": True}),
])
def test_reasoning_effort_maps_to_a_thinking_budget(effort, config):
    assert body(reasoning_effort=effort)["generationConfig"] == {"thinkingConfig": config}


def test_thinking_param_with_budget_tokens():
    assert body(thinking={"type": "enabled", "budget_tokens": 2000})["generationConfig"] == {
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 2000}}
    assert body(thinking={"type": "disabled"})["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 0}}


def test_provider_params_and_extra_body():
    call = chat_call(max_completion_tokens=9, response_modalities=["TEXT"], cached_content="cachedContents/abc")
    call.extra_body = {"labels": {"team": "a"}}
    assert gemini.build_body(call) == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}], "cachedContent": "cachedContents/abc",
        "generationConfig": {"maxOutputTokens": 9, "responseModalities": ["TEXT"]}, "labels": {"team": "a"}}


def test_unsupported_params_are_declared():
    supported = gemini.supported_params(chat_call())
    for name in ("user", "logit_bias", "modalities", "audio", "prediction", "service_tier", "web_search_options"):
        assert name not in supported
    assert {"tools", "tool_choice", "parallel_tool_calls", "n", "seed", "logprobs", "reasoning_effort"} <= supported
    assert "parallel_tool_calls" not in gemini.supported_params(chat_call(parallel_tool_calls=False))
    with pytest.raises(UnsupportedParamsError, match="logit_bias"):
        sluicegate.completion(model="gemini/gemini-2.5-flash", messages=HI, api_key="k", logit_bias={"1": 1})


def test_tuned_model_and_model_path_are_quoted():
    assert gemini.model_path("tunedModels/my-model") == "tunedModels/my-model"
    assert gemini.model_path("gemini-2.5-flash") == "models/gemini-2.5-flash"


# ---- responses


def test_text_response():
    result = parse("text.response.json")
    assert result["created"] > 0
    assert result == {
        "id": "chatcmpl-lGJLaOmSNq2VmecP1L6vqQ4", "object": "chat.completion", "created": result["created"],
        "model": "gemini-2.0-flash",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 9, "total_tokens": 17,
                  "prompt_tokens_details": {"cached_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0}}}


def test_parallel_tool_calls_get_ids_and_keep_the_signature():
    result = parse("tool-calls.response.json")
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    first, second = choice["message"]["tool_calls"]
    generated, _, signature = first["id"].partition("__thought__")
    assert gemini.contents.GENERATED_ID.match(generated)
    assert signature == "CtwBAVSoXO5nB6oRa1xqc0yWWbnhpPp7+Tn06fJwb0Qw"
    assert first == {"id": first["id"], "type": "function",
                     "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'},
                     "provider_specific_fields": {"thought_signature": signature}}
    assert gemini.contents.GENERATED_ID.match(second["id"])
    assert second["id"] != generated
    assert second["function"] == {"name": "get_time", "arguments": '{"timezone":"Europe/Paris"}'}
    assert result["usage"]["completion_tokens"] == 31 + 78
    assert result["usage"]["completion_tokens_details"] == {"reasoning_tokens": 78}


def test_signature_round_trips_into_the_next_request():
    message = parse("tool-calls.response.json")["choices"][0]["message"]
    calls = message["tool_calls"]
    messages = [{"role": "user", "content": "x"}, message,
                {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny"},
                {"role": "tool", "tool_call_id": calls[1]["id"], "content": "14:05"}]
    sent = body(messages)["contents"]
    assert sent[1] == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}},
         "thoughtSignature": "CtwBAVSoXO5nB6oRa1xqc0yWWbnhpPp7+Tn06fJwb0Qw"},
        {"functionCall": {"name": "get_time", "args": {"timezone": "Europe/Paris"}}}]}
    assert sent[2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}},
        {"functionResponse": {"name": "get_time", "response": {"output": "14:05"}}}]}


def test_thinking_response_reasoning_content_and_cached_tokens():
    result = parse("thinking.response.json")
    message = result["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "2 + 2 = 4.",
                       "reasoning_content": "**Adding the numbers**\n\n2 plus 2 is 4.",
                       "provider_specific_fields": {"thought_signature": "EpYBCpMBAdHtim9wFvWhsp3o2Dtj"}}
    assert result["usage"] == {"prompt_tokens": 10, "completion_tokens": 50, "total_tokens": 60,
                               "prompt_tokens_details": {"cached_tokens": 4},
                               "completion_tokens_details": {"reasoning_tokens": 43},
                               "cache_read_input_tokens": 4}
    # the text part's signature goes back on the text part
    assert body([{"role": "user", "content": "x"}, message])["contents"][1] == {
        "role": "model", "parts": [{"text": "2 + 2 = 4.", "thoughtSignature": "EpYBCpMBAdHtim9wFvWhsp3o2Dtj"}]}


def test_safety_finish_is_content_filter_and_blocked_prompt_raises():
    choice = parse("safety.response.json")["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["message"] == {"role": "assistant", "content": None,
                                 "provider_specific_fields": {"finish_reason": "SAFETY"}}
    with pytest.raises(ContentPolicyViolationError, match="PROHIBITED_CONTENT"):
        parse("blocked-prompt.response.json")


@pytest.mark.parametrize(("reason", "calls", "expected"), [
    ("STOP", False, "stop"), ("STOP", True, "tool_calls"), ("MAX_TOKENS", False, "length"),
    ("RECITATION", False, "content_filter"), ("BLOCKLIST", False, "content_filter"),
    ("PROHIBITED_CONTENT", False, "content_filter"), ("SPII", False, "content_filter"),
    ("IMAGE_SAFETY", False, "content_filter"), ("MALFORMED_FUNCTION_CALL", False, "stop"), (None, False, None),
])
def test_finish_reasons(reason, calls, expected):
    assert gemini.response.finish_reason(reason, calls) == expected


def test_logprobs():
    assert parse("logprobs.response.json")["choices"][0]["logprobs"] == {"content": [
        {"token": "Hi", "logprob": -0.01, "bytes": [72, 105], "top_logprobs": [
            {"token": "Hi", "logprob": -0.01, "bytes": [72, 105]},
            {"token": "Hello", "logprob": -4.7, "bytes": [72, 101, 108, 108, 111]}]},
        {"token": " there", "logprob": -0.03, "bytes": list(b" there"), "top_logprobs": [
            {"token": " there", "logprob": -0.03, "bytes": list(b" there")},
            {"token": "!", "logprob": -3.6, "bytes": [33]}]}]}


# ---- streams


def test_text_stream():
    chunks = stream("text.stream.sse", chat_call(stream=True, stream_options={"include_usage": True}))
    assert {c["id"] for c in chunks} == {"chatcmpl-mGJLaI2xOYOgmecPzLjzqQ4"}
    assert [c["choices"] for c in chunks] == [
        [{"index": 0, "delta": {"role": "assistant", "content": "Hello"}, "finish_reason": None}],
        [{"index": 0, "delta": {"content": "! How can I help you today?"}, "finish_reason": None}],
        [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        []]
    assert chunks[-1]["usage"]["total_tokens"] == 17


def test_stream_without_include_usage_sends_no_usage_chunk():
    assert all(c["choices"] for c in stream("text.stream.sse"))


def test_tool_call_stream():
    chunks = stream("tool-calls.stream.sse")
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": "",
                         "reasoning_content": "**Looking up the weather**\n\nThe user wants the weather in Paris."}
    head0, args0, head1, args1 = (d["tool_calls"][0] for d in deltas[1:5])
    assert head0["index"] == 0
    assert head0["function"] == {"name": "get_weather", "arguments": ""}
    assert head0["id"].endswith("__thought__CtwBAVSoXO5nB6oRa1xqc0yWWbnhpPp7+Tn06fJwb0Qw")
    assert args0 == {"index": 0, "function": {"arguments": '{"location":"Paris"}'}}
    assert head1["index"] == 1
    assert head1["type"] == "function"
    assert head1["function"]["name"] == "get_time"
    assert args1 == {"index": 1, "function": {"arguments": '{"timezone":"Europe/Paris"}'}}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    built = sluicegate.stream_chunk_builder([sluicegate.types.chunks.ChatCompletionChunk.model_validate(c)
                                             for c in chunks])
    assert [c.function.name for c in built.choices[0].message.tool_calls] == ["get_weather", "get_time"]


def test_stream_error_event_raises_after_the_chunks_before_it():
    parser = gemini.GeminiStream(chat_call(stream=True))
    events = SseDecoder().feed(fixture("error-stream.sse"))
    assert parser.feed(events[0])[0]["choices"][0]["delta"]["content"] == "Once upon"
    with pytest.raises(ServiceUnavailableError, match="overloaded"):
        parser.feed(events[1])


def test_blocked_prompt_in_a_stream_raises():
    parser = gemini.GeminiStream(chat_call(stream=True))
    with pytest.raises(ContentPolicyViolationError):
        parser.feed(SseEvent(data=fixture("blocked-prompt.response.json").decode()))


# ---- errors


@pytest.mark.parametrize(("name", "status", "cls"), [
    ("error-400-api-key.json", 400, AuthenticationError),
    ("error-400-token-limit.json", 400, ContextWindowExceededError),
    ("error-400-schema.json", 400, BadRequestError),
    ("error-403.json", 403, PermissionDeniedError), ("error-404.json", 404, NotFoundError),
    ("error-429.json", 429, RateLimitError), ("error-500.json", 500, InternalServerError),
    ("error-503.json", 503, ServiceUnavailableError), ("error-504.json", 504, InternalServerError),
])
def test_error_bodies_map_to_exceptions(name, status, cls):
    error = gemini.map_error(chat_call(), status, {"x-request": "r"}, fixture(name))
    assert type(error) is cls
    assert error.message == orjson.loads(fixture(name))["error"]["message"]
    assert error.code == orjson.loads(fixture(name))["error"]["status"]


def test_rate_limit_retry_delay_becomes_retry_after():
    error = gemini.map_error(chat_call(), 429, {}, fixture("error-429.json"))
    assert error.headers["retry-after"] == "27"
    kept = gemini.map_error(chat_call(), 429, {"retry-after": "3"}, fixture("error-429.json"))
    assert kept.headers["retry-after"] == "3"


def test_non_json_error_body():
    error = gemini.map_error(chat_call(), 502, {}, b"<html>Bad Gateway</html>")
    assert isinstance(error, InternalServerError)
    assert "Bad Gateway" in error.message


# ---- embeddings


def embedding_call(**params):
    return Call(kind="embedding", provider="gemini", model="text-embedding-004", endpoint=endpoint("gemini"),
                credentials=Credentials(api_key="gm-key", api_base=BASE), params=build_params(EmbeddingParams, params))


def test_embedding_request_and_response():
    call = embedding_call(input=["a b", "c"], dimensions=4, task_type="RETRIEVAL_DOCUMENT")
    request = gemini.build_request(call)
    assert request.url == f"{BASE}/models/text-embedding-004:batchEmbedContents"
    assert request.json == {"requests": [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a b"}]}, "outputDimensionality": 4,
         "taskType": "RETRIEVAL_DOCUMENT"},
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "c"}]}, "outputDimensionality": 4,
         "taskType": "RETRIEVAL_DOCUMENT"}]}
    result = gemini.parse_response(call, 200, {}, fixture("embeddings.response.json"))
    assert result["data"][1] == {"object": "embedding", "index": 1,
                                 "embedding": [-0.0089234, 0.0453425, -0.0125823, 0.0221322]}
    assert result["usage"] == {"prompt_tokens": 3, "total_tokens": 3}  # estimated: Gemini reports none


def test_embedding_base64_and_token_input():
    call = embedding_call(input="x", encoding_format="base64")
    vector = gemini.parse_response(call, 200, {}, b'{"embeddings": [{"values": [0.5, -1.0]}]}')["data"][0]["embedding"]
    assert struct.unpack("<2f", base64.b64decode(vector)) == (0.5, -1.0)
    with pytest.raises(BadRequestError, match="token ids"):
        gemini.build_request(embedding_call(input=[1, 2, 3]))


# ---- end to end against the simulator


def target(sim):
    return {"model": "gemini/gemini-2.5-flash", "api_base": sim.base_url, "api_key": "gm-test"}


def test_completion_end_to_end(gemini_sim):
    response = sluicegate.completion(messages=[{"role": "system", "content": "Be brief"}, *HI], **target(gemini_sim))
    assert response.choices[0].message.content == "Hello from the simulator. You said: Hi"
    assert response.usage.prompt_tokens == 4 + 2
    assert response.usage.completion_tokens == 7
    assert response._hidden_params["response_cost"] > 0
    sent = gemini_sim.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == "gm-test"
    assert "key" not in sent.query


def test_tool_loop_with_thinking_end_to_end(gemini_sim):
    options = {**target(gemini_sim), "tools": [WEATHER], "reasoning_effort": "low"}
    first = sluicegate.completion(messages=HI, **options)
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.reasoning_content.startswith("Thinking about:")
    call = message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"location": "example"}
    # sending back only the id (as an OpenAI-SDK client would) still carries the signature
    echoed = {"role": "assistant", "content": None, "tool_calls": [
        {"id": call.id, "type": "function", "function": {"name": call.function.name,
                                                         "arguments": call.function.arguments}}]}
    second = sluicegate.completion(messages=[*HI, echoed, {"role": "tool", "tool_call_id": call.id,
                                                           "content": "sunny"}], **options)
    assert second.choices[0].message.content == "Hello from the simulator. The tool said: sunny"


def test_stream_with_tools_end_to_end(gemini_sim):
    tools = [WEATHER, {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}]
    chunks = list(sluicegate.completion(messages=HI, stream=True, tools=tools,
                                        stream_options={"include_usage": True}, **target(gemini_sim)))
    built = sluicegate.stream_chunk_builder(chunks)
    assert [c.function.name for c in built.choices[0].message.tool_calls] == ["get_weather", "get_time"]
    assert built.choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage.total_tokens > 0
    assert gemini_sim.requests[-1].query == {"alt": "sse"}


async def test_acompletion_stream_and_json_schema_end_to_end(gemini_sim):
    text = ""
    async for chunk in await sluicegate.acompletion(messages=HI, stream=True, **target(gemini_sim)):
        text += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert text == "Hello from the simulator. You said: Hi"
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    response = await sluicegate.acompletion(messages=HI, response_format={
        "type": "json_schema", "json_schema": {"name": "c", "schema": schema, "strict": True}}, **target(gemini_sim))
    assert json.loads(response.choices[0].message.content) == {"city": "example"}


def test_errors_end_to_end(gemini_sim):
    with pytest.raises(AuthenticationError):
        sluicegate.completion(messages=HI, **{**target(gemini_sim), "api_key": "wrong"})
    gemini_sim.script(429)
    with pytest.raises(RateLimitError) as caught:
        sluicegate.completion(messages=HI, num_retries=0, **target(gemini_sim))
    assert caught.value.provider == "gemini"
    gemini_sim.script_stream_error(after_events=2, status=503)
    with pytest.raises(ServiceUnavailableError):
        list(sluicegate.completion(messages=HI, stream=True, **target(gemini_sim)))


def test_embedding_end_to_end(gemini_sim):
    response = sluicegate.embedding(model="gemini/text-embedding-004", input=["one", "two words"], dimensions=8,
                                    api_base=gemini_sim.base_url, api_key="gm-test")
    assert [len(item.embedding) for item in response.data] == [8, 8]
    assert response.usage.prompt_tokens == 3
    assert gemini_sim.requests[-1].path == "/v1beta/models/text-embedding-004:batchEmbedContents"


@pytest.mark.parametrize(("url", "kept"), [
    ("https://generativelanguage.googleapis.com/v1beta/files/abc-123", True),
    ("https://www.youtube.com/watch?v=9hE5-98ZeCg", True),
    ("https://youtu.be/9hE5-98ZeCg", True),
    ("https://example.com/cat.png", False),
    ("https://generativelanguage.googleapis.com.evil.example/files/x", False),
    ("http://generativelanguage.googleapis.com/v1beta/files/abc", False),
])
def test_only_geminis_own_file_urls_skip_the_download(url, kept):
    assert gemini.ADAPTER.keeps_url is not None
    assert gemini.ADAPTER.keeps_url(url) is kept
