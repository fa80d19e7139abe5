"""Turn a public call's arguments into a `Prepared` call: typed params, resolved provider, credentials, policy.

Everything here is synchronous and does no I/O, so `completion()` and `acompletion()` share it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sluicegate.errors import BadRequestError
from sluicegate.params import (
    ChatParams,
    EmbeddingParams,
    Params,
    TextCompletionParams,
    build_params,
    enforce_supported,
)
from sluicegate.providers import registry
from sluicegate.providers.base import Adapter, Call, CallKind, Credentials
from sluicegate.resolve import ResolvedModel, resolve_credentials, resolve_model
from sluicegate.settings import Settings, defaults
from sluicegate.transport.base import Timeouts

# Keyword arguments that steer the call itself; every other keyword is a request parameter.
OPTION_NAMES = frozenset({
    "stream", "timeout", "request_timeout", "api_base", "base_url", "api_key", "api_version", "organization",
    "project", "extra_headers", "headers", "extra_body", "drop_params", "num_retries", "max_retries", "metadata",
    "mock_response", "custom_llm_provider", "azure_ad_token", "azure_ad_token_provider",
    "input_cost_per_token", "output_cost_per_token", "base_model",
})
# LiteLLM-internal keywords that some callers pass along; they mean nothing to a provider, so never send them.
_IGNORED = frozenset({"litellm_call_id", "litellm_logging_obj", "logger_fn", "caching", "proxy_server_request",
                      "preset_cache_key", "litellm_metadata", "acompletion", "aembedding", "client"})
# The mock_response of the built-in `mock/` provider: "answer as the mock provider does" (see mock.py).
PROVIDER_MOCK = "\x00sluicegate-mock-provider"
_PARAMS_TYPE: dict[CallKind, type[Params]] = {
    "chat": ChatParams, "embedding": EmbeddingParams, "text_completion": TextCompletionParams}


@dataclass(slots=True)
class Prepared:
    call: Call
    adapter: Adapter
    timeouts: Timeouts
    num_retries: int
    settings: Settings
    metadata: dict[str, Any] | None = None
    mock_response: Any = None
    prices: dict[str, Decimal] = field(default_factory=dict)  # per-call price overrides, USD per token
    base_model: str | None = None  # the catalog model to price an Azure deployment as
    token_provider: Callable[[], Any] | None = None  # Entra ID token provider, run before each send
    dropped_params: list[str] = field(default_factory=list)


def prepare(kind: CallKind, model: str, kwargs: dict[str, Any], *, messages: Any = None,
            settings: Settings | None = None, resolved_as: tuple[ResolvedModel, Credentials] | None = None
            ) -> Prepared:
    """`resolved_as` skips resolving the model and credentials: the gateway resolves each deployment once."""
    settings = settings or defaults
    options = {k: v for k, v in kwargs.items() if k in OPTION_NAMES}
    request = {k: v for k, v in kwargs.items() if k not in OPTION_NAMES and k not in _IGNORED}
    if kind == "chat":
        messages = _normalise_messages(messages, model)
    resolved = resolved_as[0] if resolved_as else resolve_model(
        model, custom_llm_provider=options.get("custom_llm_provider"),
        api_base=options.get("api_base") or options.get("base_url"))
    for name in resolved.endpoint.credential_options:  # aws_region_name, vertex_project …: options, not params
        if name in request:
            options[name] = request.pop(name)
    if kind not in resolved.endpoint.kinds:
        raise BadRequestError(f"{resolved.provider} does not offer {kind.replace('_', ' ')} calls",
                              provider=resolved.provider, model=resolved.model)
    mock = options.get("mock_response")
    if mock is None and resolved.provider == "mock":
        mock = PROVIDER_MOCK
    if mock is not None:
        credentials = Credentials()
    else:
        credentials = resolved_as[1] if resolved_as else resolve_credentials(resolved, options, settings)
    params = build_params(_PARAMS_TYPE[kind], request)
    call = Call(kind=kind, provider=resolved.provider, model=resolved.model, endpoint=resolved.endpoint,
                credentials=credentials, params=params, messages=messages or [],
                is_stream=bool(options.get("stream")),
                extra_headers=dict(options.get("extra_headers") or options.get("headers") or {}),
                extra_body=dict(options.get("extra_body") or {}))
    adapter = registry.adapter(resolved.endpoint.adapter)
    drop = options.get("drop_params")
    dropped = enforce_supported(params, adapter.supported_params(call),
                                drop_params=settings.drop_params if drop is None else bool(drop),
                                provider=resolved.provider, model=resolved.model)
    return Prepared(
        call=call, adapter=adapter, settings=settings, metadata=options.get("metadata"), mock_response=mock,
        timeouts=Timeouts.from_arg(options.get("timeout") or options.get("request_timeout"),
                                   default_total=settings.request_timeout,
                                   default_connect=settings.connect_timeout),
        num_retries=_retries(options, settings),
        prices=_prices(options), base_model=options.get("base_model"),
        token_provider=options.get("azure_ad_token_provider"), dropped_params=dropped,
    )


def _retries(options: dict[str, Any], settings: Settings) -> int:
    value = options.get("num_retries", options.get("max_retries"))
    if value is None:
        return settings.num_retries
    if not isinstance(value, int) or value < 0:
        raise BadRequestError(f"num_retries must be a non-negative integer, not {value!r}")
    return value


def _prices(options: dict[str, Any]) -> dict[str, Decimal]:
    prices = {}
    for name in ("input_cost_per_token", "output_cost_per_token"):
        if options.get(name) is not None:
            prices[name] = Decimal(str(options[name]))
    return prices


def _normalise_messages(messages: Any, model: str) -> list[dict[str, Any]]:
    """Messages as plain dicts. A response's own message object may be appended as is (a common pattern)."""
    if not isinstance(messages, list | tuple) or not messages:
        raise BadRequestError("messages must be a non-empty list of {'role': …, 'content': …} objects",
                              model=model, param="messages")
    out = []
    for i, message in enumerate(messages):
        if hasattr(message, "model_dump"):
            message = message.model_dump(exclude_none=True)
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequestError(f"messages[{i}] must be an object with a 'role'", model=model,
                                  param=f"messages[{i}]")
        out.append(message)
    return out
