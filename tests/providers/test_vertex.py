"""Vertex AI: URLs per publisher, Claude's body on Vertex, embeddings, and the google-auth token step."""

from __future__ import annotations

import json
from collections.abc import Iterator

import google.auth
import google.auth.exceptions
import orjson
import pytest

import sluicegate
from sluicegate.errors import AuthenticationError, BadRequestError, PermissionDeniedError, RateLimitError
from sluicegate.params import ChatParams, EmbeddingParams, build_params
from sluicegate.providers import registry
from sluicegate.providers.base import Call, Credentials
from sluicegate.providers.vertex import ADAPTER, auth, embeddings
from tests.simulators.google_oauth import GoogleTokenServer

ROW = registry.endpoint("vertex_ai")
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "ping"}]


def _call(model: str, *, kind: str = "chat", stream: bool = False, params: dict | None = None,
          extra: dict | None = None, api_base: str | None = None) -> Call:
    params_type = EmbeddingParams if kind == "embedding" else ChatParams
    extra = {"vertex_project": "acme-prod", "vertex_location": "europe-west4", "access_token": "ya29.token",
             **(extra or {})}
    return Call(kind=kind, provider="vertex_ai", model=model, endpoint=ROW,  # type: ignore[arg-type]
                credentials=Credentials(api_base=api_base, extra=extra),
                params=build_params(params_type, params or {}), messages=MESSAGES if kind == "chat" else [],
                is_stream=stream)


@pytest.fixture
def oauth() -> Iterator[GoogleTokenServer]:
    with GoogleTokenServer() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_sources", {})  # cached google-auth credentials must not leak between tests


def test_gemini_models_go_to_googles_publisher_with_a_bearer_token():
    request = ADAPTER.build_request(_call("gemini-2.5-flash"))
    assert request.url == ("https://europe-west4-aiplatform.googleapis.com/v1/projects/acme-prod/locations/"
                           "europe-west4/publishers/google/models/gemini-2.5-flash:generateContent")
    assert request.headers["authorization"] == "Bearer ya29.token"
    assert request.json["contents"] == [{"role": "user", "parts": [{"text": "ping"}]}]
    assert request.json["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    stream = ADAPTER.build_request(_call("gemini-2.5-flash", stream=True))
    assert stream.url.endswith("/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse")


def test_claude_models_go_to_anthropics_publisher_with_the_vertex_version_and_no_model_in_the_body():
    request = ADAPTER.build_request(_call("claude-sonnet-4-5", params={"max_tokens": 50}))
    assert request.url == ("https://europe-west4-aiplatform.googleapis.com/v1/projects/acme-prod/locations/"
                           "europe-west4/publishers/anthropic/models/claude-sonnet-4-5:rawPredict")
    assert request.json["anthropic_version"] == "vertex-2023-10-16"
    assert "model" not in request.json
    assert request.json["max_tokens"] == 50
    assert request.json["system"] == [{"type": "text", "text": "Be brief."}]
    assert "x-api-key" not in request.headers
    stream = ADAPTER.build_request(_call("claude-sonnet-4-5", stream=True))
    assert stream.url.endswith("/publishers/anthropic/models/claude-sonnet-4-5:streamRawPredict")
    assert stream.json["stream"] is True


def test_the_global_location_and_an_api_base_change_the_host_only():
    assert ADAPTER.build_request(_call("gemini-2.5-pro", extra={"vertex_location": "global"})).url.startswith(
        "https://aiplatform.googleapis.com/v1/projects/acme-prod/locations/global/publishers/google/")
    request = ADAPTER.build_request(_call("gemini-2.5-pro", api_base="https://vertex-proxy.internal/"))
    assert request.url.startswith("https://vertex-proxy.internal/v1/projects/acme-prod/locations/europe-west4/")


def test_the_default_location_is_us_central1():
    request = ADAPTER.build_request(_call("gemini-2.5-pro", extra={"vertex_location": None}))
    assert request.url.startswith("https://us-central1-aiplatform.googleapis.com/v1/projects/acme-prod/")


@pytest.mark.parametrize(("field", "value"), [("vertex_location", "evil.com/x#"), ("vertex_project", "a/../b"),
                                              ("vertex_project", "x@evil.com")])
def test_values_that_would_change_the_url_are_refused(field, value):
    with pytest.raises(BadRequestError, match=field):
        ADAPTER.build_request(_call("gemini-2.5-pro", extra={field: value}))


def test_embeddings_use_predict_with_one_instance_per_input():
    call = _call("text-embedding-005", kind="embedding",
                 params={"input": ["a", "b"], "dimensions": 256, "task_type": "RETRIEVAL_QUERY"})
    request = ADAPTER.build_request(call)
    assert request.url.endswith("/publishers/google/models/text-embedding-005:predict")
    assert request.json == {"instances": [{"content": "a", "task_type": "RETRIEVAL_QUERY"},
                                          {"content": "b", "task_type": "RETRIEVAL_QUERY"}],
                            "parameters": {"outputDimensionality": 256}}
    answer = {"predictions": [{"embeddings": {"values": [0.5, -0.25], "statistics": {"token_count": 3}}},
                              {"embeddings": {"values": [1.0, 0.0], "statistics": {"token_count": 2}}}]}
    parsed = ADAPTER.parse_response(call, 200, {}, orjson.dumps(answer))
    assert parsed == {"object": "list", "model": "text-embedding-005", "usage": {"prompt_tokens": 5, "total_tokens": 5},
                      "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]},
                               {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]}]}
    as_base64 = _call("text-embedding-005", kind="embedding", params={"input": "a", "encoding_format": "base64"})
    assert embeddings.parse_response(as_base64, 200, {}, orjson.dumps(answer))["data"][0]["embedding"] == "AAAAPwAAgL4="


def test_vertex_errors_are_googles_and_claude_errors_are_anthropics():
    quota = {"error": {"code": 429, "message": "Quota exceeded for aiplatform.googleapis.com", "status":
                       "RESOURCE_EXHAUSTED"}}
    assert isinstance(ADAPTER.map_error(_call("claude-sonnet-4-5"), 429, {}, orjson.dumps(quota)), RateLimitError)
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    error = ADAPTER.map_error(_call("claude-sonnet-4-5"), 529, {}, orjson.dumps(overloaded))
    assert error.message == "Overloaded"


def test_a_service_account_key_is_traded_for_a_token_once_and_cached(oauth):
    key = json.dumps(oauth.service_account_info(project="key-project"))
    call = _call("gemini-2.5-pro", extra={"vertex_credentials": key, "vertex_project": None, "access_token": None})
    first = auth.authenticate(call)
    second = auth.authenticate(call)
    assert first.extra["access_token"] == oauth.issued[0]
    assert second.extra["access_token"] == oauth.issued[0]
    assert oauth.grants == 1
    assert first.extra["vertex_project"] == "key-project"  # the key's project when none is configured
    assert "BEGIN PRIVATE KEY" not in repr(first)


def test_a_key_file_path_works_and_a_configured_project_wins(oauth, tmp_path):
    path = tmp_path / "key.json"
    path.write_text(json.dumps(oauth.service_account_info(project="key-project")))
    found = auth.authenticate(_call("gemini-2.5-pro", extra={"vertex_credentials": str(path)}))
    assert found.extra["vertex_project"] == "acme-prod"
    assert found.extra["access_token"] in oauth.issued


def test_a_rejected_key_is_an_authentication_error_without_the_key(oauth):
    info = oauth.service_account_info()
    info["client_email"] = "someone-else@test-project.iam.gserviceaccount.com"  # the server rejects the claims
    with pytest.raises(AuthenticationError, match="Google rejected") as caught:
        auth.authenticate(_call("gemini-2.5-pro", extra={"vertex_credentials": json.dumps(info)}))
    assert "PRIVATE KEY" not in str(caught.value)
    assert oauth.rejections


@pytest.mark.parametrize("given", ["not json and not a file", "[1, 2]"])
def test_unreadable_credentials_are_named(given):
    with pytest.raises(AuthenticationError, match="vertex_credentials"):
        auth.authenticate(_call("gemini-2.5-pro", extra={"vertex_credentials": given}))


def test_without_credentials_application_default_credentials_are_asked(monkeypatch):
    def no_adc(scopes):  # what google-auth raises when nothing is configured
        raise google.auth.exceptions.DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", no_adc)
    with pytest.raises(AuthenticationError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        auth.authenticate(_call("gemini-2.5-pro", extra={"vertex_credentials": None}))


def test_a_project_is_required(oauth):
    info = oauth.service_account_info()
    del info["project_id"]
    with pytest.raises(BadRequestError, match="vertex_project"):
        auth.authenticate(_call("gemini-2.5-pro", extra={"vertex_credentials": json.dumps(info),
                                                         "vertex_project": None}))


# --- end to end, through the Vertex simulator (Gemini and Anthropic simulators behind it) ------------------------


def test_gemini_on_vertex_end_to_end(vertex_target, vertex_sim):
    response = sluicegate.completion(model="vertex_ai/gemini-2.5-flash", messages=MESSAGES, **vertex_target)
    assert response.choices[0].message.content == "Hello from the simulator. You said: ping"
    assert response.usage.prompt_tokens > 0
    sent = vertex_sim.requests[-1]
    assert sent.path == ("/v1/projects/test-project/locations/europe-west4/publishers/google/models/"
                         "gemini-2.5-flash:generateContent")
    chunks = list(sluicegate.completion(model="vertex_ai/gemini-2.5-flash", messages=MESSAGES, stream=True,
                                        **vertex_target))
    assert sluicegate.stream_chunk_builder(chunks).choices[0].message.content == response.choices[0].message.content


async def test_claude_on_vertex_end_to_end_with_tools(vertex_target, vertex_sim, anthropic_sim):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    response = await sluicegate.acompletion(model="vertex_ai/claude-sonnet-4-5", messages=MESSAGES, tools=tools,
                                            **vertex_target)
    call = response.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "example"})
    assert response.choices[0].finish_reason == "tool_calls"
    assert vertex_sim.requests[-1].path.endswith("/publishers/anthropic/models/claude-sonnet-4-5:rawPredict")
    assert anthropic_sim.requests[-1].json["model"] == "claude-sonnet-4-5"
    stream = await sluicegate.acompletion(model="vertex_ai/claude-sonnet-4-5", messages=MESSAGES, stream=True,
                                          **vertex_target)
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == "Hello from the simulator. You said: ping"


def test_embeddings_on_vertex_end_to_end(vertex_target):
    response = sluicegate.embedding(model="vertex_ai/text-embedding-005", input=["one two", "three"],
                                    dimensions=16, **vertex_target)
    assert [len(item.embedding) for item in response.data] == [16, 16]
    assert response.usage.prompt_tokens == 3


def test_a_project_without_permission_is_permission_denied(vertex_target):
    with pytest.raises(PermissionDeniedError):
        sluicegate.completion(model="vertex_ai/gemini-2.5-flash", messages=MESSAGES, vertex_project="other-project",
                              num_retries=0, **vertex_target)
