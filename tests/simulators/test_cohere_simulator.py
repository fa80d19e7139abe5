"""The Cohere simulator, checked with the official `cohere` SDK (ClientV2) as the client, and the wire fixtures
parsed by the SDK's own types."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cohere
import httpx
import pytest
from cohere.core.api_error import ApiError
from cohere.v2.types.v2chat_response import V2ChatResponse

from tests.simulators.cohere import CohereSimulator

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cohere"
HELLO = [{"role": "user", "content": "Hello there friend"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object",
    "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                   "days": {"type": "integer"}, "detailed": {"type": "boolean"}},
    "required": ["location", "unit", "days", "detailed"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll a condition the server thread makes true (not a timing assertion: it only bounds the wait)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def client(cohere_sim: CohereSimulator) -> Iterator[cohere.ClientV2]:
    with httpx.Client(timeout=10) as http:  # our own, so the test closes its connections
        yield cohere.ClientV2(api_key="co-test", base_url=cohere_sim.url, httpx_client=http)


def test_chat(client, cohere_sim):
    response = client.chat(model="command-a-03-2025", messages=HELLO, max_tokens=100)
    assert response.finish_reason == "COMPLETE"
    assert response.message.content[0].text == "Hello from the simulator. You said: Hello there friend"
    assert response.usage.tokens.input_tokens == 6
    assert response.usage.tokens.output_tokens == 9
    assert response.usage.billed_units.input_tokens == 3
    sent = cohere_sim.requests[-1]
    assert sent.path == "/v2/chat"
    assert sent.headers["authorization"] == "Bearer co-test"


def test_chat_stream_typed_events(client):
    events = list(client.chat_stream(model="command-a-03-2025", messages=HELLO))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message-start", "content-start"]
    assert kinds[-2:] == ["content-end", "message-end"]
    assert events[0].id
    text = "".join(e.delta.message.content.text for e in events if e.type == "content-delta")
    assert text == "Hello from the simulator. You said: Hello there friend"
    assert events[-1].delta.finish_reason == "COMPLETE"
    assert events[-1].delta.usage.tokens.output_tokens == 9


def test_tool_calls_and_tool_results(client):
    response = client.chat(model="command-a-03-2025", messages=[{"role": "user", "content": "Weather?"}],
                           tools=[WEATHER, TIME])
    assert response.finish_reason == "TOOL_CALL"
    assert response.message.tool_plan == "I will call get_weather and get_time."
    calls = response.message.tool_calls
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"location": "example", "unit": "celsius", "days": 1, "detailed": True}, {"zone": "example"}]
    follow_up = [{"role": "user", "content": "Weather?"},
                 {"role": "assistant", "tool_plan": response.message.tool_plan,
                  "tool_calls": [c.dict() for c in calls]},
                 {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"},
                 {"role": "tool", "tool_call_id": calls[1].id,
                  "content": [{"type": "document", "document": {"data": {"time": "noon"}}}]}]
    answer = client.chat(model="command-a-03-2025", messages=follow_up, tools=[WEATHER, TIME])
    assert answer.message.content[0].text == 'Hello from the simulator. The tool said: sunny | {"time": "noon"}'
    none = client.chat(model="command-a-03-2025", messages=HELLO, tools=[WEATHER], tool_choice="NONE")
    assert none.finish_reason == "COMPLETE"


def test_tool_call_stream(client):
    events = list(client.chat_stream(model="command-a-03-2025", messages=[{"role": "user", "content": "Time?"}],
                                     tools=[TIME]))
    kinds = [e.type for e in events]
    assert kinds[1] == "tool-plan-delta"
    assert "tool-call-start" in kinds
    assert "tool-call-end" in kinds
    start = next(e for e in events if e.type == "tool-call-start")
    assert start.delta.message.tool_calls.function.name == "get_time"
    fragments = [e.delta.message.tool_calls.function.arguments for e in events if e.type == "tool-call-delta"]
    assert len(fragments) >= 2
    assert all(len(f) <= 8 for f in fragments)
    assert json.loads("".join(fragments)) == {"zone": "example"}
    assert events[-1].delta.finish_reason == "TOOL_CALL"


def test_thinking_json_documents_and_logprobs(client):
    response = client.chat(model="command-a-reasoning-08-2025", messages=HELLO,
                           thinking={"type": "enabled", "token_budget": 1024}, logprobs=True,
                           documents=[{"id": "d1", "data": {"text": "Hello"}}],
                           response_format={"type": "json_object", "json_schema": {
                               "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}})
    assert [c.type for c in response.message.content] == ["thinking", "text"]
    assert json.loads(response.message.content[1].text) == {"n": 1}
    assert response.message.citations[0].sources[0].id == "d1"
    assert "".join(item.text for item in response.logprobs) == response.message.content[1].text


def test_embed(client):
    response = client.embed(model="embed-english-v3.0", texts=["hello", "good bye"], input_type="search_document",
                            embedding_types=["float"], output_dimension=16)
    assert [len(v) for v in response.embeddings.float_] == [16, 16]
    assert response.meta.billed_units.input_tokens == 3
    with pytest.raises(cohere.BadRequestError):
        client.embed(model="embed-english-v3.0", texts=["x"], input_type=None, embedding_types=["float"])


@pytest.mark.parametrize(("status", "error"), [
    (400, cohere.BadRequestError), (401, cohere.UnauthorizedError), (404, cohere.NotFoundError),
    (422, cohere.UnprocessableEntityError), (429, cohere.TooManyRequestsError),
    (499, cohere.ClientClosedRequestError), (500, cohere.InternalServerError),
    (503, cohere.ServiceUnavailableError), (402, ApiError),
])
def test_scripted_errors_raise_the_sdks_error_classes(client, cohere_sim, status, error):
    cohere_sim.script(status)
    with pytest.raises(error) as caught:
        client.chat(model="command-a-03-2025", messages=HELLO, request_options={"max_retries": 0})
    assert caught.value.status_code == status
    assert set(caught.value.body) == {"id", "message"}


def test_bad_key_and_stream_error(client, cohere_sim):
    with httpx.Client() as http, pytest.raises(cohere.UnauthorizedError):
        cohere.ClientV2(api_key="wrong", base_url=cohere_sim.url, httpx_client=http).chat(model="m", messages=HELLO)
    cohere_sim.script_stream_error(after_events=3, message="generation failed")
    events = list(client.chat_stream(model="command-a-03-2025", messages=HELLO))
    assert events[-1].delta.finish_reason == "ERROR"
    assert events[-1].delta.error == "generation failed"


def test_an_abandoned_stream_is_counted(cohere_sim):
    payload = {"model": "m", "messages": [{"role": "user", "content": " ".join(["word"] * 20000)}],
               "stream": True}
    with httpx.stream("POST", cohere_sim.url + "/v2/chat", json=payload,
                      headers={"authorization": "Bearer co-test"}) as response:
        next(response.iter_bytes())
    assert wait_for(lambda: cohere_sim.cancelled_streams == 1)


@pytest.mark.parametrize("name", ["chat.response.json", "chat-tools.response.json", "chat-reasoning.response.json",
                                  "chat-citations.response.json"])
def test_fixtures_parse_as_the_sdks_types(name):
    parsed = V2ChatResponse.model_validate(json.loads((FIXTURES / name).read_text()))
    assert parsed.finish_reason in ("COMPLETE", "TOOL_CALL")
