"""pytest fixtures for the provider simulators: one server per run, reset for each test that asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.simulators.openai import OpenAISimulator


@pytest.fixture(scope="session")
def openai_sim_server() -> Iterator[OpenAISimulator]:
    """The one OpenAI / Azure OpenAI simulator shared by the whole run."""
    with OpenAISimulator() as simulator:
        yield simulator


@pytest.fixture
def openai_sim(openai_sim_server: OpenAISimulator) -> OpenAISimulator:
    """The shared simulator with no recorded requests, scripts or delays left by an earlier test."""
    openai_sim_server.reset()
    return openai_sim_server
