"""mock_response: deterministic answers with no network, for tests and demos."""

import asyncio
import json

import pytest

import sluicegate
from sluicegate.errors import BadRequestError, RateLimitError

MESSAGES = [{"role": "user", "content": "Hello there"}]


def test_mock_string_needs_no_key_and_counts_real_tokens():
    response = sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, mock_response="Hi! 👋")
    assert response.choices[0].message.content == "Hi! 👋"
    assert response.usage.prompt_tokens == sluicegate.token_counter(model="gpt-4o-mini", messages=MESSAGES)
    assert response.usage.completion_tokens == sluicegate.token_counter(model="gpt-4o-mini", text="Hi! 👋")
    assert response._hidden_params["response_cost"] > 0


def test_mock_stream_sync_and_async_rebuild_the_same_text():
    text = "The quick brown fox jumps."
    chunks = list(sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, mock_response=text,
                                        stream=True, stream_options={"include_usage": True}))
    assert len(chunks) > 3
    assert sluicegate.stream_chunk_builder(chunks).choices[0].message.content == text
    assert chunks[-1].usage.completion_tokens > 0

    async def collect():
        stream = await sluicegate.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES, mock_response=text,
                                              stream=True)
        return [c async for c in stream]

    assert sluicegate.stream_chunk_builder(asyncio.run(collect())).choices[0].message.content == text


def test_mock_exception_is_raised_with_provider_and_model_filled_in():
    with pytest.raises(RateLimitError) as caught:
        sluicegate.completion(model="groq/llama-3.3-70b-versatile", messages=MESSAGES,
                              mock_response=RateLimitError("mocked"))
    assert (caught.value.provider, caught.value.model) == ("groq", "llama-3.3-70b-versatile")


def test_mock_text_completion():
    response = sluicegate.text_completion(model="openai/gpt-3.5-turbo-instruct", prompt="Say", mock_response="ok")
    assert response.choices[0].text == "ok"


def test_mock_of_a_wrong_type_is_a_clear_error():
    with pytest.raises(BadRequestError, match="mock_response"):
        sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, mock_response=42)


def test_mock_provider_answers_without_key_or_network():
    response = sluicegate.completion(model="mock/anything", messages=MESSAGES)
    assert response.choices[0].message.content == "This is a mock answer from sluicegate. You said: Hello there"
    assert response._hidden_params["custom_llm_provider"] == "mock"
    text = sluicegate.text_completion(model="mock/x", prompt="Say hi")
    assert text.choices[0].text.endswith("You said: Say hi")


def test_mock_provider_embeddings_are_deterministic_unit_vectors():
    first = sluicegate.embedding(model="mock/embed", input=["a", "b"], dimensions=8)
    again = sluicegate.embedding(model="mock/embed", input="a", dimensions=8)
    assert [len(d.embedding) for d in first.data] == [8, 8]
    assert first.data[0].embedding == again.data[0].embedding != first.data[1].embedding
    assert abs(sum(v * v for v in first.data[0].embedding) - 1) < 1e-9


WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "required": ["city", "unit", "days", "exact", "where", "tags"],
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]},
                   "days": {"type": "integer"}, "exact": {"type": "boolean"}, "note": {"type": "string"},
                   "where": {"type": "object", "required": ["lat"], "properties": {"lat": {"type": "number"}}},
                   "tags": {"type": "array", "items": {"type": "string"}}}}}}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
WEATHER_ARGUMENTS = {"city": "example", "unit": "celsius", "days": 1, "exact": True, "where": {"lat": 1},
                     "tags": ["example"]}


def test_mock_provider_calls_the_first_tool_with_arguments_from_its_schema():
    response = sluicegate.completion(model="mock/demo", messages=MESSAGES, tools=[WEATHER, CLOCK])
    choice = response.choices[0]
    assert (choice.finish_reason, choice.message.content) == ("tool_calls", None)
    [call] = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER_ARGUMENTS
    again = sluicegate.completion(model="mock/demo", messages=MESSAGES, tools=[WEATHER, CLOCK])
    assert call.id.startswith("call_")
    assert again.choices[0].message.tool_calls[0].id == call.id


def test_mock_provider_calls_the_tool_that_tool_choice_names():
    response = sluicegate.completion(model="mock/demo", messages=MESSAGES, tools=[WEATHER, CLOCK],
                                     tool_choice={"type": "function", "function": {"name": "get_time"}})
    call = response.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_time", "{}")
    with pytest.raises(BadRequestError, match="tool_choice"):
        sluicegate.completion(model="mock/demo", messages=MESSAGES, tools=[WEATHER],
                              tool_choice={"type": "function", "function": {"name": "nope"}})


@pytest.mark.parametrize("kwargs", [
    {"tools": [WEATHER], "tool_choice": "none"},
    {"tools": [WEATHER], "messages": [*MESSAGES, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]},
])
def test_mock_provider_answers_in_text_when_told_not_to_call_or_after_a_tool_result(kwargs):
    response = sluicegate.completion(model="mock/demo", **{"messages": MESSAGES, **kwargs})
    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].message.content.startswith("This is a mock answer")
    assert response.choices[0].message.tool_calls is None


@pytest.mark.parametrize("tool", [WEATHER, CLOCK])
def test_mock_provider_streams_a_tool_call_as_openai_does(tool):
    expected = sluicegate.completion(model="mock/demo", messages=MESSAGES, tools=[tool]).choices[0].message
    chunks = list(sluicegate.completion(model="mock/demo", messages=MESSAGES, tools=[tool], stream=True))
    [head] = chunks[0].choices[0].delta.tool_calls
    assert (head.index, head.id, head.type) == (0, expected.tool_calls[0].id, "function")
    assert (head.function.name, head.function.arguments) == (tool["function"]["name"], "")
    fragments = [c.choices[0].delta.tool_calls[0].function.arguments for c in chunks[1:]
                 if c.choices and c.choices[0].delta.tool_calls]
    assert len(fragments) >= 2
    rebuilt = sluicegate.stream_chunk_builder(chunks).choices[0]
    assert rebuilt.finish_reason == "tool_calls"
    assert rebuilt.message.tool_calls == expected.tool_calls


def test_atext_completion_and_its_stream():
    async def run():
        whole = await sluicegate.atext_completion(model="mock/x", prompt="Say hi")
        stream = await sluicegate.atext_completion(model="mock/x", prompt="Say hi", stream=True)
        return whole, [chunk async for chunk in stream]

    whole, chunks = asyncio.run(run())
    assert whole.object == "text_completion"
    assert sluicegate.stream_chunk_builder(chunks).choices[0].text == whole.choices[0].text
