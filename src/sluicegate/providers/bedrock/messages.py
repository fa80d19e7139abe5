"""OpenAI chat messages → Converse `system` blocks and `messages` (https://docs.aws.amazon.com/bedrock/latest/
APIReference/API_runtime_Message.html).

- system and developer messages, wherever they sit, become `system` text blocks in order (Converse has one
  system prompt, outside the turns);
- tool results become `toolResult` blocks in a user turn; consecutive turns of the same role are merged, since
  Converse requires user and assistant to alternate (parallel tool results land in one user turn, as required);
- Converse requires the first turn to be the user's: a conversation that opens with the assistant gets a
  one-character user turn (".") before it, rather than an error the caller cannot act on;
- a final assistant turn is sent as is: the model continues it (prefill);
- `name` on a message has no Converse field and is not sent (the tool name of a tool result is implied by its
  toolUseId);
- `cache_control` on a content part (or a whole message) adds a `cachePoint` block after it;
- assistant `thinking_blocks` (from an earlier answer) go back first in their turn as `reasoningContent`, with
  their signatures, as Anthropic models require when tools are used with extended thinking.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson

from sluicegate.errors import BadRequestError

CACHE_POINT = {"cachePoint": {"type": "default"}}
_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                  "image/webp": "webp"}
_DOCUMENT_FORMATS = {
    "application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html", "text/plain": "txt", "text/markdown": "md",
}
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?:;[^,;]*)*;base64,(?P<data>.*)$", re.S)
# A document name may hold letters, digits, single spaces, hyphens, parentheses and square brackets
# (API_runtime_DocumentBlock.html); anything else is replaced.
_NAME_BAD = re.compile(r"[^A-Za-z0-9 \-()\[\]]+")


def _bad(message: str, param: str = "messages") -> BadRequestError:
    return BadRequestError(message, provider="bedrock", param=param)


def has_tool_blocks(messages: list[dict[str, Any]]) -> bool:
    return any(m.get("role") == "tool" or m.get("tool_calls") for m in messages)


def convert(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, Converse messages) for OpenAI messages."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    documents = _Names()
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system += _system_blocks(message)
            continue
        if role == "user":
            blocks, turn_role = _user_blocks(message, documents), "user"
        elif role == "assistant":
            blocks, turn_role = _assistant_blocks(message), "assistant"
        elif role == "tool":
            blocks, turn_role = [_tool_result(message, index)], "user"
        else:
            raise _bad(f"messages[{index}] has role {role!r}, which Bedrock's Converse API cannot take")
        if message.get("cache_control") and blocks:
            blocks.append(dict(CACHE_POINT))
        if not blocks:
            continue
        if turns and turns[-1]["role"] == turn_role:
            turns[-1]["content"] += blocks
        else:
            turns.append({"role": turn_role, "content": blocks})
    if turns and turns[0]["role"] == "assistant":
        turns.insert(0, {"role": "user", "content": [{"text": "."}]})
    return system, turns


def _text_parts(content: Any, where: str) -> list[dict[str, Any]]:
    """Text-only content (system messages) as Converse text blocks with cache points."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in _parts(content, where):
        if part.get("type") != "text":
            raise _bad(f"{where} can only hold text parts on Bedrock, not {part.get('type')!r}")
        if part.get("text"):
            blocks.append({"text": part["text"]})
        if part.get("cache_control"):
            blocks.append(dict(CACHE_POINT))
    return blocks


def _system_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = _text_parts(message.get("content"), "a system message")
    if message.get("cache_control") and blocks:
        blocks.append(dict(CACHE_POINT))
    return blocks


def _parts(content: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(content, list) or not all(isinstance(part, dict) for part in content):
        raise _bad(f"the content of {where} must be a string or a list of content parts")
    return content


def _user_blocks(message: dict[str, Any], documents: _Names) -> list[dict[str, Any]]:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in _parts(content, "a user message"):
        blocks += _user_part(part, documents)
        if part.get("cache_control"):
            blocks.append(dict(CACHE_POINT))
    return blocks


def _user_part(part: dict[str, Any], documents: _Names) -> list[dict[str, Any]]:
    kind = part.get("type")
    if kind == "text":
        return [{"text": part["text"]}] if part.get("text") else []
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return [media_block(str(url or ""), None, documents)]
    if kind == "file":
        file = part.get("file") or {}
        data = file.get("file_data") or file.get("file_id")
        if not data:
            raise _bad("a file part needs file.file_data (a data: URL) or an s3:// file_id")
        return [media_block(str(data), file.get("filename"), documents, file.get("format"))]
    if kind in ("input_audio", "audio", "video_url"):
        raise _bad(f"Bedrock's Converse API cannot take {kind!r} content parts")
    raise _bad(f"unknown content part type {kind!r}")


def media_block(url: str, filename: str | None, documents: _Names | None = None,
                declared_type: str | None = None) -> dict[str, Any]:
    """An image or document block from a data: URL (or an s3:// URI, which Bedrock reads itself)."""
    if url.startswith("s3://"):
        media_type = declared_type or _guess_type(filename or url)
        source: dict[str, Any] = {"s3Location": {"uri": url}}
    else:
        match = _DATA_URL.match(url)
        if match is None:
            shown = url[:60] + ("…" if len(url) > 60 else "")
            raise _bad(f"Bedrock needs images and files inline (a base64 data: URL or an s3:// URI), not {shown}")
        media_type = match["type"].lower()
        try:
            base64.b64decode(match["data"], validate=True)
        except (binascii.Error, ValueError) as error:
            raise _bad("an image or file data: URL does not hold valid base64") from error
        source = {"bytes": match["data"]}  # a blob travels as base64 in Converse's JSON
    if media_type in _IMAGE_FORMATS:
        return {"image": {"format": _IMAGE_FORMATS[media_type], "source": source}}
    if media_type in _DOCUMENT_FORMATS:
        name = (documents or _Names()).name(filename)
        return {"document": {"format": _DOCUMENT_FORMATS[media_type], "name": name, "source": source}}
    raise _bad(f"Bedrock's Converse API cannot take {media_type} content (images: png, jpeg, gif, webp; "
               "documents: pdf, csv, doc, docx, xls, xlsx, html, txt, md)")


def _guess_type(name: str) -> str:
    extension = name.rsplit(".", 1)[-1].lower()
    by_extension = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "md": "text/markdown", "txt": "text/plain"}
    if extension in by_extension:
        return by_extension[extension]
    for media_type, short in {**_IMAGE_FORMATS, **_DOCUMENT_FORMATS}.items():
        if short == extension:
            return media_type
    return "application/octet-stream"


class _Names:
    """Document names: unique within a request, in the character set Converse allows."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def name(self, filename: str | None) -> str:
        stem = (filename or "").rsplit(".", 1)[0] if filename and "." in filename else (filename or "")
        base = " ".join(_NAME_BAD.sub("-", stem).split())[:200] or "document"
        name, counter = base, 1
        while name in self._used:
            counter += 1
            name = f"{base} ({counter})"
        self._used.add(name)
        return name


def _assistant_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [reasoning_block(block) for block in message.get("thinking_blocks") or []]
    content = message.get("content")
    if isinstance(content, str):
        if content:
            blocks.append({"text": content})
    elif content is not None:
        for part in _parts(content, "an assistant message"):
            kind = part.get("type")
            if kind == "text" and part.get("text"):
                blocks.append({"text": part["text"]})
            elif kind in ("thinking", "redacted_thinking"):
                blocks.append(reasoning_block(part))
            elif kind not in ("text", "refusal"):
                raise _bad(f"an assistant message cannot hold {kind!r} parts on Bedrock")
            if part.get("cache_control"):
                blocks.append(dict(CACHE_POINT))
    for call in message.get("tool_calls") or []:
        blocks.append({"toolUse": _tool_use(call)})
    return blocks


def reasoning_block(block: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic-style thinking block (LiteLLM's `thinking_blocks`) as a Converse reasoningContent block."""
    if block.get("type") == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": block.get("data", "")}}
    text: dict[str, Any] = {"text": block.get("thinking", "")}
    if block.get("signature"):
        text["signature"] = block["signature"]
    return {"reasoningContent": {"reasoningText": text}}


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError as error:
        raise _bad(f"tool call {call.get('id')!r} has arguments that are not JSON: {arguments[:80]!r}") from error
    return {"toolUseId": call.get("id"), "name": function.get("name"), "input": parsed}


def _tool_result(message: dict[str, Any], index: int) -> dict[str, Any]:
    if not message.get("tool_call_id"):
        raise _bad(f"messages[{index}] is a tool result without tool_call_id")
    content = message.get("content")
    blocks: list[dict[str, Any]] = []
    if isinstance(content, str) or content is None:
        blocks = [{"text": content or ""}]
    else:
        for part in _parts(content, "a tool message"):
            if part.get("type") == "text":
                blocks.append({"text": part.get("text", "")})
            elif part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                blocks.append(media_block(str(url or ""), None))
            else:
                raise _bad(f"a tool result cannot hold {part.get('type')!r} parts on Bedrock")
    return {"toolResult": {"toolUseId": message["tool_call_id"], "content": blocks}}
