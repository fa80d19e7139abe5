"""Choosing one deployment of a group for one request: filter, rank by strategy, reserve.

The filters, in order: tags (with `enable_tag_filtering`), context window (with `enable_pre_call_checks`),
deployments this request may not try again, cooldowns; then the lowest `order` tier, ranked by the strategy;
the first deployment whose rpm/tpm reservation succeeds wins (limits are enforced by the usage-based strategies
and by `enable_pre_call_checks`; otherwise rpm/tpm only weigh simple-shuffle and usage is merely counted).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sluicegate.catalog.lookup import find_model
from sluicegate.catalog.tokens import token_counter
from sluicegate.errors import BadRequestError, ContextWindowExceededError
from sluicegate.router.cooldowns import NoDeploymentAvailableError, all_cooling_error
from sluicegate.router.groups import Deployment
from sluicegate.router.state import RouterState
from sluicegate.router.strategies import USAGE_STRATEGIES, Stats, rank


@dataclass(slots=True)
class Request:
    """What selection reads from a request."""

    kind: str  # chat | embedding | text_completion
    messages: list[Any] | None = None
    text: Any = None  # a text completion's prompt or an embedding's input
    tags: tuple[str, ...] = ()
    is_stream: bool = False
    _tokens: dict[str, int] = field(default_factory=dict)

    def tokens(self, model: str) -> int:
        """Input tokens as `model` counts them (counted once per model); 0 when the input cannot be counted."""
        if model not in self._tokens:
            self._tokens[model] = _count(model, self)
        return self._tokens[model]


def _count(model: str, request: Request) -> int:
    try:
        if request.messages is not None:
            return token_counter(model=model, messages=request.messages)
        if isinstance(request.text, str) or (isinstance(request.text, list) and
                                             all(isinstance(t, str) for t in request.text)):
            return token_counter(model=model, text=request.text)
    except (TypeError, ValueError, KeyError, AttributeError):  # content token_counter cannot read
        return 0
    return 0


def request_tags(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    """A request's `tags` (or `metadata.tags`): the strings of a list; anything else is no tags (a bare string
    must not become one tag per character)."""
    metadata = kwargs.get("metadata")
    tags = kwargs.get("tags") or (metadata.get("tags") if isinstance(metadata, Mapping) else None)
    return tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list | tuple) else ()


@dataclass(frozen=True, slots=True)
class Pick:
    """A chosen deployment and what the router must settle when the call ends."""

    deployment: Deployment
    model_group: str
    minute: int
    reserved_tokens: int
    started: float
    group_size: int = 1  # deployments in the group (a group of one never cools down, as in LiteLLM)


@dataclass(slots=True)
class Selector:
    state: RouterState
    clock: Callable[[], float]
    rng: random.Random
    strategy: str = "simple-shuffle"
    pre_call_checks: bool = False
    tag_filtering: bool = False
    tags_match_any: bool = True
    latency_ttl_s: float = 3600.0
    latency_buffer: float = 0.0

    @property
    def enforces_limits(self) -> bool:
        return self.pre_call_checks or self.strategy in USAGE_STRATEGIES

    async def pick(self, group: str, deployments: Sequence[Deployment], request: Request,
                   *, avoid: frozenset[str] = frozenset(), exclude: frozenset[str] = frozenset()) -> Pick:
        """Choose and reserve a deployment; `avoid` are used only when nothing else is left, `exclude` never."""
        now = self.clock()
        candidates = self._filter_tags(group, deployments, request)
        if self.pre_call_checks and request.kind != "embedding":
            candidates = _fitting(group, candidates, request)
        candidates = [d for d in candidates if d.id not in exclude]
        cooling = await self.state.cooling_down([d.id for d in candidates], now)
        healthy = [d for d in candidates if d.id not in cooling]
        if not healthy:
            if cooling:
                raise all_cooling_error(group, cooling, now)
            raise NoDeploymentAvailableError(group, "every deployment was already tried for this request", 1.0)
        fresh = [d for d in healthy if d.id not in avoid]
        chosen = await self._reserve(group, fresh or healthy, request, now)
        return replace(chosen, group_size=len(deployments))

    def _filter_tags(self, group: str, deployments: Sequence[Deployment], request: Request) -> list[Deployment]:
        """LiteLLM's tag routing: tagged requests go to deployments with their tags; untagged ones to the
        deployments tagged "default" when there are any, else to all."""
        if not self.tag_filtering:
            return list(deployments)
        if not request.tags:
            defaults = [d for d in deployments if "default" in d.tags]
            return defaults or list(deployments)
        wanted = set(request.tags)
        match = (lambda d: bool(wanted & set(d.tags))) if self.tags_match_any else (
            lambda d: wanted <= set(d.tags))
        chosen = [d for d in deployments if match(d)]
        if not chosen:
            raise BadRequestError(f"no deployment of model group {group!r} has the request's tags "
                                  f"{sorted(wanted)}", model=group)
        return chosen

    async def _reserve(self, group: str, deployments: list[Deployment], request: Request, now: float) -> Pick:
        minute = int(now // 60)
        for tier in _order_tiers(deployments):
            # One deployment needs no ranking, nor the state it would read (a Redis round trip for some strategies)
            ranked = tier if len(tier) == 1 else rank(self.strategy, tier, await self._stats(tier, minute, now),
                                                      self.rng, latency_buffer=self.latency_buffer)
            for deployment in ranked:
                tokens = request.tokens(deployment.model) if self._counts_tokens(tier) else 0
                limits = {"rpm": deployment.rpm, "tpm": deployment.tpm} if self.enforces_limits else {}
                if await self.state.reserve(deployment.id, minute, tokens, **limits):
                    return Pick(deployment, group, minute, tokens, now)
        raise NoDeploymentAvailableError(group, "every deployment has used its rpm/tpm limit for this minute",
                                         60 - now % 60)

    def _counts_tokens(self, tier: Sequence[Deployment]) -> bool:
        return self.strategy in USAGE_STRATEGIES or (self.enforces_limits and any(d.tpm for d in tier))

    async def _stats(self, deployments: Sequence[Deployment], minute: int, now: float) -> Stats:
        ids = [d.id for d in deployments]
        if self.strategy == "least-busy":
            return Stats(in_flight=await self.state.in_flight(ids))
        if self.strategy == "latency-based-routing":
            return Stats(latencies=await self.state.latencies(ids, now - self.latency_ttl_s))
        if self.strategy in USAGE_STRATEGIES:
            return Stats(usage=await self.state.usage(ids, minute))
        return Stats()


def _order_tiers(deployments: Sequence[Deployment]) -> list[list[Deployment]]:
    """Deployments by `order`, lowest first; those without an order come last."""
    if len(deployments) == 1:
        return [list(deployments)]
    tiers: dict[tuple[bool, int], list[Deployment]] = {}
    for deployment in deployments:
        order = deployment.order
        tiers.setdefault((order is None, order or 0), []).append(deployment)
    return [tiers[key] for key in sorted(tiers)]


def _fitting(group: str, deployments: Sequence[Deployment], request: Request) -> list[Deployment]:
    """The deployments whose context window holds the request's input; a ContextWindowExceededError if none."""
    fitting = []
    largest = 0
    for deployment in deployments:
        limit = _max_input_tokens(deployment)
        if limit is None or request.tokens(deployment.model) <= limit:
            fitting.append(deployment)
        largest = max(largest, limit or 0)
    if not fitting:
        tokens = max(request.tokens(d.model) for d in deployments) if deployments else 0
        raise ContextWindowExceededError(
            f"The request has about {tokens} input tokens; no deployment of model group {group!r} takes more than "
            f"{largest}.", model=group, code="context_length_exceeded")
    return fitting


def _max_input_tokens(deployment: Deployment) -> int | None:
    value = deployment.model_info.get("max_input_tokens")
    if value is not None:
        return int(value)
    info = find_model(deployment.model)
    return info.max_input_tokens if info else None
