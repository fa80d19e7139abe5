"""Anthropic's Messages API (https://docs.anthropic.com/en/api/messages): OpenAI chat calls in, OpenAI answers out.

This module knows where the API lives and how it authenticates; the translation itself (request.py, response.py,
stream.py, errors.py) does not, so the Vertex AI adapter reuses it with its own URL and auth.
"""

from __future__ import annotations

from sluicegate.providers.anthropic.errors import map_error
from sluicegate.providers.anthropic.request import build_body, required_betas, supported_params
from sluicegate.providers.anthropic.response import parse_response
from sluicegate.providers.anthropic.stream import AnthropicStream
from sluicegate.providers.base import Adapter, Call, HttpRequest

__all__ = ["ADAPTER", "API_VERSION", "AnthropicStream", "build_body", "build_request", "map_error",
           "parse_response", "required_betas", "supported_params"]

# The one version of the Messages API there is (https://docs.anthropic.com/en/api/versioning).
API_VERSION = "2023-06-01"
_PATH = "/v1/messages"


def messages_url(api_base: str) -> str:
    """api_base is the host root (LiteLLM's meaning); a base already ending in /v1 or /v1/messages is kept."""
    base = api_base.rstrip("/")
    if base.endswith(_PATH):
        return base
    if base.endswith("/v1"):
        return base + "/messages"
    return base + _PATH


def beta_header(call: Call) -> str | None:
    """The features this call needs, merged with any `anthropic-beta` the caller passed, comma-separated."""
    betas: list[str] = []
    for name, value in call.extra_headers.items():
        if name.lower() == "anthropic-beta":
            betas += [beta.strip() for beta in value.split(",") if beta.strip()]
    betas += required_betas(call)
    return ",".join(dict.fromkeys(betas)) or None


def build_request(call: Call) -> HttpRequest:
    headers = {"x-api-key": call.credentials.api_key or "", "anthropic-version": API_VERSION,
               "content-type": "application/json"}
    headers.update({name: value for name, value in call.extra_headers.items() if name.lower() != "anthropic-beta"})
    betas = beta_header(call)
    if betas:
        headers["anthropic-beta"] = betas
    if call.is_stream:
        headers.setdefault("accept", "text/event-stream")
    url = messages_url(call.credentials.api_base or call.endpoint.base_url or "")
    return HttpRequest("POST", url, headers=headers, json=build_body(call))


ADAPTER = Adapter(name="anthropic", build_request=build_request, parse_response=parse_response,
                  stream_parser=AnthropicStream, map_error=map_error, supported_params=supported_params)
