"""pytest fixtures for the Cohere simulator: one server per run, reset for each test that asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.simulators.cohere import CohereSimulator


@pytest.fixture(scope="session")
def cohere_sim_server() -> Iterator[CohereSimulator]:
    """The one Cohere simulator shared by the whole run."""
    with CohereSimulator() as simulator:
        yield simulator


@pytest.fixture
def cohere_sim(cohere_sim_server: CohereSimulator) -> CohereSimulator:
    """The shared simulator with no recorded requests or scripts left by an earlier test."""
    cohere_sim_server.reset()
    return cohere_sim_server
