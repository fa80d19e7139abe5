"""Which failures cool a deployment down, for how long, and the error when a whole group is cooling."""

import pytest

from sluicegate.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    Timeout,
)
from sluicegate.router.cooldowns import all_cooling_error, cooldown_s, counts_as_failure, should_cool_down


@pytest.mark.parametrize("error", [RateLimitError("x"), AuthenticationError("x"), NotFoundError("x")])
def test_429_401_404_cool_down_at_once(error):
    assert should_cool_down(error, failures_this_minute=1, allowed_fails=3)


@pytest.mark.parametrize("error", [InternalServerError("x"), Timeout("x"), APIConnectionError("x")])
def test_server_errors_cool_down_past_allowed_fails(error):
    assert not should_cool_down(error, failures_this_minute=3, allowed_fails=3)
    assert should_cool_down(error, failures_this_minute=4, allowed_fails=3)


def test_a_bad_request_is_the_callers_fault():
    assert not counts_as_failure(BadRequestError("x"))
    assert not should_cool_down(BadRequestError("x"), failures_this_minute=100, allowed_fails=0)


def test_cooldown_lasts_the_longer_of_cooldown_time_and_retry_after_capped():
    assert cooldown_s(InternalServerError("x"), 5.0) == 5.0
    assert cooldown_s(RateLimitError("x", headers={"retry-after": "30"}), 5.0) == 30.0
    assert cooldown_s(RateLimitError("x", headers={"retry-after": "1"}), 5.0) == 5.0
    assert cooldown_s(RateLimitError("x", headers={"retry-after": "99999"}), 5.0) == 300.0


def test_all_cooling_error_names_the_group_and_when_it_frees_up():
    error = all_cooling_error("gpt-4o", {"a": 104.2, "b": 108.0}, now=100.0)
    assert error.status_code == 429
    assert "'gpt-4o'" in error.message
    assert "all 2 deployment(s) are cooling down" in error.message
    assert "frees up in 4.2 s" in error.message
    assert error.headers["retry-after"] == "5"
    assert error.retry_after_s == pytest.approx(4.2)
