"""The Gemini simulator, checked with the official `google-genai` SDK as its client and against the wire fixtures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.simulators.gemini import GeminiSimulator

FIXTURES = Path(__file__).parents[1] / "fixtures" / "gemini"
MODEL = "gemini-2.5-flash"
WEATHER = types.FunctionDeclaration(
    name="get_weather", description="Current weather",
    parameters=types.Schema(type="OBJECT", properties={
        "location": types.Schema(type="STRING"),
        "unit": types.Schema(type="STRING", enum=["celsius", "fahrenheit"])}, required=["location", "unit"]))
TIME = types.FunctionDeclaration(name="get_time", parameters=types.Schema(
    type="OBJECT", properties={"zone": types.Schema(type="STRING")}))


_clients: list[genai.Client] = []


def client(sim: GeminiSimulator, key: str = "gm-test") -> genai.Client:
    """An SDK client on the simulator. Kept referenced until the test ends: a Client closes its HTTP pool when
    garbage-collected, which would happen mid-call in `client(sim).models.generate_content(...)`."""
    options = types.HttpOptions(base_url=sim.url, api_version="v1beta",
                                retry_options=types.HttpRetryOptions(attempts=1))
    made = genai.Client(api_key=key, http_options=options)
    _clients.append(made)
    return made


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def test_generate_content(gemini_sim):
    response = client(gemini_sim).models.generate_content(
        model=MODEL, contents="Hello there friend",
        config=types.GenerateContentConfig(system_instruction="Be brief", temperature=0.1))
    assert response.text == "Hello from the simulator. You said: Hello there friend"
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count) == (3 + 3 + 2, 9)
    assert usage.total_token_count == 17
    assert response.model_version == MODEL
    assert response.response_id
    sent = gemini_sim.requests[-1]
    assert sent.path == f"/v1beta/models/{MODEL}:generateContent"
    assert sent.headers["x-goog-api-key"] == "gm-test"
    assert sent.json["systemInstruction"]["parts"] == [{"text": "Be brief"}]


def test_generate_content_stream(gemini_sim):
    pieces = list(client(gemini_sim).models.generate_content_stream(model=MODEL, contents="one two three"))
    assert len(pieces) >= 3
    assert "".join(p.text for p in pieces) == "Hello from the simulator. You said: one two three"
    assert pieces[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert pieces[-1].usage_metadata.total_token_count > pieces[0].usage_metadata.prompt_token_count
    assert gemini_sim.requests[-1].query == {"alt": "sse"}


async def test_async_stream(gemini_sim):
    text = ""
    async for piece in await client(gemini_sim).aio.models.generate_content_stream(model=MODEL, contents="hi"):
        text += piece.text or ""
    assert text == "Hello from the simulator. You said: hi"


def test_function_calling_round_trip(gemini_sim):
    sdk = client(gemini_sim)
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER, TIME])])
    first = sdk.models.generate_content(model=MODEL, contents="Weather?", config=config)
    calls = first.function_calls
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"location": "example", "unit": "celsius"}),
                                                 ("get_time", {})]
    history = [types.Content(role="user", parts=[types.Part(text="Weather?")]), first.candidates[0].content,
               types.Content(role="user", parts=[
                   types.Part.from_function_response(name="get_weather", response={"output": "sunny"}),
                   types.Part.from_function_response(name="get_time", response={"time": "noon"})])]
    second = sdk.models.generate_content(model=MODEL, contents=history, config=config)
    assert second.text == 'Hello from the simulator. The tool said: sunny | {"time":"noon"}'
    assert second.function_calls is None


def test_tool_config_modes(gemini_sim):
    sdk = client(gemini_sim)
    named = types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
        mode="ANY", allowed_function_names=["get_time"]))
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER, TIME])], tool_config=named)
    assert [c.name for c in sdk.models.generate_content(model=MODEL, contents="x", config=config).function_calls] \
        == ["get_time"]
    none = types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="NONE"))
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])], tool_config=none)
    assert sdk.models.generate_content(model=MODEL, contents="x", config=config).function_calls is None


def test_streamed_function_calls_and_thoughts(gemini_sim):
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])],
                                         thinking_config=types.ThinkingConfig(include_thoughts=True,
                                                                              thinking_budget=1024))
    pieces = list(client(gemini_sim).models.generate_content_stream(model=MODEL, contents="x", config=config))
    parts = [part for p in pieces for part in p.candidates[0].content.parts]
    assert any(part.thought for part in parts)
    calls = [part for part in parts if part.function_call]
    assert calls[0].function_call.name == "get_weather"
    assert calls[0].thought_signature
    assert pieces[-1].usage_metadata.thoughts_token_count > 0


def test_json_schema_output(gemini_sim):
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=types.Schema(
        type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]))
    response = client(gemini_sim).models.generate_content(model=MODEL, contents="x", config=config)
    assert json.loads(response.text) == {"city": "example"}


def test_embed_content(gemini_sim):
    response = client(gemini_sim).models.embed_content(
        model="text-embedding-004", contents=["a", "b c"],
        config=types.EmbedContentConfig(output_dimensionality=16, task_type="RETRIEVAL_QUERY"))
    assert [len(e.values) for e in response.embeddings] == [16, 16]
    assert abs(sum(v * v for v in response.embeddings[0].values) - 1) < 1e-6
    assert gemini_sim.requests[-1].json["requests"][0]["taskType"] == "RETRIEVAL_QUERY"


def test_bad_and_missing_key(gemini_sim):
    with pytest.raises(errors.ClientError) as caught:
        client(gemini_sim, key="wrong").models.generate_content(model=MODEL, contents="x")
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert caught.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


@pytest.mark.parametrize(("status", "kind", "name"), [
    (404, errors.ClientError, "NOT_FOUND"), (429, errors.ClientError, "RESOURCE_EXHAUSTED"),
    (500, errors.ServerError, "INTERNAL"), (503, errors.ServerError, "UNAVAILABLE"),
])
def test_scripted_errors(gemini_sim, status, kind, name):
    gemini_sim.script(status)
    with pytest.raises(kind) as caught:
        client(gemini_sim).models.generate_content(model=MODEL, contents="x")
    assert (caught.value.code, caught.value.status) == (status, name)


def test_unknown_field_is_rejected_like_the_real_api(gemini_sim):
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
        name="f", parameters_json_schema={"type": "object"})])])
    client(gemini_sim).models.generate_content(model=MODEL, contents="x", config=config)  # a known field
    gemini_sim.script(400, json.loads((FIXTURES / "error-400-schema.json").read_text()))
    with pytest.raises(errors.ClientError, match="additionalProperties"):
        client(gemini_sim).models.generate_content(model=MODEL, contents="x")


def test_simulator_shapes_match_the_fixtures(gemini_sim):
    """The simulator's raw answers have the keys of the recorded real answers, and no others."""
    real = json.loads((FIXTURES / "text.response.json").read_text())
    sent = httpx.post(f"{gemini_sim.base_url}/models/{MODEL}:generateContent", headers={"x-goog-api-key": "gm-test"},
                      json={"contents": [{"role": "user", "parts": [{"text": "x"}]}]}).json()
    assert set(sent) == set(real)
    assert set(sent["candidates"][0]) == set(real["candidates"][0])
    assert set(sent["usageMetadata"]) == set(real["usageMetadata"])
    error = httpx.post(f"{gemini_sim.base_url}/models/{MODEL}:generateContent", headers={"x-goog-api-key": "no"},
                       json={}).json()
    real_error = json.loads((FIXTURES / "error-400-api-key.json").read_text())["error"]
    assert {k: error["error"][k] for k in ("code", "message", "status")} == {
        k: real_error[k] for k in ("code", "message", "status")}
    assert error["error"]["details"][0] == real_error["details"][0]
