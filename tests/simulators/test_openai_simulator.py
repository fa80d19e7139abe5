"""The OpenAI / Azure OpenAI simulator, checked with the official `openai` SDK and the wire fixtures."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pydantic
import pytest
from openai import AsyncOpenAI, AzureOpenAI, OpenAI

from tests.simulators import fixtures
from tests.simulators.openai import (
    AZURE_CONTENT_FILTER_ERROR,
    CONTENT_POLICY_ERROR,
    CONTEXT_LENGTH_ERROR,
    OpenAISimulator,
)

# Until the suite registers tests.simulators.fixtures as a plugin, this module offers its fixtures itself.
openai_sim_server = fixtures.openai_sim_server
openai_sim = fixtures.openai_sim

FIXTURES = Path(__file__).parents[1] / "fixtures"
HELLO = [{"role": "user", "content": "Hello there friend"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
                "detailed": {"type": "boolean"},
            },
            "required": ["location", "unit", "days", "detailed"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}


@pytest.fixture
def client(openai_sim: OpenAISimulator) -> OpenAI:
    return OpenAI(api_key="sk-test", base_url=openai_sim.base_url, max_retries=0)


@pytest.fixture
def azure(openai_sim: OpenAISimulator) -> AzureOpenAI:
    return AzureOpenAI(api_key="sk-test", api_version="2024-10-21", azure_endpoint=openai_sim.azure_endpoint,
                       max_retries=0)


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and value types, list items collapsed to their first."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def sse_events(raw: str) -> list[Any]:
    events = [block.removeprefix("data: ") for block in raw.split("\n\n") if block]
    assert events[-1] == "[DONE]"
    return [json.loads(event) for event in events[:-1]]


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# Chat


def test_chat_completion_parses_with_usage_details(client: OpenAI, openai_sim: OpenAISimulator) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.content == "Hello from the simulator. You said: Hello there friend"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3 + 3, 9)
    assert completion.usage.total_tokens == 15
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 0
    assert completion.system_fingerprint


def test_chat_response_matches_the_fixture_shape(client: OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO)

    assert shape(json.loads(raw.http_response.content)) == shape(fixture_json("openai/chat.response.json"))
    for header in ("x-request-id", "openai-processing-ms", "openai-organization", "x-ratelimit-limit-requests",
                   "x-ratelimit-remaining-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
                   "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        assert raw.headers.get(header), header
    assert raw.headers["x-request-id"].startswith("req_")


def test_stream_with_usage_sends_role_first_and_usage_last(client: OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, stream=True, stream_options={"include_usage": True}))

    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 15
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-2].choices[0].delta.content is None
    pieces = [c.choices[0].delta.content for c in chunks[1:-2]]
    assert len(pieces) >= 3
    assert "".join(pieces) == "Hello from the simulator. You said: Hello there friend"


def test_stream_wire_format_matches_the_fixture(openai_sim: OpenAISimulator) -> None:
    response = httpx.post(f"{openai_sim.base_url}/chat/completions", headers={"authorization": "Bearer sk-test"},
                          json={"model": "gpt-4o-mini", "messages": HELLO, "stream": True,
                                "stream_options": {"include_usage": True}})

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.text.endswith("data: [DONE]\n\n")
    ours = {json.dumps(shape(e), sort_keys=True) for e in sse_events(response.text)}
    real = {json.dumps(shape(e), sort_keys=True) for e in sse_events(
        (FIXTURES / "openai/chat.stream.sse").read_text())}
    assert ours == real


async def test_async_client_streams(openai_sim: OpenAISimulator) -> None:
    async with AsyncOpenAI(api_key="sk-test", base_url=openai_sim.base_url, max_retries=0) as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True)
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])

    assert text == "Hello from the simulator. You said: Hello there friend"


def test_max_tokens_truncates_with_finish_reason_length(client: OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO, max_completion_tokens=3)

    assert completion.choices[0].message.content == "Hello from the"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_logprobs_cover_each_token(client: OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO, logprobs=True, top_logprobs=2)

    logprobs = completion.choices[0].logprobs
    assert logprobs is not None
    assert logprobs.content is not None
    assert "".join(t.token for t in logprobs.content) == completion.choices[0].message.content
    assert all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in logprobs.content)
    assert logprobs.content[0].top_logprobs[0].token == logprobs.content[0].token


def test_n_choices_in_body_and_interleaved_in_stream(client: OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO, n=2)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=HELLO, n=2, stream=True))

    assert [c.index for c in completion.choices] == [0, 1]
    assert [c.choices[0].index for c in chunks[:4]] == [0, 1, 0, 1]
    for index in (0, 1):
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices[0].index == index)
        assert text == completion.choices[index].message.content


def test_unknown_role_and_missing_fields_are_rejected(client: OpenAI, openai_sim: OpenAISimulator) -> None:
    with pytest.raises(openai.BadRequestError) as unknown_role:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "robot", "content": "x"}])  # type: ignore[misc, list-item]
    headers = {"authorization": "Bearer sk-test"}
    url = f"{openai_sim.base_url}/chat/completions"
    no_model = httpx.post(url, headers=headers, json={"messages": HELLO})
    no_messages = httpx.post(url, headers=headers, json={"model": "gpt-4o"})
    malformed = httpx.post(url, headers=headers, content=b'{"model": ')

    assert unknown_role.value.body["param"] == "messages[0].role"  # type: ignore[index]
    assert unknown_role.value.code == "invalid_value"
    assert no_model.status_code == 400
    assert no_model.json() == fixture_json("openai/error-400-missing-model.json")
    assert (no_messages.status_code, no_messages.json()["error"]["param"]) == (400, "messages")
    assert malformed.status_code == 400
    assert malformed.json()["error"]["message"].startswith("We could not parse the JSON body")
    assert openai_sim.requests[-1].json is None
    assert openai_sim.requests[-1].raw == b'{"model": '


# Tools and structured output


def test_tool_call_arguments_follow_the_schema(client: OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=[WEATHER])  # type: ignore[list-item]

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {  # type: ignore[union-attr]
        "location": "example", "unit": "celsius", "days": 1, "detailed": True}


def test_streamed_tool_arguments_reassemble_to_the_non_stream_ones(client: OpenAI) -> None:
    whole = client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=[WEATHER])  # type: ignore[list-item]
    raw = list(client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=[WEATHER], stream=True))  # type: ignore[list-item]
    with client.chat.completions.stream(model="gpt-4o", messages=HELLO, tools=[WEATHER]) as stream:  # type: ignore[list-item]
        final = stream.get_final_completion()

    first = raw[0].choices[0].delta
    assert first.role == "assistant"
    assert first.tool_calls is not None
    assert first.tool_calls[0].id
    assert first.tool_calls[0].type == "function"
    assert first.tool_calls[0].function is not None
    assert first.tool_calls[0].function.arguments == ""
    fragments = [c.choices[0].delta.tool_calls for c in raw[1:-1]]
    assert len(fragments) >= 2
    assert all(f is not None and f[0].id is None and f[0].function is not None for f in fragments)
    assert raw[-1].choices[0].finish_reason == "tool_calls"
    assert final.choices[0].message.tool_calls is not None
    assert whole.choices[0].message.tool_calls is not None
    assert final.choices[0].message.tool_calls[0].function.arguments == (  # type: ignore[union-attr]
        whole.choices[0].message.tool_calls[0].function.arguments)  # type: ignore[union-attr]


def test_tool_stream_matches_the_fixture_shape(openai_sim: OpenAISimulator) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
    response = httpx.post(f"{openai_sim.base_url}/chat/completions", headers={"authorization": "Bearer sk-test"},
                          json={"model": "gpt-4o", "messages": HELLO, "tools": [tool], "stream": True})

    ours = {json.dumps(shape(e), sort_keys=True) for e in sse_events(response.text)}
    real = {json.dumps(shape(e), sort_keys=True) for e in sse_events(
        (FIXTURES / "openai/chat-tools.stream.sse").read_text())}
    assert ours == real


def test_parallel_named_and_disabled_tool_calls(client: OpenAI) -> None:
    tools: Any = [WEATHER, TIME]

    parallel = client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=tools)
    single = client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=tools, parallel_tool_calls=False)
    named = client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=tools, tool_choice={
        "type": "function", "function": {"name": "get_time"}})
    disabled = client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=tools, tool_choice="none")
    streamed = list(client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=tools, stream=True))

    def names(completion: Any) -> list[str]:
        return [call.function.name for call in completion.choices[0].message.tool_calls or []]

    assert names(parallel) == ["get_weather", "get_time"]
    assert names(single) == ["get_weather"]
    assert names(named) == ["get_time"]
    assert names(disabled) == []
    assert disabled.choices[0].finish_reason == "stop"
    indexes = {d.index for c in streamed for d in c.choices[0].delta.tool_calls or []}
    assert indexes == {0, 1}


def test_tool_result_is_echoed_in_the_answer(client: OpenAI) -> None:
    messages: Any = [
        *HELLO,
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
                                                             "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "22 degrees and sunny"},
    ]
    completion = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])  # type: ignore[list-item]

    assert completion.choices[0].finish_reason == "stop"
    assert "22 degrees and sunny" in (completion.choices[0].message.content or "")


class Forecast(pydantic.BaseModel):
    city: str
    high_c: float
    rain: bool
    days: list[int]


def test_json_schema_parses_into_a_pydantic_model(client: OpenAI) -> None:
    completion = client.chat.completions.parse(model="gpt-4o", messages=HELLO, response_format=Forecast)

    assert completion.choices[0].message.parsed == Forecast(city="example", high_c=1, rain=True, days=[1])


def test_json_object_needs_the_word_json(client: OpenAI) -> None:
    asked: Any = [{"role": "user", "content": "Answer in JSON please"}]
    answer = client.chat.completions.create(model="gpt-4o", messages=asked, response_format={"type": "json_object"})
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=HELLO, response_format={"type": "json_object"})

    assert json.loads(answer.choices[0].message.content or "") == {
        "reply": "Hello from the simulator. You said: Answer in JSON please"}


# Embeddings, legacy completions, models


def test_embeddings_float_and_base64_decode_to_the_same_unit_vector(client: OpenAI) -> None:
    as_floats = client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"], encoding_format="float")
    as_base64 = client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])  # SDK asks base64
    large = client.embeddings.create(model="text-embedding-3-large", input="a b")
    short = client.embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3]], dimensions=8)

    assert [d.embedding for d in as_base64.data] == [d.embedding for d in as_floats.data]
    assert len(as_floats.data[0].embedding) == 1536
    assert math.isclose(math.hypot(*as_floats.data[0].embedding), 1.0, rel_tol=1e-5)
    assert as_floats.data[0].embedding != as_floats.data[1].embedding
    assert (as_floats.usage.prompt_tokens, as_floats.usage.total_tokens) == (3, 3)
    assert len(large.data[0].embedding) == 3072
    assert large.data[0].embedding[:1536] != as_floats.data[0].embedding
    assert len(short.data[0].embedding) == 8
    assert short.usage.prompt_tokens == 3


def test_embeddings_match_the_fixture_shape(client: OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="a",
                                                     encoding_format="float")

    assert shape(json.loads(raw.http_response.content)) == shape(fixture_json("openai/embeddings.response.json"))


def test_legacy_completions_in_body_and_stream(client: OpenAI) -> None:
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say this", max_tokens=50)
    default_limit = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="a " * 40)
    streamed = list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say this", stream=True))
    raw = client.completions.with_raw_response.create(model="gpt-3.5-turbo-instruct", prompt="Say this")

    assert completion.object == "text_completion"
    assert completion.choices[0].text == "Hello from the simulator. You said: Say this"
    assert completion.choices[0].finish_reason == "stop"
    assert default_limit.choices[0].finish_reason == "length"
    assert "".join(c.choices[0].text for c in streamed) == completion.choices[0].text
    assert streamed[-1].choices[0].finish_reason == "stop"
    assert shape(json.loads(raw.http_response.content)) == shape(fixture_json("openai/completions.response.json"))


def test_models_list_and_retrieve(client: OpenAI) -> None:
    models = client.models.list()
    model = client.models.retrieve("gpt-4o-mini")
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-9")

    assert "gpt-4o-mini" in [m.id for m in models]
    assert (model.id, model.object) == ("gpt-4o-mini", "model")
    assert missing.value.code == "model_not_found"


# Faults


@pytest.mark.parametrize(("status", "error_class", "code"), [
    (400, openai.BadRequestError, None),
    (401, openai.AuthenticationError, "invalid_api_key"),
    (403, openai.PermissionDeniedError, "unsupported_country_region_territory"),
    (404, openai.NotFoundError, "model_not_found"),
    (409, openai.ConflictError, "conflict"),
    (422, openai.UnprocessableEntityError, "unprocessable_entity"),
    (429, openai.RateLimitError, "rate_limit_exceeded"),
    (500, openai.InternalServerError, None),
    (503, openai.InternalServerError, None),
])
def test_scripted_status_raises_the_matching_sdk_error(
    client: OpenAI, openai_sim: OpenAISimulator, status: int, error_class: type[openai.APIStatusError],
    code: str | None,
) -> None:
    openai_sim.script(status)

    with pytest.raises(error_class) as raised:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)

    assert raised.value.status_code == status
    assert raised.value.code == code
    assert raised.value.type is not None
    assert raised.value.request_id == raised.value.response.headers["x-request-id"]
    if status == 404:
        assert "The model `gpt-4o` does not exist" in raised.value.message
    if status == 429:
        assert raised.value.type == "requests"
        assert raised.value.response.headers["retry-after"] == "1"


@pytest.mark.parametrize(("name", "status"), [
    ("error-401.json", 401), ("error-429.json", 429), ("error-500.json", 500), ("error-503.json", 503),
])
def test_default_error_bodies_match_the_fixture_shapes(
    openai_sim: OpenAISimulator, name: str, status: int,
) -> None:
    openai_sim.script(status)

    response = httpx.post(f"{openai_sim.base_url}/chat/completions", headers={"authorization": "Bearer sk-x"},
                          json={"model": "gpt-4o", "messages": HELLO})

    assert response.status_code == status
    assert shape(response.json()) == shape(fixture_json(f"openai/{name}"))


def test_context_length_and_content_policy_bodies(client: OpenAI, openai_sim: OpenAISimulator) -> None:
    openai_sim.script(400, body=CONTEXT_LENGTH_ERROR)
    openai_sim.script(400, body=CONTENT_POLICY_ERROR)

    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)

    assert too_long.value.code == "context_length_exceeded"
    assert "maximum context length" in too_long.value.message
    assert shape(CONTEXT_LENGTH_ERROR) == shape(fixture_json("openai/error-context-length.json"))
    assert refused.value.code == "content_policy_violation"


def test_wrong_or_missing_key_gets_the_real_401(openai_sim: OpenAISimulator) -> None:
    wrong = OpenAI(api_key="sk-wrong", base_url=openai_sim.base_url, max_retries=0)
    long_key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123"
    url = f"{openai_sim.base_url}/models"

    with pytest.raises(openai.AuthenticationError) as raised:
        wrong.chat.completions.create(model="gpt-4o", messages=HELLO)
    masked = httpx.get(url, headers={"authorization": f"Bearer {long_key}"}).json()["error"]["message"]
    missing = httpx.get(url).json()["error"]

    assert raised.value.code == "invalid_api_key"
    assert "Incorrect API key provided: sk-wr****ng." in raised.value.message
    assert "sk-proj-" + "*" * (len(long_key) - 12) + "0123." in masked
    assert missing["message"].startswith("You didn't provide an API key.")


def test_scripts_apply_in_order_and_times(client: OpenAI, openai_sim: OpenAISimulator) -> None:
    openai_sim.script(500, times=2)
    openai_sim.script(200, body={"custom": True}, headers={"X-Extra": "1"})

    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o", messages=HELLO)
    custom = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO)
    normal = client.chat.completions.create(model="gpt-4o", messages=HELLO)

    assert json.loads(custom.http_response.content) == {"custom": True}
    assert custom.headers["x-extra"] == "1"
    assert normal.choices[0].message.content


def test_disconnect_raises_api_connection_error(client: OpenAI, openai_sim: OpenAISimulator) -> None:
    openai_sim.script_disconnect()

    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert client.chat.completions.create(model="gpt-4o", messages=HELLO).choices


def test_sdk_retries_a_429_then_succeeds(openai_sim: OpenAISimulator) -> None:
    client = OpenAI(api_key="sk-test", base_url=openai_sim.base_url, max_retries=2)
    openai_sim.script(429)

    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO)

    assert completion.choices[0].finish_reason == "stop"
    assert [r.headers["x-stainless-retry-count"] for r in openai_sim.requests] == ["0", "1"]


def test_requests_are_recorded_exactly(client: OpenAI, openai_sim: OpenAISimulator) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=HELLO, temperature=0, extra_headers={"OpenAI-Organization": "org-123"})

    [request] = openai_sim.requests
    assert (request.method, request.path, request.query) == ("POST", "/v1/chat/completions", {})
    assert request.json == {"model": "gpt-4o", "messages": HELLO, "temperature": 0}
    assert json.loads(request.raw) == request.json
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["openai-organization"] == "org-123"
    assert raw.headers["openai-organization"] == "org-123"


def test_mid_stream_error_event_raises(client: OpenAI, openai_sim: OpenAISimulator) -> None:
    openai_sim.script_stream_error(after_chunks=2)
    stream = iter(client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True))
    received = [next(stream), next(stream)]

    with pytest.raises(openai.APIError) as raised:
        next(stream)

    assert len(received) == 2
    assert "The server had an error" in raised.value.message
    assert client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True).response.status_code == 200


def test_closing_a_stream_early_is_observed(client: OpenAI, openai_sim: OpenAISimulator) -> None:
    assert list(client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True))  # read to the end
    openai_sim.chunk_delay_s = 0.05
    stream = client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True)

    next(iter(stream))
    next(iter(stream))
    stream.close()

    assert wait_for(lambda: openai_sim.cancelled_streams == 1)


def test_response_delay_lets_clients_time_out(openai_sim: OpenAISimulator) -> None:
    openai_sim.response_delay_s = 1.0
    client = OpenAI(api_key="sk-test", base_url=openai_sim.base_url, max_retries=0, timeout=0.1)

    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o", messages=HELLO)


# Azure


def test_azure_api_key_on_the_deployments_path(azure: AzureOpenAI, openai_sim: OpenAISimulator) -> None:
    openai_sim.azure_deployments["chat-prod"] = "gpt-4o-2024-11-20"

    raw = azure.chat.completions.with_raw_response.create(model="chat-prod", messages=HELLO)
    completion = raw.parse()

    [request] = openai_sim.requests
    assert request.path == "/openai/deployments/chat-prod/chat/completions"
    assert request.query == {"api-version": "2024-10-21"}
    assert request.headers["api-key"] == "sk-test"
    assert completion.model == "gpt-4o-2024-11-20"
    assert raw.headers["apim-request-id"]
    assert shape(json.loads(raw.http_response.content)) == shape(fixture_json("azure/chat.response.json"))


def test_azure_ad_token_and_embeddings(openai_sim: OpenAISimulator) -> None:
    client = AzureOpenAI(azure_ad_token="sk-test", api_version="2024-10-21", azure_endpoint=openai_sim.url,
                         azure_deployment="embedder", max_retries=0)

    embedding = client.embeddings.create(model="text-embedding-3-small", input="hello")

    [request] = openai_sim.requests
    assert request.path == "/openai/deployments/embedder/embeddings"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert "api-key" not in request.headers
    assert len(embedding.data[0].embedding) == 1536


def test_azure_stream_opens_with_prompt_filter_results(azure: AzureOpenAI, openai_sim: OpenAISimulator) -> None:
    chunks = list(azure.chat.completions.create(model="chat", messages=HELLO, stream=True))
    response = httpx.post(f"{openai_sim.url}/openai/deployments/chat/chat/completions?api-version=2024-10-21",
                          headers={"api-key": "sk-test"}, json={"messages": HELLO, "stream": True})

    assert chunks[0].choices == []
    assert chunks[0].prompt_filter_results  # type: ignore[attr-defined]
    assert "".join(c.choices[0].delta.content or "" for c in chunks[1:]) == (
        "Hello from the simulator. You said: Hello there friend")
    ours = {json.dumps(shape(e), sort_keys=True) for e in sse_events(response.text)}
    real = {json.dumps(shape(e), sort_keys=True) for e in sse_events((FIXTURES / "azure/chat.stream.sse").read_text())}
    assert ours == real


def test_azure_errors(azure: AzureOpenAI, openai_sim: OpenAISimulator) -> None:
    wrong_key = AzureOpenAI(api_key="nope", api_version="2024-10-21", azure_endpoint=openai_sim.url, max_retries=0)
    openai_sim.script(400, body=AZURE_CONTENT_FILTER_ERROR)

    with pytest.raises(openai.BadRequestError) as filtered:
        azure.chat.completions.create(model="chat", messages=HELLO)
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        wrong_key.chat.completions.create(model="chat", messages=HELLO)
    no_version = httpx.post(f"{openai_sim.url}/openai/deployments/chat/chat/completions",
                            headers={"api-key": "sk-test"}, json={"messages": HELLO})

    assert filtered.value.code == "content_filter"
    assert filtered.value.body["innererror"]["code"] == "ResponsibleAIPolicyViolation"  # type: ignore[index]
    assert shape(AZURE_CONTENT_FILTER_ERROR) == shape(fixture_json("azure/error-content-filter-400.json"))
    assert unauthorized.value.body == fixture_json("azure/error-401.json")["error"]
    assert (no_version.status_code, no_version.json()) == (404, fixture_json("azure/error-404.json"))


def test_azure_scripted_429_uses_azures_body(azure: AzureOpenAI, openai_sim: OpenAISimulator) -> None:
    openai_sim.script(429)

    with pytest.raises(openai.RateLimitError) as raised:
        azure.chat.completions.create(model="chat", messages=HELLO)

    assert shape(raised.value.body) == shape(fixture_json("azure/error-429.json")["error"])
    assert raised.value.response.headers["retry-after-ms"] == "20"


def test_azure_v1_path_and_unsupported_version() -> None:
    with OpenAISimulator(api_keys={"k"}, azure_api_versions={"2024-10-21"}) as sim:
        v1 = OpenAI(api_key="k", base_url=f"{sim.url}/openai/v1", max_retries=0)
        old = AzureOpenAI(api_key="k", api_version="2023-01-01", azure_endpoint=sim.url, max_retries=0)

        completion = v1.chat.completions.create(model="my-deployment", messages=HELLO)
        with pytest.raises(openai.BadRequestError):
            old.chat.completions.create(model="chat", messages=HELLO)

    assert completion.model == "my-deployment"
    assert "prompt_filter_results" in completion.model_dump()
