"""pytest fixtures for the Bedrock simulator: one server per run, reset for each test that asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.simulators.bedrock import BedrockSimulator


@pytest.fixture(scope="session")
def bedrock_sim_server() -> Iterator[BedrockSimulator]:
    """The one Bedrock runtime (and STS) simulator shared by the whole run."""
    with BedrockSimulator() as simulator:
        yield simulator


@pytest.fixture
def bedrock_sim(bedrock_sim_server: BedrockSimulator) -> BedrockSimulator:
    """The shared simulator with no recorded requests, scripts, cache entries or assumed roles left over."""
    bedrock_sim_server.reset()
    return bedrock_sim_server
