"""How many retries each error type gets, by default and under LiteLLM's retry_policy."""

import pytest

from sluicegate.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyViolationError,
    InternalServerError,
    RateLimitError,
    Timeout,
)
from sluicegate.router.retries import check_policy, retries_for


def test_default_retries_retryable_errors_only():
    assert retries_for(RateLimitError("x"), 3, {}) == 3
    assert retries_for(InternalServerError("x", status_code=502), 3, {}) == 3
    assert retries_for(APIConnectionError("x"), 3, {}) == 3
    assert retries_for(BadRequestError("x"), 3, {}) == 0
    assert retries_for(AuthenticationError("x"), 3, {}) == 3  # on another deployment (never the same one)


def test_policy_sets_counts_per_type_most_specific_first():
    policy = check_policy({"BadRequestErrorRetries": 1, "ContentPolicyViolationErrorRetries": 2,
                           "RateLimitErrorRetries": 5, "TimeoutErrorRetries": 0})
    assert retries_for(BadRequestError("x"), 3, policy) == 1
    assert retries_for(ContentPolicyViolationError("x"), 3, policy) == 2
    assert retries_for(RateLimitError("x"), 3, policy) == 5
    assert retries_for(Timeout("x"), 3, policy) == 0
    assert retries_for(InternalServerError("x"), 3, policy) == 3  # not in the policy: the default


def test_policy_accepts_an_object_and_refuses_unknown_fields():
    class RetryPolicy:
        RateLimitErrorRetries = 4

    assert check_policy(RetryPolicy()) == {"RateLimitErrorRetries": 4}
    with pytest.raises(ValueError, match="NotAField"):
        check_policy({"NotAField": 1})
