"""The LLM routes end to end: the real gateway process, the official openai SDK as client, the simulator
behind it."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.gateway.conftest import MASTER_KEY, PROVIDER_KEY

MESSAGES = [{"role": "user", "content": "Hello gateway"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=MASTER_KEY, max_retries=0)


def test_chat_through_the_gateway(client, openai_sim):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0)
    response = raw.parse()
    assert response.choices[0].message.content == "Hello from the simulator. You said: Hello gateway"
    assert response.usage.total_tokens > 0
    assert raw.headers["x-litellm-model-group"] == "gpt-4o-mini"
    assert float(raw.headers["x-litellm-response-cost"]) > 0
    assert raw.headers["x-litellm-model-id"]
    assert raw.headers["x-request-id"]
    sent = openai_sim.requests[-1]
    assert sent.json == {"model": "gpt-4o-mini", "messages": MESSAGES, "temperature": 0}
    assert sent.headers["authorization"] == f"Bearer {PROVIDER_KEY}"  # the gateway's key, not the client's


def test_client_request_id_is_echoed(client):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES,
                                                           extra_headers={"x-request-id": "req-123"})
    assert raw.headers["x-request-id"] == "req-123"


def test_stream_through_the_gateway(client, openai_sim):
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the simulator. You said: Hello gateway"
    assert chunks[-1].usage.total_tokens > 0
    assert openai_sim.requests[-1].json["stream"] is True


def test_tools_stream_reassembles_in_the_sdk(client):
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS, stream=True)
    arguments = ""
    names = []
    for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            if call.function.name:
                names.append(call.function.name)
            arguments += call.function.arguments or ""
    assert names == ["get_weather"]
    assert json.loads(arguments) == {"city": "example"}


def test_embeddings_and_legacy_completions(client):
    vectors = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=4)
    assert [len(item.embedding) for item in vectors.data] == [4, 4]
    text = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi", max_tokens=50)
    assert text.choices[0].text


def test_azure_style_route_and_azure_deployment(gateway, openai_sim):
    azure = openai.AzureOpenAI(azure_endpoint=gateway.url, api_key=MASTER_KEY, api_version="2024-10-21",
                               max_retries=0)
    response = azure.chat.completions.create(model="azure-gpt", messages=MESSAGES)
    assert response.choices[0].message.content.endswith("Hello gateway")
    assert openai_sim.requests[-1].path == "/openai/deployments/my-deployment/chat/completions"


def test_models_list_and_get(client):
    names = [m.id for m in client.models.list()]
    assert names[:2] == ["gpt-4o-mini", "text-embedding-3-small"]
    assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_auth_is_required_and_accepted_in_each_header(gateway):
    bad = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-wrong-key-1234", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert MASTER_KEY not in str(caught.value.body)
    for header in ({"x-api-key": MASTER_KEY}, {"api-key": MASTER_KEY}):
        answer = httpx.post(gateway.url + "/v1/chat/completions", headers=header,
                            json={"model": "gpt-4o-mini", "messages": MESSAGES})
        assert answer.status_code == 200
    assert httpx.post(gateway.url + "/v1/chat/completions", json={"model": "x"}).status_code == 401


def test_upstream_errors_keep_their_status_and_shape(client, openai_sim):
    openai_sim.script(429, headers={"retry-after": "7"})
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["type"] == "rate_limit_error"


@pytest.mark.parametrize(("content", "headers", "status", "code"), [
    (b"{not json", {}, 400, "invalid_json"),
    (b"[1, 2]", {}, 400, "invalid_body"),
    (b"", {}, 400, "invalid_body"),
    (b'{"messages": []}', {}, 400, "missing_model"),
    (b'{"model": 42, "messages": []}', {}, 400, "missing_model"),
    (b'{"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}', {}, 400, "model_not_found"),
    (b'{"model": "gpt-4o-mini", "messages": "hi"}', {}, 400, None),
    (b'{"model": "gpt-4o-mini", "messages": [{"content": "no role"}]}', {}, 400, None),
    (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "n": "many"}', {}, 400, None),
    (b"x" * (1_048_576 + 10), {}, 413, "request_too_large"),
])
def test_bad_input_gets_a_clear_4xx_and_is_never_sent_upstream(gateway, openai_sim, content, headers, status,
                                                                 code):
    answer = httpx.post(gateway.url + "/v1/chat/completions", content=content,
                        headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json",
                                 **headers})
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if code:
        assert error["code"] == code
    if status != 400 or code:  # the 400s the gateway decides alone never reach the provider
        assert openai_sim.requests == []


def test_client_disconnect_cancels_the_upstream_stream(gateway, openai_sim):
    openai_sim.chunk_delay_s = 0.1
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", headers={"x-api-key": MASTER_KEY},
                      json={"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}) as response:
        for _ in response.iter_lines():
            break  # the client goes away after the first line
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not openai_sim.cancelled_streams:
        time.sleep(0.02)
    assert openai_sim.cancelled_streams == 1


def test_mid_stream_upstream_error_becomes_an_error_event(gateway, openai_sim):
    openai_sim.script_stream_error(after_chunks=2)
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", headers={"x-api-key": MASTER_KEY},
                      json={"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}) as response:
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert len(events) == 3
    assert "error" in json.loads(events[-1][6:])


def test_secrets_never_reach_the_log_or_error_bodies(gateway, client, openai_sim):
    openai_sim.script(500)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert PROVIDER_KEY not in json.dumps(caught.value.body)
    log = gateway.log()
    assert MASTER_KEY not in log
    assert f"Bearer {PROVIDER_KEY}" not in log


def test_deep_health_probes_each_deployment_for_the_admin_only(gateway, openai_sim):
    assert httpx.get(gateway.url + "/health").status_code == 401
    openai_sim.script(500, times=1)  # one deployment answers badly
    report = httpx.get(gateway.url + "/health", headers={"x-api-key": MASTER_KEY}, timeout=30).json()
    assert report["healthy_count"] + report["unhealthy_count"] == 4
    assert report["unhealthy_count"] == 1
    assert "InternalServerError" in report["unhealthy_endpoints"][0]["error"]
    embedding = next(r for r in report["healthy_endpoints"] if r["model_name"] == "text-embedding-3-small")
    assert embedding["api_base"] == openai_sim.base_url
    probes = [r for r in openai_sim.requests if r.path == "/v1/embeddings"]
    assert probes[-1].json["input"] == "ping"
    text = json.dumps(report)
    assert PROVIDER_KEY not in text
    assert MASTER_KEY not in text


def test_liveliness_and_readiness_need_no_key(gateway):
    assert httpx.get(gateway.url + "/health/liveliness").text == "I'm alive!"
    assert httpx.get(gateway.url + "/health/readiness").json()["status"] == "healthy"


def test_an_admin_override_of_a_field_the_deployment_sets_is_honoured(gateway, openai_sim):
    dead = "http://127.0.0.1:9/v1"  # the deployment's own api_base is the simulator; the admin points elsewhere
    answer = httpx.post(gateway.url + "/v1/chat/completions", headers={"x-api-key": MASTER_KEY},
                        json={"model": "gpt-4o-mini", "messages": MESSAGES, "api_base": dead})
    assert answer.status_code >= 500
    assert answer.json()["error"]["type"] == "api_connection_error"
    assert openai_sim.requests == []
    ok = httpx.post(gateway.url + "/v1/chat/completions", headers={"x-api-key": MASTER_KEY},
                    json={"model": "gpt-4o-mini", "messages": MESSAGES})
    assert ok.status_code == 200  # the cached resolution is untouched by the override
