"""OpenAI-shaped objects: attribute and dict-style reads, unknown fields kept through a round trip."""

import json

import pytest

from sluicegate.types import ChatCompletion, ChatCompletionChunk, EmbeddingResponse

ANSWER = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "annotations": []},
                       "finish_reason": "stop", "logprobs": None}],
          "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4,
                    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0}},
          "service_tier": "default", "a_field_from_tomorrow": {"x": 1}}


def test_attribute_and_dict_reads_agree():
    response = ChatCompletion.model_validate(ANSWER)
    assert response.choices[0].message.content == response["choices"][0]["message"]["content"] == "hi"
    assert response.get("system_fingerprint", "none") == "none"
    assert "usage" in response
    with pytest.raises(KeyError):
        response["no_such_field"]


def test_unknown_fields_survive_a_round_trip():
    response = ChatCompletion.model_validate(ANSWER)
    assert response.a_field_from_tomorrow == {"x": 1}
    dumped = json.loads(response.json())
    assert dumped["a_field_from_tomorrow"] == {"x": 1}
    assert dumped["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


def test_hidden_params_are_private_and_not_dumped():
    response = ChatCompletion.model_validate(ANSWER)
    response._hidden_params["response_cost"] = 0.5
    assert "_hidden_params" not in response.model_dump()
    assert ChatCompletion.model_validate(ANSWER)._hidden_params == {}  # never shared between instances


def test_chunks_and_embeddings_parse_their_own_shapes():
    chunk = ChatCompletionChunk.model_validate({"id": "c", "object": "chat.completion.chunk", "created": 1,
                                                "model": "m", "choices": [], "usage": None})
    assert chunk.choices == []
    vectors = EmbeddingResponse.model_validate({"object": "list", "model": "m",
                                                "data": [{"object": "embedding", "index": 0, "embedding": "AAAA"}]})
    assert vectors.data[0].embedding == "AAAA"  # base64 stays a string
