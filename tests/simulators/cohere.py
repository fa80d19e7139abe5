"""A local Cohere v2 API for tests (POST /v2/chat, POST /v2/embed): real wire formats, deterministic answers.

Checked against the official `cohere` SDK (ClientV2) in `test_cohere_simulator.py`; wire shapes pinned in
`tests/fixtures/cohere/` (see its SOURCE.md). Auth is `Authorization: Bearer <key>` against `api_keys`; every
error body is `{"id": <uuid>, "message": <text>}` as Cohere sends it.

Chat answers: "Hello from the simulator. You said: <text of the last user message>"; after tool results "Hello
from the simulator. The tool said: <results joined by ' | '>". With tools, tool_choice other than NONE and a
user message last, the model calls the first tool (the first two when there are ≥ 2 tools: Cohere calls in
parallel at will), with a tool plan, arguments built from each schema's required properties (enum → first,
string → "example", number/integer → 1, boolean → true, object → recurse, array → [one item]).
response_format json_object gives {"reply": <text>}, or an object built from its json_schema. thinking
{"type": "enabled"} adds a thinking block; documents add one citation of the first word; logprobs one entry
per word; max_tokens below the word count truncates (MAX_TOKENS); a stop sequence in the text cuts it
(STOP_SEQUENCE). Tokens are words: input = Σ(3 + words) over messages, billed input = Σ words.
Streams: message-start, one content-delta per word, tool-plan-delta per word, tool arguments in ≤ 8-character
tool-call-delta fragments, citation-start/-end, message-end with usage, then `data: [DONE]`.
Embeddings: unit vectors seeded by SHA-256 of each text, `output_dimension` or 1024 values (1536 for embed-v4.0);
`input_type` is required for v3+ models, as Cohere requires it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import string
import struct
import uuid
from typing import Any

from aiohttp import web

from tests.simulators.schema_example import example
from tests.simulators.server import RecordedRequest, Script, SimulatorServer, lowered

# Messages from https://docs.cohere.com/reference/errors (the examples listed under each status).
ERROR_MESSAGES = {
    400: "invalid request: message must be at least 1 token long or tool results must be specified.",
    401: "invalid api token",
    402: "Please add or update your payment method at https://dashboard.cohere.com/billing?tab=payment to "
         "continue",
    404: "model 'unknown' not found, make sure the correct model ID was used and that you have access to the model.",
    422: "invalid request: the request could not be processed",
    429: "You are past the per minute request limit, please wait and try again later.",
    499: "request cancelled",
    500: "internal server error, this has been reported to our developers",
    503: "service unavailable",
}
CONTEXT_LENGTH_MESSAGE = ("too many tokens: total number of tokens in the prompt cannot exceed 4081 - received "
                          "4292. Try using a shorter prompt, or enabling prompt truncating. See "
                          "https://docs.cohere.com/reference/generate for more details.")


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(message: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "message": message}


class CohereSimulator(SimulatorServer[Script]):
    """Cohere's v2 API on 127.0.0.1, served by aiohttp on its own event loop in a background thread.

    with CohereSimulator() as sim:
        cohere.ClientV2(api_key="co-test", base_url=sim.url).chat(model=…, messages=…)
        sluicegate.completion(model="cohere/command-a-03-2025", api_base=sim.base_url, api_key="co-test", …)
    """

    provider = "Cohere"
    base_path = "/v2/chat"  # the api_base a LiteLLM user configures for Cohere is the full chat URL

    def __init__(self, api_keys: set[str] | None = None) -> None:
        super().__init__(api_keys if api_keys is not None else {"co-test"})

    def script(self, status: int, body: dict[str, Any] | str | None = None, times: int = 1,
               headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` requests with `status` and `body` (None → Cohere's body for the status)."""
        self._add_script(Script(status, body, lowered(headers), times))

    def script_stream_error(self, after_events: int, message: str = "internal server error") -> None:
        """End the next stream after `after_events` events with message-end, finish_reason ERROR and `message`."""
        event = {"type": "message-end", "delta": {"error": message, "finish_reason": "ERROR"}}
        self._add_stream_error(after_events, _sse(event) + _DONE)

    async def _scripted(self, request: web.Request, recorded: RecordedRequest, script: Script) -> web.Response:
        body = script.body if script.body is not None else error_body(ERROR_MESSAGES.get(script.status, "error"))
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=script.status, text=text, content_type="application/json", headers=script.headers)

    async def _answer(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        try:
            return await self._endpoint(request, recorded)
        except _ApiError as error:
            return web.json_response(error_body(error.message), status=error.status)

    async def _endpoint(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        payload = recorded.json
        if request.method != "POST" or request.path not in ("/v2/chat", "/v2/embed"):
            raise _ApiError(404, f"route {request.path} not found")
        auth = recorded.headers.get("authorization", "")
        if not auth:
            raise _ApiError(401, "no api key supplied")
        if not auth.lower().startswith("bearer ") or auth[7:].strip() not in self.api_keys:
            raise _ApiError(401, "invalid api token")
        if not isinstance(payload, dict):
            raise _ApiError(400, "invalid request: body must be valid JSON")
        if not payload.get("model"):
            raise _ApiError(400, "invalid request: model is required")
        if request.path == "/v2/embed":
            return web.json_response(embed_answer(payload))
        answer = chat_answer(payload)
        if not payload.get("stream"):
            return web.json_response(answer)
        headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
        return await self._send_stream(request, headers, [_sse(event) for event in stream_events(answer)], _DONE)


_DONE = b"data: [DONE]\n\n"


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def _words(text: str) -> list[str]:
    return text.split()


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for part in content or ():
        if part.get("type") == "text":
            texts.append(part.get("text", ""))
        elif part.get("type") == "document":
            texts.append(json.dumps((part.get("document") or {}).get("data"), sort_keys=True))
        elif part.get("type") == "thinking":
            continue
    return " ".join(texts)


def _tool_id(name: str) -> str:
    rng = random.Random(name)
    return name + "_" + "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(12))


def chat_answer(payload: dict[str, Any]) -> dict[str, Any]:
    """The non-stream /v2/chat answer for a request (stream_events slices the same answer into events)."""
    messages = payload.get("messages") or []
    if not messages:
        raise _ApiError(400, "invalid request: messages must not be empty")
    if any(m.get("role") == "system" for m in messages[1:]) and messages[0].get("role") != "system":
        raise _ApiError(400, "system turn must be the first in the list")
    input_tokens = sum(3 + len(_words(_text_of(m.get("content")))) for m in messages)
    billed_input = input_tokens - 3 * len(messages)
    message: dict[str, Any] = {"role": "assistant"}
    finish = "COMPLETE"
    tools = payload.get("tools") or []
    results = []
    for m in reversed(messages):
        if m.get("role") != "tool":
            break
        results.insert(0, _text_of(m.get("content")))
    last = messages[-1]
    if tools and payload.get("tool_choice") != "NONE" and last.get("role") == "user":
        called = tools[:2]
        names = [t["function"]["name"] for t in called]
        message["tool_plan"] = f"I will call {' and '.join(names)}."
        message["tool_calls"] = [{"id": _tool_id(t["function"]["name"]), "type": "function", "function": {
            "name": t["function"]["name"],
            "arguments": json.dumps(example(t["function"].get("parameters") or {}))}} for t in called]
        output = _words(message["tool_plan"]) + [w for c in message["tool_calls"] for w in
                                                 _words(c["function"]["name"] + " " + c["function"]["arguments"])]
        return _chat_body(message, "TOOL_CALL", input_tokens, billed_input, len(output))
    if results:
        text = "Hello from the simulator. The tool said: " + " | ".join(results)
    else:
        text = "Hello from the simulator. You said: " + _text_of(last.get("content"))
    response_format = payload.get("response_format") or {}
    if response_format.get("type") == "json_object":
        schema = response_format.get("json_schema")
        text = json.dumps(example(schema) if schema else {"reply": text})
    for stop in payload.get("stop_sequences") or ():
        if stop and stop in text:
            text, finish = text[:text.index(stop)], "STOP_SEQUENCE"
    words = text.split(" ")
    limit = payload.get("max_tokens")
    if isinstance(limit, int) and limit < len(words):
        words, finish = words[:limit], "MAX_TOKENS"
        text = " ".join(words)
    content: list[dict[str, Any]] = []
    thinking = payload.get("thinking") or {}
    if thinking.get("type") == "enabled":
        content.append({"type": "thinking", "thinking": "The user wants a greeting. I will answer briefly."})
    content.append({"type": "text", "text": text})
    message["content"] = content
    documents = payload.get("documents") or []
    if documents and words:
        document = documents[0] if isinstance(documents[0], dict) else {"data": {"text": documents[0]}}
        source = {"type": "document", "id": document.get("id") or "doc:0",
                  "document": {"id": document.get("id") or "doc:0", **(document.get("data") or {})}}
        message["citations"] = [{"start": 0, "end": len(words[0]), "text": words[0], "sources": [source],
                                 "type": "TEXT_CONTENT"}]
    body = _chat_body(message, finish, input_tokens, billed_input, len(_words(text)))
    if payload.get("logprobs"):
        body["logprobs"] = [{"text": w, "token_ids": [_token_id(w)], "logprobs": [-0.125]} for w in _pieces(text)]
    return body


def _pieces(text: str) -> list[str]:
    """The text in word pieces that join back to it exactly (a space opens every piece after the first)."""
    if not text:
        return []
    words = text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]]


def _token_id(word: str) -> int:
    return int.from_bytes(hashlib.sha256(word.encode()).digest()[:2], "big")


def _chat_body(message: dict[str, Any], finish: str, input_tokens: int, billed_input: int,
               output_tokens: int) -> dict[str, Any]:
    usage = {"billed_units": {"input_tokens": billed_input, "output_tokens": output_tokens},
             "tokens": {"input_tokens": input_tokens, "output_tokens": output_tokens}}
    return {"id": str(uuid.uuid4()), "message": message, "finish_reason": finish, "usage": usage}


def stream_events(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer as Cohere's stream events, in Cohere's order."""
    message = answer["message"]
    events: list[dict[str, Any]] = [{"id": answer["id"], "type": "message-start", "delta": {"message": {
        "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}]
    for piece in _pieces(message.get("tool_plan") or ""):
        events.append({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}})
    logprobs = iter(answer.get("logprobs") or ())
    for index, item in enumerate(message.get("content") or ()):
        kind = item["type"]
        events.append({"type": "content-start", "index": index,
                       "delta": {"message": {"content": {"type": kind, kind: ""}}}})
        for piece in _pieces(item[kind]):
            event: dict[str, Any] = {"type": "content-delta", "index": index,
                                     "delta": {"message": {"content": {kind: piece}}}}
            if kind == "text" and (lp := next(logprobs, None)) is not None:
                event["logprobs"] = lp
            events.append(event)
        events.append({"type": "content-end", "index": index})
    for index, call in enumerate(message.get("tool_calls") or ()):
        start = {"id": call["id"], "type": "function", "function": {"name": call["function"]["name"],
                                                                    "arguments": ""}}
        events.append({"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": start}}})
        arguments = call["function"]["arguments"]
        for at in range(0, len(arguments), 8):
            events.append({"type": "tool-call-delta", "index": index, "delta": {"message": {"tool_calls": {
                "function": {"arguments": arguments[at:at + 8]}}}}})
        events.append({"type": "tool-call-end", "index": index})
    for index, citation in enumerate(message.get("citations") or ()):
        events.append({"type": "citation-start", "index": index,
                       "delta": {"message": {"citations": {**citation, "content_index": 0}}}})
        events.append({"type": "citation-end", "index": index})
    events.append({"type": "message-end", "delta": {"finish_reason": answer["finish_reason"],
                                                    "usage": answer["usage"]}})
    return events


def embed_answer(payload: dict[str, Any]) -> dict[str, Any]:
    texts = payload.get("texts")
    if not isinstance(texts, list) or not texts:
        raise _ApiError(400, "invalid request: texts must not be empty")
    if len(texts) > 96:
        raise _ApiError(400, f"invalid request: total number of texts must be at most 96 - received {len(texts)}")
    model = str(payload["model"])
    if ("v3" in model or "v4" in model) and not payload.get("input_type"):
        raise _ApiError(400, "invalid request: valid input_type must be provided with the provided model")
    dims = payload.get("output_dimension") or (1536 if model == "embed-v4.0" else 1024)
    vectors = [_vector(text, int(dims)) for text in texts]
    embeddings: dict[str, Any] = {}
    for kind in payload.get("embedding_types") or ["float"]:
        if kind == "float":
            embeddings["float"] = vectors
        elif kind == "base64":
            embeddings["base64"] = [_b64(v) for v in vectors]
        else:
            raise _ApiError(400, f"invalid request: the simulator does not produce {kind!r} embeddings")
    tokens = sum(len(_words(text)) for text in texts)
    return {"id": str(uuid.uuid4()), "texts": texts, "embeddings": embeddings,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
            "response_type": "embeddings_by_type"}


def _vector(text: str, dims: int) -> list[float]:
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    raw = [rng.uniform(-1, 1) for _ in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    # float32-exact values, so a base64 encoding round-trips them
    return [struct.unpack("<f", struct.pack("<f", x / norm))[0] for x in raw]


def _b64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
