"""A local Anthropic Messages API for tests: the real wire format, deterministic answers, faults.

Not a model: it checks what the real API rejects in ways tests rely on. Checked against the official `anthropic`
SDK in `test_anthropic_simulator.py`; wire shapes pinned in `tests/fixtures/anthropic/`.

Routes (`x-api-key` or `Authorization: Bearer` checked against `api_keys`, `anthropic-version` required):
POST /v1/messages and POST /v1/messages/count_tokens; anything else → 404 not_found_error. `base_url` is the
host root, as for the SDK and LiteLLM's api_base.

Answers. Text is "Hello from the simulator. You said: <text of the last user turn>"; when the last user turn
holds tool_result blocks: "Hello from the simulator. The tool said: <results joined by ' | '>". Tools are called
when offered, `tool_choice` is not none and the last user turn has no tool results: the named tool, else the
first, or the first two when there are ≥ 2 tools and parallel use is not disabled; inputs are built from each
input_schema's required properties (enum → first, string → "example", number/integer → 1, boolean → true, object
→ recurse, array → [one item]). With `thinking` enabled a thinking block ("Thinking about: <text>") comes first;
its signature is checked when it comes back, and a final assistant turn with tool use must start with it.
Tokens are whitespace-separated words: input = Σ(3 + words) per message, + words per system block, + 5 + words
per tool, 85 per image or document; output = the words of text, thinking, tool names and inputs. The prefix up
to the last `cache_control` marker is a cache write the first time, a cache read after. `max_tokens` below the
answer's length truncates it (stop_reason max_tokens), a `stop_sequences` entry in the text cuts it there.
Streams: one word per text/thinking delta, tool input in ≤ 8-character `input_json_delta` fragments after an empty
one, a ping after the first content_block_start.

Faults: `script()` answers the next requests with a status (body None → Anthropic's body for it; 429 carries
retry-after and anthropic-ratelimit-* headers), `script_stream_error()` breaks the next stream with an
`event: error`; a prompt over `context_limit` tokens is a 400 "prompt is too long".
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from tests.simulators.anthropic_wire import (
    ApiError,
    count_input,
    error_body,
    message_body,
    stream_events,
    validate,
)
from tests.simulators.server import RecordedRequest, Script, SimulatorServer, lowered

__all__ = ["AnthropicSimulator", "RecordedRequest"]

_DEFAULT_ERRORS = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "This request would exceed the rate limit for your organization of 50 input tokens "
                              "per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}
_RATE_LIMIT_HEADERS = {"retry-after": "1", "anthropic-ratelimit-requests-limit": "50",
                       "anthropic-ratelimit-requests-remaining": "0",
                       "anthropic-ratelimit-requests-reset": "2025-01-01T00:00:01Z",
                       "anthropic-ratelimit-input-tokens-limit": "30000",
                       "anthropic-ratelimit-input-tokens-remaining": "0"}


class AnthropicSimulator(SimulatorServer[Script]):
    """Anthropic on 127.0.0.1, served by aiohttp on its own event loop in a background thread.

    with AnthropicSimulator() as sim:
        Anthropic(api_key="sk-ant-test", base_url=sim.base_url).messages.create(...)
    """

    provider = "Anthropic"
    base_path = ""  # the api_base a user configures is the host root (the adapter and the SDK add /v1/messages)

    def __init__(self, api_keys: set[str] | None = None) -> None:
        super().__init__(api_keys if api_keys is not None else {"sk-ant-test"})
        self.context_limit = 200_000
        self._cache: set[str] = set()

    def script(self, status: int, body: dict[str, Any] | str | None = None, headers: dict[str, str] | None = None,
               times: int = 1) -> None:
        """Answer the next `times` requests with `status` and `body` (None → Anthropic's body for the status)."""
        self._add_script(Script(status, body, lowered(headers), times))

    def script_stream_error(self, after_events: int, error_type: str = "overloaded_error",
                            message: str = "Overloaded") -> None:
        """Break the next stream after `after_events` events with `event: error` and end it."""
        self._add_stream_error(after_events, _sse(error_body(error_type, message)))

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._cache.clear()
        self.context_limit = 200_000

    async def _scripted(self, request: web.Request, recorded: RecordedRequest, script: Script) -> web.Response:
        request_id = _request_id()
        headers = {"request-id": request_id, **(_RATE_LIMIT_HEADERS if script.status == 429 else {}),
                   **script.headers}
        body = script.body
        if body is None:
            kind, message = _DEFAULT_ERRORS.get(script.status, ("api_error", "Internal server error"))
            body = {**error_body(kind, message), "request_id": request_id}
        if isinstance(body, dict):
            return _json(body, script.status, headers)
        return web.Response(status=script.status, text=body, headers={"content-type": "text/html", **headers})

    async def _answer(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        request_id = _request_id()
        try:
            return await self._messages(request, recorded, request_id)
        except ApiError as err:
            body = {**err.body, "request_id": request_id}
            return _json(body, err.status, {"request-id": request_id, **err.headers})

    async def _messages(self, request: web.Request, recorded: RecordedRequest,
                        request_id: str) -> web.StreamResponse:
        is_count = recorded.path == "/v1/messages/count_tokens"
        if request.method != "POST" or recorded.path not in ("/v1/messages", "/v1/messages/count_tokens"):
            raise ApiError(404, error_body("not_found_error", "Not Found"))
        key = _presented_key(recorded.headers)
        if not key:
            raise ApiError(401, error_body("authentication_error", "x-api-key header is required"))
        if key not in self.api_keys:
            raise ApiError(401, error_body("authentication_error", "invalid x-api-key"))
        if not recorded.headers.get("anthropic-version"):
            raise ApiError(400, error_body("invalid_request_error", "anthropic-version: header is required"))
        body = recorded.json
        if not isinstance(body, dict):
            raise ApiError(400, error_body("invalid_request_error", "There was an error parsing the body"))
        validate(body, for_count=is_count)
        usage_in = count_input(body)
        if usage_in.total > self.context_limit:
            raise ApiError(400, error_body("invalid_request_error", f"prompt is too long: {usage_in.total} "
                                                                    f"tokens > {self.context_limit} maximum"))
        if is_count:
            return _json({"input_tokens": usage_in.total}, 200, {"request-id": request_id})
        with self._lock:
            is_hit = usage_in.cache_key in self._cache
            if usage_in.cache_key:
                self._cache.add(usage_in.cache_key)
        message = message_body(body, usage_in, is_cache_hit=is_hit)
        if body.get("stream"):
            headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache",
                       "request-id": request_id}
            return await self._send_stream(request, headers, [_sse(event) for event in stream_events(message)])
        return _json(message, 200, {"request-id": request_id})


def _request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


def _presented_key(headers: dict[str, str]) -> str | None:
    """`x-api-key` (the documented header, which sluicegate sends) or `Authorization: Bearer` (what the
    `anthropic` SDK 2.x sends for an API key)."""
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return headers.get("x-api-key")


def _sse(event: dict[str, Any]) -> bytes:
    """Anthropic frames each event as `event: <type>` then `data: <json>`."""
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def _json(body: dict[str, Any], status: int, headers: dict[str, str]) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(),
                        headers={"content-type": "application/json", **headers})
