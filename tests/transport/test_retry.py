import random

import pytest

from sluicegate.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
    error_for_status,
)
from sluicegate.transport.retry import is_retryable, retry_after_s, retry_delay_s


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses(status):
    assert is_retryable(error_for_status(status, "x"))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_other_4xx_are_never_retried(status):
    assert not is_retryable(error_for_status(status, "x"))


def test_connection_errors_and_timeouts_are_retried():
    assert is_retryable(APIConnectionError("reset"))
    assert is_retryable(Timeout("slow"))
    assert not is_retryable(ValueError("not ours"))


def test_retry_after_forms():
    assert retry_after_s({"retry-after": "3"}) == 3.0
    assert retry_after_s({"retry-after-ms": "250"}) == 0.25
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None


def test_delay_honours_retry_after_within_the_cap():
    error = RateLimitError("slow down", headers={"Retry-After": "2"})
    assert retry_delay_s(1, error, initial_s=0.5, max_s=8) == 2.0
    hostile = RateLimitError("slow down", headers={"retry-after": "86400"})
    assert retry_delay_s(1, hostile, initial_s=0.5, max_s=8) == 8


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    rng = random.Random(1)
    error = InternalServerError("boom")
    delays = [retry_delay_s(n, error, initial_s=0.5, max_s=4, rng=rng) for n in range(1, 7)]
    ceilings = [0.5, 1, 2, 4, 4, 4]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_error_classes_carry_openai_status_codes():
    assert error_for_status(401, "x").__class__ is AuthenticationError
    assert error_for_status(409, "x").__class__ is ConflictError
    assert error_for_status(503, "x").__class__ is ServiceUnavailableError
    assert error_for_status(418, "x").__class__ is BadRequestError
    assert error_for_status(418, "x").status_code == 418
    assert error_for_status(599, "x").__class__ is InternalServerError
