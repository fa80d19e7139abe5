"""The Anthropic simulator, checked with the official `anthropic` SDK as the client and against the wire fixtures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from anthropic import Anthropic, AsyncAnthropic

from sluicegate.transport.sse import SseDecoder
from tests.simulators.anthropic import AnthropicSimulator

FIXTURES = Path(__file__).parents[1] / "fixtures" / "anthropic"
MODEL = "claude-sonnet-4-5"
HELLO = [{"role": "user", "content": "Hello there friend"}]
WEATHER = {"name": "get_weather", "description": "Weather for a place", "input_schema": {
    "type": "object",
    "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                   "days": {"type": "integer"}, "detailed": {"type": "boolean"}},
    "required": ["location", "unit", "days", "detailed"]}}
TIME = {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}},
                                             "required": ["zone"]}}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK warns about retired model names


@pytest.fixture
def client(anthropic_sim: AnthropicSimulator) -> Anthropic:
    return Anthropic(api_key="sk-ant-test", base_url=anthropic_sim.base_url, max_retries=0)


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and value types, list items collapsed to their first."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def raw_events(sim: AnthropicSimulator, body: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    response = httpx.post(sim.base_url + "/v1/messages", json={**body, "stream": True},
                          headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"})
    return [(e.event, json.loads(e.data)) for e in SseDecoder().feed(response.content)]


def test_create_returns_a_message(client: Anthropic, anthropic_sim: AnthropicSimulator) -> None:
    message = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, system="Be brief.")
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the simulator. You said: Hello there friend"
    assert (message.stop_reason, message.model, message.role) == ("end_turn", MODEL, "assistant")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (8, 9)
    sent = anthropic_sim.requests[-1]
    assert (sent.method, sent.path, sent.json["system"]) == ("POST", "/v1/messages", "Be brief.")


def test_message_has_the_fixtures_shape(anthropic_sim: AnthropicSimulator) -> None:
    response = httpx.post(anthropic_sim.base_url + "/v1/messages", json={"model": MODEL, "max_tokens": 50,
                                                                         "messages": HELLO},
                          headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"})
    fixture = json.loads((FIXTURES / "text.response.json").read_text())
    assert response.headers["request-id"].startswith("req_")
    body = response.json()
    assert set(body) == set(fixture)
    assert shape(body["content"]) == shape(fixture["content"])
    assert set(fixture["usage"]) <= set(body["usage"])


def test_raw_stream_follows_anthropics_event_order(anthropic_sim: AnthropicSimulator) -> None:
    events = raw_events(anthropic_sim, {"model": MODEL, "max_tokens": 50, "messages": HELLO})
    names = [name for name, _ in events]
    assert all(name == data["type"] for name, data in events)
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert names.count("content_block_delta") == 9  # one per word
    fixture = [e.event for e in SseDecoder().feed((FIXTURES / "text.stream.sse").read_bytes())]
    assert list(dict.fromkeys(names)) == list(dict.fromkeys(fixture))
    assert events[-2][1]["usage"] == {"output_tokens": 9}


def test_stream_helper_collects_text(client: Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == final.content[0].text == "Hello from the simulator. You said: Hello there friend"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 9


def test_tools_are_called_with_inputs_from_the_schema(client: Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, tools=[WEATHER, TIME])
    assert message.stop_reason == "tool_use"
    calls = [b for b in message.content if b.type == "tool_use"]
    assert [(c.name, c.input) for c in calls] == [
        ("get_weather", {"location": "example", "unit": "celsius", "days": 1, "detailed": True}),
        ("get_time", {"zone": "example"})]
    single = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, tools=[WEATHER, TIME],
                                    tool_choice={"type": "tool", "name": "get_time",
                                                 "disable_parallel_tool_use": True})
    assert [b.name for b in single.content if b.type == "tool_use"] == ["get_time"]
    none = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, tools=[WEATHER],
                                  tool_choice={"type": "none"})
    assert none.stop_reason == "end_turn"


def test_tool_results_are_answered_and_must_follow_their_call(client: Anthropic) -> None:
    first = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, tools=[TIME])
    call = first.content[0]
    assert call.type == "tool_use"
    turns: list[Any] = [*HELLO, {"role": "assistant", "content": first.content}]
    answer = client.messages.create(model=MODEL, max_tokens=100, tools=[TIME], messages=[*turns, {
        "role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "09:00"},
                                    {"type": "tool_result", "tool_use_id": call.id, "content": "CET"}]}])
    assert answer.content[0].type == "text"
    assert answer.content[0].text == "Hello from the simulator. The tool said: 09:00 | CET"
    with pytest.raises(anthropic.BadRequestError, match="without `tool_result` blocks"):
        client.messages.create(model=MODEL, max_tokens=100, tools=[TIME],
                               messages=[*turns, {"role": "user", "content": "and?"}])


def test_streamed_tool_input_arrives_in_fragments(anthropic_sim: AnthropicSimulator, client: Anthropic) -> None:
    events = raw_events(anthropic_sim, {"model": MODEL, "max_tokens": 100, "messages": HELLO, "tools": [WEATHER]})
    fragments = [d["delta"]["partial_json"] for _, d in events if d["type"] == "content_block_delta"]
    assert fragments[0] == ""
    assert len(fragments) > 3
    assert all(len(f) <= 8 for f in fragments)
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO, tools=[WEATHER]) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use"
    assert final.content[0].input == {"location": "example", "unit": "celsius", "days": 1, "detailed": True}


def test_thinking_blocks_stream_and_must_come_back(client: Anthropic) -> None:
    thinking: Any = {"type": "enabled", "budget_tokens": 1024}
    with client.messages.stream(model=MODEL, max_tokens=2048, messages=HELLO, thinking=thinking,
                                tools=[TIME]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert {"thinking", "signature"} <= set(kinds)
    block = final.content[0]
    assert block.type == "thinking"
    assert block.thinking == "Thinking about: Hello there friend"
    call = final.content[1]
    assert call.type == "tool_use"
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "09:00"}]}
    answer = client.messages.create(model=MODEL, max_tokens=2048, thinking=thinking, tools=[TIME], messages=[
        *HELLO, {"role": "assistant", "content": final.content}, result])
    assert [b.type for b in answer.content] == ["thinking", "text"]
    with pytest.raises(anthropic.BadRequestError, match="must start with a thinking block"):
        client.messages.create(model=MODEL, max_tokens=2048, thinking=thinking, tools=[TIME], messages=[
            *HELLO, {"role": "assistant", "content": final.content[1:]}, result])
    forged = {"type": "thinking", "thinking": "forged", "signature": "bad"}
    with pytest.raises(anthropic.BadRequestError, match="signature"):
        client.messages.create(model=MODEL, max_tokens=2048, thinking=thinking, tools=[TIME], messages=[
            *HELLO, {"role": "assistant", "content": [forged, *final.content[1:]]}, result])


def test_prompt_caching_writes_then_reads(client: Anthropic) -> None:
    system: Any = [{"type": "text", "text": "shared " * 300, "cache_control": {"type": "ephemeral"}}]
    first = client.messages.create(model=MODEL, max_tokens=50, system=system, messages=HELLO)
    second = client.messages.create(model=MODEL, max_tokens=50, system=system, messages=HELLO)
    assert (first.usage.cache_creation_input_tokens, first.usage.cache_read_input_tokens) == (300, 0)
    assert (second.usage.cache_creation_input_tokens, second.usage.cache_read_input_tokens) == (0, 300)
    assert first.usage.input_tokens == second.usage.input_tokens == 6


def test_stop_sequences_and_max_tokens(client: Anthropic) -> None:
    stopped = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stop_sequences=["You said"])
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "You said")
    assert stopped.content[0].type == "text"
    assert stopped.content[0].text == "Hello from the simulator. "
    short = client.messages.create(model=MODEL, max_tokens=2, messages=HELLO)
    assert short.stop_reason == "max_tokens"
    assert short.content[0].type == "text"
    assert short.content[0].text == "Hello from"


def test_count_tokens(client: Anthropic) -> None:
    assert client.messages.count_tokens(model=MODEL, messages=HELLO).input_tokens == 6


@pytest.mark.parametrize(("status", "cls"), [
    (400, anthropic.BadRequestError), (401, anthropic.AuthenticationError), (403, anthropic.PermissionDeniedError),
    (404, anthropic.NotFoundError), (413, anthropic.APIStatusError), (429, anthropic.RateLimitError),
    (500, anthropic.InternalServerError), (529, anthropic.OverloadedError)])
def test_scripted_errors_raise_the_sdks_classes(client: Anthropic, anthropic_sim: AnthropicSimulator,
                                                status: int, cls: type[Exception]) -> None:
    anthropic_sim.script(status)
    with pytest.raises(cls) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert isinstance(caught.value, anthropic.APIStatusError)
    assert caught.value.status_code == status
    body: Any = caught.value.body
    assert body["type"] == "error"
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "1"
        assert caught.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


def test_real_errors(anthropic_sim: AnthropicSimulator, client: Anthropic) -> None:
    wrong = Anthropic(api_key="sk-ant-wrong", base_url=anthropic_sim.base_url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError, match="invalid x-api-key"):
        wrong.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    with pytest.raises(anthropic.BadRequestError, match="Input should be 'user' or 'assistant'"):
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "system", "content": "x"}])  # type: ignore[misc,list-item]
    anthropic_sim.context_limit = 3
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    missing = httpx.post(anthropic_sim.base_url + "/v1/messages", json={"model": MODEL, "messages": HELLO},
                         headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"})
    assert missing.status_code == 400
    assert missing.json()["error"] == {"type": "invalid_request_error", "message": "max_tokens: Field required"}
    unknown = httpx.get(anthropic_sim.base_url + "/v1/nothing", headers={"x-api-key": "sk-ant-test"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "not_found_error"


def test_error_event_mid_stream(client: Anthropic, anthropic_sim: AnthropicSimulator) -> None:
    anthropic_sim.script_stream_error(after_events=3)
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:  # noqa: PT012  the events before it arrive first
        for event in client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True):
            seen.append(event.type)
    assert seen == ["message_start", "content_block_start"]
    body: Any = caught.value.body
    assert body["error"] == {"type": "overloaded_error", "message": "Overloaded"}


async def test_async_client_and_abandoned_stream(anthropic_sim: AnthropicSimulator) -> None:
    client = AsyncAnthropic(api_key="sk-ant-test", base_url=anthropic_sim.base_url, max_retries=0)
    message = await client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert message.content[0].type == "text"
    anthropic_sim.chunk_delay_s = 0.05
    async with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        async for text in stream.text_stream:
            assert text == "Hello "
            break  # leaving the block closes the connection mid-stream
    await client.close()
    assert wait_for(lambda: anthropic_sim.cancelled_streams == 1)


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
