"""OpenAI chat messages → Anthropic's `system` blocks and `messages` turns (https://docs.anthropic.com/en/api/messages).

Only the conversation: parameters, tools and the body's other fields are built in request.py. Anthropic has no
system role inside `messages`, so every system/developer message becomes a `system` text block, in order; tool
results are user turns of `tool_result` blocks; consecutive turns of one role are merged into one, because all
the results of one assistant turn's tool calls must sit in the single user turn that follows it. Messages'
`name` fields are not sent: Anthropic's turns have no such field.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from sluicegate.errors import BadRequestError

# Where an OpenAI `file` part's media type says what kind of Anthropic block it becomes.
_PDF = "application/pdf"
_TEXT = "text/plain"
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# The Files API (file_id sources) is a beta: https://docs.anthropic.com/en/docs/build-with-claude/files
FILES_BETA = "files-api-2025-04-14"


class Conversation:
    """The translated conversation: Anthropic's `system` blocks and `messages` turns."""

    __slots__ = ("messages", "system")

    def __init__(self) -> None:
        self.system: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []


def convert_messages(messages: list[dict[str, Any]]) -> Conversation:
    """Translate OpenAI messages; a message or content part Anthropic cannot take is a BadRequestError."""
    conversation = Conversation()
    for i, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            conversation.system += _with_cache_control(_text_blocks(message.get("content"), i), message)
        elif role == "user":
            _append(conversation, "user", _user_blocks(message, i))
        elif role == "assistant":
            _append(conversation, "assistant", _assistant_blocks(message, i))
        elif role == "tool":
            _append(conversation, "user", [_tool_result(message, i)])
        elif role == "function":
            raise _invalid(i, "the legacy 'function' role has no Anthropic equivalent: use tools and 'tool' "
                              "messages with tool_call_id")
        else:
            raise _invalid(i, f"unknown role {role!r}")
    _trim_prefill(conversation.messages)
    return conversation


def _append(conversation: Conversation, role: str, blocks: list[dict[str, Any]]) -> None:
    turns = conversation.messages
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"] += blocks
    else:
        turns.append({"role": role, "content": blocks})


def _trim_prefill(turns: list[dict[str, Any]]) -> None:
    """A final assistant turn is a prefill Anthropic continues, and it rejects one ending in whitespace
    ("final assistant content cannot end with trailing whitespace")."""
    if not turns or turns[-1]["role"] != "assistant":
        return
    blocks = turns[-1]["content"]
    if blocks and blocks[-1].get("type") == "text":
        blocks[-1]["text"] = blocks[-1]["text"].rstrip()


def _with_cache_control(blocks: list[dict[str, Any]], message: dict[str, Any]) -> list[dict[str, Any]]:
    """LiteLLM lets a whole message carry `cache_control`: it marks the message's last block (the cache
    breakpoint covers everything up to it)."""
    marker = message.get("cache_control")
    if marker is not None and blocks:
        blocks[-1] = {**blocks[-1], "cache_control": marker}
    return blocks


def _text_blocks(content: Any, i: int) -> list[dict[str, Any]]:
    """A system or assistant message's content: a string, or a list of text parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise _invalid(i, "content must be a string or a list of content parts")
    blocks = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.append(_text_part(part))
        elif kind == "refusal":  # an assistant's earlier refusal, sent back as what it said
            blocks.append({"type": "text", "text": part.get("refusal", "")})
        else:
            raise _invalid(i, f"content part type {kind!r} is not supported in this message for Anthropic")
    return blocks


def _text_part(part: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": part.get("text", "")}
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def betas(messages: list[dict[str, Any]]) -> list[str]:
    """The `anthropic-beta` features the messages' content needs: the Files API for a file_id document."""
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            file = part.get("file") if isinstance(part, dict) and part.get("type") == "file" else None
            file_id = file.get("file_id") if isinstance(file, dict) and not file.get("file_data") else None
            if isinstance(file_id, str) and file_id and not _is_url(file_id):
                return [FILES_BETA]
    return []


def _is_url(value: str) -> bool:
    return value[:8].lower().startswith(("http://", "https://"))


def _user_blocks(message: dict[str, Any], i: int) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        blocks = [{"type": "text", "text": content}]
    elif isinstance(content, list):
        blocks = [_user_part(part, i) for part in content]
    else:
        raise _invalid(i, "content must be a string or a list of content parts")
    return _with_cache_control(blocks, message)


def _user_part(part: Any, i: int) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return _text_part(part)
    if kind == "image_url":
        block = _image(part.get("image_url"), i)
    elif kind == "file":
        block = _file(part.get("file"), i)
    elif kind == "input_audio":
        raise _invalid(i, "Anthropic's models cannot take audio input (content part 'input_audio')")
    else:
        raise _invalid(i, f"unknown content part type {kind!r}")
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def _image(image: Any, i: int) -> dict[str, Any]:
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise _invalid(i, "an image_url part needs image_url.url")
    if url.startswith("data:"):
        media_type, data = _data_url(url, i)
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    if _is_url(url):
        # Anthropic fetches URL images itself: https://docs.anthropic.com/en/docs/build-with-claude/vision
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise _invalid(i, "an image URL must be a data: URL or an http(s) URL")


def _file(file: Any, i: int) -> dict[str, Any]:
    """An OpenAI `file` part: inline data (PDF, plain text or an image) or a file id / URL."""
    if not isinstance(file, dict):
        raise _invalid(i, "a file part needs a 'file' object with file_data or file_id")
    if isinstance(file.get("file_data"), str):
        media_type, data = _data_url(file["file_data"], i)
        if media_type == _PDF:
            return {"type": "document", "source": {"type": "base64", "media_type": _PDF, "data": data}}
        if media_type == _TEXT:
            text = base64.b64decode(data).decode("utf-8", "replace")
            return {"type": "document", "source": {"type": "text", "media_type": _TEXT, "data": text}}
        if media_type in _IMAGE_TYPES:
            return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
        raise _invalid(i, f"Anthropic cannot take files of type {media_type!r} (PDF, plain text and images only)")
    file_id = file.get("file_id")
    if isinstance(file_id, str) and file_id:
        if _is_url(file_id):  # LiteLLM's "a URL as the file id"
            return {"type": "document", "source": {"type": "url", "url": file_id}}
        return {"type": "document", "source": {"type": "file", "file_id": file_id}}
    raise _invalid(i, "a file part needs file.file_data (a data: URL) or file.file_id")


def _data_url(url: str, i: int) -> tuple[str, str]:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL."""
    header, sep, data = url.partition(",")
    media_type, _, encoding = header.removeprefix("data:").partition(";")
    if not sep or encoding != "base64" or not media_type:
        raise _invalid(i, "a data: URL must be of the form data:<media type>;base64,<data>")
    return media_type.lower(), data


def _assistant_blocks(message: dict[str, Any], i: int) -> list[dict[str, Any]]:
    # Thinking blocks go first, unchanged (signature included): Anthropic checks them when a turn with tool use
    # continues (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#preserving-thinking-blocks).
    blocks = [_thinking_block(block, i) for block in message.get("thinking_blocks") or ()]
    blocks += _text_blocks(message.get("content"), i)
    for call in message.get("tool_calls") or ():
        blocks.append(_tool_use(call, i))
    return _with_cache_control(blocks, message)


def _thinking_block(block: Any, i: int) -> dict[str, Any]:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "thinking":
        return {"type": "thinking", "thinking": block.get("thinking", ""), "signature": block.get("signature", "")}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.get("data", "")}
    raise _invalid(i, f"thinking_blocks entries must be 'thinking' or 'redacted_thinking', not {kind!r}")


def _tool_use(call: Any, i: int) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not call.get("id"):
        raise _invalid(i, "each tool call needs an id and a function")
    arguments = function.get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        raise _invalid(i, f"the arguments of tool call {call['id']} are not valid JSON: Anthropic takes "
                          "tool input as a JSON object") from None
    if not isinstance(parsed, dict):
        raise _invalid(i, f"the arguments of tool call {call['id']} must be a JSON object")
    return {"type": "tool_use", "id": call["id"], "name": function.get("name", ""), "input": parsed}


def _tool_result(message: dict[str, Any], i: int) -> dict[str, Any]:
    if not message.get("tool_call_id"):
        raise _invalid(i, "a tool message needs tool_call_id")
    content = message.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message["tool_call_id"]}
    if isinstance(content, list):  # text and images may both come back from a tool
        block["content"] = [_user_part(part, i) for part in content]
    else:
        block["content"] = "" if content is None else str(content)
    return _with_cache_control([block], message)[0]


def _invalid(i: int, reason: str) -> BadRequestError:
    return BadRequestError(f"messages[{i}]: {reason}", provider="anthropic", param=f"messages[{i}]")
