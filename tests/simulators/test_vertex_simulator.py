"""The Vertex AI simulator, checked with the official SDKs' Vertex clients: google-genai (vertexai=True) and
anthropic's AnthropicVertex, each authenticating with a service-account key through the local token endpoint."""

from __future__ import annotations

import anthropic
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from google.oauth2 import service_account

from tests.simulators.vertex import VertexSimulator

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def _genai(vertex: VertexSimulator, project: str | None = None) -> genai.Client:
    credentials = service_account.Credentials.from_service_account_info(
        vertex.tokens.service_account_info(), scopes=SCOPES)
    return genai.Client(vertexai=True, project=project or vertex.project, location="us-central1",
                        credentials=credentials, http_options=types.HttpOptions(base_url=vertex.url, api_version="v1"))


def _claude(vertex: VertexSimulator) -> anthropic.AnthropicVertex:
    credentials = service_account.Credentials.from_service_account_info(
        vertex.tokens.service_account_info(), scopes=SCOPES)
    return anthropic.AnthropicVertex(region="us-central1", project_id=vertex.project, credentials=credentials,
                                     base_url=vertex.url + "/v1")


def test_genai_generates_content_on_vertex(vertex_sim):
    client = _genai(vertex_sim)  # kept in a name: a collected client closes its connections
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="ping")
    assert answer.text == "Hello from the simulator. You said: ping"
    sent = vertex_sim.requests[-1]
    assert sent.path == ("/v1/projects/test-project/locations/us-central1/publishers/google/models/"
                         "gemini-2.5-flash:generateContent")
    assert sent.headers["authorization"].removeprefix("Bearer ") in vertex_sim.tokens.issued


def test_genai_streams_and_calls_functions_on_vertex(vertex_sim):
    client = _genai(vertex_sim)
    text = "".join(piece.text or "" for piece in client.models.generate_content_stream(
        model="gemini-2.5-flash", contents="stream this"))
    assert text == "Hello from the simulator. You said: stream this"
    weather = types.FunctionDeclaration(name="get_weather", parameters=types.Schema(
        type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]))
    answer = client.models.generate_content(
        model="gemini-2.5-flash", contents="weather?",
        config=types.GenerateContentConfig(tools=[types.Tool(function_declarations=[weather])]))
    assert answer.function_calls[0].name == "get_weather"
    assert answer.function_calls[0].args == {"city": "example"}


def test_genai_embeds_on_vertex(vertex_sim):
    client = _genai(vertex_sim)
    answer = client.models.embed_content(model="text-embedding-005", contents=["a b c", "d"])
    assert [len(e.values) for e in answer.embeddings] == [768, 768]


def test_another_project_is_denied(vertex_sim):
    client = _genai(vertex_sim, project="someone-elses")
    with pytest.raises(genai_errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.5-flash", contents="ping")
    assert caught.value.code == 403


def test_anthropic_vertex_client_creates_and_streams_messages(vertex_sim):
    client = _claude(vertex_sim)
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=64,
                                     messages=[{"role": "user", "content": "ping"}])
    assert message.content[0].text == "Hello from the simulator. You said: ping"
    sent = vertex_sim.requests[-1]
    assert sent.path.endswith("/publishers/anthropic/models/claude-sonnet-4-5:rawPredict")
    assert "model" not in sent.json
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64,
                                messages=[{"role": "user", "content": "stream"}]) as stream:
        assert "".join(stream.text_stream) == "Hello from the simulator. You said: stream"
    assert vertex_sim.requests[-1].path.endswith(":streamRawPredict")


def test_a_token_google_did_not_issue_is_unauthenticated(vertex_sim):
    client = anthropic.AnthropicVertex(region="us-central1", project_id=vertex_sim.project,
                                       access_token="ya29.forged", base_url=vertex_sim.url + "/v1")
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])
