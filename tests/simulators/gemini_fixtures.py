"""pytest fixtures for the Gemini simulator: one server per run, reset for each test that asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.simulators.gemini import GeminiSimulator


@pytest.fixture(scope="session")
def gemini_sim_server() -> Iterator[GeminiSimulator]:
    """The one Gemini simulator shared by the whole run."""
    with GeminiSimulator() as simulator:
        yield simulator


@pytest.fixture
def gemini_sim(gemini_sim_server: GeminiSimulator) -> GeminiSimulator:
    """The shared simulator with no recorded requests or scripts left by an earlier test."""
    gemini_sim_server.reset()
    return gemini_sim_server
