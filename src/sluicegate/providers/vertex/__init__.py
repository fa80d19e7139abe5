"""Vertex AI (https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest): Gemini models, Anthropic's
Claude models and Google's embedding models on Google Cloud.

The request bodies, responses, streams and errors are the Gemini and Anthropic adapters' own; this module adds
Vertex's URLs (project, location, publisher) and OAuth bearer auth (auth.py). A model's publisher is part of its
Vertex name (`publishers/anthropic/models/claude-…`), so `claude-*` goes to Anthropic and the rest to Google.
"""

from __future__ import annotations

import re
from typing import Any

from sluicegate.errors import APIError, AuthenticationError, BadRequestError
from sluicegate.params import EMBEDDING_PARAM_NAMES
from sluicegate.providers import anthropic, gemini
from sluicegate.providers.anthropic.request import build_body as anthropic_body
from sluicegate.providers.anthropic.request import required_betas
from sluicegate.providers.base import Adapter, Call, Headers, HttpRequest, StreamParser
from sluicegate.providers.gemini.request import build_body as gemini_body
from sluicegate.providers.vertex import embeddings
from sluicegate.providers.vertex.auth import authenticate

DEFAULT_LOCATION = "us-central1"  # LiteLLM's default when vertex_location is not set
# Claude's Messages API version on Vertex (https://docs.anthropic.com/en/api/claude-on-vertex-ai).
ANTHROPIC_VERSION = "vertex-2023-10-16"
_LOCATION = re.compile(r"^[a-z0-9-]+$")
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9.:-]*$")  # includes domain-scoped ids (example.com:project)
_MODEL = re.compile(r"^[A-Za-z0-9._@-]+$")


def _publisher(call: Call) -> str:
    return "anthropic" if call.model.startswith("claude") else "google"


def _family(call: Call) -> Adapter:
    return anthropic.ADAPTER if _publisher(call) == "anthropic" else gemini.ADAPTER


def model_url(call: Call) -> str:
    """https://{location}-aiplatform.googleapis.com/v1/projects/{p}/locations/{l}/publishers/{pub}/models/{m}"""
    extra = call.credentials.extra
    location = str(extra.get("vertex_location") or DEFAULT_LOCATION)
    project = str(extra.get("vertex_project") or "")
    # The values land in a URL: refuse anything that could change its host or path.
    if not _LOCATION.match(location):
        raise BadRequestError(f"vertex_location {location!r} is not a Google Cloud location name")
    if not _PROJECT.match(project):
        raise BadRequestError(f"vertex_project {project!r} is not a Google Cloud project id")
    if not _MODEL.match(call.model):
        raise BadRequestError(f"{call.model!r} is not a Vertex AI model name", model=call.model)
    host = call.credentials.api_base or (
        "https://aiplatform.googleapis.com" if location == "global" else f"https://{location}-aiplatform.googleapis.com")
    return (f"{host.rstrip('/')}/v1/projects/{project}/locations/{location}/publishers/{_publisher(call)}"
            f"/models/{call.model}")


def build_request(call: Call) -> HttpRequest:
    token = call.credentials.extra.get("access_token")
    if not token:
        raise AuthenticationError("no Google access token for Vertex AI (authenticate did not run)")
    headers = {"authorization": f"Bearer {token}", **call.extra_headers}
    url = model_url(call)
    if call.kind == "embedding":
        return HttpRequest("POST", url + ":predict", headers=headers, json=embeddings.build_body(call))
    if _publisher(call) == "anthropic":
        body = anthropic_body(call)
        body.pop("model", None)  # the URL names the model on Vertex
        body["anthropic_version"] = ANTHROPIC_VERSION
        betas = required_betas(call)
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        return HttpRequest("POST", url + (":streamRawPredict" if call.is_stream else ":rawPredict"),
                           headers=headers, json=body)
    if call.is_stream:
        return HttpRequest("POST", url + ":streamGenerateContent?alt=sse", headers=headers, json=gemini_body(call))
    return HttpRequest("POST", url + ":generateContent", headers=headers, json=gemini_body(call))


def parse_response(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    if call.kind == "embedding":
        return embeddings.parse_response(call, status, headers, body)
    return _family(call).parse_response(call, status, headers, body)


def stream_parser(call: Call) -> StreamParser:
    return _family(call).stream_parser(call)


def map_error(call: Call, status: int, headers: Headers, body: bytes) -> APIError:
    # Vertex itself (auth, quota, routing) answers in Google's error format, whatever the publisher; Claude's own
    # errors pass through rawPredict in Anthropic's format ({"type": "error", …}).
    if _publisher(call) == "anthropic" and b'"type"' in body[:64] and b'"error"' in body[:64]:
        return anthropic.ADAPTER.map_error(call, status, headers, body)
    return gemini.ADAPTER.map_error(call, status, headers, body)


def supported_params(call: Call) -> frozenset[str]:
    if call.kind == "embedding":
        return EMBEDDING_PARAM_NAMES
    return _family(call).supported_params(call)


ADAPTER = Adapter(name="vertex", build_request=build_request, parse_response=parse_response,
                  stream_parser=stream_parser, map_error=map_error, supported_params=supported_params,
                  authenticate=authenticate, inline_media=True)
