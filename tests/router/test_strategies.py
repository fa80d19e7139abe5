"""The strategies on plain data: rankings and distributions with a seeded random generator."""

import random
from collections import Counter
from decimal import Decimal

import pytest

from sluicegate.errors import BadRequestError
from sluicegate.router.groups import Deployment
from sluicegate.router.state import Usage
from sluicegate.router.strategies import Stats, check_strategy, lowest_latency, price_per_token, rank, weighted_shuffle


def dep(id_: str, model: str = "openai/gpt-4o-mini", **params: object) -> Deployment:
    return Deployment(id_, "g", {"model": model, **params})


def first_counts(deployments: list[Deployment], n: int = 4000, seed: int = 7) -> Counter[str]:
    rng = random.Random(seed)
    return Counter(weighted_shuffle(deployments, rng)[0].id for _ in range(n))


@pytest.mark.parametrize("knob", ["weight", "rpm", "tpm"])
def test_simple_shuffle_follows_weight_then_rpm_then_tpm(knob):
    counts = first_counts([dep("a", **{knob: 1}), dep("b", **{knob: 3})])
    assert counts["b"] / 4000 == pytest.approx(0.75, abs=0.03)


def test_weight_wins_over_rpm_and_unweighted_is_uniform():
    counts = first_counts([dep("a", weight=1, rpm=1000), dep("b", weight=1, rpm=1)])
    assert counts["a"] / 4000 == pytest.approx(0.5, abs=0.03)
    counts = first_counts([dep("a"), dep("b"), dep("c")])
    assert all(c / 4000 == pytest.approx(1 / 3, abs=0.03) for c in counts.values())


def test_shuffle_returns_every_deployment_once():
    deployments = [dep(str(i), weight=i + 1) for i in range(5)]
    assert sorted(d.id for d in weighted_shuffle(deployments, random.Random(1))) == ["0", "1", "2", "3", "4"]


def test_least_busy_ranks_by_in_flight():
    ranked = rank("least-busy", [dep("a"), dep("b"), dep("c")], Stats(in_flight={"a": 3, "b": 0, "c": 1}),
                  random.Random(1))
    assert [d.id for d in ranked] == ["b", "c", "a"]


def test_latency_prefers_the_lowest_average_and_measures_the_unmeasured_first():
    deployments = [dep("slow"), dep("fast"), dep("new")]
    ranked = lowest_latency(deployments, {"slow": [0.9, 1.1], "fast": [0.2, 0.3]}, random.Random(1))
    assert [d.id for d in ranked] == ["new", "fast", "slow"]


def test_latency_buffer_spreads_among_the_near_fastest():
    deployments = [dep("a"), dep("b"), dep("c")]
    latencies = {"a": [1.0], "b": [1.2], "c": [5.0]}
    rng = random.Random(3)
    firsts = Counter(lowest_latency(deployments, latencies, rng, buffer=0.5)[0].id for _ in range(400))
    assert set(firsts) == {"a", "b"}
    assert lowest_latency(deployments, latencies, rng, buffer=0.5)[-1].id == "c"


def test_cost_uses_catalog_prices_and_deployment_overrides():
    cheap, dear = dep("cheap", "openai/gpt-4o-mini"), dep("dear", "openai/gpt-4o")
    assert price_per_token(cheap) < price_per_token(dear)
    assert [d.id for d in rank("cost-based-routing", [dear, cheap], Stats(), random.Random(1))] == ["cheap", "dear"]
    custom = dep("custom", "openai/my-finetune", input_cost_per_token=1e-9, output_cost_per_token=2e-9)
    assert price_per_token(custom) == Decimal("3E-9")
    assert price_per_token(dep("unknown", "openai/no-such-model")) == Decimal("Infinity")


@pytest.mark.parametrize("strategy", ["usage-based-routing", "usage-based-routing-v2"])
def test_usage_based_prefers_the_fewest_tokens_this_minute(strategy):
    stats = Stats(usage={"a": Usage(5, 900), "b": Usage(9, 100)})
    assert [d.id for d in rank(strategy, [dep("a"), dep("b")], stats, random.Random(1))] == ["b", "a"]


def test_unknown_strategy_is_refused_with_the_known_names():
    with pytest.raises(BadRequestError, match="least-busy"):
        check_strategy("fastest")
