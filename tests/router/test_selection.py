"""Choosing a deployment: order tiers, tags, cooldowns, context-window and rpm/tpm pre-call checks."""

import random

import pytest

from sluicegate.errors import BadRequestError, ContextWindowExceededError
from sluicegate.router.cooldowns import NoDeploymentAvailableError
from sluicegate.router.groups import Deployment
from sluicegate.router.selection import Request, Selector, request_tags
from sluicegate.router.state import MemoryState

CHAT = Request("chat", messages=[{"role": "user", "content": "hello " * 50}])


def dep(id_, model="openai/gpt-4o-mini", info=None, **params):
    return Deployment(id_, "g", {"model": model, **params}, info or {})


def selector(clock, **options):
    return Selector(MemoryState(), clock, random.Random(5), **options)


async def test_lowest_order_first_then_the_next_tier_when_it_is_unavailable(clock):
    s = selector(clock)
    deployments = [dep("backup", order=2), dep("primary", order=1), dep("unordered")]
    assert {(await s.pick("g", deployments, CHAT)).deployment.id for _ in range(20)} == {"primary"}
    await s.state.cooldown("primary", clock() + 10)
    assert (await s.pick("g", deployments, CHAT)).deployment.id == "backup"
    await s.state.cooldown("backup", clock() + 10)
    assert (await s.pick("g", deployments, CHAT)).deployment.id == "unordered"


async def test_every_deployment_cooling_is_a_429_naming_the_group(clock):
    s = selector(clock)
    await s.state.cooldown("a", clock() + 3)
    await s.state.cooldown("b", clock() + 7)
    with pytest.raises(NoDeploymentAvailableError, match=r"'g'.*cooling down.*frees up in 3.0 s"):
        await s.pick("g", [dep("a"), dep("b")], CHAT)
    clock.advance(3)
    assert (await s.pick("g", [dep("a"), dep("b")], CHAT)).deployment.id == "a"


async def test_avoided_deployments_only_when_nothing_else_is_left(clock):
    s = selector(clock)
    deployments = [dep("a"), dep("b")]
    assert {(await s.pick("g", deployments, CHAT, avoid=frozenset({"a"}))).deployment.id for _ in range(10)} == {"b"}
    assert (await s.pick("g", deployments, CHAT, avoid=frozenset({"a", "b"}))).deployment.id in {"a", "b"}
    assert (await s.pick("g", deployments, CHAT, exclude=frozenset({"a"}))).deployment.id == "b"


async def test_tag_filtering_with_litellm_default_tag(clock):
    s = selector(clock, tag_filtering=True)
    deployments = [dep("free", tags=["free"]), dep("paid", tags=["paid", "default"]), dep("untagged")]
    assert (await s.pick("g", deployments, Request("chat", messages=[], tags=("free",)))).deployment.id == "free"
    picks = {(await s.pick("g", deployments, Request("chat", messages=[]))).deployment.id for _ in range(10)}
    assert picks == {"paid"}  # an untagged request goes to the "default" deployments
    with pytest.raises(BadRequestError, match="no deployment of model group 'g' has the request's tags"):
        await s.pick("g", deployments, Request("chat", messages=[], tags=("gold",)))
    strict = selector(clock, tag_filtering=True, tags_match_any=False)
    request = Request("chat", messages=[], tags=("paid", "default"))
    assert (await strict.pick("g", deployments, request)).deployment.id == "paid"


def test_request_tags_come_from_tags_or_metadata():
    assert request_tags({"tags": ["a"]}) == ("a",)
    assert request_tags({"metadata": {"tags": ["b"]}}) == ("b",)
    assert request_tags({}) == ()


async def test_context_window_pre_check_skips_deployments_too_small(clock):
    s = selector(clock, pre_call_checks=True)
    small = dep("small", info={"max_input_tokens": 20})
    large = dep("large")  # the catalog's window for gpt-4o-mini
    assert {(await s.pick("g", [small, large], CHAT)).deployment.id for _ in range(10)} == {"large"}
    with pytest.raises(ContextWindowExceededError, match="no deployment of model group 'g' takes more than 20"):
        await s.pick("g", [small], CHAT)
    assert (await selector(clock).pick("g", [small], CHAT)).deployment.id == "small"  # no checks asked for


async def test_rpm_is_a_hard_limit_with_pre_call_checks_and_usage_routing(clock):
    for options in ({"pre_call_checks": True}, {"strategy": "usage-based-routing-v2"}):
        s = selector(clock, **options)
        deployments = [dep("a", rpm=2), dep("b", rpm=1)]
        picks = [(await s.pick("g", deployments, CHAT)).deployment.id for _ in range(3)]
        assert sorted(picks) == ["a", "a", "b"]
        with pytest.raises(NoDeploymentAvailableError, match="rpm/tpm limit"):
            await s.pick("g", deployments, CHAT)
        clock.advance(60)  # the next minute
        assert (await s.pick("g", deployments, CHAT)).deployment.id in {"a", "b"}


async def test_tpm_limit_counts_the_request_tokens(clock):
    s = selector(clock, strategy="usage-based-routing")
    tokens = CHAT.tokens("openai/gpt-4o-mini")
    deployments = [dep("a", tpm=tokens * 2)]
    await s.pick("g", deployments, CHAT)
    await s.pick("g", deployments, CHAT)
    with pytest.raises(NoDeploymentAvailableError):
        await s.pick("g", deployments, CHAT)


async def test_without_limits_rpm_only_weighs_the_shuffle(clock):
    s = selector(clock)
    picks = [(await s.pick("g", [dep("a", rpm=1)], CHAT)).deployment.id for _ in range(5)]
    assert picks == ["a"] * 5


def test_request_tags_are_the_strings_of_a_list_and_nothing_else() -> None:
    assert request_tags({"tags": ["a", "b"]}) == ("a", "b")
    assert request_tags({"metadata": {"tags": ["nightly", 7]}}) == ("nightly",)
    assert request_tags({"tags": "prod"}) == ()  # never one tag per character
    assert request_tags({"metadata": "x"}) == ()
