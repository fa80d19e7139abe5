"""Two real gateway processes on one Redis share the router's state: a deployment's rpm holds across both, and a
cooldown one gateway sets is honoured by the other."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import redis

from tests.gateway.conftest import MASTER_KEY, PROVIDER_KEY
from tests.gateway.server import GatewayProcess, free_port
from tests.simulators.openai import OpenAISimulator

pytestmark = pytest.mark.redis
MESSAGES = [{"role": "user", "content": "hi there"}]
_COOLDOWNS = "sluicegate:router:cooldowns"  # the router's key without a redis_namespace (router/redis_state.py)


def _config(sim: OpenAISimulator, redis_url: str, tag: str) -> str:
    # Ids unique to the test keep its Redis keys apart from every other test's (they are keyed by deployment id).
    limited = "".join(f"""
  - model_name: shared-{n}
    litellm_params: {{model: openai/gpt-4o-mini, api_base: {sim.base_url}, api_key: os.environ/SIM_OPENAI_KEY, rpm: 2}}
    model_info: {{id: {tag}-shared-{n}-{name}}}""" for n in (1, 2) for name in ("a", "b"))
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here: connection refused
    pair = "".join(f"""
  - model_name: pair
    litellm_params: {{model: openai/gpt-4o-mini, api_base: {base}, api_key: os.environ/SIM_OPENAI_KEY, order: {order}}}
    model_info: {{id: {tag}-pair-{name}}}""" for name, base, order in (("dead", dead, 1), ("alive", sim.base_url, 2)))
    return f"""
model_list:{limited}{pair}
router_settings:
  routing_strategy: usage-based-routing-v2
  redis_url: {redis_url}
  num_retries: 2
  allowed_fails: 0
  cooldown_time: 120
general_settings:
  master_key: {MASTER_KEY}
"""


@pytest.fixture
def tag(redis_url: str) -> Iterator[str]:
    """This test's id prefix; its Redis keys and cooldowns are removed afterwards."""
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"sluicegate:router:{{{name}-*"))
        if keys:
            client.delete(*keys)
        members = [m for m in client.zrange(_COOLDOWNS, 0, -1) if m.decode().startswith(name)]
        if members:
            client.zrem(_COOLDOWNS, *members)
    finally:
        client.close()


@pytest.fixture
def gateways(openai_sim_server: OpenAISimulator, redis_url: str, tag: str,
             tmp_path: Path) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    """Two gateway processes with the same config, on the same Redis, as two instances behind a load balancer."""
    config = _config(openai_sim_server, redis_url, tag)
    started = [GatewayProcess(config, tmp_path, env={"SIM_OPENAI_KEY": PROVIDER_KEY}) for _ in range(2)]
    try:
        for process in started:
            process.wait_ready()
        yield started[0], started[1]
    finally:
        for process in started:
            process.stop()


def _client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=MASTER_KEY, max_retries=0)


def _router_view(gateway: GatewayProcess) -> dict[str, dict[str, object]]:
    answer = httpx.get(gateway.url + "/router/deployments", headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["shared_state"] == "redis"
    return {d["model_id"]: d for group in answer.json()["model_groups"] for d in group["deployments"]}


def test_a_deployments_rpm_holds_across_two_gateways(gateways, openai_sim, tag):
    first, second = _client(gateways[0]), _client(gateways[1])
    for n in (1, 2):  # the second group only if the minute turned during the first
        group = f"shared-{n}"
        minute = int(time.time() // 60)
        served = [client.chat.completions.with_raw_response.create(model=group, messages=MESSAGES)
                  .headers["x-litellm-model-id"] for client in (first, second, first, second)]
        refused: openai.RateLimitError | None = None
        try:  # the first gateway has let only 2 through itself
            first.chat.completions.create(model=group, messages=MESSAGES)
        except openai.RateLimitError as error:
            refused = error
        view = _router_view(gateways[1])
        if int(time.time() // 60) == minute:
            break
        openai_sim.reset()
    # Each gateway alone would have allowed 2 per deployment; together they allowed 2 per deployment in all.
    assert sorted(served) == [f"{tag}-{group}-a", f"{tag}-{group}-a", f"{tag}-{group}-b", f"{tag}-{group}-b"]
    assert refused is not None, "the fifth request in the minute was served"
    assert "No deployments available for model group" in refused.message
    assert "rpm/tpm limit" in refused.message
    assert refused.response.headers["retry-after"]
    assert len(openai_sim.requests) == 4  # the fifth never reached an upstream
    assert [view[f"{tag}-{group}-{name}"]["rpm_used"] for name in ("a", "b")] == [2, 2]


def test_a_cooldown_set_through_one_gateway_is_seen_by_the_other(gateways, openai_sim, tag):
    first, second = gateways
    raw = _client(first).chat.completions.with_raw_response.create(model="pair", messages=MESSAGES)
    assert raw.headers["x-litellm-model-id"] == f"{tag}-pair-alive"
    assert raw.headers["x-litellm-attempted-retries"] == "1"  # the dead one (order 1) was tried first, and failed
    view = _router_view(second)
    assert view[f"{tag}-pair-dead"]["state"] == "cooling_down"
    assert 0 < view[f"{tag}-pair-dead"]["cooldown_remaining_s"] <= 120  # type: ignore[operator]
    for _ in range(3):
        raw = _client(second).chat.completions.with_raw_response.create(model="pair", messages=MESSAGES)
        assert raw.headers["x-litellm-model-id"] == f"{tag}-pair-alive"
        assert raw.headers["x-litellm-attempted-retries"] == "0"  # the second gateway never tried the dead one
    assert len(openai_sim.requests) == 4
