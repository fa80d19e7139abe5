"""The adapter interface: the value types every provider translation takes and returns.

An adapter is a set of pure functions over plain data. It never does I/O, never reads the environment and
never touches globals: everything it needs arrives in a `Call`. Adapters speak OpenAI-shaped *dicts* (the JSON
OpenAI would send), not pydantic objects, so the gateway can forward them without building models; the SDK wraps
them into `sluicegate.types` objects at its edge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sluicegate.errors import APIError
from sluicegate.params import ChatParams, EmbeddingParams, TextCompletionParams

Headers = Mapping[str, str]  # lower-cased header names
CallKind = Literal["chat", "embedding", "text_completion"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a provider lives and how it differs from OpenAI's API: one row per provider prefix."""

    provider: str  # the prefix users type: "groq", "together_ai"
    base_url: str | None  # default API base, version path included; None: the caller must give api_base
    api_key_env: tuple[str, ...] = ()  # environment variables tried in order for the key
    base_url_env: tuple[str, ...] = ()  # environment variables that override base_url
    requires_api_key: bool = True  # local servers (vllm, lm_studio, llamafile) run without one
    adapter: str = "openai"  # the module under sluicegate.providers that translates for this row
    # OpenAI parameters the provider rejects: an error, or dropped with drop_params.
    unsupported_params: frozenset[str] = frozenset()
    # OpenAI name -> the provider's name for the same parameter.
    renamed_params: Mapping[str, str] = field(default_factory=dict)
    # Values the provider requires, sent unless the caller set them.
    default_params: Mapping[str, Any] = field(default_factory=dict)
    kinds: frozenset[CallKind] = frozenset({"chat", "embedding"})  # which endpoints it offers
    # Prepended to model names that lack it (Fireworks ids are accounts/fireworks/models/<model>).
    model_prefix: str = ""
    docs_url: str = ""
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What authenticates a call, resolved from arguments, settings and the environment (in that order)."""

    api_key: str | None = None
    api_base: str | None = None
    api_version: str | None = None
    organization: str | None = None
    project: str | None = None
    # Azure: a Microsoft Entra ID bearer token, already fetched (the token provider runs before the adapter).
    azure_ad_token: str | None = None

    def __repr__(self) -> str:  # never print a secret, even in a traceback's locals
        key = "set" if self.api_key else None
        token = "set" if self.azure_ad_token else None
        return (f"Credentials(api_key={key!r}, api_base={self.api_base!r}, api_version={self.api_version!r}, "
                f"organization={self.organization!r}, project={self.project!r}, azure_ad_token={token!r})")


@dataclass(slots=True)
class Call:
    """One request to one provider, fully resolved: the only input an adapter gets."""

    kind: CallKind
    provider: str  # the prefix: "openai", "azure", "groq"
    model: str  # the provider's own model name (prefix stripped); an Azure deployment name for azure
    endpoint: Endpoint
    credentials: Credentials
    params: ChatParams | EmbeddingParams | TextCompletionParams
    messages: list[dict[str, Any]] = field(default_factory=list)  # chat only
    is_stream: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)
    extra_body: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class HttpRequest:
    """What the transport sends. `json` is serialised with orjson; `content` is sent as is."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None

    def __repr__(self) -> str:  # headers carry credentials: show their names only
        return f"HttpRequest({self.method} {self.url}, headers={sorted(self.headers)})"


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One server-sent event, as `transport/sse.py` decodes it."""

    data: str
    event: str | None = None
    id: str | None = None


class StreamParser(Protocol):
    """Turns a provider's stream events into OpenAI chunk dicts. The only stateful piece of an adapter.

    The transport makes a fresh parser per stream. `feed` may return several chunks for one event, or none;
    `finish` is called once at the end of the byte stream and returns anything still held back.
    """

    def feed(self, event: SseEvent) -> list[dict[str, Any]]: ...

    def finish(self) -> list[dict[str, Any]]: ...

    @property
    def is_done(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Adapter:
    """A provider family's translation, as plain functions."""

    name: str
    build_request: Callable[[Call], HttpRequest]
    # (call, status, headers, body) -> an OpenAI-shaped response dict (chat.completion, list of embeddings …)
    parse_response: Callable[[Call, int, Headers, bytes], dict[str, Any]]
    stream_parser: Callable[[Call], StreamParser]
    map_error: Callable[[Call, int, Headers, bytes], APIError]
    # The OpenAI parameters this provider takes for this call; the shared check in params.py uses it.
    supported_params: Callable[[Call], frozenset[str]]
