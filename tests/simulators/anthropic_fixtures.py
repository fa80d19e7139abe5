"""pytest fixtures for the Anthropic simulator: one server per run, reset for each test that asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.simulators.anthropic import AnthropicSimulator


@pytest.fixture(scope="session")
def anthropic_sim_server() -> Iterator[AnthropicSimulator]:
    """The one Anthropic simulator shared by the whole run."""
    with AnthropicSimulator() as simulator:
        yield simulator


@pytest.fixture
def anthropic_sim(anthropic_sim_server: AnthropicSimulator) -> AnthropicSimulator:
    """The shared simulator with no recorded requests, scripts or cache entries left by an earlier test."""
    anthropic_sim_server.reset()
    return anthropic_sim_server
