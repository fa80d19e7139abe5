"""Whether and when to retry a failed call: the one place that decides.

Retried: connection errors and timeouts, and statuses 408, 409, 429 and 5xx. Never another 4xx: a bad
request stays bad. The delay is exponential with full jitter, or the provider's `Retry-After` when it gives
one (capped, so a hostile or broken header cannot park a caller for hours).
"""

from __future__ import annotations

import email.utils
import random
import time

from sluicegate.errors import APIConnectionError, APIError

RETRYABLE_STATUSES = frozenset({408, 409, 429})
# The provider's view of its limits, passed on to callers (OpenAI's names, which most providers copy).
RATE_LIMIT_HEADERS = ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-limit-tokens",
                      "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIError) and error.status_code is not None:
        return error.status_code in RETRYABLE_STATUSES or error.status_code >= 500
    return False


def retry_after_s(headers: dict[str, str], *, now: float | None = None) -> float | None:
    """Seconds the provider asked us to wait: `retry-after-ms`, `retry-after` in seconds or an HTTP date."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(when - (time.time() if now is None else now), 0.0)


def retry_delay_s(
    attempt: int,
    error: BaseException,
    *,
    initial_s: float,
    max_s: float,
    rng: random.Random | None = None,
) -> float:
    """The wait before retry number `attempt` (1 for the first retry)."""
    if isinstance(error, APIError) and (asked := retry_after_s(error.headers)) is not None:
        return min(asked, max_s)
    ceiling = min(initial_s * 2 ** (attempt - 1), max_s)
    jitter = (rng or random).random()  # jitter, not cryptography
    return ceiling * (0.5 + jitter / 2)  # at least half the ceiling, so retries never collapse to a burst
