"""The Bedrock adapter: the exact Converse / InvokeModel request Bedrock receives, its answers, streams and errors
parsed, credentials resolved and signed — and end to end through sluicegate against the Bedrock simulator."""

from __future__ import annotations

import asyncio
import base64
import builtins
import json
import struct
import time
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

import sluicegate
from sluicegate.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
    UnsupportedParamsError,
)
from sluicegate.params import ChatParams, EmbeddingParams, build_params
from sluicegate.providers import bedrock
from sluicegate.providers.base import Call, Credentials
from sluicegate.providers.bedrock import signing
from sluicegate.providers.registry import endpoint
from sluicegate.transport.aws_eventstream import EventStreamDecoder
from tests.simulators.bedrock import ACCESS_KEY, API_KEY, REGION, SECRET_KEY, BedrockSimulator

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bedrock"
CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
LLAMA = "meta.llama3-3-70b-instruct-v1:0"
NOVA = "amazon.nova-pro-v1:0"
KEYS = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY, "aws_region_name": REGION}
HELLO: list[dict[str, Any]] = [{"role": "user", "content": "Hello there"}]
WEATHER: dict[str, Any] = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather now", "parameters": {
        "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
TIME: dict[str, Any] = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PDF = base64.b64encode(b"%PDF-1.4 tiny").decode()


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS credentials, profiles or metadata from the machine; a fresh credential cache per test."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_REGION", "AWS_REGION_NAME", "AWS_DEFAULT_REGION", "AWS_BEDROCK_RUNTIME_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    signing.clear_cache()


def chat_call(model: str = CLAUDE, messages: list[dict[str, Any]] | None = None, stream: bool = False,
              creds: Credentials | None = None, **params: Any) -> Call:
    return Call(kind="chat", provider="bedrock", model=model, endpoint=endpoint("bedrock"),
                credentials=creds or Credentials(extra=dict(KEYS)), params=build_params(ChatParams, params),
                messages=messages if messages is not None else HELLO, is_stream=stream)


def body_of(call: Call) -> dict[str, Any]:
    return orjson.loads(bedrock.build_request(call).content or b"")


# URLs, model ids, signing


@pytest.mark.parametrize(("model", "path"), [
    (CLAUDE, f"/model/{CLAUDE.replace(':', '%3A')}/converse"),  # as the AWS SDK encodes it
    (f"converse/{CLAUDE}", f"/model/{CLAUDE.replace(':', '%3A')}/converse"),
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2",
     "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2/converse"),
])
def test_url_from_region_and_quoted_model_id(model: str, path: str) -> None:
    request = bedrock.build_request(chat_call(model))
    assert request.method == "POST"
    assert request.url == f"https://bedrock-runtime.us-east-1.amazonaws.com{path}"


def test_stream_url_and_endpoint_overrides() -> None:
    creds = Credentials(api_base="https://proxy.example/bedrock/", extra=dict(KEYS))
    assert bedrock.build_request(chat_call(stream=True, creds=creds)).url == \
        f"https://proxy.example/bedrock/model/{CLAUDE.replace(':', '%3A')}/converse-stream"
    creds = Credentials(api_base="https://ignored.example",
                        extra={**KEYS, "aws_bedrock_runtime_endpoint": "https://vpce-1.bedrock.example"})
    assert bedrock.build_request(chat_call(creds=creds)).url.startswith("https://vpce-1.bedrock.example/model/")


def test_region_is_required_and_validated() -> None:
    no_region = Credentials(extra={"aws_access_key_id": "a", "aws_secret_access_key": "b"})
    with pytest.raises(BadRequestError, match="AWS_REGION_NAME"):
        bedrock.build_request(chat_call(creds=no_region))
    bad = Credentials(extra={**KEYS, "aws_region_name": "us-east-1/../evil"})
    with pytest.raises(BadRequestError, match="aws_region_name"):
        bedrock.build_request(chat_call(creds=bad))


def test_sigv4_signs_exactly_the_bytes_sent() -> None:
    creds = Credentials(extra={**KEYS, "aws_session_token": "session-token"})
    request = bedrock.build_request(chat_call(creds=creds))
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-amz-security-token"] == "session-token"
    assert headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert "/us-east-1/bedrock/aws4_request" in headers["authorization"]
    replay = AWSRequest(method="POST", url=request.url, data=request.content,
                        headers={k: v for k, v in headers.items() if k != "authorization"})
    replay.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(BotoCredentials(ACCESS_KEY, SECRET_KEY, "session-token"), "bedrock", REGION)
    expected = signer.signature(signer.string_to_sign(replay, signer.canonical_request(replay)), replay)
    assert headers["authorization"].endswith(f"Signature={expected}")


def test_api_key_sends_bearer_and_skips_sigv4() -> None:
    call = chat_call(creds=Credentials(api_key="bedrock-key", extra={"aws_region_name": REGION}))
    assert signing.authenticate(call) is call.credentials
    assert bedrock.build_request(call).headers == {"content-type": "application/json", "accept": "application/json",
                                                   "authorization": "Bearer bedrock-key"}


# The Converse body


def test_text_request_matches_the_fixture() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    body = body_of(chat_call(messages=messages, max_tokens=512, temperature=0.5, top_p=0.9, stop="###"))
    assert body == json.loads((FIXTURES / "converse-text.request.json").read_text())


def test_max_tokens_defaults_from_the_catalog_for_claude_only() -> None:
    assert body_of(chat_call())["inferenceConfig"] == {"maxTokens": 64000}
    assert "inferenceConfig" not in body_of(chat_call(LLAMA))
    assert body_of(chat_call(max_completion_tokens=7))["inferenceConfig"] == {"maxTokens": 7}


def test_turns_merge_start_with_user_and_keep_prefill() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "assistant", "content": "Hi, how can I help?"},
        {"role": "developer", "content": [{"type": "text", "text": "Rule one."}]},
        {"role": "user", "content": "First", "name": "alice"},
        {"role": "user", "content": [{"type": "text", "text": "Second"}]},
        {"role": "system", "content": "Rule two."},
        {"role": "assistant", "content": "The answer is"},
    ]
    body = body_of(chat_call(LLAMA, messages))
    assert body["system"] == [{"text": "Rule one."}, {"text": "Rule two."}]
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "."}]},
        {"role": "assistant", "content": [{"text": "Hi, how can I help?"}]},
        {"role": "user", "content": [{"text": "First"}, {"text": "Second"}]},
        {"role": "assistant", "content": [{"text": "The answer is"}]},
    ]


def test_images_and_documents_inline() -> None:
    content = [{"type": "text", "text": "Compare"},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
               {"type": "image_url", "image_url": "s3://bucket/cat.jpg"},
               {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}",
                                         "filename": "Q3 report (final).pdf"}},
               {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}",
                                         "filename": "Q3 report (final).pdf"}}]
    body = body_of(chat_call(messages=[{"role": "user", "content": content}]))
    assert body["messages"][0]["content"] == [
        {"text": "Compare"},
        {"image": {"format": "png", "source": {"bytes": PNG}}},
        {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/cat.jpg"}}}},
        {"document": {"format": "pdf", "name": "Q3 report (final)", "source": {"bytes": PDF}}},
        {"document": {"format": "pdf", "name": "Q3 report (final) (2)", "source": {"bytes": PDF}}},
    ]


@pytest.mark.parametrize(("part", "match"), [
    ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, "input_audio"),
    ({"type": "hologram"}, "hologram"),
    ({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}, "inline"),
    ({"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}, "image/tiff"),
])
def test_content_parts_bedrock_cannot_take_are_errors(part: dict[str, Any], match: str) -> None:
    with pytest.raises(BadRequestError, match=match):
        bedrock.build_request(chat_call(messages=[{"role": "user", "content": [part]}]))


def test_tools_choices_and_results() -> None:
    body = body_of(chat_call(tools=[WEATHER, TIME], tool_choice="required"))
    assert body["toolConfig"] == {"tools": [
        {"toolSpec": {"name": "get_weather", "description": "Weather now",
                      "inputSchema": {"json": WEATHER["function"]["parameters"]}}},
        {"toolSpec": {"name": "get_time", "inputSchema": {"json": TIME["function"]["parameters"]}}}],
        "toolChoice": {"any": {}}}
    assert body_of(chat_call(tools=[WEATHER], tool_choice="auto"))["toolConfig"]["toolChoice"] == {"auto": {}}
    named = {"type": "function", "function": {"name": "get_time"}}
    assert body_of(chat_call(tools=[WEATHER, TIME], tool_choice=named))["toolConfig"]["toolChoice"] == {
        "tool": {"name": "get_time"}}
    assert "toolChoice" not in body_of(chat_call(tools=[WEATHER]))["toolConfig"]
    assert "toolConfig" not in body_of(chat_call(tools=[WEATHER], tool_choice="none"))

    history = [*HELLO, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}},
        {"id": "t2", "type": "function", "function": {"name": "get_time", "arguments": '{"zone": "UTC"}'}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "18C"},
        {"role": "tool", "tool_call_id": "t2", "name": "get_time", "content": [{"type": "text", "text": "noon"}]}]
    body = body_of(chat_call(messages=history, tools=[WEATHER, TIME], tool_choice="none"))
    assert body["toolConfig"] == {"tools": ANY}  # Bedrock needs the tools when the history uses them
    assert body["messages"][1:] == [
        {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"location": "Paris"}}},
            {"toolUse": {"toolUseId": "t2", "name": "get_time", "input": {"zone": "UTC"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "18C"}]}},
                                     {"toolResult": {"toolUseId": "t2", "content": [{"text": "noon"}]}}]}]


def test_response_format_becomes_a_forced_tool() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}
    assert body_of(chat_call(response_format=fmt))["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "json_tool_call", "description": "Respond with a JSON object (place).",
                                "inputSchema": {"json": schema}}}],
        "toolChoice": {"tool": {"name": "json_tool_call"}}}
    config = body_of(chat_call(response_format={"type": "json_object"}, tools=[WEATHER]))["toolConfig"]
    assert [t["toolSpec"]["name"] for t in config["tools"]] == ["get_weather", "json_tool_call"]
    assert "toolChoice" not in config  # the caller's own tools stay the model's choice


def test_reasoning_maps_per_family() -> None:
    body = body_of(chat_call(reasoning_effort="medium"))
    assert body["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert body["inferenceConfig"] == {"maxTokens": 64000}
    thinking = {"type": "enabled", "budget_tokens": 5000}
    assert body_of(chat_call(thinking=thinking))["additionalModelRequestFields"] == {"thinking": thinking}
    nova = body_of(chat_call("us.amazon.nova-2-lite-v1:0", reasoning_effort="low"))
    assert nova["additionalModelRequestFields"] == {"reasoningConfig": {"type": "enabled",
                                                                        "maxReasoningEffort": "low"}}
    gpt = body_of(chat_call("openai.gpt-oss-120b-1:0", reasoning_effort="high"))
    assert gpt["additionalModelRequestFields"] == {"reasoning_effort": "high"}
    fmt = {"type": "json_object"}  # Anthropic refuses a forced tool while thinking: the choice stays auto
    assert "toolChoice" not in body_of(chat_call(reasoning_effort="low", response_format=fmt))["toolConfig"]


def test_thinking_blocks_go_back_first_in_their_turn() -> None:
    blocks = [{"type": "thinking", "thinking": "Need weather.", "signature": "sig-1"},
              {"type": "redacted_thinking", "data": "cmVk"}]
    messages = [*HELLO, {"role": "assistant", "content": "Checking.", "thinking_blocks": blocks},
                {"role": "user", "content": "Go on"}]
    assert body_of(chat_call(messages=messages))["messages"][1]["content"] == [
        {"reasoningContent": {"reasoningText": {"text": "Need weather.", "signature": "sig-1"}}},
        {"reasoningContent": {"redactedContent": "cmVk"}},
        {"text": "Checking."}]


def test_cache_control_adds_cache_points() -> None:
    marker = {"type": "ephemeral"}
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": [{"type": "text", "text": "Long rules", "cache_control": marker}]},
        {"role": "user", "content": [{"type": "text", "text": "Doc", "cache_control": marker},
                                     {"type": "text", "text": "Question"}]},
        {"role": "assistant", "content": "Answer", "cache_control": marker},
        {"role": "user", "content": "More"}]
    body = body_of(chat_call(messages=messages, tools=[{**WEATHER, "cache_control": marker}]))
    point = {"cachePoint": {"type": "default"}}
    assert body["system"] == [{"text": "Long rules"}, point]
    assert body["messages"][0]["content"] == [{"text": "Doc"}, point, {"text": "Question"}]
    assert body["messages"][1]["content"] == [{"text": "Answer"}, point]
    assert body["toolConfig"]["tools"][1:] == [point]


def test_model_specific_parameters() -> None:
    guardrail = {"guardrailIdentifier": "g1", "guardrailVersion": "1"}
    body = body_of(chat_call(top_k=40, guardrailConfig=guardrail, user="alice@example.com", custom_flag=True))
    assert body["additionalModelRequestFields"] == {"top_k": 40, "custom_flag": True}
    assert body["guardrailConfig"] == guardrail
    assert body["requestMetadata"] == {"user": "alice@example.com"}
    nova = body_of(chat_call(NOVA, top_k=5))
    assert nova["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 5}}


@pytest.mark.parametrize(("model", "params", "unsupported"), [
    (CLAUDE, {"n": 2}, "n"), (CLAUDE, {"seed": 1}, "seed"), (CLAUDE, {"logprobs": True}, "logprobs"),
    (CLAUDE, {"presence_penalty": 0.5}, "presence_penalty"), (CLAUDE, {"parallel_tool_calls": False},
                                                              "parallel_tool_calls"),
    (LLAMA, {"tool_choice": "required", "tools": [WEATHER]}, "tool_choice"),
    (LLAMA, {"response_format": {"type": "json_object"}}, "response_format"),
    (NOVA, {"reasoning_effort": "high"}, "reasoning_effort"),
])
def test_unsupported_parameters_are_errors(model: str, params: dict[str, Any], unsupported: str) -> None:
    with pytest.raises(UnsupportedParamsError, match=unsupported):
        sluicegate.completion(model=f"bedrock/{model}", messages=HELLO, api_key="k", aws_region_name=REGION,
                              **params)
    call = chat_call(model, **params)
    assert unsupported not in bedrock.supported_params(call)
    assert "parallel_tool_calls" in bedrock.supported_params(chat_call(parallel_tool_calls=True))


# Responses


def parse(name: str, model: str = CLAUDE, **params: Any) -> dict[str, Any]:
    call = chat_call(model, **params)
    return bedrock.parse_response(call, 200, {"x-amzn-requestid": "req-1"}, (FIXTURES / name).read_bytes())


def test_text_response() -> None:
    assert parse("converse-text.response.json") == {
        "id": "chatcmpl-req-1", "object": "chat.completion", "created": ANY, "model": CLAUDE,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": "Hello! How can I help you today?",
            "provider_specific_fields": {"metrics": {"latencyMs": 585}, "stop_reason": "end_turn"}}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 11, "total_tokens": 23,
                  "prompt_tokens_details": {"cached_tokens": 0}}}


def test_tool_use_response() -> None:
    choice = parse("converse-tools.response.json")["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I'll look up the weather for you."
    assert choice["message"]["tool_calls"] == [
        {"id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"location":"Paris","unit":"celsius"}'}},
        {"id": "tooluse_d3I5bXc4RmS1xEo0T2a9pQ", "type": "function",
         "function": {"name": "get_time", "arguments": '{"zone":"Europe/Paris"}'}}]


def test_reasoning_and_cache_usage_response() -> None:
    result = parse("converse-reasoning-cache.response.json")
    message = result["choices"][0]["message"]
    assert message["content"] == "4"
    assert message["reasoning_content"] == "The user asks for 2+2. That is 4."
    assert message["thinking_blocks"] == [
        {"type": "thinking", "thinking": "The user asks for 2+2. That is 4.",
         "signature": "EqoBCkgIARABGAIiQHc0ZXN0LXNpZ25hdHVyZQ=="},
        {"type": "redacted_thinking", "data": "cmVkYWN0ZWQtdGhpbmtpbmc="}]
    assert result["usage"] == {"prompt_tokens": 2020, "completion_tokens": 64, "total_tokens": 2084,
                               "prompt_tokens_details": {"cached_tokens": 1500},
                               "cache_read_input_tokens": 1500, "cache_creation_input_tokens": 500}


def test_guardrail_is_content_filter_and_json_tool_is_content() -> None:
    assert parse("converse-guardrail.response.json")["choices"][0]["finish_reason"] == "content_filter"
    raw = {"output": {"message": {"role": "assistant", "content": [{"toolUse": {
        "toolUseId": "t", "name": "json_tool_call", "input": {"city": "Paris"}}}]}},
        "stopReason": "tool_use", "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3},
        "metrics": {"latencyMs": 1}}
    call = chat_call(response_format={"type": "json_object"})
    choice = bedrock.parse_response(call, 200, {}, orjson.dumps(raw))["choices"][0]
    assert choice == {"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": '{"city":"Paris"}', "provider_specific_fields": ANY}}


# Streams


def stream_chunks(call: Call, raw: bytes, piece: int = 7) -> list[dict[str, Any]]:
    decoder, parser, chunks = EventStreamDecoder(), bedrock.ADAPTER.stream_parser(call), []
    for start in range(0, len(raw), piece):  # frames split across reads, as the network delivers them
        for event in decoder.feed(raw[start:start + piece]):
            chunks += parser.feed(event)
    return chunks + parser.finish()


def test_stream_fixture_becomes_openai_chunks() -> None:
    raw = (FIXTURES / "converse-stream-tools.stream.bin").read_bytes()
    chunks = stream_chunks(chat_call(stream=True, stream_options={"include_usage": True}), raw)
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == CLAUDE for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "Need the weather."},
        {"thinking_blocks": [{"type": "thinking", "thinking": "Need the weather.", "signature": "EqoBCkgIARAB"}]},
        {"content": "Let me "}, {"content": "check."},
        {"tool_calls": [{"index": 0, "id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "type": "function",
                         "function": {"name": "get_weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"location": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        {"tool_calls": [{"index": 1, "id": "tooluse_d3I5bXc4RmS1xEo0T2a9pQ", "type": "function",
                         "function": {"name": "get_time", "arguments": ""}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": '{"zone": "UTC"}'}}]},
        {}]
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 1910, "completion_tokens": 96, "total_tokens": 2006,
        "prompt_tokens_details": {"cached_tokens": 1500}, "cache_read_input_tokens": 1500,
        "cache_creation_input_tokens": 0}
    without_usage = stream_chunks(chat_call(stream=True), raw)
    assert all(c["choices"] for c in without_usage)


def test_stream_exceptions_raise_mapped_errors() -> None:
    from tests.simulators.bedrock_wire import event, exception_event

    raw = event("messageStart", {"role": "assistant"}) + exception_event("throttlingException", "Too many tokens")
    with pytest.raises(RateLimitError, match="Too many tokens"):
        stream_chunks(chat_call(stream=True), raw)
    for kind, cls in [("validationException", BadRequestError), ("internalServerException", InternalServerError),
                      ("serviceUnavailableException", ServiceUnavailableError),
                      ("modelStreamErrorException", InternalServerError)]:
        with pytest.raises(cls):
            stream_chunks(chat_call(stream=True), exception_event(kind, "boom"))


# Errors


@pytest.mark.parametrize(("name", "cls", "status"), [
    ("error-400-context.json", ContextWindowExceededError, 400),
    ("error-400-validation.json", BadRequestError, 400),
    ("error-403-access.json", PermissionDeniedError, 403),
    ("error-403-signature.json", AuthenticationError, 401),
    ("error-403-token.json", AuthenticationError, 401),
    ("error-403-expired.json", AuthenticationError, 401),
    ("error-404.json", NotFoundError, 404),
    ("error-408.json", Timeout, 408),
    ("error-424.json", InternalServerError, 500),
    ("error-429.json", RateLimitError, 429),
    ("error-429-not-ready.json", ServiceUnavailableError, 503),
    ("error-500.json", InternalServerError, 500),
    ("error-503.json", ServiceUnavailableError, 503),
])
def test_error_fixtures_map_to_classes(name: str, cls: type[APIError], status: int) -> None:
    fixture = json.loads((FIXTURES / name).read_text())
    error = bedrock.ADAPTER.map_error(chat_call(), fixture["status"], {**fixture["headers"], "retry-after": "2"},
                                      orjson.dumps(fixture["body"]))
    assert type(error) is cls
    assert error.status_code == status
    assert error.message == fixture["body"]["message"]
    assert error.code == fixture["headers"]["x-amzn-errortype"].split(":")[0]
    assert error.headers["retry-after"] == "2"


def test_error_type_from_the_body_when_no_header() -> None:
    body = b'{"__type": "com.amazon.bedrock#ThrottlingException", "message": "slow down"}'
    assert isinstance(bedrock.ADAPTER.map_error(chat_call(), 429, {}, body), RateLimitError)
    assert isinstance(bedrock.ADAPTER.map_error(chat_call(), 502, {}, b"<html>bad gateway</html>"),
                      InternalServerError)


# Embeddings


def embed_call(model: str, **params: Any) -> Call:
    return Call(kind="embedding", provider="bedrock", model=model, endpoint=endpoint("bedrock"),
                credentials=Credentials(extra=dict(KEYS)), params=build_params(EmbeddingParams, params))


def test_embedding_requests() -> None:
    request = bedrock.build_request(embed_call("amazon.titan-embed-text-v2:0", input="hi", dimensions=256,
                                               normalize=True))
    assert request.url.endswith("/model/amazon.titan-embed-text-v2%3A0/invoke")
    assert orjson.loads(request.content or b"") == {"inputText": "hi", "dimensions": 256, "normalize": True}
    cohere = bedrock.build_request(embed_call("cohere.embed-english-v3", input=["a", "b"], truncate="END"))
    assert orjson.loads(cohere.content or b"") == {"texts": ["a", "b"], "input_type": "search_document",
                                                   "truncate": "END"}
    with pytest.raises(BadRequestError, match="one text per request"):
        bedrock.build_request(embed_call("amazon.titan-embed-text-v2:0", input=["a", "b"]))
    with pytest.raises(BadRequestError, match="token ids"):
        bedrock.build_request(embed_call("cohere.embed-english-v3", input=[1, 2, 3]))
    with pytest.raises(BadRequestError, match="not a text embedding model"):
        bedrock.build_request(embed_call("stability.sd3", input="x"))


def test_embedding_responses_and_base64() -> None:
    titan = bedrock.parse_response(embed_call("amazon.titan-embed-text-v2:0", input="hi"), 200, {},
                                   (FIXTURES / "titan-embed.response.json").read_bytes())
    assert titan == {"object": "list", "model": "amazon.titan-embed-text-v2:0",
                     "data": [{"object": "embedding", "index": 0, "embedding": [0.0123, -0.0456, 0.0789, 0.0012]}],
                     "usage": {"prompt_tokens": 3, "total_tokens": 3}}
    call = embed_call("cohere.embed-english-v3", input=["hello", "world"], encoding_format="base64")
    cohere = bedrock.parse_response(call, 200, {"x-amzn-bedrock-input-token-count": "2"},
                                    (FIXTURES / "cohere-embed.response.json").read_bytes())
    assert cohere["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    assert struct.unpack("<2f", base64.b64decode(cohere["data"][1]["embedding"])) == pytest.approx((0.3, 0.4))
    by_type = bedrock.parse_response(embed_call("cohere.embed-v4:0", input="hello"), 200, {},
                                     (FIXTURES / "cohere-embed-by-type.response.json").read_bytes())
    assert by_type["data"][0]["embedding"] == [0.5, 0.25]


# Credentials


def test_explicit_keys_profile_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    call = chat_call(creds=Credentials(extra={**KEYS, "aws_session_token": "tok"}))
    extra = signing.authenticate(call).extra
    assert (extra["aws_access_key_id"], extra["aws_secret_access_key"], extra["aws_session_token"]) == (
        ACCESS_KEY, SECRET_KEY, "tok")
    (tmp_path / "credentials").write_text("[team]\naws_access_key_id = AKIAPROFILE\n"
                                          "aws_secret_access_key = profile-secret\n")
    (tmp_path / "config").write_text("[profile team]\nregion = eu-west-3\n")
    call = chat_call(creds=Credentials(extra={"aws_profile_name": "team"}))
    extra = signing.authenticate(call).extra
    assert (extra["aws_access_key_id"], extra["aws_region_name"]) == ("AKIAPROFILE", "eu-west-3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    extra = signing.authenticate(chat_call(creds=Credentials(extra={"aws_region_name": REGION}))).extra
    assert extra["aws_access_key_id"] == "AKIAENV"
    assert "aws_session_token" not in extra


def test_missing_credentials_and_profile_are_authentication_errors() -> None:
    with pytest.raises(AuthenticationError, match="no AWS credentials"):
        signing.authenticate(chat_call(creds=Credentials(extra={"aws_region_name": REGION})))
    with pytest.raises(AuthenticationError, match="nope"):
        signing.authenticate(chat_call(creds=Credentials(extra={"aws_profile_name": "nope"})))


def test_missing_botocore_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def without_botocore(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("botocore"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_botocore)
    with pytest.raises(BadRequestError, match=r"pip install 'sluicegate\[bedrock\]'"):
        signing.authenticate(chat_call())


# End to end against the simulator


def sim_kwargs(sim: BedrockSimulator, **extra: Any) -> dict[str, Any]:
    return {**KEYS, "aws_bedrock_runtime_endpoint": sim.base_url, "num_retries": 0, **extra}


def test_completion_end_to_end(bedrock_sim: BedrockSimulator) -> None:
    response = sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=HELLO, **sim_kwargs(bedrock_sim))
    assert response.choices[0].message.content == "Hello from the simulator. You said: Hello there"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == 5
    assert response.usage.completion_tokens == 8
    assert bedrock_sim.requests[-1].json == {"messages": [{"role": "user", "content": [{"text": "Hello there"}]}],
                                             "inferenceConfig": {"maxTokens": 64000}}


def test_acompletion_tools_round_trip(bedrock_sim: BedrockSimulator) -> None:
    async def run() -> tuple[Any, Any]:
        first = await sluicegate.acompletion(model=f"bedrock/converse/{CLAUDE}", messages=HELLO,
                                             tools=[WEATHER, TIME], **sim_kwargs(bedrock_sim))
        message = first.choices[0].message
        results = [{"role": "tool", "tool_call_id": call.id, "content": f"r{i}"}
                   for i, call in enumerate(message.tool_calls)]
        second = await sluicegate.acompletion(model=f"bedrock/{CLAUDE}", tools=[WEATHER, TIME],
                                              messages=[*HELLO, message, *results], **sim_kwargs(bedrock_sim))
        return first, second

    first, second = asyncio.run(run())
    assert first.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in first.choices[0].message.tool_calls] == ["get_weather", "get_time"]
    assert json.loads(first.choices[0].message.tool_calls[0].function.arguments) == {"location": "example"}
    assert second.choices[0].message.content == "Hello from the simulator. The tool said: r0 | r1"


@pytest.mark.parametrize("is_async", [False, True])
def test_streaming_tools_end_to_end(bedrock_sim: BedrockSimulator, is_async: bool) -> None:
    kwargs = dict(model="bedrock/arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
                  messages=HELLO, tools=[TIME], stream=True, stream_options={"include_usage": True},
                  **sim_kwargs(bedrock_sim))

    async def collect() -> list[Any]:
        return [chunk async for chunk in await sluicegate.acompletion(**kwargs)]

    chunks = asyncio.run(collect()) if is_async else list(sluicegate.completion(**kwargs))
    built = sluicegate.stream_chunk_builder(chunks)
    call = built.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_time", {"zone": "example"})
    assert built.choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage.total_tokens > 0


def test_json_schema_and_thinking_end_to_end(bedrock_sim: BedrockSimulator) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}
    response = sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=HELLO, response_format=fmt,
                                     **sim_kwargs(bedrock_sim))
    assert json.loads(response.choices[0].message.content) == {"city": "example"}
    assert response.choices[0].finish_reason == "stop"
    thought = sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=HELLO, reasoning_effort="low",
                                    **sim_kwargs(bedrock_sim))
    message = thought.choices[0].message
    assert message.reasoning_content
    assert message.thinking_blocks[0]["signature"].startswith("sig-")


def test_prompt_caching_usage_end_to_end(bedrock_sim: BedrockSimulator) -> None:
    messages = [{"role": "system", "content": [{"type": "text", "text": "Long stable rules " * 20,
                                                "cache_control": {"type": "ephemeral"}}]}, *HELLO]
    first = sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=messages, **sim_kwargs(bedrock_sim))
    second = sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=messages, **sim_kwargs(bedrock_sim))
    assert first.usage.cache_creation_input_tokens > 0
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert second.usage.prompt_tokens_details.cached_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.prompt_tokens == first.usage.prompt_tokens


def test_vision_data_url_end_to_end(bedrock_sim: BedrockSimulator) -> None:
    content = [{"type": "text", "text": "What is this"},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]
    response = sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=[{"role": "user", "content": content}],
                                     **sim_kwargs(bedrock_sim))
    assert response.choices[0].message.content.endswith("What is this")
    assert bedrock_sim.requests[-1].json["messages"][0]["content"][1]["image"]["format"] == "png"


def test_errors_end_to_end(bedrock_sim: BedrockSimulator) -> None:
    bedrock_sim.script(429)
    with pytest.raises(RateLimitError):
        sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=HELLO, **sim_kwargs(bedrock_sim))
    bedrock_sim.script(400, {"message": "Input is too long for requested model."})
    with pytest.raises(ContextWindowExceededError):
        sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=HELLO, **sim_kwargs(bedrock_sim))
    with pytest.raises(AuthenticationError, match="signature"):
        sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=HELLO,
                              **sim_kwargs(bedrock_sim, aws_secret_access_key="wrong"))
    bedrock_sim.script_stream_error(3)
    stream = sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=HELLO, stream=True, **sim_kwargs(bedrock_sim))
    with pytest.raises(RateLimitError):
        list(stream)


def test_api_key_end_to_end(bedrock_sim: BedrockSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", API_KEY)
    response = sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=HELLO, aws_region_name=REGION,
                                     aws_bedrock_runtime_endpoint=bedrock_sim.base_url)
    assert response.choices[0].finish_reason == "stop"
    assert bedrock_sim.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"


def test_role_assumption_through_sts_is_cached(bedrock_sim: BedrockSimulator) -> None:
    kwargs = sim_kwargs(bedrock_sim, aws_role_name="arn:aws:iam::123456789012:role/bedrock",
                        aws_session_name="gateway", aws_external_id="ext-1", aws_sts_endpoint=bedrock_sim.base_url)
    for _ in range(2):
        sluicegate.completion(model=f"bedrock/{CLAUDE}", messages=HELLO, **kwargs)
    assert bedrock_sim.assumed_roles == [{"action": "AssumeRole", "role": "arn:aws:iam::123456789012:role/bedrock",
                                          "session": "gateway", "external_id": "ext-1", "token": ""}]
    assert "x-amz-security-token" in bedrock_sim.requests[-1].headers


def test_web_identity_end_to_end(bedrock_sim: BedrockSimulator) -> None:
    response = sluicegate.completion(
        model=f"bedrock/{CLAUDE}", messages=HELLO, aws_region_name=REGION,
        aws_bedrock_runtime_endpoint=bedrock_sim.base_url, aws_sts_endpoint=bedrock_sim.base_url,
        aws_role_name="arn:aws:iam::123456789012:role/web", aws_web_identity_token="oidc-token")
    assert response.choices[0].finish_reason == "stop"
    assert bedrock_sim.assumed_roles[0]["action"] == "AssumeRoleWithWebIdentity"
    assert bedrock_sim.assumed_roles[0]["token"] == "oidc-token"


def test_embeddings_end_to_end(bedrock_sim: BedrockSimulator) -> None:
    titan = sluicegate.embedding(model="bedrock/amazon.titan-embed-text-v2:0", input="hello world", dimensions=256,
                                 **sim_kwargs(bedrock_sim))
    assert len(titan.data[0].embedding) == 256
    assert titan.usage.prompt_tokens == 2
    cohere = sluicegate.embedding(model="bedrock/cohere.embed-english-v3", input=["a b", "c"],
                                  encoding_format="base64", **sim_kwargs(bedrock_sim))
    assert [d.index for d in cohere.data] == [0, 1]
    assert cohere.usage.prompt_tokens == 3
    assert len(base64.b64decode(cohere.data[0].embedding)) == 1024 * 4


def test_abandoned_stream_closes_the_upstream(bedrock_sim: BedrockSimulator) -> None:
    bedrock_sim.chunk_delay_s = 0.05
    long_text = [{"role": "user", "content": " ".join(["word"] * 50)}]

    async def read_one() -> None:
        stream = await sluicegate.acompletion(model=f"bedrock/{CLAUDE}", messages=long_text, stream=True,
                                              **sim_kwargs(bedrock_sim))
        async for _ in stream:
            break
        await stream.aclose()

    asyncio.run(read_one())
    deadline = time.monotonic() + 5
    while bedrock_sim.cancelled_streams == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert bedrock_sim.cancelled_streams == 1
