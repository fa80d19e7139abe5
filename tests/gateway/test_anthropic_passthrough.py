"""/v1/messages to an Anthropic deployment: the real gateway process, the official `anthropic` SDK as client, the
Anthropic simulator behind it. Nothing is translated: the body goes up as sent, the answer comes back as given."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest

from tests.gateway.conftest import MASTER_KEY
from tests.gateway.server import GatewayProcess
from tests.simulators.anthropic import AnthropicSimulator
from tests.simulators.openai import OpenAISimulator

ANTHROPIC_KEY = "sk-ant-test"
CONFIG = """
model_list:
  - model_name: claude-native
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {base_url}
      api_key: os.environ/SIM_ANTHROPIC_KEY
  - model_name: claude-or-gpt
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {base_url}
      api_key: os.environ/SIM_ANTHROPIC_KEY
      order: 1
  - model_name: claude-or-gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {openai_base_url}
      api_key: sk-test
      order: 2
litellm_settings:
  num_retries: 0
router_settings:
  model_group_retry_policy:
    claude-or-gpt: {{InternalServerErrorRetries: 1}}
general_settings:
  master_key: {master_key}
"""
MESSAGES = [{"role": "user", "content": "Hello Claude"}]


@pytest.fixture(scope="module")
def gateway(anthropic_sim_server: AnthropicSimulator, openai_sim_server: OpenAISimulator,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    config = CONFIG.format(base_url=anthropic_sim_server.base_url, openai_base_url=openai_sim_server.base_url,
                           master_key=MASTER_KEY)
    process = GatewayProcess(config, tmp_path_factory.mktemp("gw"), env={"SIM_ANTHROPIC_KEY": ANTHROPIC_KEY})
    yield process.wait_ready()
    process.stop()


@pytest.fixture
def client(gateway: GatewayProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=MASTER_KEY, max_retries=0)


def test_the_body_goes_upstream_as_sent_and_the_answer_comes_back_as_given(client, anthropic_sim):
    raw = client.messages.with_raw_response.create(
        model="claude-native", max_tokens=64, messages=MESSAGES, system=[{"type": "text", "text": "Be brief.",
                                                                          "cache_control": {"type": "ephemeral"}}],
        metadata={"user_id": "u-1"}, extra_body={"top_k": 5})
    message = raw.parse()
    sent = anthropic_sim.requests[-1]
    assert sent.json == {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": MESSAGES,
                         "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
                         "metadata": {"user_id": "u-1"}, "top_k": 5}
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY  # the deployment's key, never the client's
    assert message.content[0].text == "Hello from the simulator. You said: Hello Claude"
    assert message.model == "claude-sonnet-4-5"  # Anthropic's answer, untouched
    assert raw.headers["x-litellm-model-group"] == "claude-native"
    assert float(raw.headers["x-litellm-response-cost"]) > 0  # usage was read on the way


def test_client_version_and_beta_headers_are_forwarded(client, anthropic_sim):
    client.messages.create(model="claude-native", max_tokens=16, messages=MESSAGES,
                           extra_headers={"anthropic-beta": "context-1m-2025-08-07", "anthropic-version": "2023-06-01"})
    sent = anthropic_sim.requests[-1]
    assert sent.headers["anthropic-beta"] == "context-1m-2025-08-07"
    assert sent.headers["anthropic-version"] == "2023-06-01"


def test_a_stream_comes_back_event_for_event(gateway, anthropic_sim):
    body = {"model": "claude-native", "max_tokens": 64, "stream": True, "messages": MESSAGES}
    headers = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json=body, headers=headers, timeout=10) as response:
        assert response.status_code == 200
        events = [line.removeprefix("event: ") for line in response.iter_lines() if line.startswith("event: ")]
    assert events[0] == "message_start"
    assert events[-2:] == ["message_delta", "message_stop"]
    assert "content_block_delta" in events
    assert anthropic_sim.requests[-1].json["stream"] is True


def test_thinking_and_its_signature_pass_through_a_tool_turn(client):
    weather = {"name": "get_weather", "input_schema": {"type": "object", "required": ["city"],
                                                       "properties": {"city": {"type": "string"}}}}
    first = client.messages.create(model="claude-native", max_tokens=4096, messages=MESSAGES, tools=[weather],
                                   thinking={"type": "enabled", "budget_tokens": 1024})
    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    tool_use = first.content[1]
    follow_up = [*MESSAGES, {"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny"}]}]
    second = client.messages.create(model="claude-native", max_tokens=4096, messages=follow_up, tools=[weather],
                                    thinking={"type": "enabled", "budget_tokens": 1024})
    assert second.content[-1].text == "Hello from the simulator. The tool said: sunny"


def test_the_streaming_sdk_helper_works_natively(client):
    with client.messages.stream(model="claude-native", max_tokens=64, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the simulator. You said: Hello Claude"
    assert final.usage.output_tokens > 0


def test_upstream_errors_keep_anthropics_status_and_type(client, anthropic_sim):
    anthropic_sim.script(429)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="claude-native", max_tokens=16, messages=MESSAGES)
    assert caught.value.status_code == 429
    assert caught.value.body["error"]["type"] == "rate_limit_error"


def test_a_group_falls_back_from_anthropic_to_a_translated_deployment(client, anthropic_sim, openai_sim):
    anthropic_sim.script(529)  # overloaded: the group's retry policy retries it on its next deployment (order: 2)
    message = client.messages.create(model="claude-or-gpt", max_tokens=32, messages=MESSAGES)
    assert message.content[0].text == "Hello from the simulator. You said: Hello Claude"
    assert message.model == "claude-or-gpt"  # translated from OpenAI's answer
    assert openai_sim.requests[-1].json["model"] == "gpt-4o-mini"
    anthropic_sim.script(529)
    with client.messages.stream(model="claude-or-gpt", max_tokens=32, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "Hello from the simulator. You said: Hello Claude"
