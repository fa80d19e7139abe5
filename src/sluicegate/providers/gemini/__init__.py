"""Google AI Studio's Gemini API (https://ai.google.dev/api): generateContent, streamGenerateContent?alt=sse and
batchEmbedContents, with the API key in the `x-goog-api-key` header (never in the URL, which ends up in logs).

This module holds only what is AI-Studio specific: the URL and the key. The body (`build_body`), the answer
(`parse_response`), the stream parser (`GeminiStream`) and `map_error` do not depend on where the request went,
so the Vertex AI adapter reuses them for Gemini models with its own URL and OAuth token.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from sluicegate.catalog.lookup import find_model
from sluicegate.errors import APIError
from sluicegate.params import CHAT_PARAM_NAMES, EMBEDDING_PARAM_NAMES, ChatParams
from sluicegate.providers.base import Adapter, Call, Headers, HttpRequest
from sluicegate.providers.gemini.embeddings import build_embedding_body, parse_embeddings
from sluicegate.providers.gemini.errors import map_error
from sluicegate.providers.gemini.request import THINKING_BUDGETS, build_body
from sluicegate.providers.gemini.response import parse_response as parse_chat
from sluicegate.providers.gemini.stream import GeminiStream

__all__ = ["ADAPTER", "THINKING_BUDGETS", "GeminiStream", "build_body", "build_embedding_body", "build_request",
           "map_error", "parse_response", "supported_params"]

# OpenAI parameters Gemini has no field for. `user`: no end-user field; logit_bias, prediction, audio output,
# service tiers, stored completions, OpenAI's prompt cache key and web search options: no equivalent.
_UNSUPPORTED_CHAT = frozenset({"user", "logit_bias", "modalities", "audio", "prediction", "service_tier", "store",
                               "web_search_options", "verbosity", "prompt_cache_key", "safety_identifier"})
_TOOL_PARAMS = frozenset({"tools", "tool_choice", "parallel_tool_calls", "functions", "function_call"})
# Embeddings: `user` has no field; encoding_format is done here (base64 of the float32 vector).
_UNSUPPORTED_EMBEDDING = frozenset({"user"})


def model_path(model: str) -> str:
    """The `models/<model>` resource path; a tuned model's `tunedModels/…` is kept as it is."""
    if model.startswith(("models/", "tunedModels/")):
        return quote(model, safe="/")
    return "models/" + quote(model, safe="")


def build_request(call: Call) -> HttpRequest:
    base = (call.credentials.api_base or call.endpoint.base_url or "").rstrip("/")
    headers: dict[str, str] = {}
    if call.credentials.api_key:
        headers["x-goog-api-key"] = call.credentials.api_key
    headers.update(call.extra_headers)
    if call.kind == "embedding":
        url = f"{base}/{model_path(call.model)}:batchEmbedContents"
        return HttpRequest("POST", url, headers=headers, json=build_embedding_body(call))
    if call.kind != "chat":
        raise APIError(f"gemini does not offer {call.kind} calls", provider=call.provider, model=call.model,
                       status_code=400)
    if call.is_stream:
        headers.setdefault("accept", "text/event-stream")
        url = f"{base}/{model_path(call.model)}:streamGenerateContent?alt=sse"
    else:
        url = f"{base}/{model_path(call.model)}:generateContent"
    return HttpRequest("POST", url, headers=headers, json=build_body(call))


def parse_response(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    if call.kind == "embedding":
        return parse_embeddings(call, status, headers, body)
    return parse_chat(call, status, headers, body)


def supported_params(call: Call) -> frozenset[str]:
    """OpenAI parameters Gemini takes for this call; a value it cannot express counts as unsupported."""
    if call.kind == "embedding":
        return EMBEDDING_PARAM_NAMES - _UNSUPPORTED_EMBEDDING
    supported = CHAT_PARAM_NAMES - _UNSUPPORTED_CHAT
    params = call.params
    # Gemini may always answer with several calls at once: it has no switch to forbid it.
    if isinstance(params, ChatParams) and params.parallel_tool_calls is False:
        supported -= {"parallel_tool_calls"}
    info = find_model(call.model, call.provider)
    if info is not None and info.mode == "chat" and not info.supports_function_calling:
        supported -= _TOOL_PARAMS
    return supported


# Files Gemini reads itself: its own Files API and YouTube videos (https://ai.google.dev/gemini-api/docs/vision,
# https://ai.google.dev/gemini-api/docs/video-understanding#youtube). Every other http(s) URL is inlined first.
_OWN_URL = re.compile(r"^https://(generativelanguage\.googleapis\.com/[^?#]*/files/|(www\.)?youtube\.com/watch\?|"
                      r"youtu\.be/)")


def keeps_url(url: str) -> bool:
    return _OWN_URL.match(url) is not None


ADAPTER = Adapter(name="gemini", build_request=build_request, parse_response=parse_response,
                  stream_parser=GeminiStream, map_error=map_error, supported_params=supported_params,
                  inline_media=True, keeps_url=keeps_url)
