"""What the Bedrock simulator answers: Converse bodies, ConverseStream events, InvokeModel embeddings and error
bodies, built by the deterministic rules `bedrock.py`'s module docstring states. No HTTP here."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import struct
import uuid
from typing import Any

from sluicegate.transport.aws_eventstream import encode_event
from tests.simulators.schema_example import example

# x-amzn-errortype values carry a namespace after the colon, as Bedrock sends them.
_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_CORAL = "http://internal.amazon.com/coral/com.amazon.coral.service/"
DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("ValidationException", "Malformed input request, please reformat your input and try again."),
    403: ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    404: ("ResourceNotFoundException", "The provided model identifier is invalid."),
    408: ("ModelTimeoutException", "Model has timed out in processing the request. Try your request again."),
    424: ("ModelErrorException", "The model encountered an error processing the request."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The server encountered an error processing the request. Try again."),
    503: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
}
CONTEXT_WINDOW_MESSAGE = "Input is too long for requested model."
SIGNATURE_MESSAGE = ("The request signature we calculated does not match the signature you provided. Check your "
                     "AWS Secret Access Key and signing method. Consult the service documentation for details.")
UNRECOGNIZED_MESSAGE = "The security token included in the request is invalid."
GUARDRAIL_TRIGGER = "[[guardrail]]"  # a user text holding this makes the simulator's guardrail intervene
GUARDRAIL_MESSAGE = "Sorry, the model cannot answer this question."


class SimError(Exception):
    """An error answer: status, the AWS error type and message."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def error_headers(kind: str) -> dict[str, str]:
    namespace = _CORAL if kind in ("InvalidSignatureException", "UnrecognizedClientException") else _NAMESPACE
    return {"x-amzn-errortype": f"{kind}:{namespace}", "content-type": "application/json"}


def _words(text: str) -> list[str]:
    return text.split()


def _block_text(block: dict[str, Any]) -> str:
    if "text" in block:
        return str(block["text"])
    if "toolUse" in block:
        return json.dumps(block["toolUse"].get("input"))
    if "toolResult" in block:
        return " ".join(str(c.get("text", "")) for c in block["toolResult"].get("content", []))
    return ""


def _tokens_of(blocks: list[dict[str, Any]]) -> int:
    return sum(len(_words(_block_text(block))) for block in blocks)


def validate(body: Any) -> None:
    """The checks Converse makes that the adapter's translation must satisfy."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
        raise SimError(400, "ValidationException", "A conversation must start with a user message. Try again "
                                                   "with a conversation that starts with a user message.")
    messages = body["messages"]
    if messages[0].get("role") != "user":
        raise SimError(400, "ValidationException", "A conversation must start with a user message. Try again "
                                                   "with a conversation that starts with a user message.")
    for previous, current in itertools.pairwise(messages):
        if previous.get("role") == current.get("role"):
            raise SimError(400, "ValidationException", "A conversation must alternate between user and "
                                                       "assistant roles. Make sure the conversation alternates "
                                                       "between user and assistant roles and try again.")
    for message in messages:
        for block in message.get("content") or []:
            if "text" in block and not str(block["text"]).strip():
                raise SimError(400, "ValidationException", "The text field in the ContentBlock object at "
                                                           "messages.0.content.0 is blank. Add text to the text "
                                                           "field, and try again.")
            if ("toolUse" in block or "toolResult" in block) and not body.get("toolConfig"):
                raise SimError(400, "ValidationException", "The toolConfig field must be defined when using "
                                                           "toolUse and toolResult content blocks.")


def _tools_to_call(body: dict[str, Any]) -> list[dict[str, Any]]:
    config = body.get("toolConfig") or {}
    specs = [tool["toolSpec"] for tool in config.get("tools") or [] if "toolSpec" in tool]
    last = body["messages"][-1]
    if not specs or last.get("role") != "user" or any("toolResult" in b for b in last.get("content") or []):
        return []
    choice = config.get("toolChoice") or {"auto": {}}
    if "tool" in choice:
        return [spec for spec in specs if spec["name"] == choice["tool"]["name"]][:1]
    return specs[:2]


def answer_blocks(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The assistant's content blocks and stopReason for a Converse request."""
    last = body["messages"][-1]
    blocks: list[dict[str, Any]] = []
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking") or {}
    if thinking.get("type") == "enabled":
        text = "The user wants an answer. Let me think about that."
        blocks.append({"reasoningContent": {"reasoningText": {
            "text": text, "signature": "sig-" + hashlib.sha256(text.encode()).hexdigest()[:24]}}})
    results = [b["toolResult"] for b in last.get("content") or [] if "toolResult" in b]
    if results:
        said = " | ".join(" ".join(str(c.get("text", json.dumps(c.get("json")))) for c in r.get("content") or [])
                          for r in results)
        return [*blocks, {"text": f"Hello from the simulator. The tool said: {said}"}], "end_turn"
    user_text = " ".join(str(b["text"]) for b in last.get("content") or [] if "text" in b)
    if GUARDRAIL_TRIGGER in user_text:
        return [{"text": GUARDRAIL_MESSAGE}], "guardrail_intervened"
    calls = _tools_to_call(body)
    if calls:
        return [*blocks, *({"toolUse": {"toolUseId": "tooluse_" + uuid.uuid4().hex[:22], "name": spec["name"],
                                        "input": example((spec.get("inputSchema") or {}).get("json"))}}
                           for spec in calls)], "tool_use"
    text = f"Hello from the simulator. You said: {user_text}" if last.get("role") == "user" else "continued."
    limit = (body.get("inferenceConfig") or {}).get("maxTokens")
    if limit is not None and len(_words(text)) > limit:
        return [*blocks, {"text": " ".join(_words(text)[:limit])}], "max_tokens"
    return [*blocks, {"text": text}], "end_turn"


def usage(body: dict[str, Any], blocks: list[dict[str, Any]], cached: set[str]) -> dict[str, int]:
    """Tokens are words: 3 + words per message and system block, words of the answer. A request holding a
    cachePoint writes the prefix before its last cache point to the cache the first time, reads it after."""
    parts: list[tuple[str, list[dict[str, Any]]]] = [("system", body["system"])] if body.get("system") else []
    parts += [(m["role"], m.get("content") or []) for m in body["messages"]]
    total = sum(3 + _tokens_of(content) for _, content in parts)
    out = {"inputTokens": total, "outputTokens": _tokens_of(blocks) + sum(
        len(_words(b["reasoningContent"]["reasoningText"]["text"])) for b in blocks if "reasoningContent" in b)}
    prefix = _cached_prefix(body)
    if prefix is not None:
        key, tokens = prefix
        tokens = min(tokens, total)
        out["inputTokens"] = total - tokens
        if key in cached:
            out["cacheReadInputTokens"], out["cacheWriteInputTokens"] = tokens, 0
        else:
            cached.add(key)
            out["cacheReadInputTokens"], out["cacheWriteInputTokens"] = 0, tokens
    out["totalTokens"] = out["inputTokens"] + out["outputTokens"] + out.get("cacheReadInputTokens", 0) + \
        out.get("cacheWriteInputTokens", 0)
    return out


def _cached_prefix(body: dict[str, Any]) -> tuple[str, int] | None:
    sequence: list[dict[str, Any]] = [*(body.get("toolConfig") or {}).get("tools", []), *(body.get("system") or [])]
    for message in body["messages"]:
        sequence += message.get("content") or []
    points = [i for i, block in enumerate(sequence) if "cachePoint" in block]
    if not points:
        return None
    prefix = sequence[:points[-1]]
    tokens = sum(len(_words(_block_text(b))) + (3 if "text" in b else 0) for b in prefix)
    return hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest(), tokens


def converse_body(blocks: list[dict[str, Any]], stop_reason: str, token_usage: dict[str, int]) -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": blocks}}, "stopReason": stop_reason,
            "usage": token_usage, "metrics": {"latencyMs": 42}}


def _padded(payload: dict[str, Any]) -> bytes:
    # Bedrock pads each event with a "p" field of varying length so sizes do not reveal the tokens.
    return json.dumps({**payload, "p": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[:len(payload) * 7 % 50]},
                      separators=(",", ":")).encode()


def event(name: str, payload: dict[str, Any]) -> bytes:
    return encode_event({":event-type": name, ":content-type": "application/json", ":message-type": "event"},
                        _padded(payload))


def exception_event(kind: str, message: str) -> bytes:
    """A stream exception: `kind` is the member name (throttlingException, modelStreamErrorException …)."""
    return encode_event({":exception-type": kind, ":content-type": "application/json",
                         ":message-type": "exception"}, json.dumps({"message": message}).encode())


def stream_events(blocks: list[dict[str, Any]], stop_reason: str, token_usage: dict[str, int]) -> list[bytes]:
    """ConverseStream's event sequence: text word by word, tool input in ≤ 8-character fragments."""
    events = [event("messageStart", {"role": "assistant"})]
    for index, block in enumerate(blocks):
        if "toolUse" in block:
            use = block["toolUse"]
            events.append(event("contentBlockStart", {"contentBlockIndex": index, "start": {
                "toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}}))
            arguments = json.dumps(use["input"], separators=(",", ":"))
            events += [event("contentBlockDelta", {"contentBlockIndex": index,
                                                   "delta": {"toolUse": {"input": arguments[i:i + 8]}}})
                       for i in range(0, len(arguments), 8)]
        elif "reasoningContent" in block:
            reasoning = block["reasoningContent"]["reasoningText"]
            events += [event("contentBlockDelta", {"contentBlockIndex": index,
                                                   "delta": {"reasoningContent": {"text": piece}}})
                       for piece in _pieces(reasoning["text"])]
            events.append(event("contentBlockDelta", {"contentBlockIndex": index, "delta": {
                "reasoningContent": {"signature": reasoning["signature"]}}}))
        else:
            events += [event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}})
                       for piece in _pieces(block["text"])]
        events.append(event("contentBlockStop", {"contentBlockIndex": index}))
    events.append(event("messageStop", {"stopReason": stop_reason}))
    events.append(event("metadata", {"usage": token_usage, "metrics": {"latencyMs": 42}}))
    return events


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [word + (" " if i < len(words) - 1 else "") for i, word in enumerate(words)]


def _vector(text: str, dimensions: int) -> list[float]:
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    raw = [rng.gauss(0, 1) for _ in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [struct.unpack("<f", struct.pack("<f", x / norm))[0] for x in raw]  # float32-exact


def embedding_body(model: str, body: Any) -> tuple[dict[str, Any], int]:
    """InvokeModel for Titan or Cohere embedding models: (response body, input token count)."""
    if not isinstance(body, dict):
        raise SimError(400, "ValidationException", "Malformed input request, please reformat your input and try "
                                                   "again.")
    family = model.split(".")[-2] if model.count(".") > 1 else model.split(".")[0]
    if family == "amazon":
        text = body.get("inputText")
        dimensions = body.get("dimensions", 1024)
        if not isinstance(text, str) or dimensions not in (256, 512, 1024):
            raise SimError(400, "ValidationException", "Malformed input request: #: required key [inputText] "
                                                       "not found or dimensions not one of 256, 512, 1024")
        vector = _vector(text, dimensions)
        tokens = len(_words(text))
        return {"embedding": vector, "embeddingsByType": {"float": vector}, "inputTextTokenCount": tokens}, tokens
    if family == "cohere":
        texts = body.get("texts")
        if not isinstance(texts, list) or not body.get("input_type"):
            raise SimError(400, "ValidationException", "Malformed input request: #: required key [input_type] "
                                                       "not found, please reformat your input and try again.")
        dimensions = body.get("output_dimension") or (1536 if "v4" in model else 1024)
        vectors = [_vector(text, dimensions) for text in texts]
        tokens = sum(len(_words(text)) for text in texts)
        out: dict[str, Any] = {"id": str(uuid.uuid4()), "texts": texts}
        if body.get("embedding_types"):
            out.update(embeddings={kind: vectors for kind in body["embedding_types"]},
                       response_type="embeddings_by_type")
        else:
            out.update(embeddings=vectors, response_type="embeddings_floats")
        return out, tokens
    raise SimError(400, "ValidationException", "The provided model doesn't support on-demand throughput.")
