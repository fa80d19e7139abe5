"""AWS Bedrock (https://docs.aws.amazon.com/bedrock/latest/APIReference/): chat through the Converse and
ConverseStream APIs for every model family, embeddings through InvokeModel, SigV4 with botocore's credential
chain (or a Bedrock API key), streams in AWS's binary event-stream framing.

The package is split by direction: models.py (model ids, region, URL), signing.py (credentials and SigV4),
messages.py and request.py (the Converse body), response.py, stream.py, errors.py, embeddings.py.
"""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.errors import BadRequestError
from sluicegate.params import ChatParams
from sluicegate.providers.base import Adapter, Call, Headers, HttpRequest
from sluicegate.providers.bedrock import embeddings, models, request, response, signing
from sluicegate.providers.bedrock.errors import map_error
from sluicegate.providers.bedrock.stream import ConverseStream

_CHAT_PARAMS = frozenset({"temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "user", "tools",
                          "tool_choice", "parallel_tool_calls", "response_format", "stream_options",
                          "reasoning_effort"})
_EMBEDDING_PARAMS = frozenset({"input", "dimensions", "encoding_format"})


def build_request(call: Call) -> HttpRequest:
    """The signed HTTP request: the body is serialised here, and the signature covers exactly those bytes."""
    headers = {"content-type": "application/json"}
    if call.kind == "chat":
        payload: dict[str, Any] = request.body(call)
        url = models.url(call, "converse-stream" if call.is_stream else "converse")
        headers["accept"] = "application/vnd.amazon.eventstream" if call.is_stream else "application/json"
    elif call.kind == "embedding":
        payload = embeddings.body(call)
        url = models.url(call, "invoke")
        headers["accept"] = "application/json"
    else:
        raise BadRequestError("bedrock serves chat and embedding calls only", provider=call.provider,
                              model=call.model)
    content = orjson.dumps(payload)
    headers.update({name.lower(): value for name, value in call.extra_headers.items()})
    return HttpRequest("POST", url, headers=signing.auth_headers(call, "POST", url, content, headers),
                       content=content)


def parse_response(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    if call.kind == "embedding":
        return embeddings.parse(call, status, headers, body)
    return response.parse_chat(call, status, headers, body)


def supported_params(call: Call) -> frozenset[str]:
    """What Converse can express, narrowed by the catalog's facts about the model (unknown model: all of it)."""
    if call.kind == "embedding":
        return _EMBEDDING_PARAMS
    supported = set(_CHAT_PARAMS)
    params = call.params
    assert isinstance(params, ChatParams)
    if params.parallel_tool_calls is False:  # Converse has no switch to turn parallel tool calls off
        supported.discard("parallel_tool_calls")
    info = models.model_info(models.model_id(call))
    if info is None:
        return frozenset(supported)
    if not info.supports_function_calling:
        supported -= {"tools", "tool_choice", "parallel_tool_calls", "response_format"}
    elif not info.supports_tool_choice and params.tool_choice not in (None, "auto", "none"):
        supported.discard("tool_choice")  # Llama on Bedrock takes tools but no forced choice
    if not info.supports_response_schema:
        supported.discard("response_format")
    if not info.supports_reasoning and params.reasoning_effort not in (None, "none"):
        supported.discard("reasoning_effort")
    return frozenset(supported)


ADAPTER = Adapter(name="bedrock", build_request=build_request, parse_response=parse_response,
                  stream_parser=ConverseStream, map_error=map_error, supported_params=supported_params,
                  authenticate=signing.authenticate, stream_format="aws-eventstream", inline_media=True)
