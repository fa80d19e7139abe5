"""The engine's steps around an adapter: the authenticate hook, provider credential options, redaction."""

from __future__ import annotations

from dataclasses import replace

import pytest

import sluicegate
from sluicegate.errors import AuthenticationError, BadRequestError
from sluicegate.providers import openai, registry
from sluicegate.providers.base import Call, Credentials, Endpoint

MESSAGES = [{"role": "user", "content": "ping"}]


@pytest.fixture
def token_provider():
    """A provider whose adapter must trade its configured `acme_secret` for a bearer token before each call,
    as Vertex (google-auth) and Bedrock (botocore) do; tokens are counted so tests see each fetch."""
    fetched: list[str] = []

    def authenticate(call: Call) -> Credentials:
        secret = call.credentials.extra["acme_secret"]
        fetched.append(secret)
        return replace(call.credentials, api_key=f"token-for-{secret}")

    row = Endpoint(provider="acme_test", base_url=None, adapter="acme_test", requires_api_key=False,
                   credential_options={"acme_secret": ("ACME_TEST_SECRET",), "acme_region": ("ACME_TEST_REGION",)})
    registry.register(row, replace(openai.ADAPTER, name="acme_test", authenticate=authenticate))
    try:
        yield fetched
    finally:
        registry._endpoints.pop("acme_test", None)
        registry._adapters.pop("acme_test", None)


def test_authenticate_runs_before_the_request_is_built(token_provider, openai_sim):
    openai_sim.api_keys = {"token-for-s3cret-value"}
    response = sluicegate.completion(model="acme_test/m", messages=MESSAGES, api_base=openai_sim.base_url,
                                     acme_secret="s3cret-value")
    assert response.choices[0].message.content
    assert token_provider == ["s3cret-value"]
    sent = openai_sim.requests[-1]
    assert sent.headers["authorization"] == "Bearer token-for-s3cret-value"
    assert "acme_secret" not in sent.json  # a credential option is never sent as a request parameter


async def test_authenticate_runs_for_async_calls_and_streams(token_provider, openai_sim):
    openai_sim.api_keys = {"token-for-abc12345"}
    await sluicegate.acompletion(model="acme_test/m", messages=MESSAGES, api_base=openai_sim.base_url,
                                 acme_secret="abc12345")
    stream = await sluicegate.acompletion(model="acme_test/m", messages=MESSAGES, api_base=openai_sim.base_url,
                                          acme_secret="abc12345", stream=True)
    assert [chunk async for chunk in stream]
    assert token_provider == ["abc12345", "abc12345"]


def test_credential_options_fall_back_to_their_environment_variables(token_provider, openai_sim, monkeypatch):
    monkeypatch.setenv("ACME_TEST_SECRET", "from-the-env")
    openai_sim.api_keys = {"token-for-from-the-env"}
    sluicegate.completion(model="acme_test/m", messages=MESSAGES, api_base=openai_sim.base_url)
    assert token_provider == ["from-the-env"]


def test_secret_credential_options_are_redacted_from_errors_and_reprs(token_provider, openai_sim):
    secret = "sk-very-secret-9f8e7d"
    openai_sim.script(401, body={"error": {"message": f"bad credential token-for-{secret}",
                                           "type": "invalid_request_error", "code": "invalid_api_key"}})
    with pytest.raises(AuthenticationError) as caught:
        sluicegate.completion(model="acme_test/m", messages=MESSAGES, api_base=openai_sim.base_url,
                              acme_secret=secret, acme_region="eu-1")
    assert secret not in str(caught.value)
    credentials = Credentials(api_key="k" * 12, extra={"aws_secret_access_key": secret, "aws_region_name": "eu-1",
                                                       "aws_profile_name": "dev"})
    assert secret not in repr(credentials)
    assert "'aws_region_name': 'eu-1'" in repr(credentials)
    assert "'aws_profile_name': 'dev'" in repr(credentials)
    assert credentials.secrets() == ["k" * 12, secret]


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                                 "http://127.0.0.1:4000/metrics", "http://[::1]/x.png"])
def test_a_provider_that_inlines_media_never_fetches_an_internal_url(url, gemini_sim):
    # Gemini cannot fetch URLs, so the engine downloads them first: an address inside the gateway's network is
    # refused before anything is sent anywhere.
    messages = [{"role": "user", "content": [{"type": "text", "text": "describe"},
                                             {"type": "image_url", "image_url": {"url": url}}]}]
    with pytest.raises(BadRequestError, match="non-public address"):
        sluicegate.completion(model="gemini/gemini-2.5-flash", messages=messages, api_base=gemini_sim.base_url,
                              api_key="gm-test")
    assert gemini_sim.requests == []
