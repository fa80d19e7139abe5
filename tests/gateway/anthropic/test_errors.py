"""Our exceptions → Anthropic's error bodies and statuses (https://docs.claude.com/en/api/errors)."""

from __future__ import annotations

import anthropic
import httpx
import orjson
import pytest

from sluicegate.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
    error_for_status,
)
from sluicegate.gateway.anthropic.errors import error_response, stream_error_event
from sluicegate.gateway.anthropic.stream import encode
from sluicegate.gateway.request_body import RequestTooLargeError
from tests.gateway.anthropic.wire import FIXTURES, load_json


@pytest.mark.parametrize(("error", "status", "kind", "sdk_class"), [
    (BadRequestError("bad"), 400, "invalid_request_error", anthropic.BadRequestError),
    (AuthenticationError("who"), 401, "authentication_error", anthropic.AuthenticationError),
    (PermissionDeniedError("no"), 403, "permission_error", anthropic.PermissionDeniedError),
    (NotFoundError("gone"), 404, "not_found_error", anthropic.NotFoundError),
    (RequestTooLargeError("big"), 413, "request_too_large", anthropic.APIStatusError),
    (RateLimitError("slow"), 429, "rate_limit_error", anthropic.RateLimitError),
    (InternalServerError("oops"), 500, "api_error", anthropic.InternalServerError),
    (error_for_status(502, "bad gateway"), 502, "api_error", anthropic.InternalServerError),
    (ServiceUnavailableError("busy"), 503, "overloaded_error", anthropic.InternalServerError),
    (error_for_status(529, "Overloaded"), 529, "overloaded_error", anthropic.OverloadedError),
    (error_for_status(504, "slow"), 504, "timeout_error", anthropic.InternalServerError),
    (Timeout("slow"), 408, "timeout_error", anthropic.APIStatusError),
    (APIConnectionError("reset"), 500, "api_error", anthropic.InternalServerError),
    (error_for_status(422, "odd"), 422, "invalid_request_error", anthropic.UnprocessableEntityError),
    (ConfigError("bad config"), 400, "invalid_request_error", anthropic.BadRequestError),
])
def test_status_type_and_the_sdk_exception(error, status, kind, sdk_class):
    response = error_response(error, "req_1")
    body = orjson.loads(response.body)
    assert response.status_code == status
    assert body["error"]["type"] == kind
    assert response.headers["request-id"] == "req_1"
    real = load_json("anthropic", "error-529.json")
    assert list(body) == list(real)
    assert list(body["error"]) == list(real["error"])
    client = anthropic.Anthropic(api_key="k", base_url="http://127.0.0.1:9")
    raised = client._make_status_error(str(body), body=body, response=httpx.Response(
        status, request=httpx.Request("POST", "http://127.0.0.1:9/v1/messages")))
    assert isinstance(raised, sdk_class)


def test_retry_after_is_passed_on():
    error = RateLimitError("slow", headers={"Retry-After": "7"})
    assert error_response(error, "req_1").headers["retry-after"] == "7"


def test_a_bug_is_a_500_that_tells_nothing(caplog):
    response = error_response(KeyError("secret detail"), "req_9")
    assert response.status_code == 500
    assert b"secret detail" not in response.body
    assert "req_9" in caplog.text


def test_mid_stream_error_event_matches_the_recorded_one():
    ours = encode(stream_error_event(ServiceUnavailableError("Overloaded")))
    assert ours.decode().replace(" ", "") == (FIXTURES / "anthropic" / "error-stream.sse").read_text().replace(" ", "")
