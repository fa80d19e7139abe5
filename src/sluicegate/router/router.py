"""`sluicegate.Router`: LiteLLM's Router — load balancing, retries, fallbacks and cooldowns over a model_list.

    router = Router(model_list=[{"model_name": "gpt-4o", "litellm_params": {"model": "azure/gpt-4o-eu", …}}, …],
                    routing_strategy="least-busy", num_retries=2, fallbacks=[{"gpt-4o": ["claude-sonnet"]}])
    response = await router.acompletion(model="gpt-4o", messages=[…])
    response._hidden_params["model_id"]  # the deployment that answered

Built from three steps the gateway can call on its own: `pick` a deployment for a group and a request, then
`report_success` or `report_failure`; `execute` runs any call through retries and fallbacks with them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from sluicegate.errors import APIError, BadRequestError, Timeout
from sluicegate.router.calls import RoutedStream, call_sdk, deployment_kwargs, total_tokens
from sluicegate.router.cooldowns import (
    DEFAULT_ALLOWED_FAILS,
    DEFAULT_COOLDOWN_S,
    NoDeploymentAvailableError,
    check_allowed_fails_policy,
    cooldown_s,
    counts_as_failure,
    should_cool_down,
)
from sluicegate.router.fallbacks import REQUEST_KEYWORDS, Fallbacks, fallback_map
from sluicegate.router.groups import Deployment, ModelGroups, deployment_from_entry
from sluicegate.router.loop import LoopThread, SyncRoutedStream
from sluicegate.router.redis_state import redis_state
from sluicegate.router.retries import check_policy, is_deployment_error, retries_for
from sluicegate.router.selection import Pick, Request, Selector, request_tags
from sluicegate.router.sharing import PartlyShared, Shares
from sluicegate.router.state import MemoryState, RouterState
from sluicegate.router.strategies import check_strategy
from sluicegate.settings import Settings, defaults
from sluicegate.transport.retry import retry_delay_s

log = logging.getLogger("sluicegate.router")
T = TypeVar("T")
Call = Callable[[Pick, dict[str, Any]], Awaitable[Any]]
CooldownHook = Callable[[Pick, BaseException, float], None]  # (pick, the error, cooling down until)

# LiteLLM Router arguments accepted but not acted on yet (a warning names them); anything else is a TypeError.
UNSUPPORTED_ARGS = frozenset({
    "assistants_config", "search_tools", "client_ttl", "polling_interval", "default_priority",
    "default_max_parallel_requests", "optional_pre_call_checks", "alerting_config", "router_general_settings",
    "deployment_affinity_ttl_seconds", "model_group_affinity_config", "ignore_invalid_deployments",
    "enable_health_check_routing",
})
# LiteLLM Router arguments that would cache responses or enforce budgets: set to anything but their (empty)
# default they raise, so nobody believes a cache or a budget is in force when it is not.
NOT_YET_ARGS = {
    "cache_responses": "response caching", "cache_kwargs": "response caching", "caching_groups": "response caching",
    "provider_budget_config": "budgets", "router_budget_config": "budgets",
}
_IGNORED_ARGS = frozenset({"set_verbose", "debug_level"})


class Router:
    """Route OpenAI-format calls over LiteLLM's `model_list`. Every LiteLLM argument the docs list as supported
    (docs/router.md) behaves as in LiteLLM; `redis_client`, `state`, `clock`, `rng` and `sleep` are sluicegate's own
    seams."""

    def __init__(
        self,
        model_list: Sequence[Mapping[str, Any]] | None = None,
        *,
        routing_strategy: str = "simple-shuffle",
        routing_strategy_args: Mapping[str, Any] | None = None,
        num_retries: int | None = None,
        max_retries: int | None = None,
        retry_policy: Mapping[str, int] | Any | None = None,
        model_group_retry_policy: Mapping[str, Mapping[str, int] | Any] | None = None,
        retry_after: float = 0.0,
        allowed_fails: int | None = None,
        allowed_fails_policy: Mapping[str, int] | Any | None = None,
        cooldown_time: float | None = None,
        disable_cooldowns: bool = False,
        fallbacks: Sequence[Mapping[str, Any] | str] | None = None,
        context_window_fallbacks: Sequence[Mapping[str, Any] | str] | None = None,
        content_policy_fallbacks: Sequence[Mapping[str, Any] | str] | None = None,
        default_fallbacks: Sequence[str] | None = None,
        max_fallbacks: int = 5,
        model_group_alias: Mapping[str, Any] | None = None,
        enable_pre_call_checks: bool = False,
        enable_tag_filtering: bool = False,
        tag_filtering_match_any: bool = True,
        timeout: float | None = None,
        stream_timeout: float | None = None,
        default_litellm_params: Mapping[str, Any] | None = None,
        redis_url: str | None = None,
        redis_host: str | None = None,
        redis_port: int | None = None,
        redis_password: str | None = None,
        redis_db: int | None = None,
        redis_namespace: str | None = None,
        redis_client: Any = None,
        state: RouterState | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        settings: Settings | None = None,
        on_cooldown: CooldownHook | None = None,
        **unsupported: Any,
    ) -> None:
        _check_unsupported(unsupported)
        self.routing_strategy = check_strategy(routing_strategy)
        if num_retries is None:  # LiteLLM's docs list router_settings.max_retries as this count too
            num_retries = max_retries
        self.num_retries = 2 if num_retries is None else int(num_retries)
        self.retry_policy = check_policy(retry_policy)
        self.model_group_retry_policy = {g: check_policy(p) for g, p in (model_group_retry_policy or {}).items()}
        self.retry_after = float(retry_after)
        self.allowed_fails = DEFAULT_ALLOWED_FAILS if allowed_fails is None else int(allowed_fails)
        self.allowed_fails_policy = check_allowed_fails_policy(allowed_fails_policy)
        self.cooldown_time = DEFAULT_COOLDOWN_S if cooldown_time is None else float(cooldown_time)
        self.disable_cooldowns = disable_cooldowns
        self.fallbacks = Fallbacks.from_args(fallbacks, context_window_fallbacks, content_policy_fallbacks,
                                             default_fallbacks)
        self.max_fallbacks = max_fallbacks
        self.model_group_alias = dict(model_group_alias or {})
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self.default_litellm_params = dict(default_litellm_params or {})
        self.redis_url, self.redis_host, self.redis_port = redis_url, redis_host, redis_port
        self.is_shared = state is None and bool(redis_url or redis_host or redis_client is not None)
        if self.is_shared:  # every instance on the same Redis shares cooldowns, and what its strategy reads
            prefix = f"{redis_namespace}:sluicegate:router:" if redis_namespace else "sluicegate:router:"
            shared = redis_state(host=redis_host, port=redis_port, password=redis_password, url=redis_url,
                                 db=redis_db, prefix=prefix, client=redis_client)
            state = PartlyShared(shared, Shares.read_by(self.routing_strategy, enforces_limits=enable_pre_call_checks))
        self.state: RouterState = state or MemoryState()
        self.clock = clock
        self.settings = settings or defaults
        self.on_cooldown = on_cooldown
        self._sleep = sleep
        args = dict(routing_strategy_args or {})
        self.selector = Selector(
            self.state, clock, rng or random.Random(),  # noqa: S311  # load spreading, not cryptography
            routing_strategy, pre_call_checks=enable_pre_call_checks, tag_filtering=enable_tag_filtering,
            tags_match_any=tag_filtering_match_any, latency_ttl_s=float(args.get("ttl", 3600.0)),
            latency_buffer=float(args.get("lowest_latency_buffer", 0.0)))
        self._loop = LoopThread()
        self.set_model_list(model_list or [])

    # The model list

    def set_model_list(self, model_list: Sequence[Mapping[str, Any]]) -> None:
        self.groups = ModelGroups([deployment_from_entry(e) for e in model_list], self.model_group_alias)

    @property
    def model_list(self) -> list[dict[str, Any]]:
        return self.get_model_list()

    def get_model_list(self, model_name: str | None = None) -> list[dict[str, Any]]:
        """Deployments as LiteLLM shows them (`model_info.id` filled in), optionally of one group."""
        return [d.as_dict() for d in self.groups.deployments if model_name is None or d.model_name == model_name]

    def get_model_names(self) -> list[str]:
        return self.groups.names()

    def get_model_ids(self, model_name: str | None = None) -> list[str]:
        return [d.id for d in self.groups.deployments if model_name is None or d.model_name == model_name]

    def get_deployment(self, model_id: str) -> Deployment | None:
        return self.groups.by_id.get(model_id)

    def add_deployment(self, entry: Mapping[str, Any]) -> Deployment:
        deployment = deployment_from_entry(entry)
        self.groups = ModelGroups([*self.groups.deployments, deployment], self.model_group_alias)
        return deployment

    def delete_deployment(self, model_id: str) -> Deployment | None:
        deployment = self.groups.by_id.get(model_id)
        if deployment is not None:
            remaining = [d for d in self.groups.deployments if d.id != model_id]
            self.groups = ModelGroups(remaining, self.model_group_alias)
        return deployment

    def timeout_for(self, *, is_stream: bool) -> float | None:
        """The router's own timeout for a call (`stream_timeout` for streams when set), under any deployment's."""
        return self.stream_timeout if is_stream and self.stream_timeout else self.timeout

    async def cooling_down(self) -> dict[str, float]:
        """Deployment id → when it frees up (router clock), for every deployment cooling down now; a wildcard
        group's models under their own ids (`{entry id}:{model}`), as they cool down one by one."""
        now = self.clock()
        ids = self.get_model_ids()
        wildcards = tuple(f"{d.id}:" for g in self.groups.patterns for d in self.groups.groups[g])
        if not wildcards:
            return await self.state.cooling_down(ids, now)
        known = set(ids)
        return {i: until for i, until in (await self.state.all_cooling_down(now)).items()
                if i in known or i.startswith(wildcards)}

    # The steps: pick, report

    async def pick(self, model: str, request: Request, *, avoid: frozenset[str] = frozenset(),
                   exclude: frozenset[str] = frozenset()) -> Pick:
        """Choose a deployment of the group `model` names for `request`, counting it in flight and in this
        minute's usage. Every pick must be followed by exactly one `report_success` or `report_failure`."""
        group, deployments = self.groups.resolve(model)
        chosen = await self.selector.pick(group, deployments, request, avoid=avoid, exclude=exclude)
        await self.state.add_in_flight(chosen.deployment.id, 1)
        return chosen

    async def report_success(self, pick: Pick, *, tokens: int | None = None, ttft_s: float | None = None) -> None:
        """The call on `pick` succeeded, using `tokens` in all; `ttft_s` for a stream (its latency for routing)."""
        now = self.clock()
        deployment_id = pick.deployment.id
        await self.state.add_in_flight(deployment_id, -1)
        await self.state.record_latency(deployment_id, ttft_s if ttft_s is not None else now - pick.started, now)
        if tokens is not None and tokens != pick.reserved_tokens:
            await self.state.add_tokens(deployment_id, pick.minute, tokens - pick.reserved_tokens)

    async def report_failure(self, pick: Pick, error: BaseException) -> None:
        """The call on `pick` failed with `error`: count it, and cool the deployment down when it should."""
        now = self.clock()
        deployment_id = pick.deployment.id
        await self.state.add_in_flight(deployment_id, -1)
        if isinstance(error, Timeout):  # a slow deployment should lose latency-based traffic too
            await self.state.record_latency(deployment_id, now - pick.started, now)
        if self.disable_cooldowns or not counts_as_failure(error):
            return
        if pick.group_size == 1:  # cooling down a group's only deployment would only turn retries into errors
            return
        failures = await self.state.add_failure(deployment_id, int(now // 60))
        if should_cool_down(error, failures, self.allowed_fails, self.allowed_fails_policy):
            own = pick.deployment.cooldown_time
            until = now + cooldown_s(error, self.cooldown_time if own is None else own)
            await self.state.cooldown(deployment_id, until)
            if self.on_cooldown is not None:
                self.on_cooldown(pick, error, until)
            log.warning("deployment %s of %r cooling down for %.1f s after %s", deployment_id,
                        pick.model_group, until - now, type(error).__name__)

    async def _stream_ended(self, stream: RoutedStream, error: BaseException | None) -> None:
        if error is None:
            await self.report_success(stream.pick, tokens=total_tokens(stream.usage), ttft_s=stream.ttft_s)
        else:
            await self.report_failure(stream.pick, error)

    # Retries and fallbacks around any call

    async def execute(self, model: str, request: Request, kwargs: dict[str, Any], call: Call) -> Any:
        """Run `call(pick, kwargs)` on deployments of `model`'s group, retrying and then falling back.

        The original error is raised when every fallback fails too (with notes naming what each fallback did).
        """
        group, _ = self.groups.resolve(model)
        fallbacks = self._fallbacks_for(kwargs)
        try:
            return await self._with_retries(model, request, kwargs, call, fallbacks_tried=0)
        except APIError as error:
            original = error
        plan = fallbacks.for_error(group, original)
        if not plan and group != model:
            plan = fallbacks.for_error(model, original)
        for index, fallback in enumerate(plan[:self.max_fallbacks], start=1):
            try:
                return await self._with_retries(fallback, request, kwargs, call, fallbacks_tried=index)
            except APIError as error:
                original.add_note(f"fallback to model group {fallback!r} failed: {error}")
        raise original

    def _fallbacks_for(self, kwargs: Mapping[str, Any]) -> Fallbacks:
        """The router's fallbacks, or the request's own in their place; a request that names a group this router
        does not serve (or sends them malformed) is a BadRequestError before any call is made."""
        if not any(name in kwargs for name in REQUEST_KEYWORDS):
            return self.fallbacks
        for name in REQUEST_KEYWORDS:
            if name not in kwargs:
                continue
            try:
                named = fallback_map(kwargs[name], name)
            except ValueError as error:
                raise BadRequestError(str(error), param=name, code="invalid_fallbacks") from None
            unknown = sorted({g for groups in named.values() for g in groups if not self._serves(g)})
            if unknown:
                raise BadRequestError(f"The request's {name} name model group(s) {', '.join(map(repr, unknown))}, "
                                      "which are not served here (GET /v1/models lists the models).",
                                      param=name, code="invalid_fallbacks")
        return self.fallbacks.overridden(kwargs)

    def _serves(self, model: str) -> bool:
        try:
            self.groups.resolve(model)
        except BadRequestError:
            return False
        return True

    async def _with_retries(self, model: str, request: Request, kwargs: dict[str, Any], call: Call,
                            fallbacks_tried: int) -> Any:
        attempts: dict[str, int] = {}
        tried: dict[str, Deployment] = {}
        broken: set[str] = set()  # answered 401/404: never again for this request
        retries = 0
        num_retries = int(kwargs.get("num_retries", self.num_retries))  # a request may set its own, as in LiteLLM
        last_error: APIError | None = None
        while True:
            try:
                pick = await self.pick(model, request, avoid=frozenset(attempts),
                                       exclude=_spent(attempts, tried) | broken)
            except NoDeploymentAvailableError:
                if last_error is not None:  # the upstream's own error says more than "nothing left"
                    raise last_error from None
                raise
            deployment_id = pick.deployment.id
            if last_error is not None:
                await self._wait_before_retry(retries, last_error, same_deployment=deployment_id in attempts)
            attempts[deployment_id] = attempts.get(deployment_id, 0) + 1
            tried[deployment_id] = pick.deployment
            try:
                result = await call(pick, kwargs)
            except APIError as error:
                await self.report_failure(pick, error)
                last_error = error
                if is_deployment_error(error):
                    broken.add(deployment_id)
                if retries >= retries_for(error, num_retries, self._policy(pick.model_group)):
                    raise
                retries += 1
                continue
            except BaseException as error:  # cancelled, or a bug: still settle the pick
                await self.report_failure(pick, error)
                raise
            if not getattr(result, "settles_later", False):  # a stream reports when it ends
                await self.report_success(pick, tokens=total_tokens(getattr(result, "usage", None)))
            _annotate(result, pick, retries, fallbacks_tried)
            return result

    def _policy(self, group: str) -> dict[str, int]:
        return self.model_group_retry_policy.get(group, self.retry_policy)

    async def _wait_before_retry(self, retries: int, error: APIError, *, same_deployment: bool) -> None:
        """No wait when the retry goes to another deployment; backoff (or Retry-After) when it goes back."""
        delay = self.retry_after
        if same_deployment:
            delay = max(delay, retry_delay_s(retries, error, initial_s=self.settings.retry_initial_delay_s,
                                             max_s=self.settings.retry_max_delay_s))
        if delay > 0:
            await self._sleep(delay)

    # The SDK methods

    async def _routed(self, kind: str, model: str, kwargs: dict[str, Any], request: Request) -> Any:
        timeout = self.timeout_for(is_stream=bool(kwargs.get("stream")))

        async def call(pick: Pick, request_kwargs: dict[str, Any]) -> Any:
            sent = deployment_kwargs(pick, request_kwargs, timeout, self.default_litellm_params)
            return await call_sdk(kind, pick, sent, clock=self.clock, report=self._stream_ended)

        return await self.execute(model, request, kwargs, call)

    async def acompletion(self, model: str, messages: list[Any], **kwargs: Any) -> Any:
        request = Request("chat", messages=messages, tags=request_tags(kwargs), is_stream=bool(kwargs.get("stream")))
        return await self._routed("chat", model, {**kwargs, "messages": messages}, request)

    async def aembedding(self, model: str, input: Any, **kwargs: Any) -> Any:  # OpenAI's parameter name
        request = Request("embedding", text=input, tags=request_tags(kwargs))
        return await self._routed("embedding", model, {**kwargs, "input": input}, request)

    async def atext_completion(self, model: str, prompt: Any, **kwargs: Any) -> Any:
        request = Request("text_completion", text=prompt, tags=request_tags(kwargs),
                          is_stream=bool(kwargs.get("stream")))
        return await self._routed("text_completion", model, {**kwargs, "prompt": prompt}, request)

    def completion(self, model: str, messages: list[Any], **kwargs: Any) -> Any:
        return self._sync(self.acompletion(model, messages, **kwargs))

    def embedding(self, model: str, input: Any, **kwargs: Any) -> Any:
        return self._sync(self.aembedding(model, input, **kwargs))

    def text_completion(self, model: str, prompt: Any, **kwargs: Any) -> Any:
        return self._sync(self.atext_completion(model, prompt, **kwargs))

    def _sync(self, coroutine: Any) -> Any:
        result = self._loop.run(coroutine)
        return SyncRoutedStream(result, self._loop) if isinstance(result, RoutedStream) else result

    def close(self) -> None:
        """Stop the thread behind the sync methods (started on their first use)."""
        self._loop.close()


def _annotate(result: Any, pick: Pick, retries: int, fallbacks_tried: int) -> None:
    """Say which deployment answered, where LiteLLM's router says it: `_hidden_params` and its headers."""
    hidden = getattr(result, "_hidden_params", None)
    if not isinstance(hidden, dict):
        return
    deployment = pick.deployment
    api_base = deployment.api_base or hidden.get("api_base")
    hidden.update({"model_id": deployment.id, "model_group": pick.model_group, "api_base": api_base,
                   "deployment": deployment.model})
    headers = dict(hidden.get("additional_headers") or {})
    headers.update({"x-litellm-model-id": deployment.id, "x-litellm-model-group": pick.model_group,
                    "x-litellm-model-api-base": api_base, "x-litellm-attempted-retries": retries,
                    "x-litellm-attempted-fallbacks": fallbacks_tried})
    hidden["additional_headers"] = headers


def _spent(attempts: Mapping[str, int], tried: Mapping[str, Deployment]) -> frozenset[str]:
    """Deployments this request may not try again: their own `max_retries` is used up."""
    return frozenset(i for i, count in attempts.items()
                     if tried[i].max_retries is not None and count > (tried[i].max_retries or 0))


def _check_unsupported(arguments: Mapping[str, Any]) -> None:
    unknown = set(arguments) - UNSUPPORTED_ARGS - NOT_YET_ARGS.keys() - _IGNORED_ARGS
    if unknown:
        raise TypeError(f"Router() got unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    refused = sorted(name for name in NOT_YET_ARGS.keys() & arguments if arguments[name])
    if refused:
        what = " or ".join(sorted({NOT_YET_ARGS[name] for name in refused}))
        raise NotImplementedError(f"Router({', '.join(f'{name}=…' for name in refused)}): sluicegate's router does "
                                  f"not support {what} yet; remove the argument (see docs/router.md)")
    named = sorted(set(arguments) & UNSUPPORTED_ARGS)
    if named:
        log.warning("Router: %s not supported yet; ignored (see docs/router.md)", ", ".join(named))


