"""A GenerateContentResponse (https://ai.google.dev/api/generate-content#generatecontentresponse) → an OpenAI
chat.completion, and the pieces the stream parser shares: finish reasons, usage, tool call ids, logprobs.

Where things go:
- `thought: true` text parts → `message.reasoning_content`; with their signatures → `message.thinking_blocks`;
- a thoughtSignature on a functionCall part → the tool call's `provider_specific_fields.thought_signature`
  and, after `__thought__`, its id (so a client that echoes only the id still sends it back);
- a thoughtSignature on a text part → `message.provider_specific_fields.thought_signature`;
- Gemini's own finish reason, when it is not STOP, → `message.provider_specific_fields.finish_reason`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from sluicegate.errors import APIError, ContentPolicyViolationError
from sluicegate.providers.base import Call, Headers
from sluicegate.providers.gemini.contents import SIGNATURE_MARK

_FILTERED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
                       "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"})


def load_json(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise APIError(f"{call.provider} returned a {status} response that is not JSON: {body[:200]!r}",
                       provider=call.provider, model=call.model, status_code=502, headers=headers)
    return data


def parse_response(call: Call, status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    """The OpenAI chat.completion for a generateContent answer (raises for a blocked prompt)."""
    data = load_json(call, status, headers, body)
    check_prompt_feedback(call, data, headers)
    choices = []
    for position, candidate in enumerate(data.get("candidates") or ()):
        index = candidate.get("index", position)
        message: dict[str, Any] = {"role": "assistant", "content": None}
        has_calls = add_parts(message, (candidate.get("content") or {}).get("parts") or ())
        reason = candidate.get("finishReason")
        if reason and reason != "STOP":
            message.setdefault("provider_specific_fields", {})["finish_reason"] = reason
        choice: dict[str, Any] = {"index": index, "message": message,
                                  "finish_reason": finish_reason(reason, has_calls) or "stop",
                                  "logprobs": logprobs(candidate)}
        choices.append(choice)
    return {"id": response_id(data), "object": "chat.completion", "created": int(time.time()),
            "model": data.get("modelVersion") or call.model, "choices": choices,
            "usage": usage(data.get("usageMetadata") or {})}


def check_prompt_feedback(call: Call, data: dict[str, Any], headers: Headers) -> None:
    """A prompt Gemini refused comes back as 200 with promptFeedback.blockReason and no candidates."""
    feedback = data.get("promptFeedback") or {}
    reason = feedback.get("blockReason")
    if reason and not data.get("candidates"):
        detail = feedback.get("blockReasonMessage") or ""
        message = f"Gemini blocked the prompt ({reason})" + (f": {detail}" if detail else "")
        raise ContentPolicyViolationError(message, provider=call.provider, model=call.model, status_code=400,
                                          headers=headers, body=data, code=str(reason))


def add_parts(message: dict[str, Any], parts: Any) -> bool:
    """Fold Gemini parts into an OpenAI message (or stream delta); True when a function call was among them."""
    has_calls = False
    for part in parts:
        signature = part.get("thoughtSignature")
        if "functionCall" in part:
            message.setdefault("tool_calls", []).append(tool_call(part["functionCall"], signature))
            has_calls = True
        elif part.get("thought"):
            text = part.get("text") or ""
            if text:
                message["reasoning_content"] = (message.get("reasoning_content") or "") + text
            if signature:
                message.setdefault("thinking_blocks", []).append(
                    {"type": "thinking", "thinking": text, "signature": signature})
        elif "text" in part:
            message["content"] = (message.get("content") or "") + part["text"]
            if signature:
                message.setdefault("provider_specific_fields", {})["thought_signature"] = signature
        elif signature:  # an empty part that only carries the signature (Gemini 3 streams end this way)
            message.setdefault("provider_specific_fields", {})["thought_signature"] = signature
    return has_calls


def tool_call(function_call: dict[str, Any], signature: str | None) -> dict[str, Any]:
    """An OpenAI tool call for a Gemini functionCall: Gemini's id when it sent one, else a fresh one."""
    call_id = function_call.get("id") or "call_" + uuid.uuid4().hex[:24]
    call: dict[str, Any] = {"id": call_id, "type": "function",
                            "function": {"name": function_call.get("name", ""),
                                         "arguments": orjson.dumps(function_call.get("args") or {}).decode()}}
    if signature:
        call["id"] = f"{call_id}{SIGNATURE_MARK}{signature}"
        call["provider_specific_fields"] = {"thought_signature": signature}
    return call


def finish_reason(reason: str | None, has_calls: bool) -> str | None:
    """OpenAI's finish_reason for Gemini's (https://ai.google.dev/api/generate-content#FinishReason)."""
    if reason is None:
        return None
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _FILTERED:
        return "content_filter"
    return "tool_calls" if has_calls else "stop"


def usage(metadata: dict[str, Any]) -> dict[str, Any]:
    """OpenAI usage from usageMetadata (https://ai.google.dev/api/generate-content#UsageMetadata).

    promptTokenCount already includes cachedContentTokenCount; tool-use prompt tokens (code execution, search
    results) are input too. Thinking tokens are output: completion = candidates + thoughts.
    """
    cached = metadata.get("cachedContentTokenCount") or 0
    prompt = (metadata.get("promptTokenCount") or 0) + (metadata.get("toolUsePromptTokenCount") or 0)
    thoughts = metadata.get("thoughtsTokenCount") or 0
    completion = (metadata.get("candidatesTokenCount") or 0) + thoughts
    prompt_details: dict[str, Any] = {"cached_tokens": cached}
    audio = sum(d.get("tokenCount") or 0 for d in metadata.get("promptTokensDetails") or ()
                if d.get("modality") == "AUDIO")
    if audio:
        prompt_details["audio_tokens"] = audio
    out: dict[str, Any] = {
        "prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": metadata.get("totalTokenCount") or prompt + completion,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }
    if cached:
        out["cache_read_input_tokens"] = cached
    return out


def logprobs(candidate: dict[str, Any]) -> dict[str, Any] | None:
    """OpenAI's logprobs.content from logprobsResult (chosen token and its top alternatives, step by step)."""
    result = candidate.get("logprobsResult")
    if not result:
        return None
    tops = result.get("topCandidates") or []
    content = []
    for step, chosen in enumerate(result.get("chosenCandidates") or ()):
        alternatives = tops[step].get("candidates") or [] if step < len(tops) else []
        content.append({**_token(chosen), "top_logprobs": [_token(a) for a in alternatives]})
    return {"content": content}


def _token(entry: dict[str, Any]) -> dict[str, Any]:
    token = entry.get("token") or ""
    return {"token": token, "logprob": entry.get("logProbability", 0.0), "bytes": list(token.encode())}


def response_id(data: dict[str, Any]) -> str:
    found = data.get("responseId")
    return f"chatcmpl-{found}" if found else "chatcmpl-" + uuid.uuid4().hex
