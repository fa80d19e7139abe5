"""The gateway routes through `sluicegate.Router`: config → router, and the real gateway process keeping a group
answering, falling back, holding rpm, refusing per-process limits with --workers, and showing its view."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from sluicegate.errors import ConfigError
from sluicegate.gateway.config import load_config
from sluicegate.gateway.routing import build_router, per_process_limits, router_args
from tests.gateway.conftest import MASTER_KEY, PROVIDER_KEY
from tests.gateway.server import GatewayProcess, free_port
from tests.simulators.openai import CONTEXT_LENGTH_ERROR, OpenAISimulator

MESSAGES = [{"role": "user", "content": "hi there"}]


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


# The config → the router

def test_router_settings_win_over_litellm_settings_and_ids_are_the_gateways(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model_list:
          - model_name: fast
            litellm_params: {model: openai/gpt-4o-mini, api_key: sk-x, rpm: 10, order: 1, tags: [eu]}
            model_info: {id: fast-eu}
          - model_name: fast
            litellm_params: {model: openai/gpt-4o, api_key: sk-x, weight: 2}
        litellm_settings:
          num_retries: 1
          allowed_fails: 7
          fallbacks: [{fast: [slow]}]
        router_settings:
          num_retries: 4
          routing_strategy: least-busy
          enable_pre_call_check: true
          model_group_alias: {quick: fast}
        """)
    config = load_config(path, environ={})
    assert router_args(config) == {
        "num_retries": 4, "allowed_fails": 7, "fallbacks": [{"fast": ["slow"]}], "routing_strategy": "least-busy",
        "model_group_alias": {"quick": "fast"}, "enable_pre_call_checks": True}
    router = build_router(config)
    assert router.get_model_ids() == ["fast-eu", config.deployments[1].id]
    assert (router.num_retries, router.allowed_fails, router.routing_strategy) == (4, 7, "least-busy")
    first = router.get_deployment("fast-eu")
    assert first is not None
    assert (first.rpm, first.order, first.tags) == (10, 1, ("eu",))
    assert router.groups.resolve("quick")[0] == "fast"


def test_router_settings_max_retries_and_allowed_fails_policy_reach_the_router(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model_list:
          - model_name: a
            litellm_params: {model: mock/a, cooldown_time: 9}
        litellm_settings:
          num_retries: 1
        router_settings:
          max_retries: 4
          allowed_fails_policy: {RateLimitErrorAllowedFails: 5}
          redis_namespace: blue
          default_litellm_params: {temperature: 0.25}
        """)
    config = load_config(path, environ={})
    args = router_args(config)
    assert (args["num_retries"], args["allowed_fails_policy"], args["redis_namespace"]) == (
        4, {"RateLimitErrorAllowedFails": 5}, "blue")
    assert config.deployments[0].params["cooldown_time"] == 9
    router = build_router(dataclasses.replace(config, router_settings={
        k: v for k, v in config.router_settings.items() if k != "redis_namespace"}))
    assert (router.num_retries, router.allowed_fails_policy) == (4, {"RateLimitErrorAllowedFails": 5})
    assert router.default_litellm_params == {"temperature": 0.25}
    both = dataclasses.replace(config, router_settings={"max_retries": 4, "num_retries": 0})
    assert build_router(both).num_retries == 0  # num_retries, when set, is the count


@pytest.mark.parametrize(("setting", "reason"), [
    ("routing_strategy: fastest", "must be one of simple-shuffle, least-busy"),
    ("routing_strategy_args: {ttl: 60, window: 3}", "sluicegate reads only lowest_latency_buffer, ttl here"),
    ("retry_policy: {SlowErrorRetries: 1}", "unknown retry_policy field(s) ['SlowErrorRetries']"),
    ("fallbacks: [gpt-4o]", "must be a list of {model_group: [fallback model groups]} mappings"),
    ("cooldown_time: -1", "must be a number of seconds, 0 or more"),
    ("redis_port: 0", "must be a whole number, 1 or more"),
    ("allowed_fails_policy: {TimeoutErrorAllowedFails: -1}", "must be a whole number, 0 or more"),
    ("default_litellm_params: [temperature]", "must be a mapping (got a list)"),
])
def test_router_settings_are_checked_at_their_line(tmp_path: Path, setting: str, reason: str) -> None:
    path = write(tmp_path, f"router_settings:\n  num_retries: 1\n  {setting}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value).startswith(f"{path}:3: router_settings.{setting.split(':')[0]}: {reason}")


@pytest.mark.parametrize(("settings", "limited"), [
    ("router_settings: {routing_strategy: usage-based-routing-v2}", "routing_strategy usage-based-routing-v2"),
    ("router_settings: {enable_pre_call_checks: true}", "enable_pre_call_checks with rpm/tpm limits"),
    ("router_settings: {routing_strategy: usage-based-routing, redis_host: localhost}", None),
    ("router_settings: {allowed_fails: 1, cooldown_time: 30}", None),  # cooldowns per process are fine
])
def test_per_process_limits(tmp_path: Path, settings: str, limited: str | None) -> None:
    path = write(tmp_path, "model_list:\n  - model_name: a\n    litellm_params: {model: mock/a, rpm: 5}\n" + settings)
    found = per_process_limits(load_config(path, environ={}))
    assert (found is None) if limited is None else (found is not None and found.startswith(limited))


# The real gateway

def _config(sim: OpenAISimulator, dead: str) -> str:
    limited = "".join(f"""
  - model_name: limited-{group}
    litellm_params: {{model: openai/gpt-4o-mini, api_base: {sim.base_url}, api_key: sk-test, rpm: 2}}
    model_info: {{id: limited-{group}-{name}}}""" for group in (1, 2) for name in ("a", "b"))
    return f"""
model_list:
  - model_name: gpt-4o-mini
    litellm_params: {{model: openai/gpt-4o-mini, api_base: {sim.base_url}, api_key: os.environ/SIM_OPENAI_KEY}}
    model_info: {{id: mini}}
  - model_name: duo
    litellm_params: {{model: openai/gpt-4o-mini, api_base: {dead}, api_key: os.environ/SIM_OPENAI_KEY}}
    model_info: {{id: duo-dead}}
  - model_name: duo
    litellm_params: {{model: openai/gpt-4o-mini, api_base: {sim.base_url}, api_key: os.environ/SIM_OPENAI_KEY}}
    model_info: {{id: duo-alive}}
  - model_name: broken
    litellm_params: {{model: openai/gpt-4o-mini, api_base: {dead}, api_key: os.environ/SIM_OPENAI_KEY}}
    model_info: {{id: broken-only}}
  - model_name: lonely
    litellm_params: {{model: openai/gpt-4o-mini, api_base: {dead}, api_key: os.environ/SIM_OPENAI_KEY}}
    model_info: {{id: lonely-only}}
  - model_name: big
    litellm_params: {{model: openai/gpt-4.1, api_base: {sim.base_url}, api_key: os.environ/SIM_OPENAI_KEY}}
    model_info: {{id: big}}
  - model_name: simwild/*
    litellm_params: {{model: openai/*, api_base: {dead}, api_key: os.environ/SIM_OPENAI_KEY, order: 1}}
    model_info: {{id: wild-dead}}
  - model_name: simwild/*
    litellm_params: {{model: openai/*, api_base: {sim.base_url}, api_key: os.environ/SIM_OPENAI_KEY, order: 2}}
    model_info: {{id: wild-alive}}{limited}
router_settings:
  routing_strategy: usage-based-routing-v2
  num_retries: 2
  allowed_fails: 0
  cooldown_time: 120
  fallbacks: [{{broken: [gpt-4o-mini]}}]
general_settings:
  master_key: {MASTER_KEY}
"""


@pytest.fixture(scope="module")
def gateway(openai_sim_server: OpenAISimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here: connection refused
    process = GatewayProcess(_config(openai_sim_server, dead), tmp_path_factory.mktemp("gw"),
                             env={"SIM_OPENAI_KEY": PROVIDER_KEY})
    yield process.wait_ready()
    process.stop()


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=MASTER_KEY, max_retries=0)


def _router_view(gateway: GatewayProcess) -> dict[str, dict[str, object]]:
    answer = httpx.get(gateway.url + "/router/deployments", headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert answer.status_code == 200, answer.text
    return {d["model_id"]: d for group in answer.json()["model_groups"] for d in group["deployments"]}


def _metric(gateway: GatewayProcess, name: str, model_id: str) -> list[str]:
    text = httpx.get(gateway.url + "/metrics").text
    return re.findall(rf'^{name}\{{[^}}]*model_id="{model_id}"[^}}]*\}} (\S+)$', text, re.M)


def test_a_failing_deployment_never_fails_its_group_and_cools_down(gateway, client, openai_sim):
    for _ in range(6):
        raw = client.chat.completions.with_raw_response.create(model="duo", messages=MESSAGES)
        assert raw.headers["x-litellm-model-id"] == "duo-alive"
        assert raw.parse().choices[0].message.content == "Hello from the simulator. You said: hi there"
    assert len(openai_sim.requests) == 6
    view = _router_view(gateway)
    if view["duo-alive"]["rpm_used"] == 0:  # the minute window rolled over since the requests: count one more
        client.chat.completions.create(model="duo", messages=MESSAGES)
        view = _router_view(gateway)
    assert view["duo-dead"]["state"] == "cooling_down"
    assert 0 < view["duo-dead"]["cooldown_remaining_s"] <= 120  # type: ignore[operator]
    assert view["duo-alive"]["state"] == "healthy"
    assert view["duo-alive"]["rpm_used"] >= 1  # type: ignore[operator]
    assert _metric(gateway, "litellm_deployment_state", "duo-dead") == ["2.0"]
    assert _metric(gateway, "litellm_deployment_state", "duo-alive") == ["0.0"]
    assert _metric(gateway, "litellm_deployment_cooled_down_total", "duo-dead") == ["1.0"]
    # Tried once, then set aside: every other request went straight to the healthy deployment.
    assert _metric(gateway, "litellm_deployment_total_requests_total", "duo-dead") == ["1.0"]


def test_a_failing_group_falls_back_to_another_group(client, openai_sim):
    raw = client.chat.completions.with_raw_response.create(model="broken", messages=MESSAGES)
    assert raw.headers["x-litellm-model-group"] == "gpt-4o-mini"
    assert raw.headers["x-litellm-model-id"] == "mini"
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
    assert raw.parse().choices[0].message.content == "Hello from the simulator. You said: hi there"
    with client.chat.completions.with_streaming_response.create(model="broken", messages=MESSAGES,
                                                                stream=True) as streamed:
        assert streamed.headers["x-litellm-model-id"] == "mini"  # before its first byte a stream falls back too
        text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed.parse() if chunk.choices)
    assert text == "Hello from the simulator. You said: hi there"
    assert len(openai_sim.requests) == 2


def test_usage_based_routing_never_passes_a_deployments_rpm(client, openai_sim):
    for group in ("limited-1", "limited-2"):  # the second only if the minute turned during the first
        minute = int(time.time() // 60)
        served = [client.chat.completions.with_raw_response.create(model=group, messages=MESSAGES)
                  .headers["x-litellm-model-id"] for _ in range(4)]
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model=group, messages=MESSAGES)
        if int(time.time() // 60) == minute:
            break
        openai_sim.reset()
    assert sorted(served) == [f"{group}-a", f"{group}-a", f"{group}-b", f"{group}-b"]  # rpm 2 each
    assert caught.value.response.headers["retry-after"]
    assert "No deployments available for model group" in caught.value.message
    assert len(openai_sim.requests) == 4  # the fifth never reached an upstream


def _sent_bodies(sim: OpenAISimulator) -> list[dict[str, object]]:
    return [r.json for r in sim.requests if isinstance(r.json, dict)]


def test_a_requests_own_fallbacks_are_used_and_never_sent_upstream(client, openai_sim):
    with pytest.raises(openai.APIStatusError):  # lonely's only deployment is down and it has no fallbacks
        client.chat.completions.create(model="lonely", messages=MESSAGES)
    raw = client.chat.completions.with_raw_response.create(model="lonely", messages=MESSAGES,
                                                           extra_body={"fallbacks": ["gpt-4o-mini"]})
    assert (raw.headers["x-litellm-model-group"], raw.headers["x-litellm-model-id"]) == ("gpt-4o-mini", "mini")
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
    raw = client.chat.completions.with_raw_response.create(model="lonely", messages=MESSAGES,
                                                           extra_body={"fallbacks": [{"lonely": ["big"]}]})
    assert raw.headers["x-litellm-model-id"] == "big"
    assert raw.parse().choices[0].message.content == "Hello from the simulator. You said: hi there"
    assert [body["model"] for body in _sent_bodies(openai_sim)] == ["gpt-4o-mini", "gpt-4.1"]
    assert not any("fallbacks" in body for body in _sent_bodies(openai_sim))


def test_a_requests_context_window_fallbacks(client, openai_sim):
    openai_sim.script(400, body=CONTEXT_LENGTH_ERROR)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_body={"context_window_fallbacks": [{"gpt-4o-mini": ["big"]}]})
    assert (raw.headers["x-litellm-model-group"], raw.headers["x-litellm-model-id"]) == ("big", "big")
    assert [body["model"] for body in _sent_bodies(openai_sim)] == ["gpt-4o-mini", "gpt-4.1"]
    assert not any("context_window_fallbacks" in body for body in _sent_bodies(openai_sim))


@pytest.mark.parametrize(("fallbacks", "said"), [
    (["nowhere"], "fallbacks name model group(s) 'nowhere', which are not served here"),
    ([{"gpt-4o-mini": ["big", "nowhere"]}], "'nowhere'"),
    ("big", "fallbacks must be a list of model names"),
    ([3], "fallbacks must be a list of model names"),
])
def test_a_fallback_the_gateway_does_not_serve_is_a_clear_400(client, openai_sim, fallbacks, said):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_body={"fallbacks": fallbacks})
    assert said in caught.value.message
    assert caught.value.body["param"] == "fallbacks"  # type: ignore[index]
    assert openai_sim.requests == []  # refused before any upstream call


def test_a_wildcard_groups_cooling_models_are_listed(gateway, client, openai_sim):
    raw = client.chat.completions.with_raw_response.create(model="simwild/gpt-4o-mini", messages=MESSAGES)
    assert raw.headers["x-litellm-model-id"] == "wild-alive"
    assert _sent_bodies(openai_sim)[0]["model"] == "gpt-4o-mini"
    view = _router_view(gateway)
    cooling = view["wild-dead:simwild/gpt-4o-mini"]
    assert cooling["state"] == "cooling_down"
    assert 0 < cooling["cooldown_remaining_s"] <= 120  # type: ignore[operator]
    assert (cooling["model"], cooling["wildcard_id"], cooling["requested_model"]) == (
        "openai/gpt-4o-mini", "wild-dead", "simwild/gpt-4o-mini")
    assert view["wild-dead"]["state"] == "healthy"  # the entry serves every other model still
    assert "wild-alive:simwild/gpt-4o-mini" not in view  # only models cooling down get rows of their own
    answer = httpx.get(gateway.url + "/router/deployments", headers={"authorization": f"Bearer {MASTER_KEY}"})
    group = next(g for g in answer.json()["model_groups"] if g["model_group"] == "simwild/*")
    assert [d["model_id"] for d in group["deployments"]] == [
        "wild-dead", "wild-dead:simwild/gpt-4o-mini", "wild-alive"]


def test_the_router_view_is_for_the_admin_only(gateway):
    assert httpx.get(gateway.url + "/router/deployments").status_code == 401
    wrong = httpx.get(gateway.url + "/router/deployments", headers={"authorization": "Bearer sk-wrong-0000"})
    assert wrong.status_code == 401
    assert MASTER_KEY not in wrong.text


def test_an_open_gateway_shows_the_router_view_to_nobody(tmp_path):
    gateway = GatewayProcess(None, tmp_path).wait_ready()
    try:
        answer = httpx.get(gateway.url + "/router/deployments")
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "admin_only"
        chat = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "mock/any", "messages": MESSAGES})
        assert chat.status_code == 200  # the embedded wildcard still routes
    finally:
        gateway.stop()


# --workers N

LIMITED = """
model_list:
  - model_name: limited
    litellm_params: {{model: mock/limited, rpm: 60}}
router_settings:
  routing_strategy: usage-based-routing-v2
{redis}general_settings:
  master_key: {master_key}
"""


def test_workers_with_per_process_limits_and_no_redis_refuse_to_start(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(LIMITED.format(redis="", master_key=MASTER_KEY))
    result = subprocess.run([sys.executable, "-m", "sluicegate", "serve", "--config", str(config), "--workers", "2",
                             "--port", str(free_port())], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--workers 2 with routing_strategy usage-based-routing-v2" in result.stderr
    assert "router_settings.redis_host (or redis_url, litellm_settings.cache_params, REDIS_URL)" in result.stderr
    assert "--workers 1" in result.stderr


@pytest.mark.redis
def test_workers_with_redis_start_and_share_the_routers_state(tmp_path, redis_url):
    config = LIMITED.format(redis=f"  redis_url: {redis_url}\n", master_key=MASTER_KEY)
    gateway = GatewayProcess(config, tmp_path, args=("--workers", "2")).wait_ready()
    try:
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=MASTER_KEY, max_retries=0)
        assert client.chat.completions.create(model="limited", messages=MESSAGES).choices[0].message.content
        answer = httpx.get(gateway.url + "/router/deployments", headers={"authorization": f"Bearer {MASTER_KEY}"})
        assert answer.json()["shared_state"] == "redis"
    finally:
        gateway.stop()
