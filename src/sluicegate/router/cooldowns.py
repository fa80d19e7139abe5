"""When a failing deployment is set aside, for how long, and the error a caller gets when a whole group is.

As LiteLLM does: a 429, 401 or 404 cools the deployment down at once (it is out of quota, misconfigured or gone);
a 408, a 5xx or a broken connection counts as a failure, and more than `allowed_fails` in one minute cools it
down; any other 4xx is the caller's fault and never counts. LiteLLM's `allowed_fails_policy` sets the allowance
per error type instead (`{"RateLimitErrorAllowedFails": 10}`: a 429 then counts like a 5xx, against 10); failures
of every type in the minute are counted together, and the allowance is the one for the error at hand. A group's
only deployment never cools down (it would turn every retry into an error). A cooldown lasts `cooldown_time`
seconds (the deployment's own, else the router's), or as long as the provider's `Retry-After` asks when that is
longer (capped).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sluicegate.errors import APIConnectionError, APIError, RateLimitError
from sluicegate.router.retries import check_policy, policy_value
from sluicegate.transport.retry import retry_after_s

DEFAULT_ALLOWED_FAILS = 3  # LiteLLM's `allowed_fails` default
DEFAULT_COOLDOWN_S = 5.0  # LiteLLM's `cooldown_time` default
MAX_COOLDOWN_S = 300.0  # a Retry-After longer than this is not believed
_IMMEDIATE = frozenset({401, 404, 429})


def counts_as_failure(error: BaseException) -> bool:
    """Whether the error says something about the deployment's health (not about the request)."""
    if isinstance(error, APIConnectionError):
        return True
    if not isinstance(error, APIError):
        return False
    status = error.status_code or 500
    return status in _IMMEDIATE or status == 408 or status >= 500


def check_allowed_fails_policy(policy: Mapping[str, Any] | Any | None) -> dict[str, int]:
    """LiteLLM's AllowedFailsPolicy (a dict, or an object with its attributes) as a dict of the fields set."""
    return check_policy(policy, "AllowedFails", "allowed_fails_policy")


def should_cool_down(error: BaseException, failures_this_minute: int, allowed_fails: int,
                     policy: Mapping[str, int] | None = None) -> bool:
    """Whether this failure (the `failures_this_minute`-th) sets the deployment aside."""
    if not counts_as_failure(error):
        return False
    allowed = policy_value(error, policy, "AllowedFails") if policy else None
    if allowed is not None:
        return failures_this_minute > allowed
    if isinstance(error, APIError) and error.status_code in _IMMEDIATE:
        return True
    return failures_this_minute > allowed_fails


def cooldown_s(error: BaseException, cooldown_time: float) -> float:
    if isinstance(error, APIError) and (asked := retry_after_s(error.headers)) is not None:
        return max(cooldown_time, min(asked, MAX_COOLDOWN_S))
    return cooldown_time


class NoDeploymentAvailableError(RateLimitError):
    """Every deployment of a group is cooling down or out of its rpm/tpm for this minute (429, with Retry-After)."""

    def __init__(self, model_group: str, reason: str, retry_after: float) -> None:
        seconds = max(math.ceil(retry_after), 1)
        super().__init__(f"No deployments available for model group {model_group!r}: {reason}; "
                         f"the first frees up in {retry_after:.1f} s.", model=model_group,
                         headers={"retry-after": str(seconds)}, code="no_deployments_available")
        self.model_group = model_group
        self.retry_after_s = retry_after


def all_cooling_error(model_group: str, cooling: dict[str, float], now: float) -> NoDeploymentAvailableError:
    first_free = min(cooling.values())
    return NoDeploymentAvailableError(
        model_group, f"all {len(cooling)} deployment(s) are cooling down after failures", first_free - now)
