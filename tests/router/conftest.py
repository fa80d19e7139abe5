"""Router test helpers: a fake clock, a recorded sleep, deployments on the simulators, a second simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.simulators.openai import OpenAISimulator

MESSAGES = [{"role": "user", "content": "Hello there"}]


class FakeClock:
    """The router's clock in tests: wall-clock-like seconds that move only when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:  # on a minute boundary
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sleeps(list[float]):
    """Records the router's waits instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def deployment(sim: OpenAISimulator, group: str, model: str = "gpt-4o-mini", **params: Any) -> dict[str, Any]:
    """A model_list entry served by `sim`; `model_info` and `id` go to model_info."""
    info = params.pop("model_info", {})
    if "id" in params:
        info["id"] = params.pop("id")
    return {"model_name": group, "litellm_params": {"model": f"openai/{model}", "api_base": sim.base_url,
                                                   "api_key": "sk-test", **params}, "model_info": info}


def models_seen(sim: OpenAISimulator) -> list[str]:
    return [r.json["model"] for r in sim.requests if isinstance(r.json, dict)]


@pytest.fixture(scope="session")
def second_sim_server() -> Iterator[OpenAISimulator]:
    with OpenAISimulator() as simulator:
        yield simulator


@pytest.fixture
def second_sim(second_sim_server: OpenAISimulator) -> OpenAISimulator:
    """Another OpenAI simulator, for a deployment that must fail or lag on its own."""
    second_sim_server.reset()
    return second_sim_server
