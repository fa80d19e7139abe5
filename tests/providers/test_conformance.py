"""Every registered provider through the same cases: request shape, answer, stream, error, usage.

Each provider is pointed at the OpenAI simulator (its own base URL is checked separately, in the request
case), so a row whose quirks break the common path fails here, not in a user's hands.
"""

import pytest

import sluicegate
from sluicegate.errors import RateLimitError
from sluicegate.params import ChatParams, build_params
from sluicegate.providers import registry
from sluicegate.providers.base import Call, Credentials

# The providers that speak OpenAI's format (mock/ answers in-process: tests/test_mock.py). Providers with their
# own wire formats run the same cases against their own simulators in test_native_conformance.py.
PROVIDERS = sorted(p for p in registry.providers() - {"mock"} if registry.endpoint(p).adapter in ("openai", "azure"))
CHAT_PROVIDERS = [p for p in PROVIDERS if "chat" in registry.endpoint(p).kinds]
MESSAGES = [{"role": "user", "content": "ping"}]


def _target(provider, sim):
    if registry.endpoint(provider).adapter == "azure":
        return {"model": f"{provider}/dep", "api_base": sim.azure_endpoint, "api_key": "sk-test"}
    return {"model": f"{provider}/some-model", "api_base": sim.base_url, "api_key": "sk-test"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_request_goes_to_the_rows_base_with_its_auth(provider):
    row = registry.endpoint(provider)
    adapter = registry.adapter(row.adapter)
    base = row.base_url or "https://self-hosted.example/v1"
    call = Call(kind=sorted(row.kinds)[0], provider=provider, model="m", endpoint=row,
                credentials=Credentials(api_key="sk-x", api_base=base, api_version="2024-10-21"),
                params=build_params(ChatParams, {}), messages=MESSAGES)
    request = adapter.build_request(call)
    assert request.url.startswith(base.rstrip("/") + "/")
    assert request.method == "POST"
    assert "sk-x" in (request.headers.get("authorization", "") + request.headers.get("api-key", ""))


@pytest.mark.parametrize("provider", CHAT_PROVIDERS)
def test_chat_answer_usage_and_stream(provider, openai_sim):
    target = _target(provider, openai_sim)
    response = sluicegate.completion(messages=MESSAGES, **target)
    assert response.choices[0].message.content.endswith("You said: ping")
    assert response.usage.total_tokens > 0
    assert response._hidden_params["custom_llm_provider"] == provider
    chunks = list(sluicegate.completion(messages=MESSAGES, stream=True, **target))
    assert sluicegate.stream_chunk_builder(chunks).choices[0].message.content == response.choices[0].message.content


@pytest.mark.parametrize("provider", CHAT_PROVIDERS)
def test_rate_limit_maps_to_rate_limit_error(provider, openai_sim):
    openai_sim.script(429, times=1)
    with pytest.raises(RateLimitError) as caught:
        sluicegate.completion(messages=MESSAGES, num_retries=0, **_target(provider, openai_sim))
    assert caught.value.provider == provider
