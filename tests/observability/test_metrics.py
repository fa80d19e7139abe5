"""GatewayMetrics: what each recording puts in the exposition, and under which labels."""

from __future__ import annotations

import math
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sluicegate.observability.metrics import LATENCY_BUCKETS_S, GatewayMetrics

ROUTE = "/v1/chat/completions"
SERIES = {"requested_model": "gpt-4o-mini", "model_id": "dep-1"}


@pytest.fixture
def metrics() -> GatewayMetrics:
    return GatewayMetrics()


def value(metrics: GatewayMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def finish(metrics: GatewayMetrics, status: int = 200, duration_s: float = 0.3, **kwargs: Any) -> None:
    metrics.request_started()
    metrics.request_finished(ROUTE, "gpt-4o-mini", "dep-1", status, duration_s, **kwargs)


def test_success_records_every_family_under_its_labels(metrics):
    finish(metrics, upstream_s=0.2, ttft_s=0.05, input_tokens=12, output_tokens=30, cost_usd=0.0025)
    assert value(metrics, "litellm_proxy_total_requests_metric_total", **SERIES, route=ROUTE, status_code="200") == 1
    assert value(metrics, "litellm_request_total_latency_metric_count", requested_model="gpt-4o-mini",
                 route=ROUTE) == 1
    assert value(metrics, "litellm_request_total_latency_metric_sum", requested_model="gpt-4o-mini",
                 route=ROUTE) == pytest.approx(0.3)
    assert value(metrics, "litellm_llm_api_latency_metric_sum", **SERIES) == pytest.approx(0.2)
    assert value(metrics, "litellm_llm_api_time_to_first_token_metric_sum", **SERIES) == pytest.approx(0.05)
    assert value(metrics, "litellm_input_tokens_metric_total", **SERIES) == 12
    assert value(metrics, "litellm_output_tokens_metric_total", **SERIES) == 30
    assert value(metrics, "litellm_total_tokens_metric_total", **SERIES) == 42
    assert value(metrics, "litellm_spend_metric_total", **SERIES) == pytest.approx(0.0025)
    assert "litellm_proxy_failed_requests_metric_total{" not in metrics.render()[0].decode()


def test_repeated_requests_accumulate_on_the_same_series(metrics):
    for _ in range(3):
        finish(metrics, input_tokens=10, cost_usd=0.5)
    assert value(metrics, "litellm_proxy_total_requests_metric_total", **SERIES, route=ROUTE, status_code="200") == 3
    assert value(metrics, "litellm_input_tokens_metric_total", **SERIES) == 30
    assert value(metrics, "litellm_spend_metric_total", **SERIES) == pytest.approx(1.5)


def test_optional_measurements_are_left_out_when_absent(metrics):
    finish(metrics)  # no upstream call (a mock), no stream, no usage, no price
    assert value(metrics, "litellm_llm_api_latency_metric_count", **SERIES) == 0
    assert value(metrics, "litellm_llm_api_time_to_first_token_metric_count", **SERIES) == 0
    for family in ("litellm_input_tokens_metric_total", "litellm_total_tokens_metric_total",
                   "litellm_spend_metric_total"):
        assert value(metrics, family, **SERIES) == 0  # the series exists from its first request, at zero


def test_failure_counts_with_status_and_exception_class(metrics):
    finish(metrics, status=429, upstream_s=0.1, error="RateLimitError")
    assert value(metrics, "litellm_proxy_total_requests_metric_total", **SERIES, route=ROUTE, status_code="429") == 1
    assert value(metrics, "litellm_proxy_failed_requests_metric_total", **SERIES, route=ROUTE,
                 exception_status="429", exception_class="RateLimitError") == 1


def test_stream_that_fails_after_200_is_a_failure(metrics):
    finish(metrics, status=200, error="InternalServerError")
    assert value(metrics, "litellm_proxy_failed_requests_metric_total", **SERIES, route=ROUTE,
                 exception_status="200", exception_class="InternalServerError") == 1


def test_request_failing_before_its_group_resolved_gets_empty_labels(metrics):
    metrics.request_started()
    metrics.request_finished(ROUTE, None, None, 401, duration_s=0.001, error="AuthenticationError")
    assert value(metrics, "litellm_proxy_failed_requests_metric_total", requested_model="", model_id="",
                 route=ROUTE, exception_status="401", exception_class="AuthenticationError") == 1


def test_histogram_buckets_span_5ms_to_120s(metrics):
    finish(metrics, duration_s=0.3)
    finish(metrics, duration_s=500.0)
    family = next(f for f in text_string_to_metric_families(metrics.render()[0].decode())
                  if f.name == "litellm_request_total_latency_metric")
    buckets = {float(s.labels["le"]): s.value for s in family.samples if s.name.endswith("_bucket")}
    assert sorted(buckets) == [*LATENCY_BUCKETS_S, math.inf]
    assert (LATENCY_BUCKETS_S[0], LATENCY_BUCKETS_S[-1]) == (0.005, 120.0)
    assert [buckets[0.25], buckets[0.5], buckets[120.0], buckets[math.inf]] == [0, 1, 1, 2]


def test_in_flight_returns_to_zero(metrics):
    metrics.request_started()
    metrics.request_started()
    assert value(metrics, "litellm_in_flight_requests") == 2
    metrics.request_finished(ROUTE, "gpt-4o-mini", "dep-1", 200, duration_s=0.1)
    metrics.request_finished(ROUTE, "gpt-4o-mini", "dep-1", 500, duration_s=0.1, error="InternalServerError")
    assert value(metrics, "litellm_in_flight_requests") == 0


def test_two_instances_share_no_state():
    first, second = GatewayMetrics(), GatewayMetrics()
    finish(first)
    assert value(first, "litellm_proxy_total_requests_metric_total", **SERIES, route=ROUTE, status_code="200") == 1
    assert value(second, "litellm_proxy_total_requests_metric_total", **SERIES, route=ROUTE,
                 status_code="200") is None
    assert first.registry is not second.registry


def test_upstream_calls_count_every_attempt_per_deployment(metrics):
    metrics.upstream_call_finished("gpt-4o-mini", "dep-1", 503, error="ServiceUnavailableError")
    metrics.upstream_call_finished("gpt-4o-mini", "dep-2", 200)
    assert value(metrics, "litellm_deployment_total_requests_total", **SERIES) == 1
    assert value(metrics, "litellm_deployment_success_responses_total", **SERIES) == 0
    assert value(metrics, "litellm_deployment_failure_responses_total", **SERIES, exception_status="503",
                 exception_class="ServiceUnavailableError") == 1
    assert value(metrics, "litellm_deployment_success_responses_total", requested_model="gpt-4o-mini",
                 model_id="dep-2") == 1


def test_render_parses_in_both_formats(metrics):
    finish(metrics, input_tokens=1)
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {"litellm_proxy_total_requests_metric", "litellm_in_flight_requests", "process_cpu_seconds"} <= names
    body, content_type = metrics.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


def test_deployment_state_and_cooldowns_use_litellms_names_and_labels(metrics):
    labels = {"litellm_model_name": "openai/gpt-4o", "model_id": "dep-1", "api_base": "http://eu", "api_provider":
              "openai"}
    metrics.set_deployment_state("openai/gpt-4o", "dep-1", "http://eu", "openai", cooling_down=False)
    assert value(metrics, "litellm_deployment_state", **labels) == 0
    metrics.deployment_cooled_down_once("openai/gpt-4o", "dep-1", "http://eu", "openai", 429)
    assert value(metrics, "litellm_deployment_state", **labels) == 2
    assert value(metrics, "litellm_deployment_cooled_down_total", **labels, exception_status="429") == 1
    metrics.set_deployment_state("openai/gpt-4o", "dep-1", "http://eu", "openai", cooling_down=False)
    assert value(metrics, "litellm_deployment_state", **labels) == 0
