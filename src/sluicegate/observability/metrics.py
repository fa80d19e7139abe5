"""Prometheus metrics for the gateway, under LiteLLM's metric and label names so its dashboards keep working.

A recorder the pipeline calls, not a callback system. Cost per request: two calls, a dict lookup of pre-resolved
label children and a handful of locked increments (about 5 µs for a full success, see docs/gateway/metrics.md);
no I/O. Rendering happens only when /metrics is scraped.

Label contract (keeps cardinality bounded): every label value comes from the config or from a fixed set —
`model_group` is a group the request *resolved to* (never a name a client typed that the config does not
serve), `deployment_id` is a config deployment id, `route` is a route template (`/v1/chat/completions`,
`/openai/deployments/{model:path}/chat/completions`), never the raw URL path, and `error` is an exception
class name. A request that fails before its group resolved is recorded with an empty group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

# prometheus_client's multiprocess mode: set (by `sluicegate serve --workers N`, or by the operator) before the
# library is imported, each worker writes its values to files in this directory and a scrape sums them all.
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# From 5 ms (a cache hit, a mock) to 120 s (a long reasoning answer); LiteLLM's own list has 35 buckets,
# every label combination pays for each bucket, so this keeps the ones a dashboard's quantiles need.
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)

# LiteLLM's label names (litellm/types/integrations/prometheus.py), so PromQL written for it still matches.
GROUP = "requested_model"
DEPLOYMENT = "model_id"
ROUTE = "route"
STATUS = "status_code"
EXCEPTION_STATUS = "exception_status"
EXCEPTION_CLASS = "exception_class"
# The router's view of a deployment uses LiteLLM's "deployment" labels (litellm/integrations/prometheus.py).
LITELLM_MODEL = "litellm_model_name"
API_BASE = "api_base"
API_PROVIDER = "api_provider"
# litellm_deployment_state values, LiteLLM's: 0 healthy, 1 partial outage, 2 complete outage (cooling down).
DEPLOYMENT_HEALTHY = 0
DEPLOYMENT_COOLING_DOWN = 2


@dataclass(frozen=True, slots=True)
class _Series:
    """The label children one (route, group, deployment, status) combination writes to, resolved once."""

    requests: Counter
    total_latency: Histogram
    upstream_latency: Histogram
    time_to_first_token: Histogram
    input_tokens: Counter
    output_tokens: Counter
    total_tokens: Counter
    spend: Counter


class GatewayMetrics:
    """The gateway's metrics in a registry of their own, so several apps (and tests) in one process never collide.

    >>> metrics = GatewayMetrics()
    >>> metrics.request_started()
    >>> metrics.request_finished("/v1/chat/completions", "gpt-4o-mini", "dep-1", 200, duration_s=0.42,
    ...                          upstream_s=0.40, input_tokens=12, output_tokens=30, cost_usd=0.0001)
    >>> body, content_type = metrics.render()
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # With several workers each one's values go to files in this directory (see MULTIPROCESS_DIR_ENV).
        self.multiprocess_dir = os.environ.get(MULTIPROCESS_DIR_ENV) or None
        if self.multiprocess_dir is None:  # process_*, python_gc_*: one process's facts, meaningless summed
            for collector in (ProcessCollector, PlatformCollector, GCCollector):
                collector(registry=self.registry)
        self._define_request_metrics()
        self._define_usage_metrics()
        self._define_deployment_metrics()
        self._series: dict[tuple[str, str | None, str | None, int], _Series] = {}
        self._failures: dict[tuple[str, str | None, str | None, int, str | None], Counter] = {}
        self._calls: dict[tuple[str, str], tuple[Counter, Counter]] = {}
        self._call_failures: dict[tuple[str, str, int, str | None], Counter] = {}

    def _define_request_metrics(self) -> None:
        registry = self.registry
        self.in_flight = Gauge("litellm_in_flight_requests", "Requests received and not yet answered",
                               registry=registry, multiprocess_mode="livesum")  # the live workers' sum
        self.total_requests = Counter(
            "litellm_proxy_total_requests_metric", "Requests the gateway answered, by final status code",
            [GROUP, DEPLOYMENT, ROUTE, STATUS], registry=registry)
        self.failed_requests = Counter(
            "litellm_proxy_failed_requests_metric", "Requests whose client did not get a successful answer",
            [GROUP, DEPLOYMENT, ROUTE, EXCEPTION_STATUS, EXCEPTION_CLASS], registry=registry)
        self.total_latency = Histogram(
            "litellm_request_total_latency_metric", "Seconds from request received to response finished",
            [GROUP, ROUTE], buckets=LATENCY_BUCKETS_S, registry=registry)
        self.upstream_latency = Histogram(
            "litellm_llm_api_latency_metric", "Seconds spent in the call to the LLM API",
            [GROUP, DEPLOYMENT], buckets=LATENCY_BUCKETS_S, registry=registry)
        self.time_to_first_token = Histogram(
            "litellm_llm_api_time_to_first_token_metric", "Seconds until the LLM API sent the first chunk (streams)",
            [GROUP, DEPLOYMENT], buckets=LATENCY_BUCKETS_S, registry=registry)

    def _define_usage_metrics(self) -> None:
        labels, registry = [GROUP, DEPLOYMENT], self.registry
        self.input_tokens = Counter("litellm_input_tokens_metric", "Input (prompt) tokens", labels, registry=registry)
        self.output_tokens = Counter("litellm_output_tokens_metric", "Output (completion) tokens", labels,
                                     registry=registry)
        self.total_tokens = Counter("litellm_total_tokens_metric", "Input + output tokens", labels, registry=registry)
        self.spend = Counter("litellm_spend_metric", "Spend in USD, at catalog prices", labels, registry=registry)

    def _define_deployment_metrics(self) -> None:
        labels, registry = [GROUP, DEPLOYMENT], self.registry
        self.deployment_total = Counter("litellm_deployment_total_requests", "Calls to a deployment (every attempt)",
                                        labels, registry=registry)
        self.deployment_success = Counter("litellm_deployment_success_responses", "Successful calls to a deployment",
                                          labels, registry=registry)
        self.deployment_failure = Counter(
            "litellm_deployment_failure_responses", "Failed calls to a deployment, by upstream status and error",
            [*labels, EXCEPTION_STATUS, EXCEPTION_CLASS], registry=registry)
        router_labels = [LITELLM_MODEL, DEPLOYMENT, API_BASE, API_PROVIDER]
        # Set from the router's state when /metrics is scraped; with several workers, the scraped worker's view.
        self.deployment_state = Gauge(
            "litellm_deployment_state", "The router's view of a deployment: 0 = healthy, 2 = cooling down",
            router_labels, registry=registry, multiprocess_mode="mostrecent")
        self.deployment_cooled_down = Counter(
            "litellm_deployment_cooled_down", "Times the router set a deployment aside after failures, by the "
            "status of the error that did it", [*router_labels, EXCEPTION_STATUS], registry=registry)

    def request_started(self) -> None:
        """A request arrived: one more in flight. Pair every call with exactly one `request_finished`."""
        self.in_flight.inc()

    def request_finished(self, route: str, model_group: str | None, deployment_id: str | None, status: int,
                         duration_s: float, upstream_s: float | None = None, ttft_s: float | None = None,
                         input_tokens: int = 0, output_tokens: int = 0, cost_usd: float | None = None,
                         error: str | None = None) -> None:
        """Record one answered request (success or failure) and take it out of flight.

        `status` is the status the client got; `error` the exception class name when the request failed, also for
        a stream that failed after a 200 was sent. `upstream_s` / `ttft_s` are left out when no upstream call
        (or no first chunk) happened. See the module docstring for which label values are allowed.
        """
        self.in_flight.dec()
        key = (route, model_group, deployment_id, status)
        series = self._series.get(key) or self._new_series(key)
        series.requests.inc()
        series.total_latency.observe(duration_s)
        if upstream_s is not None:
            series.upstream_latency.observe(upstream_s)
        if ttft_s is not None:
            series.time_to_first_token.observe(ttft_s)
        if input_tokens > 0:
            series.input_tokens.inc(input_tokens)
        if output_tokens > 0:
            series.output_tokens.inc(output_tokens)
        if input_tokens > 0 or output_tokens > 0:
            series.total_tokens.inc(max(input_tokens, 0) + max(output_tokens, 0))
        if cost_usd is not None and cost_usd > 0:
            series.spend.inc(cost_usd)
        if error is not None or status >= 400:
            failure_key = (route, model_group, deployment_id, status, error)
            (self._failures.get(failure_key) or self._new_failure(failure_key)).inc()

    def upstream_call_finished(self, model_group: str, deployment_id: str, status: int,
                               error: str | None = None) -> None:
        """Record one call to a deployment — every attempt, including the ones a fallback replaced.

        `status` is the upstream's status (0 when no response arrived, e.g. a connection error).
        """
        key = (model_group, deployment_id)
        total, success = self._calls.get(key) or self._new_call(key)
        total.inc()
        if error is None and status < 400:
            success.inc()
            return
        failure_key = (model_group, deployment_id, status, error)
        (self._call_failures.get(failure_key) or self._new_call_failure(failure_key)).inc()

    def deployment_cooled_down_once(self, model: str, deployment_id: str, api_base: str, provider: str,
                                    status: int) -> None:
        """The router set a deployment aside; `status` is the upstream status of the error (0: no response)."""
        self.deployment_cooled_down.labels(model, deployment_id, api_base, provider, str(status)).inc()
        self.deployment_state.labels(model, deployment_id, api_base, provider).set(DEPLOYMENT_COOLING_DOWN)

    def set_deployment_state(self, model: str, deployment_id: str, api_base: str, provider: str,
                             cooling_down: bool) -> None:
        self.deployment_state.labels(model, deployment_id, api_base, provider).set(
            DEPLOYMENT_COOLING_DOWN if cooling_down else DEPLOYMENT_HEALTHY)

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition body and its content type: OpenMetrics when `accept` (the scraper's header) asks for it,
        else the classic text format."""
        encode, content_type = choose_encoder(accept)
        if self.multiprocess_dir is None:
            return encode(self.registry), content_type
        merged = CollectorRegistry()  # every worker's files, summed: whichever worker the scrape reached
        MultiProcessCollector(merged, path=self.multiprocess_dir)
        return encode(merged), content_type

    def close(self) -> None:
        """At shutdown: with several workers, drop this process's live gauge values from the shared files."""
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), self.multiprocess_dir)

    def _new_series(self, key: tuple[str, str | None, str | None, int]) -> _Series:
        route, group, deployment, status = key
        group_label, deployment_label = group or "", deployment or ""
        per_deployment = (group_label, deployment_label)
        series = _Series(
            requests=self.total_requests.labels(group_label, deployment_label, route, str(status)),
            total_latency=self.total_latency.labels(group_label, route),
            upstream_latency=self.upstream_latency.labels(*per_deployment),
            time_to_first_token=self.time_to_first_token.labels(*per_deployment),
            input_tokens=self.input_tokens.labels(*per_deployment),
            output_tokens=self.output_tokens.labels(*per_deployment),
            total_tokens=self.total_tokens.labels(*per_deployment),
            spend=self.spend.labels(*per_deployment),
        )
        self._series[key] = series
        return series

    def _new_failure(self, key: tuple[str, str | None, str | None, int, str | None]) -> Counter:
        route, group, deployment, status, error = key
        child = self.failed_requests.labels(group or "", deployment or "", route, str(status), error or "")
        self._failures[key] = child
        return child

    def _new_call(self, key: tuple[str, str]) -> tuple[Counter, Counter]:
        children = (self.deployment_total.labels(*key), self.deployment_success.labels(*key))
        self._calls[key] = children
        return children

    def _new_call_failure(self, key: tuple[str, str, int, str | None]) -> Counter:
        group, deployment, status, error = key
        child = self.deployment_failure.labels(group, deployment, str(status), error or "")
        self._call_failures[key] = child
        return child
