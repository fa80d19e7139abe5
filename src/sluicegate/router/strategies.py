"""The routing strategies, under LiteLLM's `routing_strategy` names: pure choices over plain data.

Each strategy ranks the eligible deployments of one group from numbers the router read from its state (in-flight
counts, latency samples, this minute's usage) and returns them best first; the router then takes the first one
it can reserve. Ties are broken by the injected random generator, so a seeded router is reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sluicegate.catalog.lookup import find_model
from sluicegate.errors import BadRequestError
from sluicegate.router.groups import Deployment
from sluicegate.router.state import Usage

STRATEGIES = ("simple-shuffle", "least-busy", "latency-based-routing", "cost-based-routing",
              "usage-based-routing", "usage-based-routing-v2")
USAGE_STRATEGIES = frozenset({"usage-based-routing", "usage-based-routing-v2"})


@dataclass(slots=True)
class Stats:
    """What a strategy may read; the router fills only what its strategy needs."""

    in_flight: Mapping[str, int] = field(default_factory=dict)
    latencies: Mapping[str, Sequence[float]] = field(default_factory=dict)
    usage: Mapping[str, Usage] = field(default_factory=dict)


def check_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise BadRequestError(f"routing_strategy {name!r} is not one of: {', '.join(STRATEGIES)}")
    return name


def rank(strategy: str, deployments: Sequence[Deployment], stats: Stats, rng: random.Random,
         *, latency_buffer: float = 0.0) -> list[Deployment]:
    """`deployments` best first under `strategy`."""
    if strategy == "simple-shuffle":
        return weighted_shuffle(deployments, rng)
    if strategy == "least-busy":
        return _lowest(deployments, lambda d: stats.in_flight.get(d.id, 0), rng)
    if strategy == "latency-based-routing":
        return lowest_latency(deployments, stats.latencies, rng, buffer=latency_buffer)
    if strategy == "cost-based-routing":
        return _lowest(deployments, price_per_token, rng)
    return _lowest(deployments, lambda d: stats.usage.get(d.id, Usage()).tokens, rng)


def weighted_shuffle(deployments: Sequence[Deployment], rng: random.Random) -> list[Deployment]:
    """A random order where each deployment comes first in proportion to its `weight`, else `rpm`, else `tpm`
    (LiteLLM's simple-shuffle); all equal when none sets any."""
    weights = _weights(deployments)
    remaining = list(zip(deployments, weights, strict=True))
    ordered = []
    while remaining:
        total = sum(w for _, w in remaining)
        point = rng.random() * total
        index = len(remaining) - 1
        for i, (_, w) in enumerate(remaining):
            point -= w
            if point < 0:
                index = i
                break
        ordered.append(remaining.pop(index)[0])
    return ordered


def _weights(deployments: Sequence[Deployment]) -> list[float]:
    for read in (lambda d: d.weight, lambda d: d.rpm, lambda d: d.tpm):
        values = [read(d) for d in deployments]
        if any(v is not None for v in values):
            return [float(v or 0) for v in values] if any(values) else [1.0] * len(deployments)
    return [1.0] * len(deployments)


def lowest_latency(deployments: Sequence[Deployment], latencies: Mapping[str, Sequence[float]],
                   rng: random.Random, *, buffer: float = 0.0) -> list[Deployment]:
    """Lowest average latency first. A deployment with no samples counts as 0 s, so each gets measured.

    `buffer` (LiteLLM's `lowest_latency_buffer`, e.g. 0.5) treats every deployment within that fraction of the
    fastest as equally fast, spreading load among them at random.
    """
    averages = {d.id: _mean(latencies.get(d.id, ())) for d in deployments}
    ranked = _lowest(deployments, lambda d: averages[d.id], rng)
    if buffer <= 0 or not ranked:
        return ranked
    limit = averages[ranked[0].id] * (1 + buffer)
    near = [d for d in ranked if averages[d.id] <= limit]
    rng.shuffle(near)
    return near + [d for d in ranked if averages[d.id] > limit]


def _mean(samples: Sequence[float]) -> float:
    return sum(samples) / len(samples) if samples else 0.0


def price_per_token(deployment: Deployment) -> Decimal:
    """Input + output price per token: the deployment's own prices, else the catalog's; unknown is dearest."""
    prices = []
    for name in ("input_cost_per_token", "output_cost_per_token"):
        value = deployment.litellm_params.get(name, deployment.model_info.get(name))
        prices.append(None if value is None else Decimal(str(value)))
    if None in prices:
        info = find_model(deployment.model)
        if info is not None:
            prices = [prices[0] if prices[0] is not None else info.input_cost_per_token,
                      prices[1] if prices[1] is not None else info.output_cost_per_token]
    known = [p for p in prices if p is not None]
    return sum(known, Decimal(0)) if len(known) == 2 else Decimal("Infinity")


def _lowest(deployments: Sequence[Deployment], key: Callable[[Deployment], float | Decimal],
            rng: random.Random) -> list[Deployment]:
    shuffled = list(deployments)
    rng.shuffle(shuffled)  # ties in random order; sort is stable
    return sorted(shuffled, key=key)
