"""The Bedrock simulator, checked with the official `boto3` client: Converse, ConverseStream (the binary event
stream), InvokeModel embeddings, SigV4 verification, STS role assumption and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from tests.simulators.bedrock import ACCESS_KEY, API_KEY, REGION, SECRET_KEY, BedrockSimulator

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bedrock"
MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
HELLO = [{"role": "user", "content": [{"text": "Hello there friend"}]}]
WEATHER = {"toolSpec": {"name": "get_weather", "description": "Weather", "inputSchema": {"json": {
    "type": "object", "properties": {"location": {"type": "string"}, "unit": {"enum": ["celsius", "f"]},
                                     "days": {"type": "integer"}, "detailed": {"type": "boolean"}},
    "required": ["location", "unit", "days", "detailed"]}}}}
TIME = {"toolSpec": {"name": "get_time", "inputSchema": {"json": {
    "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}}


def client(sim: BedrockSimulator, secret: str = SECRET_KEY, **kwargs: Any) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=sim.base_url, region_name=REGION,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}), **kwargs)


@pytest.fixture(autouse=True)
def _no_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_BEARER_TOKEN_BEDROCK", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def test_converse_answers_in_the_documented_shape(bedrock_sim: BedrockSimulator) -> None:
    answer = client(bedrock_sim).converse(modelId=MODEL, messages=HELLO, system=[{"text": "Be brief."}],
                                          inferenceConfig={"maxTokens": 100, "temperature": 0.2})

    assert answer["output"]["message"] == {"role": "assistant", "content": [
        {"text": "Hello from the simulator. You said: Hello there friend"}]}
    assert answer["stopReason"] == "end_turn"
    assert answer["usage"] == {"inputTokens": (3 + 2) + (3 + 3), "outputTokens": 9, "totalTokens": 20}
    fixture = json.loads((FIXTURES / "converse-text.response.json").read_text())
    body = {key: answer[key] for key in fixture}
    assert shape(body) == shape(fixture)
    recorded = bedrock_sim.requests[-1]
    assert recorded.path == f"/model/{MODEL}/converse"
    assert recorded.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")


def test_converse_calls_tools_and_reads_results(bedrock_sim: BedrockSimulator) -> None:
    bedrock = client(bedrock_sim)
    tools = {"tools": [WEATHER, TIME]}
    answer = bedrock.converse(modelId=MODEL, messages=HELLO, toolConfig=tools)
    uses = [block["toolUse"] for block in answer["output"]["message"]["content"]]
    assert answer["stopReason"] == "tool_use"
    assert [(use["name"], use["input"]) for use in uses] == [
        ("get_weather", {"location": "example", "unit": "celsius", "days": 1, "detailed": True}),
        ("get_time", {"zone": "example"})]
    named = bedrock.converse(modelId=MODEL, messages=HELLO,
                             toolConfig={**tools, "toolChoice": {"tool": {"name": "get_time"}}})
    assert [b["toolUse"]["name"] for b in named["output"]["message"]["content"]] == ["get_time"]

    results = [{"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": f"r{i}"}]}}
               for i, use in enumerate(uses)]
    turns = [*HELLO, answer["output"]["message"], {"role": "user", "content": results}]
    final = bedrock.converse(modelId=MODEL, messages=turns, toolConfig=tools)
    assert final["output"]["message"]["content"] == [{"text": "Hello from the simulator. The tool said: r0 | r1"}]


def test_converse_stream_decodes_with_boto3(bedrock_sim: BedrockSimulator) -> None:
    stream = client(bedrock_sim).converse_stream(modelId=MODEL, messages=HELLO, toolConfig={"tools": [TIME]},
                                                 additionalModelRequestFields={"thinking": {
                                                     "type": "enabled", "budget_tokens": 1024}})
    events = list(stream["stream"])
    kinds = [next(iter(event)) for event in events]
    assert kinds[0] == "messageStart"
    assert kinds[-2:] == ["messageStop", "metadata"]
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"
    deltas = [e["contentBlockDelta"]["delta"] for e in events if "contentBlockDelta" in e]
    assert "".join(d["reasoningContent"].get("text", "") for d in deltas if "reasoningContent" in d)
    assert any("signature" in d.get("reasoningContent", {}) for d in deltas)
    starts = [e["contentBlockStart"]["start"]["toolUse"] for e in events if "contentBlockStart" in e]
    assert [s["name"] for s in starts] == ["get_time"]
    assert starts[0]["toolUseId"].startswith("tooluse_")
    fragments = [d["toolUse"]["input"] for d in deltas if "toolUse" in d]
    assert len(fragments) >= 2
    assert all(len(f) <= 8 for f in fragments)
    assert json.loads("".join(fragments)) == {"zone": "example"}
    assert events[-1]["metadata"]["usage"]["totalTokens"] > 0


def test_text_streams_word_by_word(bedrock_sim: BedrockSimulator) -> None:
    events = list(client(bedrock_sim).converse_stream(modelId=MODEL, messages=HELLO)["stream"])
    texts = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert len(texts) >= 3
    assert "".join(texts) == "Hello from the simulator. You said: Hello there friend"


def test_stream_exception_raises_event_stream_error(bedrock_sim: BedrockSimulator) -> None:
    bedrock_sim.script_stream_error(2)
    stream = client(bedrock_sim).converse_stream(modelId=MODEL, messages=HELLO)["stream"]
    with pytest.raises(EventStreamError) as caught:
        list(stream)
    assert caught.value.response["Error"]["Code"] == "throttlingException"


def test_wrong_secret_fails_signature_verification(bedrock_sim: BedrockSimulator) -> None:
    with pytest.raises(ClientError) as caught:
        client(bedrock_sim, secret="not-the-secret").converse(modelId=MODEL, messages=HELLO)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "InvalidSignatureException"


def test_unknown_key_and_missing_session_token_are_unrecognised(bedrock_sim: BedrockSimulator) -> None:
    bedrock_sim.credentials["ASIATEMPORARY0000001"] = ("temp-secret", "the-token")
    unknown = boto3.client("bedrock-runtime", endpoint_url=bedrock_sim.base_url, region_name=REGION,
                           aws_access_key_id="AKIAUNKNOWN", aws_secret_access_key="x")
    temporary = boto3.client("bedrock-runtime", endpoint_url=bedrock_sim.base_url, region_name=REGION,
                             aws_access_key_id="ASIATEMPORARY0000001", aws_secret_access_key="temp-secret")
    for bedrock in (unknown, temporary):
        with pytest.raises(ClientError) as caught:
            bedrock.converse(modelId=MODEL, messages=HELLO)
        assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
    good = boto3.client("bedrock-runtime", endpoint_url=bedrock_sim.base_url, region_name=REGION,
                        aws_access_key_id="ASIATEMPORARY0000001", aws_secret_access_key="temp-secret",
                        aws_session_token="the-token")
    assert good.converse(modelId=MODEL, messages=HELLO)["stopReason"] == "end_turn"


def test_arn_model_ids_verify(bedrock_sim: BedrockSimulator) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"
    assert client(bedrock_sim).converse(modelId=arn, messages=HELLO)["stopReason"] == "end_turn"
    assert bedrock_sim.requests[-1].path == f"/model/{arn}/converse"


@pytest.mark.parametrize(("status", "code"), [(400, "ValidationException"), (403, "AccessDeniedException"),
                                              (404, "ResourceNotFoundException"), (429, "ThrottlingException"),
                                              (500, "InternalServerException"),
                                              (503, "ServiceUnavailableException")])
def test_scripted_errors_carry_aws_error_codes(bedrock_sim: BedrockSimulator, status: int, code: str) -> None:
    bedrock_sim.script(status)
    with pytest.raises(ClientError) as caught:
        client(bedrock_sim).converse(modelId=MODEL, messages=HELLO)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_throttling_is_the_modelled_exception(bedrock_sim: BedrockSimulator) -> None:
    bedrock = client(bedrock_sim)
    bedrock_sim.script(429)
    with pytest.raises(bedrock.exceptions.ThrottlingException):
        bedrock.converse(modelId=MODEL, messages=HELLO)


def test_validation_matches_the_real_api(bedrock_sim: BedrockSimulator) -> None:
    bedrock = client(bedrock_sim)
    assistant_first = [{"role": "assistant", "content": [{"text": "Hi"}]}, *HELLO]
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.converse(modelId=MODEL, messages=assistant_first)
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.converse(modelId=MODEL, messages=[*HELLO, *HELLO])
    tool_use = {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]}
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.converse(modelId=MODEL, messages=[*HELLO, tool_use])


def test_invoke_model_embeds_with_titan_and_cohere(bedrock_sim: BedrockSimulator) -> None:
    bedrock = client(bedrock_sim)
    titan = bedrock.invoke_model(modelId="amazon.titan-embed-text-v2:0",
                                 body=json.dumps({"inputText": "hello world", "dimensions": 256}))
    body = json.loads(titan["body"].read())
    assert len(body["embedding"]) == 256
    assert body["inputTextTokenCount"] == 2
    assert shape(body) == shape(json.loads((FIXTURES / "titan-embed.response.json").read_text()))
    cohere = bedrock.invoke_model(modelId="cohere.embed-english-v3", body=json.dumps(
        {"texts": ["hello", "big world"], "input_type": "search_document"}))
    body = json.loads(cohere["body"].read())
    assert [len(v) for v in body["embeddings"]] == [1024, 1024]
    assert cohere["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"] == "3"
    assert shape(body) == shape(json.loads((FIXTURES / "cohere-embed.response.json").read_text()))


def test_bearer_api_keys_are_checked(bedrock_sim: BedrockSimulator) -> None:
    url = f"{bedrock_sim.base_url}/model/{MODEL}/converse"
    answer = httpx.post(url, json={"messages": HELLO}, headers={"authorization": f"Bearer {API_KEY}"})
    assert answer.json()["stopReason"] == "end_turn"
    refused = httpx.post(url, json={"messages": HELLO}, headers={"authorization": "Bearer wrong"})
    assert refused.status_code == 403


def test_sts_assume_role_credentials_sign_requests(bedrock_sim: BedrockSimulator) -> None:
    sts = boto3.client("sts", endpoint_url=bedrock_sim.base_url, region_name=REGION,
                       aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    creds = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/bedrock", RoleSessionName="s1",
                            ExternalId="ext")["Credentials"]
    assert bedrock_sim.assumed_roles[-1] == {"action": "AssumeRole", "role": "arn:aws:iam::123456789012:role/bedrock",
                                             "session": "s1", "external_id": "ext", "token": ""}
    bedrock = boto3.client("bedrock-runtime", endpoint_url=bedrock_sim.base_url, region_name=REGION,
                           aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"])
    assert bedrock.converse(modelId=MODEL, messages=HELLO)["stopReason"] == "end_turn"
    web = sts.assume_role_with_web_identity(RoleArn="arn:aws:iam::123456789012:role/web", RoleSessionName="web",
                                            WebIdentityToken="oidc-token")
    assert web["Credentials"]["AccessKeyId"].startswith("ASIA")
