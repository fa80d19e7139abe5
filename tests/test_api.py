"""The SDK's calls end to end: sluicegate → real HTTP → the OpenAI/Azure simulator, and back."""

import asyncio
import gzip
import json

import pytest

import sluicegate
from sluicegate.catalog import lookup
from sluicegate.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    Timeout,
    UnsupportedParamsError,
)
from sluicegate.types import ChatCompletion, ChatCompletionChunk
from tests.simulators.openai import AZURE_CONTENT_FILTER_ERROR, CONTEXT_LENGTH_ERROR

MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                      "parameters": {"type": "object", "required": ["city"],
                                                     "properties": {"city": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "required": ["tz"], "properties": {"tz": {"type": "string"}}}}},
]


@pytest.fixture(autouse=True)
def _fast_retries():
    sluicegate.settings.defaults.retry_initial_delay_s = 0.001
    sluicegate.settings.defaults.retry_max_delay_s = 0.01


def openai_kwargs(sim, **extra):
    return {"api_base": sim.base_url, "api_key": "sk-test", **extra}


def test_completion_returns_an_openai_shaped_response_with_cost(openai_sim):
    response = sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, temperature=0.1,
                                     **openai_kwargs(openai_sim))
    assert isinstance(response, ChatCompletion)
    content = response.choices[0].message.content
    assert content == "Hello from the simulator. You said: What is the weather in Paris?"
    assert response["choices"][0]["message"]["content"] == content
    assert response.model_dump()["choices"][0]["finish_reason"] == "stop"
    usage = response.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    # cost = usage × catalog price for gpt-4o-mini
    info = sluicegate.get_model_info("openai/gpt-4o-mini")
    expected = usage.prompt_tokens * info["input_cost_per_token"] + (
        usage.completion_tokens * info["output_cost_per_token"])
    assert response._hidden_params["response_cost"] == pytest.approx(expected, rel=1e-12)
    assert response._hidden_params["custom_llm_provider"] == "openai"
    assert sluicegate.completion_cost(response) == pytest.approx(expected, rel=1e-12)
    sent = openai_sim.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json == {"model": "gpt-4o-mini", "messages": MESSAGES, "temperature": 0.1}


def test_bare_model_name_resolves_through_the_catalog(openai_sim):
    response = sluicegate.completion(model="gpt-4o-mini", messages=MESSAGES, **openai_kwargs(openai_sim))
    assert response._hidden_params["custom_llm_provider"] == "openai"
    assert openai_sim.requests[-1].json["model"] == "gpt-4o-mini"


def test_unknown_bare_model_without_a_base_is_a_clear_error():
    with pytest.raises(BadRequestError, match="prefix it with the provider"):
        sluicegate.completion(model="no-such-model-xyz", messages=MESSAGES)


def test_missing_key_names_the_environment_variable():
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY is not set"):
        sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES)


def test_key_and_base_from_the_environment(openai_sim, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_sim.base_url)
    monkeypatch.setenv("OPENAI_ORGANIZATION", "org-9")
    sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES)
    assert openai_sim.requests[-1].headers["openai-organization"] == "org-9"


def test_compatible_provider_row_sends_to_its_base_with_its_key(openai_sim, monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "sk-test")
    response = sluicegate.completion(model="groq/llama-3.3-70b-versatile", messages=MESSAGES,
                                     api_base=openai_sim.base_url)
    assert response._hidden_params["custom_llm_provider"] == "groq"
    assert openai_sim.requests[-1].json["model"] == "llama-3.3-70b-versatile"


def test_generic_openai_prefix_with_api_base_reaches_any_compatible_server(openai_sim):
    sluicegate.completion(model="openai/my-local-model", messages=MESSAGES, **openai_kwargs(openai_sim))
    assert openai_sim.requests[-1].json["model"] == "my-local-model"


def test_unsupported_param_errors_by_default_and_is_dropped_on_request(openai_sim, monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "sk-test")
    with pytest.raises(UnsupportedParamsError, match="logit_bias"):
        sluicegate.completion(model="groq/llama-3.3-70b-versatile", messages=MESSAGES,
                              api_base=openai_sim.base_url, logit_bias={"1": 1})
    assert openai_sim.requests == []  # never sent
    sluicegate.completion(model="groq/llama-3.3-70b-versatile", messages=MESSAGES,
                          api_base=openai_sim.base_url, logit_bias={"1": 1}, drop_params=True)
    assert "logit_bias" not in openai_sim.requests[-1].json
    sluicegate.drop_params = True  # the LiteLLM-style global
    assert sluicegate.settings.defaults.drop_params is True
    sluicegate.completion(model="groq/llama-3.3-70b-versatile", messages=MESSAGES,
                          api_base=openai_sim.base_url, logit_bias={"1": 1})
    assert "logit_bias" not in openai_sim.requests[-1].json


def test_tools_and_parallel_tool_calls(openai_sim):
    response = sluicegate.completion(model="openai/gpt-4o", messages=MESSAGES, tools=TOOLS,
                                     **openai_kwargs(openai_sim))
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "example"}
    assert openai_sim.requests[-1].json["tools"] == TOOLS


def test_json_schema_response_format(openai_sim):
    schema = {"type": "json_schema", "json_schema": {"name": "w", "schema": {
        "type": "object", "required": ["temp"], "properties": {"temp": {"type": "number"}}}}}
    response = sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, response_format=schema,
                                     **openai_kwargs(openai_sim))
    assert json.loads(response.choices[0].message.content) == {"temp": 1}
    assert openai_sim.requests[-1].json["response_format"] == schema


def test_stream_sync_yields_chunks_and_rebuilds_the_full_answer(openai_sim):
    stream = sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True,
                                   stream_options={"include_usage": True}, **openai_kwargs(openai_sim))
    chunks = list(stream)
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the simulator. You said: What is the weather in Paris?"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens > 0
    assert chunks[-1]._hidden_params["response_cost"] > 0
    rebuilt = sluicegate.stream_chunk_builder(chunks, messages=MESSAGES)
    assert rebuilt.choices[0].message.content == text
    assert rebuilt.usage.total_tokens == chunks[-1].usage.total_tokens
    assert openai_sim.requests[-1].json["stream"] is True


async def test_stream_async_reassembles_tool_call_arguments(openai_sim):
    stream = await sluicegate.acompletion(model="openai/gpt-4o", messages=MESSAGES, tools=TOOLS, stream=True,
                                          **openai_kwargs(openai_sim))
    chunks = [chunk async for chunk in stream]
    argument_deltas = [c for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert len(argument_deltas) >= 4  # names first, then arguments in fragments
    rebuilt = sluicegate.stream_chunk_builder(chunks)
    calls = rebuilt.choices[0].message.tool_calls
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "example"}, {"tz": "example"}]
    assert all(c.id.startswith("call_") for c in calls)
    assert rebuilt.choices[0].finish_reason == "tool_calls"


async def test_acompletion_and_concurrency_share_one_pool(openai_sim):
    responses = await asyncio.gather(*[
        sluicegate.acompletion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": str(i)}],
                               **openai_kwargs(openai_sim)) for i in range(20)])
    assert sorted(r.choices[0].message.content[-2:].strip() for r in responses) == sorted(
        str(i) for i in range(20))


@pytest.mark.parametrize(("status", "body", "cls"), [
    (400, CONTEXT_LENGTH_ERROR, ContextWindowExceededError),
    (400, AZURE_CONTENT_FILTER_ERROR, ContentPolicyViolationError),
    (401, None, AuthenticationError),
    (404, None, NotFoundError),
])
def test_provider_errors_raise_the_matching_exception_without_retrying(openai_sim, status, body, cls):
    openai_sim.script(status, body)
    with pytest.raises(cls) as caught:
        sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_kwargs(openai_sim))
    assert caught.value.status_code == status
    assert caught.value.provider == "openai"
    assert len(openai_sim.requests) == 1


def test_retries_429_and_5xx_then_succeeds(openai_sim):
    openai_sim.script(429, headers={"retry-after": "0"})
    openai_sim.script(503)
    response = sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, num_retries=2,
                                     **openai_kwargs(openai_sim))
    assert response.choices[0].message.content
    assert len(openai_sim.requests) == 3


def test_retries_are_bounded_by_num_retries(openai_sim):
    openai_sim.script(500, times=5)
    with pytest.raises(InternalServerError):
        sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, num_retries=2,
                              **openai_kwargs(openai_sim))
    assert len(openai_sim.requests) == 3
    openai_sim.reset()
    sluicegate.num_retries = 0
    openai_sim.script(500)
    with pytest.raises(InternalServerError):
        sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_kwargs(openai_sim))
    assert len(openai_sim.requests) == 1


async def test_stream_open_is_retried_before_the_first_chunk(openai_sim):
    openai_sim.script(429, headers={"retry-after": "0"})
    stream = await sluicegate.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True,
                                          **openai_kwargs(openai_sim))
    assert [c async for c in stream]
    assert len(openai_sim.requests) == 2


def test_disconnect_is_a_connection_error_and_is_retried(openai_sim):
    openai_sim.script_disconnect(times=1)
    response = sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES,
                                     **openai_kwargs(openai_sim))
    assert response.choices
    openai_sim.script_disconnect(times=3)
    with pytest.raises(APIConnectionError):
        sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, num_retries=1,
                              **openai_kwargs(openai_sim))


def test_timeout_raises_timeout_sync(openai_sim):
    openai_sim.response_delay_s = 2.0
    with pytest.raises(Timeout):
        sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, timeout=0.2, num_retries=0,
                              **openai_kwargs(openai_sim))


async def test_timeout_raises_timeout_async(openai_sim):
    openai_sim.response_delay_s = 2.0
    with pytest.raises(Timeout):
        await sluicegate.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES, timeout=0.2, num_retries=0,
                                     **openai_kwargs(openai_sim))


async def test_mid_stream_error_event_raises_the_mapped_error(openai_sim):
    openai_sim.script_stream_error(after_chunks=2)
    stream = await sluicegate.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True,
                                          **openai_kwargs(openai_sim))
    received = []

    async def consume():
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(InternalServerError):
        await consume()
    assert len(received) == 2


async def test_leaving_a_stream_early_cancels_the_upstream(openai_sim):
    openai_sim.chunk_delay_s = 0.05
    stream = await sluicegate.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES, stream=True,
                                          **openai_kwargs(openai_sim))
    async for _ in stream:
        break
    await stream.aclose()
    for _ in range(100):  # bounded wait for the simulator to notice
        if openai_sim.cancelled_streams:
            break
        await asyncio.sleep(0.02)
    assert openai_sim.cancelled_streams == 1


def test_embedding_sync_and_async(openai_sim):
    response = sluicegate.embedding(model="openai/text-embedding-3-small", input=["a", "b"], dimensions=8,
                                    **openai_kwargs(openai_sim))
    assert [len(item.embedding) for item in response.data] == [8, 8]
    assert response.usage.prompt_tokens > 0
    assert response._hidden_params["response_cost"] is not None
    again = asyncio.run(sluicegate.aembedding(model="openai/text-embedding-3-small", input=["a", "b"],
                                              dimensions=8, **openai_kwargs(openai_sim)))
    assert again.data[0].embedding == response.data[0].embedding


def test_text_completion(openai_sim):
    response = sluicegate.text_completion(model="openai/gpt-3.5-turbo-instruct", prompt="Say hi",
                                          max_tokens=50, **openai_kwargs(openai_sim))
    assert response.object == "text_completion"
    assert response.choices[0].text
    assert openai_sim.requests[-1].path == "/v1/completions"


def test_azure_deployment_with_api_key_and_api_version(openai_sim):
    response = sluicegate.completion(model="azure/my-deployment", messages=MESSAGES, api_key="sk-test",
                                     api_base=openai_sim.azure_endpoint, api_version="2024-10-21")
    assert response.choices[0].message.content
    sent = openai_sim.requests[-1]
    assert sent.path == "/openai/deployments/my-deployment/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == "sk-test"
    assert "authorization" not in sent.headers


async def test_azure_entra_id_token_provider_sync_and_async(openai_sim):
    calls = []

    def provider():
        calls.append(1)
        return "sk-test"

    async def async_provider():
        return "sk-test"

    sluicegate.completion(model="azure/dep", messages=MESSAGES, api_base=openai_sim.azure_endpoint,
                          azure_ad_token_provider=provider)
    assert openai_sim.requests[-1].headers["authorization"] == "Bearer sk-test"
    assert calls == [1]
    await sluicegate.acompletion(model="azure/dep", messages=MESSAGES, api_base=openai_sim.azure_endpoint,
                                 azure_ad_token_provider=async_provider)
    assert openai_sim.requests[-1].headers["authorization"] == "Bearer sk-test"


def test_azure_stream_hides_the_prompt_filter_chunk(openai_sim):
    stream = sluicegate.completion(model="azure/dep", messages=MESSAGES, api_base=openai_sim.azure_endpoint,
                                   api_key="sk-test", stream=True)
    assert all(chunk.choices for chunk in stream)


def test_azure_cost_uses_the_model_the_response_reports(openai_sim):
    response = sluicegate.completion(model="azure/dep", messages=MESSAGES, api_base=openai_sim.azure_endpoint,
                                     api_key="sk-test", base_model="gpt-4o")
    assert response._hidden_params["response_cost"] > 0


def test_per_call_prices_override_the_catalog(openai_sim):
    response = sluicegate.completion(model="openai/my-local-model", messages=MESSAGES,
                                     input_cost_per_token=1.0, output_cost_per_token=2.0,
                                     **openai_kwargs(openai_sim))
    usage = response.usage
    assert response._hidden_params["response_cost"] == usage.prompt_tokens + 2 * usage.completion_tokens


def test_messages_may_include_a_previous_response_message(openai_sim):
    first = sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_kwargs(openai_sim))
    history = [*MESSAGES, first.choices[0].message, {"role": "user", "content": "And tomorrow?"}]
    sluicegate.completion(model="openai/gpt-4o-mini", messages=history, **openai_kwargs(openai_sim))
    assert openai_sim.requests[-1].json["messages"][1]["role"] == "assistant"


def test_invalid_messages_are_refused_before_sending():
    with pytest.raises(BadRequestError, match="messages"):
        sluicegate.completion(model="openai/gpt-4o-mini", messages=[], mock_response="x")
    with pytest.raises(BadRequestError, match=r"messages\[0\]"):
        sluicegate.completion(model="openai/gpt-4o-mini", messages=["hi"], mock_response="x")


def test_a_catalog_provider_without_an_adapter_says_so(monkeypatch):
    lookup._catalog()
    monkeypatch.setattr(lookup, "_current", lookup._current)  # the registration below must not leak
    lookup.register_model({"acme/rocket-1": {"litellm_provider": "acme", "mode": "chat"}})
    with pytest.raises(BadRequestError, match="no adapter"):
        sluicegate.completion(model="acme/rocket-1", messages=MESSAGES, mock_response="x")


def test_a_catalogued_model_without_prices_costs_none_and_does_not_fail(openai_sim, monkeypatch):
    monkeypatch.setenv("NVIDIA_NIM_API_KEY", "sk-test")
    response = sluicegate.completion(model="nvidia_nim/meta/llama-3.3-70b-instruct", messages=MESSAGES,
                                     api_base=openai_sim.base_url)
    assert response.choices[0].message.content
    assert response._hidden_params["response_cost"] is None


def test_an_upstream_error_that_echoes_the_key_is_redacted(openai_sim):
    openai_sim.api_keys = {"sk-secret-canary-123456"}
    openai_sim.script(400, {"error": {"message": "bad key sk-secret-canary-123456 for org", "type": "x"}})
    with pytest.raises(BadRequestError) as caught:
        sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, api_key="sk-secret-canary-123456",
                              api_base=openai_sim.base_url)
    assert "sk-secret-canary-123456" not in str(caught.value)
    assert "sk-secret-canary-123456" not in repr(caught.value.args)
    assert caught.value.body is None


def test_gzip_answers_are_decoded_sync_and_async(openai_sim):
    body = json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "zipped"}, "finish_reason": "stop"}]})
    openai_sim.script(200, gzip.compress(body.encode()), headers={"content-encoding": "gzip",
                                                                  "content-type": "application/json"})
    sync = sluicegate.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **openai_kwargs(openai_sim))
    assert sync.choices[0].message.content == "zipped"
    openai_sim.script(200, gzip.compress(body.encode()), headers={"content-encoding": "gzip",
                                                                  "content-type": "application/json"})
    async_ = asyncio.run(sluicegate.acompletion(model="openai/gpt-4o-mini", messages=MESSAGES,
                                                **openai_kwargs(openai_sim)))
    assert async_.choices[0].message.content == "zipped"
    assert openai_sim.requests[-1].headers["user-agent"].startswith("sluicegate/")
