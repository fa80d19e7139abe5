"""The Router end to end: sluicegate.Router → the SDK → real HTTP → OpenAI simulators with injected failures."""

import asyncio
import random
from collections import Counter

import pytest

import sluicegate
from sluicegate.errors import (
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    InternalServerError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
)
from sluicegate.router import Pick, Request, Router
from sluicegate.router.cooldowns import NoDeploymentAvailableError
from tests.router.conftest import MESSAGES, deployment, models_seen
from tests.simulators.openai import CONTENT_POLICY_ERROR, CONTEXT_LENGTH_ERROR

DEAD_BASE = "http://127.0.0.1:1/v1"  # nothing listens: a connection error


def router(model_list, clock, sleeps, **options):
    return Router(model_list=model_list, clock=clock, sleep=sleeps, rng=random.Random(11), **options)


async def test_a_failing_deployment_never_fails_the_group_while_another_is_healthy(openai_sim, clock, sleeps):
    dead = deployment(openai_sim, "gpt", "gpt-4o", api_base=DEAD_BASE, id="dead")
    r = router([dead, deployment(openai_sim, "gpt", id="ok")], clock, sleeps)
    for _ in range(20):
        response = await r.acompletion(model="gpt", messages=MESSAGES)
        assert response._hidden_params["model_id"] == "ok"
    assert set(models_seen(openai_sim)) == {"gpt-4o-mini"}
    assert sleeps == []  # retrying on another deployment does not wait
    # the dead one failed more than allowed_fails (3) times within the minute: it is cooling down now
    assert set(await r.cooling_down()) == {"dead"}


async def test_response_says_which_deployment_served_it(openai_sim, clock, sleeps):
    r = router([deployment(openai_sim, "gpt", id="eu-1")], clock, sleeps)
    response = await r.acompletion(model="gpt", messages=MESSAGES)
    hidden = response._hidden_params
    assert (hidden["model_id"], hidden["model_group"], hidden["api_base"]) == ("eu-1", "gpt", openai_sim.base_url)
    assert hidden["additional_headers"]["x-litellm-model-id"] == "eu-1"
    assert hidden["additional_headers"]["x-litellm-attempted-retries"] == 0
    assert openai_sim.requests[0].json["model"] == "gpt-4o-mini"
    assert "rpm" not in openai_sim.requests[0].json


async def test_retries_are_counted_on_the_simulator_and_back_off_on_the_same_deployment(openai_sim, clock, sleeps):
    openai_sim.script(500, times=2)
    r = router([deployment(openai_sim, "gpt")], clock, sleeps, num_retries=2)
    response = await r.acompletion(model="gpt", messages=MESSAGES)
    assert len(openai_sim.requests) == 3  # never multiplied by the SDK's own retries
    assert response._hidden_params["additional_headers"]["x-litellm-attempted-retries"] == 2
    assert len(sleeps) == 2
    openai_sim.reset()
    openai_sim.script(500, times=5)
    with pytest.raises(InternalServerError):
        await router([deployment(openai_sim, "gpt")], clock, sleeps, num_retries=1).acompletion(
            model="gpt", messages=MESSAGES)
    assert len(openai_sim.requests) == 2


async def test_retry_after_is_honoured(openai_sim, clock, sleeps):
    openai_sim.script(429, headers={"retry-after-ms": "1500"})
    r = router([deployment(openai_sim, "gpt")], clock, sleeps)
    await r.acompletion(model="gpt", messages=MESSAGES)
    assert sleeps == [1.5]


async def test_a_bad_request_is_not_retried_unless_the_retry_policy_says_so(openai_sim, clock, sleeps):
    openai_sim.script(400)
    r = router([deployment(openai_sim, "gpt")], clock, sleeps, num_retries=3)
    with pytest.raises(BadRequestError):
        await r.acompletion(model="gpt", messages=MESSAGES)
    assert len(openai_sim.requests) == 1
    openai_sim.script(400)
    r = router([deployment(openai_sim, "gpt")], clock, sleeps, retry_policy={"BadRequestErrorRetries": 1})
    await r.acompletion(model="gpt", messages=MESSAGES)
    assert len(openai_sim.requests) == 3


async def test_deployment_max_retries_bounds_attempts_on_it(openai_sim, clock, sleeps):
    openai_sim.script(500, times=10)
    r = router([deployment(openai_sim, "gpt", max_retries=1)], clock, sleeps, num_retries=5)
    with pytest.raises(InternalServerError):
        await r.acompletion(model="gpt", messages=MESSAGES)
    assert len(openai_sim.requests) == 2


async def test_generic_fallback_after_the_groups_retries(openai_sim, second_sim, clock, sleeps):
    second_sim.script(500, times=10)
    r = router([deployment(second_sim, "primary"), deployment(openai_sim, "backup", "gpt-4o")], clock, sleeps,
               num_retries=1, fallbacks=[{"primary": ["backup"]}])
    response = await r.acompletion(model="primary", messages=MESSAGES)
    assert response._hidden_params["model_group"] == "backup"
    assert response._hidden_params["additional_headers"]["x-litellm-attempted-fallbacks"] == 1
    assert len(second_sim.requests) == 2
    assert models_seen(openai_sim) == ["gpt-4o"]


async def test_default_fallbacks_apply_to_any_group(openai_sim, second_sim, clock, sleeps):
    second_sim.script(503, times=10)
    r = router([deployment(second_sim, "a"), deployment(openai_sim, "safe")], clock, sleeps, num_retries=0,
               default_fallbacks=["safe"])
    assert (await r.acompletion(model="a", messages=MESSAGES))._hidden_params["model_group"] == "safe"


async def test_context_window_fallback_on_the_providers_error(openai_sim, clock, sleeps):
    openai_sim.script(400, body=CONTEXT_LENGTH_ERROR)
    r = router([deployment(openai_sim, "small"), deployment(openai_sim, "big", "gpt-4.1"),
                deployment(openai_sim, "other", "gpt-4o")], clock, sleeps,
               context_window_fallbacks=[{"small": ["big"]}], fallbacks=[{"small": ["other"]}])
    response = await r.acompletion(model="small", messages=MESSAGES)
    assert response._hidden_params["model_group"] == "big"
    assert models_seen(openai_sim) == ["gpt-4o-mini", "gpt-4.1"]  # one try: a context error is not retried


async def test_context_window_pre_check_goes_straight_to_the_fallback(openai_sim, clock, sleeps):
    small = deployment(openai_sim, "small", model_info={"max_input_tokens": 5})
    r = router([small, deployment(openai_sim, "big", "gpt-4.1")], clock, sleeps, enable_pre_call_checks=True,
               context_window_fallbacks=[{"small": ["big"]}])
    response = await r.acompletion(model="small", messages=[{"role": "user", "content": "word " * 40}])
    assert response._hidden_params["model_group"] == "big"
    assert models_seen(openai_sim) == ["gpt-4.1"]  # the small one was never called
    with pytest.raises(ContextWindowExceededError):
        await router([small], clock, sleeps, enable_pre_call_checks=True).acompletion(
            model="small", messages=[{"role": "user", "content": "word " * 40}])


async def test_content_policy_fallback(openai_sim, clock, sleeps):
    openai_sim.script(400, body=CONTENT_POLICY_ERROR)
    r = router([deployment(openai_sim, "strict"), deployment(openai_sim, "lenient", "gpt-4o")], clock, sleeps,
               content_policy_fallbacks=[{"strict": ["lenient"]}])
    assert (await r.acompletion(model="strict", messages=MESSAGES))._hidden_params["model_group"] == "lenient"


async def test_the_original_error_is_raised_when_the_fallbacks_fail_too(openai_sim, second_sim, clock, sleeps):
    second_sim.script(500, times=10)
    openai_sim.script(503, times=10)
    r = router([deployment(second_sim, "a"), deployment(openai_sim, "b")], clock, sleeps, num_retries=0,
               fallbacks=[{"a": ["b"]}])
    with pytest.raises(InternalServerError) as caught:
        await r.acompletion(model="a", messages=MESSAGES)
    assert any("fallback to model group 'b' failed" in note for note in caught.value.__notes__)


async def test_cooldown_entry_and_expiry_on_the_clock(openai_sim, second_sim, clock, sleeps):
    second_sim.script(429, times=1)
    flaky = deployment(second_sim, "gpt", id="flaky", order=1)
    r = router([flaky, deployment(openai_sim, "gpt", id="steady", order=2)], clock, sleeps, cooldown_time=30)
    await r.acompletion(model="gpt", messages=MESSAGES)  # flaky (order 1) answers 429, steady serves
    assert (await r.cooling_down()) == {"flaky": clock() + 30}
    clock.advance(29)
    assert (await r.acompletion(model="gpt", messages=MESSAGES))._hidden_params["model_id"] == "steady"
    clock.advance(1)
    assert (await r.acompletion(model="gpt", messages=MESSAGES))._hidden_params["model_id"] == "flaky"


async def test_allowed_fails_within_a_minute(openai_sim, second_sim, clock, sleeps):
    second_sim.script(500, times=10)
    flaky = deployment(second_sim, "gpt", id="flaky", order=1)
    r = router([flaky, deployment(openai_sim, "gpt", id="steady", order=2)], clock, sleeps, allowed_fails=1)
    await r.acompletion(model="gpt", messages=MESSAGES)
    assert await r.cooling_down() == {}  # one failure is allowed
    await r.acompletion(model="gpt", messages=MESSAGES)
    assert set(await r.cooling_down()) == {"flaky"}
    assert len(second_sim.requests) == 2


async def test_every_deployment_cooling_down_is_a_clear_429(openai_sim, second_sim, clock, sleeps):
    openai_sim.api_keys = set()  # 401 from both deployments: both cool down at once
    second_sim.api_keys = set()
    r = router([deployment(openai_sim, "gpt"), deployment(second_sim, "gpt")], clock, sleeps)
    with pytest.raises(AuthenticationError):
        await r.acompletion(model="gpt", messages=MESSAGES)
    assert len(openai_sim.requests) + len(second_sim.requests) == 2  # a 401 moves on, never back
    with pytest.raises(NoDeploymentAvailableError) as caught:
        await r.acompletion(model="gpt", messages=MESSAGES)
    error = caught.value
    assert isinstance(error, RateLimitError)
    assert error.status_code == 429
    assert "No deployments available for model group 'gpt'" in str(error)
    assert "all 2 deployment(s) are cooling down" in str(error)
    assert "frees up in 5.0 s" in str(error)
    assert error.headers["retry-after"] == "5"


async def test_every_deployment_cooling_down_uses_a_fallback(openai_sim, second_sim, clock, sleeps):
    second_sim.api_keys = set()
    r = router([deployment(second_sim, "gpt"), deployment(second_sim, "gpt", "gpt-4o"),
                deployment(openai_sim, "spare")], clock, sleeps, fallbacks=[{"gpt": ["spare"]}])
    for _ in range(2):
        assert (await r.acompletion(model="gpt", messages=MESSAGES))._hidden_params["model_group"] == "spare"
    assert len(second_sim.requests) == 2  # the second call went straight to the fallback


async def test_a_groups_only_deployment_never_cools_down(openai_sim, clock, sleeps):
    openai_sim.script(429)
    r = router([deployment(openai_sim, "gpt")], clock, sleeps)
    await r.acompletion(model="gpt", messages=MESSAGES)
    assert await r.cooling_down() == {}


async def test_per_deployment_timeout(openai_sim, second_sim, clock, sleeps):
    second_sim.response_delay_s = 5.0
    slow = deployment(second_sim, "gpt", id="slow", timeout=0.05, order=1)
    r = router([slow, deployment(openai_sim, "gpt", id="fast", order=2)], clock, sleeps)
    response = await r.acompletion(model="gpt", messages=MESSAGES)
    assert response._hidden_params["model_id"] == "fast"
    with pytest.raises(Timeout):
        await router([slow], clock, sleeps, num_retries=0).acompletion(model="gpt", messages=MESSAGES)


async def test_per_request_timeout_wins_over_the_deployments(openai_sim, clock, sleeps):
    openai_sim.response_delay_s = 5.0
    r = router([deployment(openai_sim, "gpt", timeout=600)], clock, sleeps, num_retries=0)
    with pytest.raises(Timeout):
        await r.acompletion(model="gpt", messages=MESSAGES, timeout=0.05)


async def test_stream_retries_before_its_first_chunk(openai_sim, second_sim, clock, sleeps):
    second_sim.script_stream_error(after_chunks=0)
    r = router([deployment(second_sim, "gpt", id="broken", order=1), deployment(openai_sim, "gpt", id="ok", order=2)],
               clock, sleeps)
    stream = await r.acompletion(model="gpt", messages=MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the simulator. You said: Hello there"
    assert {c._hidden_params["model_id"] for c in chunks} == {"ok"}
    assert stream._hidden_params["model_id"] == "ok"
    assert len(second_sim.requests) == 1


async def test_stream_failure_after_the_first_chunk_ends_the_stream(openai_sim, second_sim, clock, sleeps):
    openai_sim.script_stream_error(after_chunks=2)
    r = router([deployment(openai_sim, "gpt", order=1), deployment(second_sim, "gpt", order=2)], clock, sleeps)
    stream = await r.acompletion(model="gpt", messages=MESSAGES, stream=True)
    received = [await anext(stream), await anext(stream)]
    with pytest.raises(InternalServerError):
        await anext(stream)
    assert len(received) == 2
    assert second_sim.requests == []  # never retried once a chunk reached the caller
    assert await r.state.in_flight(r.get_model_ids()) == dict.fromkeys(r.get_model_ids(), 0)


async def test_stream_status_error_is_retried(openai_sim, clock, sleeps):
    openai_sim.script(503)
    r = router([deployment(openai_sim, "gpt")], clock, sleeps)
    stream = await r.acompletion(model="gpt", messages=MESSAGES, stream=True)
    assert len([c async for c in stream]) > 3
    assert len(openai_sim.requests) == 2


async def test_simple_shuffle_distribution_by_weight(openai_sim, clock, sleeps):
    r = router([deployment(openai_sim, "gpt", "gpt-4o-mini", weight=1),
                deployment(openai_sim, "gpt", "gpt-4o", weight=3)], clock, sleeps)
    for _ in range(200):
        await r.acompletion(model="gpt", messages=MESSAGES)
    share = Counter(models_seen(openai_sim))["gpt-4o"] / 200
    assert share == pytest.approx(0.75, abs=0.08)


async def test_cost_based_routing_picks_the_cheapest(openai_sim, clock, sleeps):
    r = router([deployment(openai_sim, "gpt", "gpt-4o"), deployment(openai_sim, "gpt", "gpt-4o-mini")], clock,
               sleeps, routing_strategy="cost-based-routing")
    for _ in range(10):
        await r.acompletion(model="gpt", messages=MESSAGES)
    assert set(models_seen(openai_sim)) == {"gpt-4o-mini"}


async def test_usage_based_routing_never_exceeds_rpm(openai_sim, clock, sleeps):
    r = router([deployment(openai_sim, "gpt", "gpt-4o", rpm=3), deployment(openai_sim, "gpt", "gpt-4o-mini", rpm=5)],
               clock, sleeps, routing_strategy="usage-based-routing-v2")
    for _ in range(8):
        await r.acompletion(model="gpt", messages=MESSAGES)
    assert Counter(models_seen(openai_sim)) == {"gpt-4o": 3, "gpt-4o-mini": 5}
    with pytest.raises(NoDeploymentAvailableError, match="rpm/tpm limit"):
        await r.acompletion(model="gpt", messages=MESSAGES)
    assert len(openai_sim.requests) == 8
    clock.advance(60)
    await r.acompletion(model="gpt", messages=MESSAGES)


async def test_latency_based_routing_prefers_the_faster_simulator(openai_sim, second_sim, sleeps):
    second_sim.response_delay_s = 0.05
    r = Router(model_list=[deployment(second_sim, "gpt", id="slow"), deployment(openai_sim, "gpt", id="fast")],
               routing_strategy="latency-based-routing", sleep=sleeps, rng=random.Random(2))
    served = Counter()
    for _ in range(20):
        served[(await r.acompletion(model="gpt", messages=MESSAGES))._hidden_params["model_id"]] += 1
    assert served["slow"] <= 2  # measured once (or twice), then avoided
    assert served["fast"] >= 18


async def test_least_busy_spreads_concurrent_calls(clock, sleeps):
    r = router([{"model_name": "gpt", "litellm_params": {"model": f"openai/m{i}"}, "model_info": {"id": f"d{i}"}}
                for i in range(3)], clock, sleeps, routing_strategy="least-busy")
    gate, all_running = asyncio.Event(), asyncio.Event()
    served = Counter()

    async def call(pick: Pick, kwargs):
        served[pick.deployment.id] += 1
        if sum(served.values()) == 9:
            all_running.set()
        await gate.wait()
        return {"ok": True}

    tasks = [asyncio.create_task(r.execute("gpt", Request("chat", messages=MESSAGES), {}, call)) for _ in range(9)]
    await all_running.wait()
    assert served == {"d0": 3, "d1": 3, "d2": 3}
    assert await r.state.in_flight(["d0", "d1", "d2"]) == {"d0": 3, "d1": 3, "d2": 3}
    gate.set()
    await asyncio.gather(*tasks)
    assert await r.state.in_flight(["d0", "d1", "d2"]) == {"d0": 0, "d1": 0, "d2": 0}


async def test_execute_seams_the_gateway_uses(clock, sleeps):
    """A request's own num_retries, a result that settles its pick later (a stream), and the cooldown hook."""
    cooled: list[tuple[str, str, float]] = []
    r = router([{"model_name": "gpt", "litellm_params": {"model": f"openai/m{i}"}, "model_info": {"id": f"d{i}"}}
                for i in range(2)], clock, sleeps, num_retries=0, allowed_fails=0,
               on_cooldown=lambda pick, error, until: cooled.append((pick.deployment.id, type(error).__name__, until)))
    calls: list[str] = []

    class Later:
        settles_later = True

    async def call(pick: Pick, kwargs):
        calls.append(pick.deployment.id)
        if len(calls) == 1:
            raise InternalServerError("boom", status_code=500)
        return Later()

    result = await r.execute("gpt", Request("chat", messages=MESSAGES), {"num_retries": 1}, call)
    assert isinstance(result, Later)
    assert cooled == [(calls[0], "InternalServerError", clock.now + 5.0)]
    assert await r.state.in_flight([calls[1]]) == {calls[1]: 1}  # left for the result to settle


async def test_wildcard_deployments_know_their_model_list_entry(clock, sleeps):
    r = router([{"model_name": "openai/*", "litellm_params": {"model": "openai/*"}, "model_info": {"id": "any"}}],
               clock, sleeps)
    pick = await r.pick("openai/gpt-4.1", Request("chat", messages=MESSAGES))
    assert (pick.deployment.id, pick.deployment.config_id, pick.deployment.model) == (
        "any:openai/gpt-4.1", "any", "openai/gpt-4.1")
    await r.report_success(pick)


async def test_tag_routing_through_the_router(openai_sim, clock, sleeps):
    r = router([deployment(openai_sim, "gpt", "gpt-4o", tags=["paid"]),
                deployment(openai_sim, "gpt", "gpt-4o-mini", tags=["free", "default"])], clock, sleeps,
               enable_tag_filtering=True)
    await r.acompletion(model="gpt", messages=MESSAGES, metadata={"tags": ["paid"]})
    await r.acompletion(model="gpt", messages=MESSAGES)
    await r.acompletion(model="gpt", messages=MESSAGES, tags=["free"])
    assert models_seen(openai_sim) == ["gpt-4o", "gpt-4o-mini", "gpt-4o-mini"]
    assert "tags" not in openai_sim.requests[2].json


async def test_alias_and_wildcard_groups(openai_sim, clock, sleeps):
    r = router([deployment(openai_sim, "gpt", "gpt-4o"),
                {"model_name": "openai/*", "litellm_params": {"model": "openai/*", "api_base": openai_sim.base_url,
                                                              "api_key": "sk-test"}}],
               clock, sleeps, model_group_alias={"gpt4": "gpt"})
    await r.acompletion(model="gpt4", messages=MESSAGES)
    response = await r.acompletion(model="openai/gpt-4.1-mini", messages=MESSAGES)
    assert models_seen(openai_sim) == ["gpt-4o", "gpt-4.1-mini"]
    assert response._hidden_params["model_group"] == "openai/gpt-4.1-mini"
    with pytest.raises(BadRequestError, match="Invalid model name"):
        await r.acompletion(model="anthropic/claude", messages=MESSAGES)


async def test_embeddings_and_text_completions_are_routed(openai_sim, clock, sleeps):
    openai_sim.script(500)
    r = router([deployment(openai_sim, "emb", "text-embedding-3-small"),
                deployment(openai_sim, "instruct", "gpt-3.5-turbo-instruct")], clock, sleeps)
    embedded = await r.aembedding(model="emb", input=["a", "b"])
    assert len(embedded.data) == 2
    assert embedded._hidden_params["model_group"] == "emb"
    text = await r.atext_completion(model="instruct", prompt="Say hi")
    assert text.choices[0].text


def test_sync_methods_and_sync_stream(openai_sim, clock, sleeps):
    openai_sim.script(500)
    r = router([deployment(openai_sim, "gpt")], clock, sleeps)
    try:
        response = r.completion(model="gpt", messages=MESSAGES)
        assert response.choices[0].message.content.endswith("Hello there")
        stream = r.completion(model="gpt", messages=MESSAGES, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).endswith("Hello there")
        assert stream._hidden_params["model_group"] == "gpt"
        assert len(r.embedding(model="gpt", input="x").data) == 1
    finally:
        r.close()
    assert len(openai_sim.requests) == 4


def test_model_list_views():
    r = Router(model_list=[{"model_name": "a", "litellm_params": {"model": "openai/gpt-4o"}, "model_info": {"id": "1"}},
                           {"model_name": "b", "litellm_params": {"model": "openai/gpt-4o-mini"}}])
    assert r.get_model_names() == ["a", "b"]
    assert r.get_model_list("a") == [{"model_name": "a", "litellm_params": {"model": "openai/gpt-4o"},
                                      "model_info": {"id": "1"}}]
    added = r.add_deployment({"model_name": "a", "litellm_params": {"model": "azure/gpt-4o"}})
    assert r.get_model_ids("a") == ["1", added.id]
    assert r.delete_deployment("1") is not None
    assert r.get_model_ids("a") == [added.id]


def test_constructor_refuses_unknown_arguments_and_warns_on_unsupported(caplog):
    with pytest.raises(TypeError, match="not_an_argument"):
        Router(model_list=[], not_an_argument=1)
    Router(model_list=[], alerting_config={"webhook": "x"})
    assert "alerting_config not supported yet" in caplog.text


@pytest.mark.parametrize(("argument", "value", "what"), [
    ("cache_responses", True, "response caching"),
    ("caching_groups", [("gpt-4o", "azure-gpt-4o")], "response caching"),
    ("cache_kwargs", {"ttl": 60}, "response caching"),
    ("provider_budget_config", {"openai": {"budget_limit": 10, "time_period": "1d"}}, "budgets"),
    ("router_budget_config", {"gpt-4o": {"max_budget": 5}}, "budgets"),
])
def test_caching_and_budget_arguments_are_refused_until_supported(argument, value, what):
    with pytest.raises(NotImplementedError, match=rf"Router\({argument}=…\): .* not support {what} yet"):
        Router(model_list=[], **{argument: value})
    Router(model_list=[], **{argument: type(value)()})  # LiteLLM's empty defaults change nothing: accepted


async def test_a_requests_own_fallbacks_are_used_and_never_sent(openai_sim, second_sim, clock, sleeps):
    second_sim.script(500, times=10)
    r = router([deployment(second_sim, "primary"), deployment(openai_sim, "spare", "gpt-4o"),
                deployment(openai_sim, "other", "gpt-4.1")], clock, sleeps, num_retries=0,
               fallbacks=[{"primary": ["other"]}])
    response = await r.acompletion(model="primary", messages=MESSAGES, fallbacks=["spare"])
    assert response._hidden_params["model_group"] == "spare"
    response = await r.acompletion(model="primary", messages=MESSAGES, fallbacks=[{"primary": ["other"]}])
    assert response._hidden_params["model_group"] == "other"
    assert models_seen(openai_sim) == ["gpt-4o", "gpt-4.1"]
    assert not any("fallbacks" in request.json for request in [*openai_sim.requests, *second_sim.requests])


async def test_a_request_naming_an_unserved_fallback_is_refused_before_any_call(openai_sim, clock, sleeps):
    r = router([deployment(openai_sim, "gpt")], clock, sleeps)
    with pytest.raises(BadRequestError, match="'nowhere'") as caught:
        await r.acompletion(model="gpt", messages=MESSAGES, fallbacks=["nowhere"])
    assert (caught.value.status_code, caught.value.param) == (400, "fallbacks")
    with pytest.raises(BadRequestError, match="context_window_fallbacks must be a list") as caught:
        await r.acompletion(model="gpt", messages=MESSAGES, context_window_fallbacks="gpt")
    assert caught.value.param == "context_window_fallbacks"
    with pytest.raises(BadRequestError, match="content_policy_fallbacks name model group"):
        await r.acompletion(model="gpt", messages=MESSAGES, content_policy_fallbacks=[{"gpt": ["gone"]}])
    assert openai_sim.requests == []


async def test_default_litellm_params_lie_under_the_deployments_and_the_requests(openai_sim, clock, sleeps):
    r = router([deployment(openai_sim, "gpt", temperature=0.5)], clock, sleeps,
               default_litellm_params={"temperature": 0.1, "max_tokens": 7, "user": "default-user"})
    await r.acompletion(model="gpt", messages=MESSAGES)
    await r.acompletion(model="gpt", messages=MESSAGES, user="me", max_tokens=9)
    sent = [request.json for request in openai_sim.requests]
    assert [(b["temperature"], b["max_tokens"], b["user"]) for b in sent] == [(0.5, 7, "default-user"),
                                                                          (0.5, 9, "me")]


def test_max_retries_is_num_retries_when_that_is_not_set():
    assert Router(model_list=[], max_retries=0).num_retries == 0
    assert Router(model_list=[], max_retries=0, num_retries=4).num_retries == 4
    assert Router(model_list=[]).num_retries == 2


async def test_a_deployments_own_cooldown_time_wins_over_the_routers(openai_sim, second_sim, clock, sleeps):
    second_sim.script(429, times=2)
    r = router([deployment(second_sim, "gpt", id="flaky", order=1, cooldown_time=60),
                deployment(second_sim, "gpt", "gpt-4o", id="other", order=2),
                deployment(openai_sim, "gpt", id="steady", order=3)], clock, sleeps, cooldown_time=5)
    assert (await r.acompletion(model="gpt", messages=MESSAGES))._hidden_params["model_id"] == "steady"
    assert await r.cooling_down() == {"flaky": clock() + 60, "other": clock() + 5}
    assert "cooldown_time" not in second_sim.requests[0].json


async def test_allowed_fails_policy_sets_the_allowance_per_error_type(openai_sim, second_sim, clock, sleeps):
    second_sim.script(429, times=10)
    flaky = deployment(second_sim, "gpt", id="flaky", order=1)
    steady = deployment(openai_sim, "gpt", id="steady", order=2)
    r = router([flaky, steady], clock, sleeps, allowed_fails_policy={"RateLimitErrorAllowedFails": 1})
    await r.acompletion(model="gpt", messages=MESSAGES)
    assert await r.cooling_down() == {}  # a 429 no longer cools down at once: one is allowed
    await r.acompletion(model="gpt", messages=MESSAGES)
    assert set(await r.cooling_down()) == {"flaky"}
    assert len(second_sim.requests) == 2
    second_sim.reset()
    second_sim.script(500, times=10)

    class AllowedFailsPolicy:  # LiteLLM's policy is an object with these attributes
        InternalServerErrorAllowedFails = 0

    r = router([flaky, steady], clock, sleeps, allowed_fails=3, allowed_fails_policy=AllowedFailsPolicy())
    await r.acompletion(model="gpt", messages=MESSAGES)
    assert set(await r.cooling_down()) == {"flaky"}  # the policy's 0, not allowed_fails' 3
    with pytest.raises(ValueError, match="unknown allowed_fails_policy field"):
        Router(model_list=[], allowed_fails_policy={"RateLimitErrorRetries": 1})


async def test_a_wildcard_groups_models_cool_down_one_by_one_and_are_listed(openai_sim, clock, sleeps):
    wildcard = [{"model_name": "openai/*", "model_info": {"id": f"w-{name}"},
                 "litellm_params": {"model": "openai/*", "api_base": base, "api_key": "sk-test", "order": order}}
                for name, base, order in (("dead", DEAD_BASE, 1), ("alive", openai_sim.base_url, 2))]
    r = router(wildcard, clock, sleeps, allowed_fails=0, cooldown_time=30)
    response = await r.acompletion(model="openai/gpt-4o", messages=MESSAGES)
    assert response._hidden_params["model_id"] == "w-alive:openai/gpt-4o"
    assert await r.cooling_down() == {"w-dead:openai/gpt-4o": clock() + 30}
    assert (await r.acompletion(model="openai/gpt-4.1", messages=MESSAGES))._hidden_params["model_id"] == (
        "w-alive:openai/gpt-4.1")  # another model of the same entry was tried, and failed, on its own
    assert set(await r.cooling_down()) == {"w-dead:openai/gpt-4o", "w-dead:openai/gpt-4.1"}


def test_router_is_public():
    assert sluicegate.Router is Router
    assert issubclass(NoDeploymentAvailableError, RateLimitError)
    assert not issubclass(NoDeploymentAvailableError, ServiceUnavailableError)
