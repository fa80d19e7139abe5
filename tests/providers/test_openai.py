"""The OpenAI adapter: the exact request OpenAI would receive, and its responses, streams and errors parsed."""

import orjson
import pytest

from sluicegate.errors import (
    AuthenticationError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)
from sluicegate.params import ChatParams, EmbeddingParams, TextCompletionParams, build_params
from sluicegate.providers import openai
from sluicegate.providers.base import Call, Credentials, Endpoint, SseEvent
from sluicegate.providers.registry import endpoint

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


def chat_call(model="gpt-4o-mini", stream=False, provider="openai", row=None, creds=None, **params):
    return Call(kind="chat", provider=provider, model=model, endpoint=row or endpoint(provider),
                credentials=creds or Credentials(api_key="sk-test", api_base="https://api.openai.com/v1"),
                params=build_params(ChatParams, params), messages=MESSAGES, is_stream=stream)


def test_chat_request_is_the_identity_translation():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    call = chat_call(temperature=0.3, max_tokens=50, tools=tools, tool_choice="auto", seed=7, user="u1",
                     response_format={"type": "json_object"}, logprobs=True, top_logprobs=2, stop=["x"])
    request = openai.build_request(call)
    assert request.method == "POST"
    assert request.url == "https://api.openai.com/v1/chat/completions"
    assert request.headers == {"authorization": "Bearer sk-test"}
    assert request.json == {  # unset parameters (top_p, n, …) are never sent
        "model": "gpt-4o-mini", "messages": MESSAGES, "temperature": 0.3, "max_tokens": 50, "stop": ["x"],
        "seed": 7, "user": "u1", "tools": tools, "tool_choice": "auto",
        "response_format": {"type": "json_object"}, "logprobs": True, "top_logprobs": 2}


def test_organization_project_extra_headers_and_extra_body():
    creds = Credentials(api_key="sk-test", api_base="https://api.openai.com/v1", organization="org-1",
                        project="proj-1")
    call = chat_call(creds=creds, stream=True, stream_options={"include_usage": True}, top_k=3)
    call.extra_headers = {"x-trace": "t"}
    call.extra_body = {"metadata": {"k": "v"}}
    request = openai.build_request(call)
    assert request.headers == {"authorization": "Bearer sk-test", "openai-organization": "org-1",
                               "openai-project": "proj-1", "x-trace": "t", "accept": "text/event-stream"}
    assert request.json == {"model": "gpt-4o-mini", "messages": MESSAGES,
                            "stream_options": {"include_usage": True}, "top_k": 3, "stream": True,
                            "metadata": {"k": "v"}}


def test_reasoning_models_get_max_completion_tokens():
    request = openai.build_request(chat_call(model="o3-mini", max_tokens=100))
    assert request.json["max_completion_tokens"] == 100
    assert "max_tokens" not in request.json


def test_endpoint_row_renames_and_defaults_apply():
    row = Endpoint(provider="acme", base_url="https://acme.example/v1", renamed_params={"seed": "random_seed"},
                   default_params={"safe_mode": False})
    call = chat_call(provider="acme", row=row, seed=1,
                     creds=Credentials(api_key="k", api_base="https://acme.example/v1"))
    assert openai.build_request(call).json == {"model": "gpt-4o-mini", "messages": MESSAGES, "safe_mode": False,
                                               "random_seed": 1}


def test_embedding_and_text_completion_requests():
    creds = Credentials(api_key="sk-test", api_base="https://api.openai.com/v1/")
    call = Call(kind="embedding", provider="openai", model="text-embedding-3-small", endpoint=endpoint("openai"),
                credentials=creds, params=build_params(EmbeddingParams, {"input": ["a", "b"], "dimensions": 8}))
    request = openai.build_request(call)
    assert request.url == "https://api.openai.com/v1/embeddings"
    assert request.json == {"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 8}
    call = Call(kind="text_completion", provider="openai", model="gpt-3.5-turbo-instruct",
                endpoint=endpoint("openai"), credentials=creds,
                params=build_params(TextCompletionParams, {"prompt": "Say", "max_tokens": 5}))
    request = openai.build_request(call)
    assert request.url == "https://api.openai.com/v1/completions"
    assert request.json == {"model": "gpt-3.5-turbo-instruct", "prompt": "Say", "max_tokens": 5}


def test_supported_params_subtract_the_rows_unsupported_ones():
    row = Endpoint(provider="acme", base_url="https://acme.example/v1", unsupported_params=frozenset({"n"}))
    supported = openai.supported_params(chat_call(provider="acme", row=row))
    assert "n" not in supported
    assert "temperature" in supported


def _error(status, code=None, message="m", type_="invalid_request_error"):
    body = orjson.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}})
    return openai.map_error(chat_call(), status, {"x-request-id": "r"}, body)


@pytest.mark.parametrize(("status", "code", "cls"), [
    (400, "context_length_exceeded", ContextWindowExceededError),
    (400, "content_policy_violation", ContentPolicyViolationError),
    (400, "content_filter", ContentPolicyViolationError),
    (401, "invalid_api_key", AuthenticationError),
    (404, "model_not_found", NotFoundError),
    (429, "rate_limit_exceeded", RateLimitError),
    (500, None, InternalServerError),
])
def test_errors_map_to_the_right_class(status, code, cls):
    error = _error(status, code)
    assert type(error) is cls
    assert (error.status_code, error.code, error.provider, error.model) == (status, code, "openai",
                                                                             "gpt-4o-mini")


def test_error_bodies_that_are_not_json_still_map():
    error = openai.map_error(chat_call(), 502, {}, b"<html>Bad gateway</html>")
    assert isinstance(error, InternalServerError)
    assert "Bad gateway" in error.message


def test_parse_response_rejects_a_non_answer():
    with pytest.raises(Exception, match="not a valid chat answer"):
        openai.parse_response(chat_call(), 200, {}, b'{"hello": 1}')


def test_stream_parser_yields_chunks_until_done_and_raises_error_events():
    parser = openai.OpenAIStream(chat_call(stream=True))
    chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "x"}}]}
    assert parser.feed(SseEvent(data=orjson.dumps(chunk).decode())) == [chunk]
    assert parser.feed(SseEvent(data="[DONE]")) == []
    assert parser.is_done
    parser = openai.OpenAIStream(chat_call(stream=True))
    with pytest.raises(RateLimitError):
        parser.feed(SseEvent(data='{"error": {"message": "slow", "type": "rate_limit_error"}}'))


def test_fireworks_model_ids_get_their_account_prefix_once():
    creds = Credentials(api_key="k", api_base="https://api.fireworks.ai/inference/v1")
    row = endpoint("fireworks_ai")
    short = openai.build_request(chat_call(model="llama-v3p1-8b-instruct", provider="fireworks_ai", row=row,
                                           creds=creds))
    assert short.json["model"] == "accounts/fireworks/models/llama-v3p1-8b-instruct"
    full = openai.build_request(chat_call(model="accounts/acme/models/mine", provider="fireworks_ai", row=row,
                                          creds=creds))
    assert full.json["model"] == "accounts/acme/models/mine"


def test_tool_parameters_are_unsupported_for_a_model_the_catalog_says_cannot_call_tools():
    creds = Credentials(api_key="k", api_base="https://api.together.xyz/v1")
    row = endpoint("together_ai")
    assert "tools" not in row.unsupported_params  # the provider takes tools; this model does not
    call = chat_call(model="deepseek-ai/DeepSeek-R1-0528", provider="together_ai", row=row, creds=creds)
    assert "tools" not in openai.supported_params(call)
    assert "tools" in openai.supported_params(chat_call(model="gpt-4o-mini"))
    assert "tools" in openai.supported_params(chat_call(model="a-model-the-catalog-does-not-know"))
