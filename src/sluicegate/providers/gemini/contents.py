"""OpenAI chat messages → Gemini `contents` and `systemInstruction` (https://ai.google.dev/api/caching#Content).

- system and developer messages, wherever they stand, become the one `systemInstruction` (text parts only);
- user → role "user", assistant → role "model"; tool (and legacy function) results → `functionResponse` parts in
  a "user" turn, their function name looked up from the assistant tool call they answer;
- consecutive turns of the same role are merged into one Content (parallel tool results must share one turn);
- `name` fields are dropped: Gemini's Content has no speaker field;
- thought signatures travel back on the part they came with (see response.py for where they are kept).
"""

from __future__ import annotations

import mimetypes
import re
from typing import Any

import orjson

from sluicegate.errors import BadRequestError

# Tool call ids we made up (Gemini gave none) look like this; they are never sent back as Gemini ids.
GENERATED_ID = re.compile(r"^call_[0-9a-f]{24}$")
# A thought signature rides on the OpenAI tool call id after this marker, so it survives clients (the OpenAI SDK
# through the gateway) that echo back only id, name and arguments. LiteLLM encodes it the same way.
SIGNATURE_MARK = "__thought__"
_DATA_URL = re.compile(r"^data:(?P<type>[^;,]+)?(?P<params>(;[^;,]*)*?);base64,(?P<data>.*)$", re.S)
# Gemini takes these audio types (https://ai.google.dev/gemini-api/docs/audio#supported-formats).
_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mp3", "aiff": "audio/aiff", "aac": "audio/aac",
                "ogg": "audio/ogg", "flac": "audio/flac", "pcm16": "audio/pcm"}


def build_contents(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(contents, systemInstruction or None) for OpenAI chat messages."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system += [{"text": text} for text in _texts(message.get("content"), f"messages[{index}]")]
            continue
        if role == "user":
            turn = ("user", _user_parts(message.get("content"), f"messages[{index}]"))
        elif role == "assistant":
            turn = ("model", _model_parts(message, call_names, f"messages[{index}]"))
        elif role in ("tool", "function"):
            turn = ("user", [_function_response(message, call_names, f"messages[{index}]")])
        else:
            raise BadRequestError(f"messages[{index}] has role {role!r}, which Gemini cannot take",
                                  param=f"messages[{index}].role")
        _append(contents, *turn)
    instruction = {"parts": system} if system else None
    return contents, instruction


def _append(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"] += parts
    else:
        contents.append({"role": role, "parts": parts})


def _texts(content: Any, where: str) -> list[str]:
    """The text of a system/developer/tool message: a string or a list of text parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content] if content else []
    if isinstance(content, list):
        out = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise BadRequestError(f"{where}.content[{i}] is a {kind!r} part; only text parts are allowed here",
                                      param=f"{where}.content")
            if part.get("text"):
                out.append(part["text"])
        return out
    raise BadRequestError(f"{where}.content must be a string or a list of parts", param=f"{where}.content")


def _user_parts(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None or isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequestError(f"{where}.content must be a string or a list of parts", param=f"{where}.content")
    return [content_part(part, f"{where}.content[{i}]") for i, part in enumerate(content)]


def content_part(part: Any, where: str) -> dict[str, Any]:
    """One OpenAI content part → one Gemini Part. Unknown part types are an error, never skipped."""
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"text": part.get("text") or ""}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        fmt = image.get("format") if isinstance(image, dict) else None
        return media_part(url, fmt, where)
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        fmt = str(audio.get("format") or "").lower()
        if fmt not in _AUDIO_TYPES or not audio.get("data"):
            raise BadRequestError(f"{where}: input_audio needs base64 data and a format Gemini takes "
                                  f"({', '.join(_AUDIO_TYPES)}), not {fmt or 'none'!r}", param=where)
        return {"inlineData": {"mimeType": _AUDIO_TYPES[fmt], "data": audio["data"]}}
    if kind == "file":
        file = part.get("file") or {}
        url = file.get("file_data") or file.get("file_id")
        if not url:
            raise BadRequestError(f"{where}: a file part needs file.file_data or file.file_id", param=where)
        return media_part(url, file.get("format"), where)
    raise BadRequestError(f"{where} is a {kind!r} content part, which Gemini cannot take", param=where)


def media_part(url: Any, mime_type: str | None, where: str) -> dict[str, Any]:
    """A data: URL → inlineData; a gs:// or https URI (Files API, YouTube) → fileData with a guessed type."""
    if not isinstance(url, str) or not url:
        raise BadRequestError(f"{where}: the image or file URL is missing", param=where)
    if url.startswith("data:"):
        match = _DATA_URL.match(url)
        if match is None:
            raise BadRequestError(f"{where}: only base64 data: URLs can be sent to Gemini", param=where)
        return {"inlineData": {"mimeType": mime_type or match["type"] or "application/octet-stream",
                               "data": match["data"]}}
    if url.startswith(("gs://", "https://", "http://")):
        guessed = mime_type or mimetypes.guess_type(url.split("?", 1)[0])[0]
        file_data = {"fileUri": url}
        if guessed:
            file_data["mimeType"] = guessed
        return {"fileData": file_data}
    raise BadRequestError(f"{where}: {url[:60]!r} is neither a data: URL nor a gs:// or https URI", param=where)


def _model_parts(message: dict[str, Any], call_names: dict[str, str], where: str) -> list[dict[str, Any]]:
    """An assistant turn: its thinking blocks, text and tool calls, each with the signature it came with."""
    parts: list[dict[str, Any]] = []
    for block in message.get("thinking_blocks") or ():
        if isinstance(block, dict) and block.get("type") == "thinking":
            thought: dict[str, Any] = {"text": block.get("thinking") or "", "thought": True}
            if block.get("signature"):
                thought["thoughtSignature"] = block["signature"]
            parts.append(thought)
    extras = message.get("provider_specific_fields") or {}
    for i, text in enumerate(_texts(message.get("content"), where)):
        part: dict[str, Any] = {"text": text}
        if i == 0 and extras.get("thought_signature"):
            part["thoughtSignature"] = extras["thought_signature"]
        parts.append(part)
    for i, call in enumerate(message.get("tool_calls") or ()):
        parts.append(_function_call(call, call_names, f"{where}.tool_calls[{i}]"))
    if message.get("function_call"):  # OpenAI's deprecated single-call field
        legacy = {"id": "", "function": message["function_call"]}
        parts.append(_function_call(legacy, call_names, f"{where}.function_call"))
    return parts


def _function_call(call: dict[str, Any], call_names: dict[str, str], where: str) -> dict[str, Any]:
    function = call.get("function") or {}
    name = function.get("name")
    if not name:
        raise BadRequestError(f"{where} has no function name", param=where)
    call_id = str(call.get("id") or "")
    call_names[call_id] = name
    gemini_id, _, signature = call_id.partition(SIGNATURE_MARK)
    signature = (call.get("provider_specific_fields") or {}).get("thought_signature") or signature
    function_call: dict[str, Any] = {"name": name, "args": _arguments(function.get("arguments"), where)}
    if gemini_id and not GENERATED_ID.match(gemini_id):
        function_call["id"] = gemini_id
    part: dict[str, Any] = {"functionCall": function_call}
    if signature:
        part["thoughtSignature"] = signature
    return part


def _arguments(arguments: Any, where: str) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise BadRequestError(f"{where}.function.arguments is not valid JSON", param=where) from None
    if not isinstance(parsed, dict):
        raise BadRequestError(f"{where}.function.arguments must be a JSON object", param=where)
    return parsed


def _function_response(message: dict[str, Any], call_names: dict[str, str], where: str) -> dict[str, Any]:
    call_id = str(message.get("tool_call_id") or "")
    name = call_names.get(call_id) or message.get("name")
    if not name:
        raise BadRequestError(f"{where} answers tool call {call_id!r}, which no earlier assistant message made "
                              "(Gemini needs the function's name)", param=f"{where}.tool_call_id")
    text = "".join(_texts(message.get("content"), where))
    response: dict[str, Any] = {"name": name, "response": _response_object(text)}
    gemini_id = call_id.partition(SIGNATURE_MARK)[0]
    if gemini_id and not GENERATED_ID.match(gemini_id):
        response["id"] = gemini_id
    return {"functionResponse": response}


def _response_object(text: str) -> dict[str, Any]:
    """Gemini wants an object: a JSON object result is sent as is, anything else as {"output": …}.

    (FunctionResponse.response: "Use 'output' key to specify function output and 'error' key to specify error
    details", https://ai.google.dev/api/caching#FunctionResponse.)
    """
    try:
        parsed = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    return {"output": text}
