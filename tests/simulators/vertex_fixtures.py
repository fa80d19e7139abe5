"""pytest fixtures for the Vertex AI simulator: a Google token endpoint and Vertex in front of the Gemini and
Anthropic simulators, one of each per run."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.simulators.anthropic import AnthropicSimulator
from tests.simulators.gemini import GeminiSimulator
from tests.simulators.google_oauth import GoogleTokenServer
from tests.simulators.vertex import VertexSimulator


@pytest.fixture(scope="session")
def google_token_server() -> Iterator[GoogleTokenServer]:
    with GoogleTokenServer() as server:
        yield server


@pytest.fixture(scope="session")
def vertex_sim_server(google_token_server: GoogleTokenServer, gemini_sim_server: GeminiSimulator,
                      anthropic_sim_server: AnthropicSimulator) -> Iterator[VertexSimulator]:
    with VertexSimulator(google_token_server, gemini_sim_server, anthropic_sim_server) as simulator:
        yield simulator


@pytest.fixture
def vertex_sim(vertex_sim_server: VertexSimulator, gemini_sim: GeminiSimulator,
               anthropic_sim: AnthropicSimulator) -> VertexSimulator:
    """Vertex with the simulators behind it reset."""
    vertex_sim_server.requests.clear()
    return vertex_sim_server


@pytest.fixture
def vertex_target(vertex_sim: VertexSimulator) -> dict[str, str]:
    """The keywords that point a sluicegate call at the simulator with a service-account key."""
    key = vertex_sim.tokens.service_account_info(project=vertex_sim.project)
    return {"vertex_credentials": json.dumps(key), "vertex_location": "europe-west4", "api_base": vertex_sim.url}
