"""The SDK's process-wide defaults, in one typed object.

LiteLLM users set module attributes (`litellm.drop_params = True`); `sluicegate.drop_params = True` does the same
by writing to `sluicegate.settings.defaults`, the one deliberate piece of module-level mutable state. Arguments
passed to a call always win over these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class Settings:
    drop_params: bool = False  # drop parameters a provider cannot take instead of raising UnsupportedParamsError
    num_retries: int = 2  # retries after the first attempt, on 408/409/429/5xx and connection errors
    request_timeout: float = 600.0  # seconds for a whole call, when the call gives no `timeout`
    connect_timeout: float = 10.0  # seconds to open a connection, within request_timeout
    retry_initial_delay_s: float = 0.5  # backoff before the first retry; doubles each retry, with jitter
    retry_max_delay_s: float = 8.0  # cap on one backoff delay (and on an honoured Retry-After)
    # Credentials and base used when neither the call nor the provider's environment variables give one.
    api_key: str | None = None
    api_base: str | None = None
    api_version: str | None = None
    organization: str | None = None
    # Remote images and files fetched for providers that cannot fetch URLs themselves (see media.py).
    media_max_bytes: int = 20 * 1024 * 1024
    media_timeout_s: float = 10.0
    # Networks exempt from the fetch's public-address rule, e.g. ("10.20.0.0/16",) for an intranet image
    # host. Empty by default: a URL in a request must never reach the gateway's own network.
    media_allowed_networks: tuple[str, ...] = ()

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        if shown["api_key"]:
            shown["api_key"] = "set"
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


defaults = Settings()

SETTING_NAMES: frozenset[str] = frozenset(f.name for f in fields(Settings))
