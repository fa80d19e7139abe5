"""The Anthropic Messages routes end to end: the real gateway process, the official `anthropic` SDK as client,
the OpenAI simulator behind it."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest

from sluicegate.catalog.tokens import token_counter
from tests.gateway.conftest import MASTER_KEY, PROVIDER_KEY, simulator_config
from tests.gateway.server import GatewayProcess
from tests.simulators.openai import OpenAISimulator

# A Claude name served by an OpenAI-format model, as a Claude Code user would configure it.
CLAUDE_ALIAS = """
  - model_name: claude-via-gateway
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {base_url}
      api_key: os.environ/SIM_OPENAI_KEY
"""
MESSAGES = [{"role": "user", "content": "Hello gateway"}]
WEATHER = {"name": "get_weather", "description": "Current weather for a city",
           "input_schema": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}


@pytest.fixture(scope="module")
def gateway(openai_sim_server: OpenAISimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    extra = CLAUDE_ALIAS.format(base_url=openai_sim_server.base_url)
    process = GatewayProcess(simulator_config(openai_sim_server, extra=extra), tmp_path_factory.mktemp("gw"),
                             env={"SIM_OPENAI_KEY": PROVIDER_KEY})
    yield process.wait_ready()
    process.stop()


@pytest.fixture
def client(gateway: GatewayProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=MASTER_KEY, max_retries=0)


def test_create_text(client, openai_sim):
    raw = client.messages.with_raw_response.create(model="claude-via-gateway", max_tokens=100, messages=MESSAGES,
                                                   system="Be brief.", stop_sequences=["END"])
    message = raw.parse()
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the simulator. You said: Hello gateway"
    assert message.model == "claude-via-gateway"
    assert message.stop_reason == "end_turn"
    assert message.id.startswith("msg_")
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert raw.headers["request-id"] == message._request_id
    sent = openai_sim.requests[-1]
    assert sent.json == {"model": "gpt-4o-mini", "max_tokens": 100, "stop": ["END"],
                         "messages": [{"role": "system", "content": "Be brief."}, *MESSAGES]}
    assert sent.headers["authorization"] == f"Bearer {PROVIDER_KEY}"


def test_tool_use_and_tool_result_round_trip(client, openai_sim):
    message = client.messages.create(model="claude-via-gateway", max_tokens=100, messages=MESSAGES, tools=[WEATHER],
                                     tool_choice={"type": "any"})
    assert message.stop_reason == "tool_use"
    [call] = [block for block in message.content if block.type == "tool_use"]
    assert (call.name, call.input) == ("get_weather", {"city": "example"})
    assert openai_sim.requests[-1].json["tool_choice"] == "required"
    answer = client.messages.create(model="claude-via-gateway", max_tokens=100, tools=[WEATHER], messages=[
        *MESSAGES, {"role": "assistant", "content": message.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C and sunny"}]}])
    assert answer.content[0].text == "Hello from the simulator. The tool said: 18C and sunny"
    assert openai_sim.requests[-1].json["messages"][-1] == {"role": "tool", "tool_call_id": call.id,
                                                            "content": "18C and sunny"}


def test_stream_text(client, openai_sim):
    with client.messages.stream(model="claude-via-gateway", max_tokens=100, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the simulator. You said: Hello gateway"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    assert final.usage.input_tokens > 0
    assert openai_sim.requests[-1].json["stream_options"] == {"include_usage": True}


def test_stream_tool_use_accumulates_input(client):
    with client.messages.stream(model="claude-via-gateway", max_tokens=100, messages=MESSAGES,
                                tools=[WEATHER]) as stream:
        final = stream.get_final_message()
    [call] = final.content
    assert (call.type, call.name, call.input) == ("tool_use", "get_weather", {"city": "example"})
    assert final.stop_reason == "tool_use"


def test_stream_event_sequence_on_the_wire(gateway):
    body = {"model": "claude-via-gateway", "max_tokens": 50, "stream": True, "messages": MESSAGES}
    with httpx.stream("POST", gateway.url + "/v1/messages", json=body,
                      headers={"authorization": f"Bearer {MASTER_KEY}", "anthropic-version": "2023-06-01"}) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        names = [line.removeprefix("event: ") for line in answer.iter_lines() if line.startswith("event: ")]
    deltas = names.count("content_block_delta")
    assert deltas >= 3
    assert names == ["message_start", "content_block_start", "ping", *["content_block_delta"] * deltas,
                     "content_block_stop", "message_delta", "message_stop"]


def test_count_tokens(client):
    counted = client.messages.count_tokens(model="claude-via-gateway", messages=MESSAGES, system="Be brief.",
                                           tools=[WEATHER])
    expected = token_counter(model="openai/gpt-4o-mini", messages=[{"role": "system", "content": "Be brief."},
                                                                   *MESSAGES],
                             tools=[{"type": "function", "function": {"name": WEATHER["name"],
                                                                      "description": WEATHER["description"],
                                                                      "parameters": WEATHER["input_schema"]}}])
    assert counted.input_tokens == expected


def test_thinking_is_dropped_for_a_model_without_reasoning(client, openai_sim):
    history = [*MESSAGES, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "They greet me.", "signature": "c2ln"}, {"type": "text", "text": "Hi!"}]},
        {"role": "user", "content": "Again"}]
    message = client.messages.create(model="claude-via-gateway", max_tokens=2000, messages=history,
                                     thinking={"type": "enabled", "budget_tokens": 1024})
    assert message.content[0].text.endswith("You said: Again")
    sent = openai_sim.requests[-1].json
    assert "reasoning_effort" not in sent
    assert sent["messages"][1] == {"role": "assistant", "content": "Hi!"}


def test_wrong_key_is_an_authentication_error(gateway):
    bad = anthropic.Anthropic(base_url=gateway.url, api_key="sk-wrong-key-1234", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        bad.messages.create(model="claude-via-gateway", max_tokens=10, messages=MESSAGES)
    assert caught.value.body["error"]["type"] == "authentication_error"
    assert MASTER_KEY not in str(caught.value.body)


def test_unknown_model_is_not_found(client):
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="claude-nope", max_tokens=10, messages=MESSAGES)
    assert caught.value.body["error"]["type"] == "not_found_error"
    assert caught.value.body["type"] == "error"


def test_unknown_field_and_missing_max_tokens_are_bad_requests(gateway, client):
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="claude-via-gateway", max_tokens=10, messages=MESSAGES,
                               extra_body={"frobnicate": True})
    assert caught.value.body["error"] == {"type": "invalid_request_error", "message": caught.value.body["error"][
        "message"]}
    assert "frobnicate" in caught.value.body["error"]["message"]
    answer = httpx.post(gateway.url + "/v1/messages", headers={"x-api-key": MASTER_KEY},
                        json={"model": "claude-via-gateway", "messages": MESSAGES})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("max_tokens:")


def test_admin_only_fields_need_the_master_key(openai_sim_server, tmp_path):
    open_gateway = GatewayProcess(simulator_config(openai_sim_server, master_key=False), tmp_path,
                                  env={"SIM_OPENAI_KEY": PROVIDER_KEY}).wait_ready()
    try:
        answer = httpx.post(open_gateway.url + "/v1/messages", json={
            "model": "gpt-4o-mini", "max_tokens": 10, "messages": MESSAGES, "api_base": "http://169.254.169.254"})
    finally:
        open_gateway.stop()
    assert answer.status_code == 403
    assert answer.json()["error"]["type"] == "permission_error"


def test_upstream_rate_limit(client, openai_sim):
    openai_sim.script(429, headers={"retry-after": "7"})
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="claude-via-gateway", max_tokens=10, messages=MESSAGES)
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["error"]["type"] == "rate_limit_error"


def test_upstream_overload_keeps_its_status(client, openai_sim):
    openai_sim.script(503)
    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(model="claude-via-gateway", max_tokens=10, messages=MESSAGES)
    assert caught.value.status_code == 503
    assert caught.value.body["error"]["type"] == "overloaded_error"


def test_mid_stream_error_is_an_error_event(client, openai_sim):
    openai_sim.script_stream_error(after_chunks=2)
    with (pytest.raises(anthropic.APIStatusError) as caught,
          client.messages.stream(model="claude-via-gateway", max_tokens=100, messages=MESSAGES) as stream):
        stream.get_final_message()
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "api_error"
