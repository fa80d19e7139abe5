"""`sluicegate serve` as an operator meets it: defaults, config errors, an open gateway, shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import openai

from sluicegate.cli import main
from tests.gateway.conftest import MASTER_KEY, PROVIDER_KEY, simulator_config
from tests.gateway.server import GatewayProcess, free_port

MESSAGES = [{"role": "user", "content": "hi there"}]


def test_no_config_serves_the_mock_provider_on_loopback_and_says_it_is_open(tmp_path):
    gateway = GatewayProcess(None, tmp_path).wait_ready()
    try:
        client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="anything", max_retries=0)
        response = client.chat.completions.create(model="mock/demo", messages=MESSAGES)
        assert response.choices[0].message.content == "This is a mock answer from sluicegate. You said: hi there"
        assert "mock/*" in [m.id for m in client.models.list()]
    finally:
        gateway.stop()
    log = gateway.log()
    assert "OPEN" in log
    assert "127.0.0.1 only" in log


def test_invalid_config_stops_start_up_with_file_line_and_reason(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("model_list:\n  - model_name: broken\n    litellm_params:\n      api_key: x\n")
    result = subprocess.run([sys.executable, "-m", "sluicegate", "serve", "--config", str(config), "--port",
                             str(free_port())], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"{config}:" in result.stderr
    assert "litellm_params.model" in result.stderr


def test_open_gateway_refuses_client_chosen_upstreams(tmp_path, openai_sim):
    gateway = GatewayProcess(simulator_config(openai_sim, master_key=False), tmp_path,
                             env={"SIM_OPENAI_KEY": PROVIDER_KEY}).wait_ready()
    try:
        for field, value in (("api_base", "http://127.0.0.1:9/v1"), ("api_key", "sk-mine"),
                             ("extra_headers", {"x": "y"}), ("num_retries", 1000)):
            answer = httpx.post(gateway.url + "/v1/chat/completions",
                                json={"model": "gpt-4o-mini", "messages": MESSAGES, field: value})
            assert answer.status_code == 403, answer.text
            assert answer.json()["error"]["param"] == field
        assert openai_sim.requests == []
    finally:
        gateway.stop()


def test_a_failing_deployment_is_retried_on_the_next(tmp_path, openai_sim):
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here: connection refused
    extra = f"""  - model_name: duo
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {dead}
      api_key: os.environ/SIM_OPENAI_KEY
  - model_name: duo
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {openai_sim.base_url}
      api_key: os.environ/SIM_OPENAI_KEY
"""
    config = simulator_config(openai_sim, master_key=False, extra=extra) + "router_settings:\n  num_retries: 1\n"
    gateway = GatewayProcess(config, tmp_path, env={"SIM_OPENAI_KEY": PROVIDER_KEY}).wait_ready()
    try:
        answer = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "duo", "messages": MESSAGES})
        assert answer.status_code == 200, answer.text
        assert len(openai_sim.requests) == 1
    finally:
        gateway.stop()


def test_sigterm_during_a_stream_drains_it_then_exits(tmp_path, openai_sim):
    gateway = GatewayProcess(simulator_config(openai_sim, master_key=False), tmp_path,
                             env={"SIM_OPENAI_KEY": PROVIDER_KEY}).wait_ready()
    openai_sim.chunk_delay_s = 0.05
    lines: list[str] = []

    def read_stream() -> None:
        with httpx.stream("POST", gateway.url + "/v1/chat/completions", timeout=20,
                          json={"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}) as response:
            lines.extend(line for line in response.iter_lines() if line)

    reader = threading.Thread(target=read_stream)
    reader.start()
    deadline = time.monotonic() + 5
    while not openai_sim.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    returncode = gateway.stop()  # SIGTERM while the stream is mid-way
    reader.join(20)
    assert lines[-1] == "data: [DONE]"  # the stream finished
    # uvicorn re-raises the signal once shut down, so the exit status says "ended by SIGTERM", cleanly.
    assert returncode in (0, -signal.SIGTERM)


def test_several_workers_each_build_the_app_from_the_same_config(tmp_path, openai_sim):
    gateway = GatewayProcess(simulator_config(openai_sim, master_key=False), tmp_path,
                             env={"SIM_OPENAI_KEY": PROVIDER_KEY}, args=("--workers", "2")).wait_ready(30)
    try:
        for _ in range(12):  # new connections: spread over the workers by whichever accepts first
            answer = httpx.post(gateway.url + "/v1/chat/completions",
                                json={"model": "gpt-4o-mini", "messages": MESSAGES})
            assert answer.status_code == 200, answer.text
        assert len(openai_sim.requests) == 12
        # Whichever worker answers the scrape, it counts every worker's requests.
        for _ in range(4):
            scraped = httpx.get(gateway.url + "/metrics").text
            counted = sum(float(line.rsplit(" ", 1)[1]) for line in scraped.splitlines()
                          if line.startswith("litellm_proxy_total_requests_metric_total{"))
            assert counted == 12
    finally:
        assert gateway.stop() in (0, -signal.SIGTERM)


def test_db_upgrade_and_check_through_the_cli(tmp_path):
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    assert main(["db", "check", "--database-url", url]) == 1  # an empty database is behind
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert main(["db", "check", "--database-url", url]) == 0


def test_workers_with_a_master_key_and_no_redis_refuse_to_start(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"model_list: []\ngeneral_settings:\n  master_key: {MASTER_KEY}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REDIS_HOST")}
    result = subprocess.run([sys.executable, "-m", "sluicegate", "serve", "--config", str(config), "--workers", "2",
                             "--port", "1"], capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "--workers 2 with virtual keys" in result.stderr
    assert "router_settings.redis_host (or redis_url, litellm_settings.cache_params, REDIS_URL)" in result.stderr
