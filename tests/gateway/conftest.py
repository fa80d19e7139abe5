"""Fixtures for gateway tests: a gateway process in front of the OpenAI simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.server import GatewayProcess
from tests.simulators.openai import OpenAISimulator

MASTER_KEY = "sk-master-canary-7f3a9c"  # a canary: must never appear in logs or error bodies
PROVIDER_KEY = "sk-test"


def simulator_config(sim: OpenAISimulator, *, master_key: bool = True, extra: str = "") -> str:
    general = f"general_settings:\n  master_key: {MASTER_KEY}\n  max_request_size_mb: 1\n" if master_key else (
        "general_settings:\n  max_request_size_mb: 1\n")
    return f"""
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {sim.base_url}
      api_key: os.environ/SIM_OPENAI_KEY
  - model_name: text-embedding-3-small
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: {sim.base_url}
      api_key: os.environ/SIM_OPENAI_KEY
  - model_name: gpt-3.5-turbo-instruct
    litellm_params:
      model: openai/gpt-3.5-turbo-instruct
      api_base: {sim.base_url}
      api_key: os.environ/SIM_OPENAI_KEY
  - model_name: azure-gpt
    litellm_params:
      model: azure/my-deployment
      api_base: {sim.azure_endpoint}
      api_version: "2024-10-21"
      api_key: os.environ/SIM_OPENAI_KEY
    model_info:
      base_model: gpt-4o
{extra}
litellm_settings:
  num_retries: 0
{general}"""


@pytest.fixture(scope="module")
def gateway(openai_sim_server: OpenAISimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway (with a master key) for a test module, in front of the shared simulator."""
    process = GatewayProcess(simulator_config(openai_sim_server), tmp_path_factory.mktemp("gw"),
                             env={"SIM_OPENAI_KEY": PROVIDER_KEY})
    yield process.wait_ready()
    process.stop()
