"""How many times the router retries a failed request within its group, by error type.

By default a retryable error (transport/retry.py: connection errors, 408, 409, 429, 5xx) gets `num_retries`
retries, and so do 401 and 404 (as in LiteLLM: the deployment is misconfigured, another may not be; the router
never sends the request back to a deployment that answered one); any other error none. LiteLLM's `retry_policy`
sets the count per error type, and may opt a 4xx in:

    retry_policy={"RateLimitErrorRetries": 3, "BadRequestErrorRetries": 1, "AuthenticationErrorRetries": 0}

The table of LiteLLM's policy error types is here too; cooldowns.py reads `allowed_fails_policy` through it.
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

# LiteLLM's policy error types (RetryPolicy, AllowedFailsPolicy), most specific first: a
# ContentPolicyViolationError is also a BadRequestError.
ERROR_TYPES: tuple[tuple[str, tuple[type[BaseException], ...]], ...] = (
    ("ContentPolicyViolationError", (ContentPolicyViolationError,)),
    ("BadRequestError", (BadRequestError,)),
    ("AuthenticationError", (AuthenticationError,)),
    ("TimeoutError", (Timeout,)),
    ("RateLimitError", (RateLimitError,)),
    ("InternalServerError", (InternalServerError, ServiceUnavailableError)),
)
POLICY_FIELDS = frozenset(f"{name}Retries" for name, _ in ERROR_TYPES)


def check_policy(policy: Mapping[str, Any] | Any | None, suffix: str = "Retries",
                 name: str = "retry_policy") -> dict[str, int]:
    """A policy as a dict of its set fields; accepts a dict or an object with LiteLLM's attributes (`RetryPolicy`,
    or `AllowedFailsPolicy` with `suffix="AllowedFails"`)."""
    if policy is None:
        return {}
    fields = frozenset(f"{error}{suffix}" for error, _ in ERROR_TYPES)
    if not isinstance(policy, Mapping):
        policy = {field: getattr(policy, field, None) for field in fields}
    unknown = set(policy) - fields
    if unknown:
        raise ValueError(f"unknown {name} field(s) {sorted(unknown)}; known: {sorted(fields)}")
    return {k: int(v) for k, v in policy.items() if v is not None}


def policy_value(error: BaseException, policy: Mapping[str, int], suffix: str) -> int | None:
    """The policy's number for the error's type (the most specific type the policy sets), or None."""
    for name, classes in ERROR_TYPES:
        if isinstance(error, classes) and f"{name}{suffix}" in policy:
            return policy[f"{name}{suffix}"]
    return None


def retries_for(error: BaseException, num_retries: int, policy: Mapping[str, int]) -> int:
    """Retries allowed for a request that failed with `error`."""
    found = policy_value(error, policy, "Retries")
    if found is not None:
        return found
    return num_retries if is_retryable(error) or is_deployment_error(error) else 0


def is_deployment_error(error: BaseException) -> bool:
    """A 401 or 404: this deployment's key or name is wrong, whatever the request."""
    return isinstance(error, AuthenticationError | NotFoundError)
