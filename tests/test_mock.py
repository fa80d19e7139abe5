"""mock_response: deterministic answers with no network, for tests and demos."""

import asyncio

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
