"""The Anthropic simulator's wire logic: request checks, token counts, answers and stream events.

Pure functions over JSON values; the server (`anthropic.py`) holds the state. The rules are in its docstring.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from tests.simulators.schema_example import example

_PREFIX = "Hello from the simulator. You said: "
_TOOL_PREFIX = "Hello from the simulator. The tool said: "
_MEDIA_TOKENS = 85
_FIELDS = frozenset({"model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
                     "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier",
                     "container", "mcp_servers", "context_management", "output_config"})
_COUNT_FIELDS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers",
                           "context_management", "output_config"})
_USER_BLOCKS = frozenset({"text", "image", "document", "tool_result", "search_result"})
_ASSISTANT_BLOCKS = frozenset({"text", "tool_use", "thinking", "redacted_thinking", "server_tool_use",
                               "web_search_tool_result"})
_THINKING_REQUIRED = ("When `thinking` is enabled, a final `assistant` message must start with a thinking block "
                      "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you "
                      "include thinking blocks from previous turns.")


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _invalid(message: str) -> ApiError:
    return ApiError(400, error_body("invalid_request_error", message))


def signature(thinking: str) -> str:
    """The simulator's thinking signature: checked when the block comes back."""
    return base64.b64encode(hashlib.sha256(thinking.encode()).digest()).decode()


def validate(body: dict[str, Any], *, for_count: bool = False) -> None:
    """Raise ApiError for what the real API rejects and tests rely on."""
    for name in body:
        if name not in (_COUNT_FIELDS if for_count else _FIELDS):
            raise _invalid(f"{name}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str):
        raise _invalid("model: Field required")
    if not for_count and (not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1):
        raise _invalid("max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages: Field required")
    system = body.get("system")
    if system is not None and not isinstance(system, str) and not (
            isinstance(system, list) and all(b.get("type") == "text" for b in system)):
        raise _invalid("system: Input should be a valid string or a list of text blocks")
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise _invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if not for_count and budget >= body["max_tokens"]:
            raise _invalid("`max_tokens` must be greater than `thinking.budget_tokens`.")
        if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
            raise _invalid("Thinking may not be enabled when tool_choice forces tool use.")
    for i, message in enumerate(messages):
        _validate_message(messages, i, message, thinking.get("type") == "enabled")


def _validate_message(messages: list[Any], i: int, message: Any, is_thinking: bool) -> None:
    role = message.get("role") if isinstance(message, dict) else None
    if role not in ("user", "assistant"):
        raise _invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
    content = message.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    if not isinstance(blocks, list):
        raise _invalid(f"messages.{i}.content: Input should be a valid list")
    allowed = _USER_BLOCKS if role == "user" else _ASSISTANT_BLOCKS
    for j, block in enumerate(blocks):
        if block.get("type") not in allowed:
            raise _invalid(f"messages.{i}.content.{j}.type: Input tag '{block.get('type')}' is not allowed here")
        if block["type"] == "thinking" and block.get("signature") != signature(block.get("thinking", "")):
            raise _invalid(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")
    tool_ids = [b["id"] for b in blocks if b["type"] == "tool_use"]
    following = messages[i + 1] if i + 1 < len(messages) else None
    if tool_ids and following is not None:
        results = {b.get("tool_use_id") for b in following.get("content") or [] if isinstance(b, dict)
                   and b.get("type") == "tool_result"}
        missing = [t for t in tool_ids if t not in results]
        if missing:
            raise _invalid(f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks "
                           f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                           "corresponding `tool_result` block in the next message.")
        if is_thinking and i + 2 == len(messages) and blocks[0]["type"] not in ("thinking", "redacted_thinking"):
            raise _invalid(f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                           f"`{blocks[0]['type']}`. {_THINKING_REQUIRED}")


def _words(text: str) -> int:
    return len(text.split())


def _block_tokens(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind in ("image", "document"):
        return _MEDIA_TOKENS
    if kind == "tool_use":
        return _words(block.get("name", "")) + _words(json.dumps(block.get("input")))
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, list):
            return sum(_block_tokens(b) for b in content)
        return _words(str(content or ""))
    if kind == "thinking":
        return _words(block.get("thinking", ""))
    return _words(str(block.get("text", "")))


@dataclass
class InputUsage:
    total: int
    cache_prefix: int  # tokens up to and including the last cache_control marker
    cache_key: str | None  # identifies that prefix


def count_input(body: dict[str, Any]) -> InputUsage:
    """Input tokens, and the cacheable prefix: tools, then system, then messages, as Anthropic orders them."""
    units: list[tuple[Any, int]] = []
    for tool in body.get("tools") or []:
        units.append((tool, 5 + _words(str(tool.get("name", ""))) + _words(str(tool.get("description", "")))))
    system = body.get("system")
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system or []:
        units.append((block, _words(block.get("text", ""))))
    for message in body["messages"]:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        units.append(({"role": message["role"]}, 3))
        units += [(block, _block_tokens(block)) for block in blocks]
    total = sum(tokens for _, tokens in units)
    marked = [i for i, (unit, _) in enumerate(units) if isinstance(unit, dict) and "cache_control" in unit]
    if not marked:
        return InputUsage(total, 0, None)
    prefix = units[:marked[-1] + 1]
    key = hashlib.sha256(json.dumps([unit for unit, _ in prefix], sort_keys=True).encode()).hexdigest()
    return InputUsage(total, sum(tokens for _, tokens in prefix), key)


def _last_user_turn(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for message in reversed(messages):
        if message["role"] == "user":
            content = message["content"]
            return [{"type": "text", "text": content}] if isinstance(content, str) else content
    return []


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return " ".join(b.get("text", "") for b in content if b.get("type") == "text")
    return str(content or "")


def _chosen_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = [t for t in body.get("tools") or [] if "input_schema" in t]
    choice = body.get("tool_choice") or {"type": "auto"}
    if not tools or choice.get("type") == "none":
        return []
    if choice.get("type") == "tool":
        return [t for t in tools if t["name"] == choice.get("name")][:1]
    return tools[:1] if len(tools) < 2 or choice.get("disable_parallel_tool_use") else tools[:2]


def _answer_blocks(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str, str | None]:
    """(content blocks, stop_reason, stop_sequence) for a request."""
    turn = _last_user_turn(body["messages"])
    results = [_result_text(b) for b in turn if b.get("type") == "tool_result"]
    said = " ".join(b.get("text", "") for b in turn if b.get("type") == "text")
    blocks: list[dict[str, Any]] = []
    if (body.get("thinking") or {}).get("type") == "enabled":
        thought = f"Thinking about: {said or ' | '.join(results)}"
        blocks.append({"type": "thinking", "thinking": thought, "signature": signature(thought)})
    tools = [] if results else _chosen_tools(body)
    if tools:
        blocks += [{"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:24], "name": t["name"],
                    "input": example(t["input_schema"])} for t in tools]
        return blocks, "tool_use", None
    text = _TOOL_PREFIX + " | ".join(results) if results else _PREFIX + said
    stop_reason, stop_sequence = "end_turn", None
    for sequence in body.get("stop_sequences") or []:
        if sequence in text:
            text, stop_reason, stop_sequence = text[:text.index(sequence)], "stop_sequence", sequence
    pieces = re.findall(r"\S+\s*", text)
    if len(pieces) > body["max_tokens"]:
        text, stop_reason, stop_sequence = "".join(pieces[:body["max_tokens"]]).rstrip(), "max_tokens", None
    blocks.append({"type": "text", "text": text})
    return blocks, stop_reason, stop_sequence


def message_body(body: dict[str, Any], usage_in: InputUsage, *, is_cache_hit: bool) -> dict[str, Any]:
    blocks, stop_reason, stop_sequence = _answer_blocks(body)
    output = sum(_block_tokens(b) for b in blocks)
    cached = usage_in.cache_prefix
    return {
        "id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant", "model": body["model"],
        "content": blocks, "stop_reason": stop_reason, "stop_sequence": stop_sequence,
        "usage": {"input_tokens": usage_in.total - cached,
                  "cache_creation_input_tokens": 0 if is_cache_hit else cached,
                  "cache_read_input_tokens": cached if is_cache_hit else 0,
                  "output_tokens": output, "service_tier": "standard"},
    }


def _fragments(text: str, size: int = 8) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block["type"]
    start = {"text": {"type": "text", "text": ""}, "thinking": {"type": "thinking", "thinking": ""},
             "tool_use": {**block, "input": {}}}[kind]
    deltas: list[dict[str, Any]]
    if kind == "text":
        deltas = [{"type": "text_delta", "text": piece} for piece in re.findall(r"\S+\s*", block["text"])]
    elif kind == "thinking":
        deltas = [{"type": "thinking_delta", "thinking": piece}
                  for piece in re.findall(r"\S+\s*", block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        arguments = json.dumps(block["input"], separators=(",", ":"))
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in ["", *_fragments(arguments)]]
    return [{"type": "content_block_start", "index": index, "content_block": start},
            *({"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas),
            {"type": "content_block_stop", "index": index}]


def stream_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The events Anthropic streams for a message, in its order (ping after the first content_block_start)."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": 1}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message["content"]):
        block_events = _block_events(index, block)
        if index == 0:
            block_events.insert(1, {"type": "ping"})
        events += block_events
    events.append({"type": "message_delta",
                   "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
                   "usage": {"output_tokens": usage["output_tokens"]}})
    events.append({"type": "message_stop"})
    return events
