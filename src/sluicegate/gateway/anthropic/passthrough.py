"""/v1/messages served natively when the deployment is Anthropic's own API: the client's body goes upstream as it
came (only `model` becomes the deployment's), and the answer comes back as Anthropic sent it, event for event.

Nothing is lost in translation: server tools, citations, cache_control, thinking signatures and any field Anthropic
adds tomorrow pass through. The adapter seam does the work: `native_adapter` swaps the Anthropic adapter's
request builder and parsers for ones that carry the client's bytes; usage is read on the way (for metrics and
cost) without changing what the client gets. Cost per request: one JSON parse of the body and, for streams, of
the two events that carry usage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from sluicegate.prepare import Prepared
from sluicegate.providers.anthropic import API_VERSION, messages_url
from sluicegate.providers.anthropic.errors import stream_error
from sluicegate.providers.anthropic.response import map_usage
from sluicegate.providers.base import Adapter, Call, Headers, HttpRequest, SseEvent

# The key under which a passthrough answer or stream item carries the upstream's bytes (a gateway-only dict key:
# it never reaches a client as a field).
RAW = "\x00anthropic-raw"
# Client headers that steer Anthropic's API and are forwarded as given.
_FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


def tailor(body: dict[str, Any], client_headers: Headers) -> Callable[[Prepared], None]:
    """A `call_group` hook: deployments on Anthropic's API get the native adapter; others keep translation."""

    def apply(prepared: Prepared) -> None:
        if prepared.mock_response is None and prepared.call.endpoint.adapter == "anthropic":
            prepared.adapter = native_adapter(prepared.adapter, body, client_headers)

    return apply


def native_adapter(anthropic: Adapter, body: dict[str, Any], client_headers: Headers) -> Adapter:
    forwarded = {name: client_headers[name] for name in _FORWARDED_HEADERS if name in client_headers}

    def build_request(call: Call) -> HttpRequest:
        headers = {"x-api-key": call.credentials.api_key or "", "anthropic-version": API_VERSION,
                   "content-type": "application/json", **call.extra_headers, **forwarded}
        betas = [value for name, value in call.extra_headers.items() if name.lower() == "anthropic-beta"]
        if "anthropic-beta" in forwarded and betas:  # the deployment's betas and the client's, both
            headers["anthropic-beta"] = ",".join(dict.fromkeys(
                beta.strip() for value in (*betas, forwarded["anthropic-beta"]) for beta in value.split(",")))
        url = messages_url(call.credentials.api_base or call.endpoint.base_url or "")
        return HttpRequest("POST", url, headers=headers, json={**body, "model": call.model})

    return replace(anthropic, build_request=build_request, parse_response=_parse_response,
                   stream_parser=NativeStream)


def _parse_response(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    data = orjson.loads(body)
    usage = data.get("usage") if isinstance(data, dict) else None
    return {RAW: body, "model": data.get("model") if isinstance(data, dict) else None,
            "usage": map_usage(usage) if isinstance(usage, dict) else None}


class NativeStream:
    """Each event re-framed as it came; the item that ends a stream's usage (message_delta) also carries it in
    OpenAI's shape, where the pipeline reads usage."""

    __slots__ = ("_call", "_model", "_usage", "is_done")

    def __init__(self, call: Call) -> None:
        self._call = call
        self._model = call.model
        self._usage: dict[str, Any] = {}
        self.is_done = False

    def feed(self, event: SseEvent) -> list[dict[str, Any]]:
        framed = (f"event: {event.event}\n" if event.event else "") + f"data: {event.data}\n\n"
        item: dict[str, Any] = {RAW: framed.encode()}
        if event.event == "error":
            self.is_done = True
            raise stream_error(self._call, event.data)
        if event.event == "message_start":
            message = orjson.loads(event.data).get("message") or {}
            self._model = message.get("model") or self._model
            self._usage.update(message.get("usage") or {})
        elif event.event == "message_delta":
            self._usage.update({k: v for k, v in (orjson.loads(event.data).get("usage") or {}).items()
                                if v is not None})
            item["usage"] = map_usage(self._usage)
            item["model"] = self._model
        elif event.event == "message_stop":
            self.is_done = True
        return [item]

    def finish(self) -> list[dict[str, Any]]:
        return []


def raw_answer(data: dict[str, Any]) -> bytes | None:
    """The upstream's bytes when `data` is a passthrough answer."""
    raw = data.get(RAW)
    return raw if isinstance(raw, bytes) else None


def raw_stream(batch: list[dict[str, Any]]) -> bytes | None:
    """The upstream's bytes when `batch` came from a passthrough stream."""
    if batch and RAW in batch[0]:
        return b"".join(item[RAW] for item in batch)
    return None
