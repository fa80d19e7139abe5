"""How many times the router retries a failed request within its group, by error type.

By default a retryable error (transport/retry.py: connection errors, 408, 409, 429, 5xx) gets `num_retries`
retries, and so do 401 and 404 (as in LiteLLM: the deployment is misconfigured, another may not be; the router
never sends the request back to a deployment that answered one); any other error none. LiteLLM's `retry_policy`
sets the count per error type, and may opt a 4xx in:

    retry_policy={"RateLimitErrorRetries": 3, "BadRequestErrorRetries": 1, "AuthenticationErrorRetries": 0}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluicegate.errors import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyViolationError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
)
from sluicegate.transport.retry import is_retryable

# Most specific first: a ContentPolicyViolationError is also a BadRequestError.
_POLICY_FIELDS: tuple[tuple[str, tuple[type[BaseException], ...]], ...] = (
    ("ContentPolicyViolationErrorRetries", (ContentPolicyViolationError,)),
    ("BadRequestErrorRetries", (BadRequestError,)),
    ("AuthenticationErrorRetries", (AuthenticationError,)),
    ("TimeoutErrorRetries", (Timeout,)),
    ("RateLimitErrorRetries", (RateLimitError,)),
    ("InternalServerErrorRetries", (InternalServerError, ServiceUnavailableError)),
)
POLICY_FIELDS = frozenset(name for name, _ in _POLICY_FIELDS)


def check_policy(policy: Mapping[str, Any] | Any | None) -> dict[str, int]:
    """A retry policy as a dict; accepts a dict or an object with LiteLLM's RetryPolicy attributes."""
    if policy is None:
        return {}
    if not isinstance(policy, Mapping):
        policy = {name: getattr(policy, name, None) for name in POLICY_FIELDS}
    unknown = set(policy) - POLICY_FIELDS
    if unknown:
        raise ValueError(f"unknown retry_policy field(s) {sorted(unknown)}; known: {sorted(POLICY_FIELDS)}")
    return {k: int(v) for k, v in policy.items() if v is not None}


def retries_for(error: BaseException, num_retries: int, policy: Mapping[str, int]) -> int:
    """Retries allowed for a request that failed with `error`."""
    for name, classes in _POLICY_FIELDS:
        if isinstance(error, classes) and name in policy:
            return policy[name]
    return num_retries if is_retryable(error) or is_deployment_error(error) else 0


def is_deployment_error(error: BaseException) -> bool:
    """A 401 or 404: this deployment's key or name is wrong, whatever the request."""
    return isinstance(error, AuthenticationError | NotFoundError)
