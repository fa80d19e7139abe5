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
StreamFormat = Literal["sse", "aws-eventstream"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a provider lives and how it differs from OpenAI's API: one row per provider prefix."""

    provider: str  # the prefix users type: "groq", "together_ai"
    base_url: str | None  # default API base, version path included; None: the caller must give api_base
    api_key_env: tuple[str, ...] = ()  # environment variables tried in order for the key
    base_url_env: tuple[str, ...] = ()  # environment variables that override base_url
    requires_api_key: bool = True  # local servers (vllm, lm_studio, llamafile) run without one
    # False where the adapter derives the URL itself (Bedrock from the region, Vertex from project and location).
    requires_api_base: bool = True
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
    # Provider-specific credential options (LiteLLM's names, e.g. "aws_region_name", "vertex_project") → the
    # environment variables tried in order when the call does not pass them; resolved into Credentials.extra.
    credential_options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
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
    # The endpoint row's credential_options as resolved (aws_region_name, vertex_project, …), plus what an
    # adapter's `authenticate` step adds (frozen AWS keys, a Google access token).
    extra: Mapping[str, Any] = field(default_factory=dict)

    def secrets(self) -> list[str]:
        """Every secret value these credentials hold, for redaction."""
        found = [value for value in (self.api_key, self.azure_ad_token) if value]
        found += [value for name, value in self.extra.items() if is_secret_name(name) and isinstance(value, str)]
        return found

    def __repr__(self) -> str:  # never print a secret, even in a traceback's locals
        key = "set" if self.api_key else None
        token = "set" if self.azure_ad_token else None
        extra = {name: ("set" if is_secret_name(name) else value) for name, value in self.extra.items()}
        return (f"Credentials(api_key={key!r}, api_base={self.api_base!r}, api_version={self.api_version!r}, "
                f"organization={self.organization!r}, project={self.project!r}, azure_ad_token={token!r}, "
                f"extra={extra!r})")


_SECRET_PARTS = ("key", "secret", "token", "credential", "password")


def is_secret_name(name: str) -> bool:
    """Whether a credential option holds a secret by its name (aws_secret_access_key, vertex_credentials …)."""
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_PARTS) and not lowered.endswith("_name")


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
    # The one step that may do I/O: refresh a token or walk a credential chain (google-auth, botocore), and
    # return the credentials build_request signs with. Blocking; the engine runs it in a worker thread for
    # async calls, before every build_request. The adapter module caches what it fetched.
    authenticate: Callable[[Call], Credentials] | None = None
    # How the provider frames a stream: server-sent events, or AWS's binary event stream (Bedrock). Both are
    # decoded into SseEvent (an AWS event's `:event-type` header becomes `event`, its payload `data`).
    stream_format: StreamFormat = "sse"
    # The provider cannot fetch http(s) image or file URLs itself: the engine downloads them (with SSRF
    # guards, see sluicegate/media.py) and rewrites them as data: URLs before build_request sees the messages.
    inline_media: bool = False
    # With inline_media: URLs the provider does read itself (Gemini's Files API, YouTube), left as they are.
    keeps_url: Callable[[str], bool] | None = None
