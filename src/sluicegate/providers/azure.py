"""Azure OpenAI (https://learn.microsoft.com/azure/ai-services/openai/reference): OpenAI's wire format on
Azure's URL layout and authentication.

- `azure/<deployment>`: the model string names a deployment, not a model.
- URL: `{api_base}/openai/deployments/{deployment}/chat/completions?api-version=…`; an `api_base` that already
  ends in `/openai/v1` selects Azure's v1 layout (`{api_base}/chat/completions`, no api-version).
- Auth: the `api-key` header, or `Authorization: Bearer` with a Microsoft Entra ID token (given, or fetched by a
  token provider before the adapter runs).
- Azure streams open with a chunk that has no choices, only `prompt_filter_results`; it is dropped so callers
  can read `chunk.choices[0]` on every chunk, as with OpenAI.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sluicegate.providers import openai
from sluicegate.providers.base import Adapter, Call, HttpRequest, SseEvent

DEFAULT_API_VERSION = "2024-10-21"  # the latest GA data-plane version when this was written
_PATHS = {"chat": "/chat/completions", "embedding": "/embeddings", "text_completion": "/completions"}


def build_url(call: Call) -> str:
    base = (call.credentials.api_base or "").rstrip("/")
    if base.endswith("/openai/v1"):
        return base + _PATHS[call.kind]
    version = call.credentials.api_version or DEFAULT_API_VERSION
    deployment = quote(call.model, safe="")
    return f"{base}/openai/deployments/{deployment}{_PATHS[call.kind]}?api-version={quote(version, safe='')}"


def build_request(call: Call) -> HttpRequest:
    creds = call.credentials
    headers: dict[str, str] = {}
    if creds.azure_ad_token:
        headers["authorization"] = f"Bearer {creds.azure_ad_token}"
    elif creds.api_key:
        headers["api-key"] = creds.api_key
    headers.update(call.extra_headers)
    if call.is_stream:
        headers.setdefault("accept", "text/event-stream")
    return HttpRequest("POST", build_url(call), headers=headers, json=openai.build_body(call))


class AzureStream(openai.OpenAIStream):
    __slots__ = ()

    def feed(self, event: SseEvent) -> list[dict[str, Any]]:
        return [chunk for chunk in super().feed(event)
                if chunk.get("choices") or chunk.get("usage") is not None]


ADAPTER = Adapter(name="azure", build_request=build_request, parse_response=openai.parse_response,
                  stream_parser=AzureStream, map_error=openai.map_error,
                  supported_params=openai.supported_params)
