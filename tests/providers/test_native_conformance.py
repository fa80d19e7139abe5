"""Every provider with its own wire format through the same cases, each against its own simulator: an answer with
usage and a price, the same answer streamed, a tool call (streamed too) and its result, and a rate limit.

A translation that breaks the common path fails here, whatever its own tests say. (OpenAI-format providers run
the same kind of cases in test_conformance.py.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

import sluicegate
from sluicegate.errors import RateLimitError
from sluicegate.providers.bedrock import signing
from tests.simulators import bedrock as bedrock_sim_module

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "ping"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@dataclass
class Target:
    kwargs: dict[str, Any]
    limited: Any  # the simulator whose script(429) rate-limits the next call


@pytest.fixture(params=["anthropic", "gemini", "cohere", "bedrock", "vertex_ai-gemini", "vertex_ai-claude"])
def target(request: pytest.FixtureRequest) -> Target:
    name = request.param
    if name == "anthropic":
        sim = request.getfixturevalue("anthropic_sim")
        return Target({"model": "anthropic/claude-sonnet-4-5", "api_base": sim.base_url, "api_key": "sk-ant-test"},
                      sim)
    if name == "gemini":
        sim = request.getfixturevalue("gemini_sim")
        return Target({"model": "gemini/gemini-2.5-flash", "api_base": sim.base_url, "api_key": "gm-test"}, sim)
    if name == "cohere":
        sim = request.getfixturevalue("cohere_sim")
        return Target({"model": "cohere/command-a-03-2025", "api_base": sim.base_url, "api_key": "co-test"}, sim)
    if name == "bedrock":
        sim = request.getfixturevalue("bedrock_sim")
        signing.clear_cache()
        return Target({"model": "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                       "aws_access_key_id": bedrock_sim_module.ACCESS_KEY,
                       "aws_secret_access_key": bedrock_sim_module.SECRET_KEY,
                       "aws_region_name": bedrock_sim_module.REGION, "aws_bedrock_runtime_endpoint": sim.base_url},
                      sim)
    vertex = request.getfixturevalue("vertex_target")
    if name == "vertex_ai-gemini":
        return Target({"model": "vertex_ai/gemini-2.5-flash", **vertex}, request.getfixturevalue("gemini_sim"))
    return Target({"model": "vertex_ai/claude-sonnet-4-5", **vertex}, request.getfixturevalue("anthropic_sim"))


def test_answer_usage_price_and_the_same_answer_streamed(target):
    response = sluicegate.completion(messages=MESSAGES, **target.kwargs)
    assert response.choices[0].message.content == "Hello from the simulator. You said: ping"
    assert response.choices[0].finish_reason == "stop"
    usage = response.usage
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert response._hidden_params["response_cost"] > 0  # every model here is in the catalog with a price
    chunks = list(sluicegate.completion(messages=MESSAGES, stream=True, stream_options={"include_usage": True},
                                        **target.kwargs))
    assert chunks[0].choices[0].delta.role == "assistant"
    rebuilt = sluicegate.stream_chunk_builder(chunks)
    assert rebuilt.choices[0].message.content == response.choices[0].message.content
    assert rebuilt.choices[0].finish_reason == "stop"
    assert rebuilt.usage.prompt_tokens == usage.prompt_tokens


async def test_a_tool_call_streamed_and_not_and_its_result(target):
    response = await sluicegate.acompletion(messages=MESSAGES, tools=[WEATHER], **target.kwargs)
    message = response.choices[0].message
    assert response.choices[0].finish_reason == "tool_calls"
    call = message.tool_calls[0]
    assert (call.type, call.function.name, json.loads(call.function.arguments)) == (
        "function", "get_weather", {"city": "example"})
    assert call.id

    stream = await sluicegate.acompletion(messages=MESSAGES, tools=[WEATHER], stream=True, **target.kwargs)
    chunks = [chunk async for chunk in stream]
    deltas = [c for chunk in chunks if chunk.choices for c in chunk.choices[0].delta.tool_calls or ()]
    assert deltas[0].index == 0
    assert deltas[0].id
    assert deltas[0].function.name == "get_weather"
    assert all(d.index == 0 for d in deltas)  # one call: one stable index
    assert all(d.id in (None, deltas[0].id) for d in deltas[1:])
    streamed = sluicegate.stream_chunk_builder(chunks).choices[0]
    assert streamed.finish_reason == "tool_calls"
    assert json.loads(streamed.message.tool_calls[0].function.arguments) == {"city": "example"}

    follow_up = [*MESSAGES, message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    answer = await sluicegate.acompletion(messages=follow_up, tools=[WEATHER], **target.kwargs)
    assert answer.choices[0].message.content == "Hello from the simulator. The tool said: sunny"


def test_a_rate_limit_is_a_rate_limit_error(target):
    target.limited.script(429)
    with pytest.raises(RateLimitError) as caught:
        sluicegate.completion(messages=MESSAGES, num_retries=0, **target.kwargs)
    assert caught.value.status_code == 429
    assert caught.value.provider == target.kwargs["model"].split("/")[0]
