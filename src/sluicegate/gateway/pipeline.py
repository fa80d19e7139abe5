"""The request pipeline every LLM API of the gateway shares: serve → router picks → prepare → send → shape.

An API family (OpenAI's routes in proxy.py, Anthropic's in anthropic/messages.py) parses its own requests and
supplies a `Dialect` that shapes answers, streams and errors its way; everything else — the router's choice of
deployment, retries, fallbacks and cooldowns, usage and cost, LiteLLM's headers, metrics — happens once, here.

Cost per request once warm: the router's pick and report (in memory: a few dict operations; with Redis in
router_settings: about three round trips), one `prepare` (no I/O), one upstream round trip, one JSON dump.
Streams are forwarded as they arrive (one write per upstream read); a client that goes away cancels the upstream
request (closing the stream generator closes the upstream connection).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import anyio
import orjson
from starlette.responses import StreamingResponse

from sluicegate.engine import open_stream_batches_async, send_async
from sluicegate.errors import APIError, BadRequestError, PermissionDeniedError
from sluicegate.gateway.auth import ANONYMOUS, Principal, authenticate
from sluicegate.gateway.db.runtime import GatewayDatabase
from sluicegate.gateway.deployments import ModelGroups, Target
from sluicegate.gateway.enforcement import Admitted, Enforcement, check_usable
from sluicegate.gateway.error_responses import JsonAnswer
from sluicegate.gateway.spend.record import SpendRecord
from sluicegate.gateway.spend.recorder import SpendRecorder
from sluicegate.mock import mock_chunks, mock_data
from sluicegate.observability.metrics import GatewayMetrics
from sluicegate.prepare import Prepared, prepare
from sluicegate.pricing import call_cost
from sluicegate.providers import registry
from sluicegate.providers.base import CallKind, Credentials
from sluicegate.resolve import ResolvedModel, resolve_credentials, resolve_model
from sluicegate.router import Pick, Request, Router
from sluicegate.router.selection import request_tags
from sluicegate.settings import Settings
from sluicegate.transport.retry import RATE_LIMIT_HEADERS

log = logging.getLogger("sluicegate.gateway")

# Fields that choose where a call goes, with whose credentials, at what price, and how hard it hits the upstream.
# Only an admin may set them in a request body: from anyone else, a client-chosen upstream would receive the
# operator's provider key (SSRF), and a client-chosen retry count would turn one request into many upstream calls.
ADMIN_ONLY_FIELDS = frozenset({
    "num_retries", "max_retries",
    "api_base", "base_url", "api_key", "api_version", "organization", "project", "azure_ad_token",
    "azure_ad_token_provider", "custom_llm_provider", "extra_headers", "headers", "input_cost_per_token",
    "output_cost_per_token", "base_model",
}) | registry.credential_option_names()  # every provider's own credentials and endpoints (aws_* …)
Answer = StreamingResponse | JsonAnswer


@dataclass(frozen=True, slots=True)
class GatewayState:
    """Everything the pipeline needs, built once at start-up."""

    groups: ModelGroups
    router: Router  # picks each attempt's deployment; retries, fallbacks, cooldowns (gateway/routing.py)
    settings: Settings  # litellm_settings applied over the SDK defaults
    master_key: str | None
    max_request_bytes: int
    metrics: GatewayMetrics
    enforcement: Enforcement  # virtual keys' model access, budgets and rate limits (enforcement.py)
    db: GatewayDatabase | None = None  # keys, users, teams, spend (None: master key only, nothing stored)
    spend: SpendRecorder | None = None  # every served request's spend record (journal, then the database)
    resolutions: Resolutions = field(default_factory=lambda: Resolutions())

    async def caller(self, headers: dict[str, str]) -> Principal:
        """Who sent a request: the master key's holder, a virtual key's principal, or anonymous (no master key)."""
        principal = await authenticate(headers, self.master_key, self.db)
        if principal.access is not None:  # a blocked or expired key is refused on every route
            check_usable(principal.access, datetime.now(UTC))
        return principal


class Resolutions:
    """Each deployment's resolved model and credentials, computed on first use and kept (they depend only on the
    config and the environment, both fixed once the gateway runs). Wildcard groups are resolved per request:
    their model names are the client's, and a cache keyed by them would grow without bound."""

    def __init__(self) -> None:
        self._by_target: dict[tuple[str, str], tuple[ResolvedModel, Credentials]] = {}

    def get(self, target: Target, settings: Settings) -> tuple[ResolvedModel, Credentials]:
        key = (target.deployment.id, target.model)
        found = self._by_target.get(key)
        if found is None:
            options = target.options
            resolved = resolve_model(target.model, custom_llm_provider=options.get("custom_llm_provider"),
                                     api_base=options.get("api_base") or options.get("base_url"))
            found = (resolved, resolve_credentials(resolved, options, settings))
            if not target.deployment.model_name.endswith("*"):
                self._by_target[key] = found
        return found

    def clear(self) -> None:
        """Forget every resolution (a deployment changed: its model or credentials must not be reused)."""
        self._by_target = {}

    def __len__(self) -> int:
        return len(self._by_target)


@dataclass(slots=True)
class Outcome:
    """What one request came to, for the metrics: filled in as the pipeline learns it."""

    route: str  # the route template, never the client's path (Azure paths carry a client-chosen name)
    started: float
    request_id: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    principal: Principal = ANONYMOUS
    admitted: Admitted | None = None  # set once the request passed the key's checks (its ledger ticket)
    end_user: str | None = None  # the request's `user` field
    tags: tuple[str, ...] = ()
    model_group: str | None = None  # only once resolved to a configured group (bounded label values)
    deployment_id: str | None = None
    provider: str | None = None
    provider_model: str | None = None
    status: int = 200
    upstream_s: float | None = None
    ttft_s: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    cost: Decimal | None = None
    cost_usd: float | None = None
    error: str | None = None
    is_ended: bool = False

    def record_usage(self, prepared: Prepared, reported_model: str | None, usage: dict[str, Any]) -> float | None:
        """Tokens and cost of the call; returns the cost in USD (None when the model has no known price)."""
        cost = call_cost(prepared, reported_model, usage)
        self.input_tokens = int(usage.get("prompt_tokens") or 0)
        self.output_tokens = int(usage.get("completion_tokens") or 0)
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
        self.cached_tokens = int(cached or usage.get("cache_read_input_tokens") or 0)
        self.cache_creation_tokens = int(usage.get("cache_creation_input_tokens") or 0)
        self.cost = cost
        self.cost_usd = float(cost) if cost is not None else None
        return self.cost_usd

    def finish(self, metrics: GatewayMetrics) -> None:
        metrics.request_finished(self.route, self.model_group, self.deployment_id, self.status,
                                 time.perf_counter() - self.started, upstream_s=self.upstream_s,
                                 ttft_s=self.ttft_s, input_tokens=self.input_tokens,
                                 output_tokens=self.output_tokens, cost_usd=self.cost_usd, error=self.error)


class StreamShaper(Protocol):
    """Turns one stream's OpenAI chunks into the bytes an API family sends (made fresh per stream)."""

    def feed(self, batch: list[dict[str, Any]]) -> bytes: ...

    def finish(self) -> bytes: ...

    def error(self, error: APIError) -> bytes: ...


class Dialect(Protocol):
    """How an API family shapes what the pipeline produces."""

    def answer(self, data: dict[str, Any]) -> bytes: ...

    def stream(self) -> StreamShaper: ...


ErrorRenderer = Callable[[BaseException, str], JsonAnswer]  # (error, request id) -> the API family's error body


async def serve(state: GatewayState, route: str, request_id: str, render_error: ErrorRenderer,
                work: Callable[[Outcome], Awaitable[Answer]]) -> Answer:
    """Run one request's `work` with the metrics bookkeeping; any failure becomes the family's error body."""
    outcome = Outcome(route, time.perf_counter(), request_id=request_id)
    state.metrics.request_started()
    try:
        response = await work(outcome)
    except Exception as error:  # the process edge: every failure becomes a JSON error
        response = render_error(error, request_id)
        outcome.status, outcome.error = response.status_code, type(error).__name__
    if not isinstance(response, StreamingResponse):  # a stream records itself when it ends
        await end_request(state, outcome)  # before the answer is sent: its spend is journaled first
        outcome.finish(state.metrics)
    return response


async def admit(state: GatewayState, outcome: Outcome, principal: Principal, requested: str,
                body: Mapping[str, Any], content_length: str | None) -> str:
    """The key's checks and admission (enforcement.py); returns the model group the request goes to.
    `content_length`: the request's header, the body's size for the cost reservation (re-encoded without it)."""
    body_bytes = int(content_length) if content_length and content_length.isdigit() else len(orjson.dumps(body))
    outcome.principal = principal
    user = body.get("user")
    outcome.end_user = user if isinstance(user, str) and user else None
    outcome.tags = spend_tags(body, principal)
    admitted = await state.enforcement.admit(principal, requested, body, body_bytes)
    outcome.admitted = admitted
    return admitted.model_group


MAX_SPEND_TAGS = 32  # a client's tags are stored on its spend rows: a bounded number of bounded strings
MAX_TAG_CHARS = 128


def spend_tags(body: Mapping[str, Any], principal: Principal) -> tuple[str, ...]:
    """The tags a spend record carries: the request's (`tags`, or `metadata.tags`), then the key's, each once."""
    key_tags = principal.access.tags if principal.access is not None else ()
    tags = dict.fromkeys(t for t in (*request_tags(body), *key_tags) if 0 < len(t) <= MAX_TAG_CHARS)
    return tuple(tags)[:MAX_SPEND_TAGS]


async def end_request(state: GatewayState, outcome: Outcome) -> None:
    """Once per request, whatever ended it: settle the ledger, give back the slot, journal the spend record."""
    if outcome.is_ended:
        return
    outcome.is_ended = True
    if state.spend is not None and outcome.model_group is not None and outcome.admitted is not None:
        state.spend.record(spend_record(outcome))  # first: whatever happens next, the spend is journaled
    if outcome.admitted is not None:
        try:
            await state.enforcement.finish(outcome.admitted, outcome.cost,
                                           outcome.input_tokens + outcome.output_tokens)
        except Exception:  # the answer is already the client's: log, never turn it into an error
            log.exception("settling request %s in the budget ledger failed", outcome.request_id)


def spend_record(outcome: Outcome) -> SpendRecord:
    principal = outcome.principal
    failed = outcome.status >= 400 or outcome.error is not None
    return SpendRecord(
        request_id=outcome.request_id, model=outcome.provider_model or outcome.model_group or "",
        spend_usd=outcome.cost or Decimal(0), start_time=outcome.started_at, end_time=datetime.now(UTC),
        api_key_hash=principal.key_hash, user_id=principal.user_id, team_id=principal.team_id,
        org_id=principal.org_id, end_user=outcome.end_user, model_group=outcome.model_group,
        deployment_id=outcome.deployment_id, provider=outcome.provider, prompt_tokens=outcome.input_tokens,
        completion_tokens=outcome.output_tokens, cached_tokens=outcome.cached_tokens,
        cache_creation_tokens=outcome.cache_creation_tokens, status="failure" if failed else "success",
        tags=outcome.tags)


def serves(state: GatewayState, model: str) -> bool:
    """Whether the router has a group for `model`: a model_name, an alias, a deployment id or a wildcard match."""
    try:
        state.router.groups.resolve(model)
    except BadRequestError:
        return False
    return True


def refuse_admin_fields(body: dict[str, Any], principal: Principal) -> None:
    if principal.is_admin:
        return
    forbidden = sorted(ADMIN_ONLY_FIELDS.intersection(body))
    if forbidden:
        raise PermissionDeniedError(f"Only an admin may set {', '.join(forbidden)} in a request: the gateway's "
                                    "config chooses upstreams and credentials", param=forbidden[0],
                                    code="admin_only_field")


CallArgs = Callable[[Target], tuple[dict[str, Any], Any]]  # target -> (prepare keywords, chat messages or None)
# Request fields that steer the router, never sent upstream: a request's own retry count (admins only), tags, and
# its own fallbacks (LiteLLM's `"fallbacks": ["other-group"]` or `[{group: [groups]}]`; the router refuses a group
# the gateway does not serve).
ROUTING_FIELDS = frozenset({"num_retries", "max_retries", "tags", "fallbacks", "context_window_fallbacks",
                            "content_policy_fallbacks"})


def split_routing(params: dict[str, Any]) -> dict[str, Any]:
    """Take the router's fields out of a request's parameters; what the router reads from them."""
    taken = {name: params.pop(name) for name in ROUTING_FIELDS.intersection(params)}
    routing: dict[str, Any] = {}
    retries = taken.get("num_retries", taken.get("max_retries"))
    if retries is not None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise BadRequestError("num_retries must be a whole number, 0 or more", param="num_retries")
        routing["num_retries"] = retries
    for name in sorted(ROUTING_FIELDS.intersection(taken)):
        value = taken[name]
        if not name.endswith("fallbacks") or value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str | dict) for v in value):
            raise BadRequestError(f"{name} must be a list of model names, or of {{model: [model names]}} objects",
                                  param=name, code="invalid_fallbacks")
        routing[name] = value
    return routing


def route_request(kind: CallKind, payload: Any, body: dict[str, Any]) -> Request:
    """What the router reads of a request to choose a deployment (tokens only when a setting needs them)."""
    is_stream = bool(body.get("stream"))
    tags = request_tags(body)
    if kind == "chat":
        return Request("chat", messages=payload if isinstance(payload, list) else None, tags=tags,
                       is_stream=is_stream)
    return Request(kind, text=payload, tags=tags, is_stream=is_stream)


@dataclass(slots=True)
class _Attempt:
    """One deployment's answer, as the router sees it: usage for usage-based routing; a stream settles later."""

    answer: Answer
    usage: dict[str, Any] | None = None
    settles_later: bool = False
    _hidden_params: dict[str, Any] = field(default_factory=dict)  # the router notes retries and fallbacks here


async def call_group(state: GatewayState, kind: CallKind, requested: str, request: Request, call_args: CallArgs,
                     headers: dict[str, str], outcome: Outcome, dialect: Dialect,
                     tailor: Callable[[Prepared], None] | None = None,
                     routing: dict[str, Any] | None = None) -> Answer:
    """Serve `requested` through the router: it picks a deployment per attempt, retries, falls back, cools down.

    Each attempt prepares the call for the deployment picked, sends it and shapes the answer; a stream counts as
    answered once the upstream accepted it (errors before its first byte may still be retried or fall back).
    `tailor` may adjust each prepared call before it is sent (the Messages API swaps in a native adapter for
    Anthropic deployments)."""
    outcome.model_group = requested
    router = state.router

    async def attempt(pick: Pick, _: dict[str, Any]) -> _Attempt:
        target = state.groups.for_pick(pick)
        kwargs, messages = call_args(target)
        if router.default_litellm_params:  # under the deployment's options and the request's
            kwargs = {**router.default_litellm_params, **kwargs}
        # A deployment's model and credentials are the same for every request, unless an admin overrides them.
        overridden = any(kwargs[name] != target.options.get(name) for name in ADMIN_ONLY_FIELDS.intersection(kwargs))
        resolved_as = None if overridden else state.resolutions.get(target, state.settings)
        kwargs["num_retries"] = 0  # the router owns retries: attempts never multiply across layers
        if kwargs.get("timeout") is None:
            timeout = pick.deployment.timeout(is_stream=request.is_stream)
            kwargs["timeout"] = timeout if timeout is not None else router.timeout_for(is_stream=request.is_stream)
        prepared = prepare(kind, target.model, kwargs, messages=messages, settings=state.settings,
                           resolved_as=resolved_as)
        if tailor is not None:
            tailor(prepared)
        answer_headers = {**headers, "x-litellm-model-group": pick.model_group,
                          "x-litellm-model-id": target.deployment.id}
        if target.api_base:
            answer_headers["x-litellm-model-api-base"] = target.api_base
        outcome.deployment_id = target.deployment.id
        outcome.provider, outcome.provider_model = prepared.call.provider, prepared.call.model
        try:
            result: _Attempt
            if prepared.call.is_stream:
                settle = _StreamSettlement(router, pick, outcome)
                result = _Attempt(await _stream(prepared, answer_headers, outcome, state, dialect.stream(),
                                                settle), settles_later=True)
            else:
                result = await _complete(prepared, answer_headers, outcome, dialect)
        except APIError as error:
            state.metrics.upstream_call_finished(pick.model_group, target.deployment.id, error.status_code or 0,
                                                 error=type(error).__name__)
            raise
        state.metrics.upstream_call_finished(pick.model_group, target.deployment.id, 200)
        return result

    done: _Attempt = await router.execute(requested, request, routing or {}, attempt)
    routed = done._hidden_params.get("additional_headers") or {}
    answer_headers = done.answer.headers
    for name in ("x-litellm-attempted-retries", "x-litellm-attempted-fallbacks"):
        if name in routed and isinstance(answer_headers, MutableMapping):
            answer_headers[name] = str(routed[name])
    return done.answer


class _StreamSettlement:
    """How a stream tells the router it ended: its tokens and time to first token, or the error that broke it."""

    __slots__ = ("_outcome", "_pick", "_router", "_ttft_s")

    def __init__(self, router: Router, pick: Pick, outcome: Outcome) -> None:
        self._router, self._pick, self._outcome = router, pick, outcome
        self._ttft_s: float | None = None

    def first_chunk(self) -> None:
        self._ttft_s = self._router.clock() - self._pick.started  # latency-based routing ranks streams by this

    async def __call__(self, error: BaseException | None) -> None:
        with anyio.CancelScope(shield=True):  # a client that went away must not leave the pick in flight
            if isinstance(error, APIError):
                await self._router.report_failure(self._pick, error)
                return
            tokens = self._outcome.input_tokens + self._outcome.output_tokens
            await self._router.report_success(self._pick, tokens=tokens or None, ttft_s=self._ttft_s)


async def _complete(prepared: Prepared, headers: dict[str, str], outcome: Outcome, dialect: Dialect) -> _Attempt:
    sent_at = time.perf_counter()
    if prepared.mock_response is not None:
        data, upstream = mock_data(prepared), {}
    else:
        sent = await send_async(prepared)
        data = prepared.adapter.parse_response(prepared.call, sent.status, sent.headers, sent.body)
        upstream = sent.headers
    outcome.upstream_s = time.perf_counter() - sent_at
    if data.get("usage"):
        cost = outcome.record_usage(prepared, data.get("model"), data["usage"])
        if cost is not None:
            headers["x-litellm-response-cost"] = str(cost)
    headers.update({name: upstream[name] for name in RATE_LIMIT_HEADERS if name in upstream})
    return _Attempt(JsonAnswer(200, dialect.answer(data), headers), usage=data.get("usage"))


async def _stream(prepared: Prepared, headers: dict[str, str], outcome: Outcome, state: GatewayState,
                  shaper: StreamShaper, settle: _StreamSettlement) -> StreamingResponse:
    if prepared.mock_response is not None:
        batches: AsyncIterator[list[dict[str, Any]]] = _one_batch(mock_chunks(prepared))
    else:
        response, batches = await open_stream_batches_async(prepared)  # errors before the first byte raise here
        headers.update({name: response.headers[name] for name in RATE_LIMIT_HEADERS if name in response.headers})
    return StreamingResponse(_shaped(prepared, batches, outcome, state, shaper, settle),
                             media_type="text/event-stream",
                             headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"})


async def _shaped(prepared: Prepared, batches: AsyncIterator[list[dict[str, Any]]], outcome: Outcome,
                  state: GatewayState, shaper: StreamShaper, settle: _StreamSettlement) -> AsyncIterator[bytes]:
    """The stream's bytes: one write per batch the provider sent together (a write per event cost ~20%).

    The request ends (ledger settled, spend journaled) before the closing event is sent, so a client that saw
    the whole stream was charged for it whatever happens to the process next."""
    failure: BaseException | None = None
    try:
        async for batch in batches:
            if outcome.ttft_s is None:
                outcome.ttft_s = time.perf_counter() - outcome.started
                settle.first_chunk()
            usage = batch[-1].get("usage")  # usage rides on the last chunk of a stream
            if usage:
                outcome.record_usage(prepared, batch[-1].get("model"), usage)
            data = shaper.feed(batch)
            if data:
                yield data
        closing = shaper.finish()
        await end_request(state, outcome)
        yield closing
    except APIError as error:  # after the first byte the status is sent: the error travels as an event
        outcome.error, failure = type(error).__name__, error
        await end_request(state, outcome)
        yield shaper.error(error)
    except BaseException as error:  # the client went away (cancelled): still recorded, then re-raised
        outcome.error = type(error).__name__
        raise
    finally:
        outcome.upstream_s = time.perf_counter() - outcome.started
        await batches.aclose()  # type: ignore[attr-defined]  # a client disconnect cancels the upstream here
        await settle(failure)
        with anyio.CancelScope(shield=True):  # a client that went away still gives back its slot, and pays
            await end_request(state, outcome)
        outcome.finish(state.metrics)


async def _one_batch(chunks: list[dict[str, Any]]) -> AsyncIterator[list[dict[str, Any]]]:
    yield chunks
