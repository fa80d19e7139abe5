"""GET /metrics end to end: the real gateway process serves a Prometheus exposition, without a key."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import MASTER_KEY

FAMILIES = {
    "litellm_in_flight_requests", "litellm_proxy_total_requests_metric", "litellm_proxy_failed_requests_metric",
    "litellm_request_total_latency_metric", "litellm_llm_api_latency_metric",
    "litellm_llm_api_time_to_first_token_metric", "litellm_input_tokens_metric", "litellm_output_tokens_metric",
    "litellm_total_tokens_metric", "litellm_spend_metric", "litellm_deployment_total_requests",
    "litellm_deployment_success_responses", "litellm_deployment_failure_responses",
}


def scrape(gateway, accept: str | None = None) -> httpx.Response:
    headers = {"accept": accept} if accept else {}
    response = httpx.get(f"{gateway.url}/metrics", headers=headers, timeout=5)
    assert response.status_code == 200
    return response


def requests_total(gateway, model_group: str) -> float:
    family = next(f for f in text_string_to_metric_families(scrape(gateway).text)
                  if f.name == "litellm_proxy_total_requests_metric")
    return sum(s.value for s in family.samples
               if s.name.endswith("_total") and s.labels["requested_model"] == model_group)


def test_metrics_served_without_a_key_and_parse(gateway):
    response = scrape(gateway)  # the gateway has a master key; scrapers still need none
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert names >= FAMILIES
    assert MASTER_KEY not in response.text


def test_metrics_in_openmetrics_when_the_scraper_asks(gateway):
    response = scrape(gateway, "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_chat_request_increments_requests_total(gateway):
    before = requests_total(gateway, "gpt-4o-mini")
    response = httpx.post(f"{gateway.url}/v1/chat/completions", timeout=10,
                          headers={"authorization": f"Bearer {MASTER_KEY}"},
                          json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
    assert response.status_code == 200
    assert requests_total(gateway, "gpt-4o-mini") == before + 1


def test_stream_records_tokens_and_time_to_first_token_when_it_ends(gateway):
    def sample(name: str, **labels: str) -> float:
        for family in text_string_to_metric_families(scrape(gateway).text):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
        return 0.0

    ttft_before = sample("litellm_llm_api_time_to_first_token_metric_count", requested_model="gpt-4o-mini")
    tokens_before = sample("litellm_output_tokens_metric_total", requested_model="gpt-4o-mini")
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", headers={"x-api-key": MASTER_KEY},
                      json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
                            "stream_options": {"include_usage": True}}) as response:
        assert [line for line in response.iter_lines() if line][-1] == "data: [DONE]"
    assert sample("litellm_llm_api_time_to_first_token_metric_count", requested_model="gpt-4o-mini") == (
        ttft_before + 1)
    assert sample("litellm_output_tokens_metric_total", requested_model="gpt-4o-mini") > tokens_before
    assert sample("litellm_in_flight_requests") == 0
