"""Cohere's v2 Chat and Embed APIs (https://docs.cohere.com/reference/chat, https://docs.cohere.com/reference/embed).

The translation by direction: request.py builds bodies, response.py and stream.py read answers, errors.py maps
error bodies. This module holds what ties them to the adapter interface: URLs, auth and the parameter set.
"""

from __future__ import annotations

from sluicegate.catalog.lookup import find_model
from sluicegate.params import CHAT_PARAM_NAMES, EMBEDDING_PARAM_NAMES, ChatParams
from sluicegate.providers.base import Adapter, Call, HttpRequest
from sluicegate.providers.cohere.errors import map_error
from sluicegate.providers.cohere.request import chat_body, embed_body
from sluicegate.providers.cohere.response import parse_response
from sluicegate.providers.cohere.stream import CohereStream

_PATHS = {"chat": "chat", "embedding": "embed"}


def url(call: Call) -> str:
    """Where the call goes. LiteLLM users give the full chat URL as api_base (…/v2/chat, or a proxy's …/chat):
    a base ending in /chat or /embed is used as is, with its last segment swapped for the other kind; a base
    ending in /v2 gets the endpoint's name; any other base (the host root by default) gets /v2/<endpoint>."""
    base = (call.credentials.api_base or call.endpoint.base_url or "").rstrip("/")
    head, _, last = base.rpartition("/")
    path = _PATHS[call.kind]
    if last in ("chat", "embed") and head:
        return f"{head}/{path}"
    if last == "v2":
        return f"{base}/{path}"
    return f"{base}/v2/{path}"


def build_request(call: Call) -> HttpRequest:
    headers = {}
    if call.credentials.api_key:
        headers["authorization"] = f"Bearer {call.credentials.api_key}"
    if call.is_stream:
        headers["accept"] = "text/event-stream"
    headers.update(call.extra_headers)
    body = embed_body(call) if call.kind == "embedding" else chat_body(call)
    return HttpRequest("POST", url(call), headers=headers, json=body)


# What Cohere's chat cannot express: several choices, token biases, alternatives per token, the caller's
# user id, OpenAI's audio/prediction/storage/service options, and the deprecated `functions`.
_CHAT_UNSUPPORTED = frozenset({
    "n", "logit_bias", "top_logprobs", "user", "modalities", "audio", "prediction", "service_tier", "store",
    "web_search_options", "verbosity", "prompt_cache_key", "safety_identifier", "functions", "function_call",
})
_CHAT = CHAT_PARAM_NAMES - _CHAT_UNSUPPORTED
_TOOL_PARAMS = frozenset({"tools", "tool_choice", "parallel_tool_calls"})


def supported_params(call: Call) -> frozenset[str]:
    """Cohere's parameters for this call. Some depend on the value: n=1 is fine, n=2 is not; parallel tool calls
    cannot be switched off (Cohere decides), so parallel_tool_calls=false is refused; and the catalog says which
    models take tools, tool_choice and reasoning (a model it does not know keeps them: Cohere will say)."""
    if call.kind == "embedding":
        return EMBEDDING_PARAM_NAMES - {"user"}
    supported = _CHAT
    params = call.params
    if isinstance(params, ChatParams):
        if params.n == 1:
            supported = supported | {"n"}
        if params.parallel_tool_calls is False:
            supported = supported - {"parallel_tool_calls"}
    info = find_model(call.model, "cohere")
    if info is not None:
        if not info.supports_function_calling:
            supported = supported - _TOOL_PARAMS
        if not info.supports_tool_choice:
            supported = supported - {"tool_choice"}
        if not info.supports_reasoning:
            supported = supported - {"reasoning_effort"}
    return supported


ADAPTER = Adapter(name="cohere", build_request=build_request, parse_response=parse_response,
                  stream_parser=CohereStream, map_error=map_error, supported_params=supported_params)
