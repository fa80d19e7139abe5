"""A local Google AI Studio Gemini API for tests: real wire formats, deterministic answers, faults.

Checked against the official `google-genai` SDK in `test_gemini_simulator.py`; wire shapes pinned in
`tests/fixtures/gemini/`. Not a model: it validates what the real API rejects in ways tests rely on.

Routes (under /v1beta, key in `x-goog-api-key` or `?key=`): POST models/{model}:generateContent,
:streamGenerateContent (`?alt=sse`: one `data: {GenerateContentResponse}` event per piece, CRLF-framed as Google
sends them), :batchEmbedContents, :embedContent. A missing key → 403 PERMISSION_DENIED ("unregistered callers"),
a wrong one → 400 INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID, as Google answers. Unknown body fields
(top level, generationConfig, tools, Schema) → 400 'Invalid JSON payload received. Unknown name "x"'.

Answers: "Hello from the simulator. You said: <text of the last user turn>"; after functionResponse parts: "Hello
from the simulator. The tool said: <each response's `output` (or its JSON) joined by ' | '>". Functions are called
when declared, the mode is not NONE and the last turn is user text: the allowedFunctionNames' first, else the
first declaration, or the first two when ≥ 2 are declared (Gemini has no switch against parallel calls).
Arguments come from the Gemini Schema's required properties (enum → first, STRING → "example", NUMBER/INTEGER →
1, BOOLEAN → true). responseSchema content is an example of the schema; application/json alone is
{"reply": text}. includeThoughts adds a thought part "Thinking about: <text>" and a thoughtSignature on the first
functionCall part (else on the text part); a later request that sends a functionCall back without its signature
while thinking is on → 400, as Gemini 3 does. Tokens are words: prompt = Σ(3 + words) per content; candidates =
words of the answer; maxOutputTokens truncates (MAX_TOKENS). Streams send one word per event, function calls
whole, usageMetadata on every event. Embeddings: unit vectors seeded by SHA-256 of the text (768 dims, 3072 for
gemini-embedding-001, or outputDimensionality).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import uuid
from typing import Any

from aiohttp import web

from tests.simulators.server import RecordedRequest, Script, SimulatorServer, lowered

_PREFIX = "Hello from the simulator. You said: "
_TOOL_PREFIX = "Hello from the simulator. The tool said: "
_TOP_LEVEL = {"contents", "tools", "toolConfig", "safetySettings", "systemInstruction", "generationConfig",
              "cachedContent", "labels", "model"}
_GENERATION = {"stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema", "responseModalities",
               "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed", "presencePenalty",
               "frequencyPenalty", "responseLogprobs", "logprobs", "enableEnhancedCivicAnswers", "speechConfig",
               "thinkingConfig", "imageConfig", "mediaResolution"}
_SCHEMA = {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
           "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
           "propertyOrdering", "default", "items", "minimum", "maximum"}
_TOOL = {"functionDeclarations", "googleSearch", "googleSearchRetrieval", "codeExecution", "urlContext"}
_PART = {"text", "inlineData", "fileData", "functionCall", "functionResponse", "thought", "thoughtSignature",
         "executableCode", "codeExecutionResult", "videoMetadata"}
_PATH = re.compile(r"^/v1beta/(?P<model>(?:models|tunedModels)/[^:/]+):(?P<method>[A-Za-z]+)$")
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_DEFAULT_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
         "valid authentication credential.",
    403: "The caller does not have permission",
    404: "models/unknown-model is not found for API version v1beta, or is not supported for generateContent. "
         "Call ListModels to see the list of available models and their supported methods.",
    429: "You exceeded your current quota, please check your plan and billing details.",
    500: "An internal error has occurred. Please retry or report in "
         "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "The request timed out. Please try again.",
}


class SimError(Exception):
    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.body = status, error_body(status, message, details)


def error_body(status: int, message: str | None = None, details: list[dict[str, Any]] | None = None
               ) -> dict[str, Any]:
    """Google's error body: {"error": {"code", "message", "status", "details"?}}."""
    error: dict[str, Any] = {"code": status, "message": message or _DEFAULT_MESSAGES.get(status, "Error"),
                             "status": STATUS_NAMES.get(status, "UNKNOWN")}
    if details is None and status == 429:
        details = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
            {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
             "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]
    if details:
        error["details"] = details
    return {"error": error}


def invalid_key_body() -> dict[str, Any]:
    return error_body(400, "API key not valid. Please pass a valid API key.", [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
         "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}])


def _words(text: str) -> list[str]:
    return re.findall(r"\s*\S+", text)


def _count(text: str) -> int:
    return len(text.split())


def _unknown(obj: Any, allowed: set[str], where: str) -> None:
    if isinstance(obj, dict):
        for key in obj:
            if key not in allowed:
                raise SimError(400, f'Invalid JSON payload received. Unknown name "{key}" at \'{where}\': '
                                    "Cannot find field.")


def _check_schema(schema: Any, where: str) -> None:
    _unknown(schema, _SCHEMA, where)
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "OBJECT" and schema.get("properties") == {}:
        raise SimError(400, f"* GenerateContentRequest.{where}.properties: should be non-empty for OBJECT type")
    for name, sub in (schema.get("properties") or {}).items():
        _check_schema(sub, f"{where}.properties[{name}].value")
    if "items" in schema:
        _check_schema(schema["items"], f"{where}.items")
    for i, sub in enumerate(schema.get("anyOf") or ()):
        _check_schema(sub, f"{where}.any_of[{i}]")


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _camel_keys(obj: Any, nested: tuple[str, ...] = ()) -> Any:
    """Proto3 JSON takes a field's snake_case name as well as its lowerCamelCase one (the SDK sends both kinds):
    rename to camelCase in place, then in the `nested` fields' objects (or lists of objects)."""
    if not isinstance(obj, dict):
        return obj
    for key in [k for k in obj if "_" in k]:
        obj[_camel(key)] = obj.pop(key)
    for key in nested:
        value = obj.get(key)
        for item in value if isinstance(value, list) else [value]:
            _camel_keys(item)
    return obj


def _camel_schema(schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    _camel_keys(schema)
    for sub in (schema.get("properties") or {}).values():
        _camel_schema(sub)
    _camel_schema(schema.get("items"))
    for sub in schema.get("anyOf") or ():
        _camel_schema(sub)


def normalise(body: dict[str, Any]) -> None:
    _camel_keys(body, ("toolConfig", "systemInstruction"))
    _camel_keys(body.get("generationConfig"), ("thinkingConfig",))
    _camel_keys(body.get("toolConfig") or {}, ("functionCallingConfig",))
    for content in [*(body.get("contents") or ()), body.get("systemInstruction")]:
        for part in (content or {}).get("parts") or ():
            _camel_keys(part, ("inlineData", "fileData", "functionCall", "functionResponse"))
    for tool in body.get("tools") or ():
        _camel_keys(tool, ("functionDeclarations",))
        for declaration in tool.get("functionDeclarations") or ():
            _camel_schema(declaration.get("parameters"))
    _camel_schema((body.get("generationConfig") or {}).get("responseSchema"))


def validate(body: Any) -> None:
    """What the real API rejects: unknown fields, bad roles, empty contents, malformed parts and schemas."""
    if not isinstance(body, dict):
        raise SimError(400, "Invalid JSON payload received. Unexpected token.")
    normalise(body)
    _unknown(body, _TOP_LEVEL, "")
    _unknown(body.get("generationConfig"), _GENERATION, "generation_config")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise SimError(400, "* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(contents):
        if content.get("role") not in ("user", "model"):
            raise SimError(400, f"Please use a valid role: user, model. (contents[{i}].role)")
        if not content.get("parts"):
            raise SimError(400, f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.")
        for j, part in enumerate(content["parts"]):
            _unknown(part, _PART, f"contents[{i}].parts[{j}]")
            inline = part.get("inlineData")
            if inline is not None and (not inline.get("mimeType") or not _is_base64(inline.get("data"))):
                raise SimError(400, f"Invalid value at 'contents[{i}].parts[{j}].inline_data.data' (TYPE_BYTES), "
                                    "Base64 decoding failed")
    for i, tool in enumerate(body.get("tools") or ()):
        _unknown(tool, _TOOL, f"tools[{i}]")
        for j, declaration in enumerate(tool.get("functionDeclarations") or ()):
            _unknown(declaration, {"name", "description", "parameters", "parametersJsonSchema", "response",
                                   "behavior"}, f"tools[{i}].function_declarations[{j}]")
            if "parameters" in declaration:
                _check_schema(declaration["parameters"], f"tools[{i}].function_declarations[{j}].parameters")
    schema = (body.get("generationConfig") or {}).get("responseSchema")
    if schema is not None:
        _check_schema(schema, "generation_config.response_schema")


def _is_base64(value: Any) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        return False
    return isinstance(value, str)


def _example(schema: Any, depth: int = 0) -> Any:
    if not isinstance(schema, dict) or depth > 10:
        return "example"
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("anyOf"):
        return _example(schema["anyOf"][0], depth + 1)
    kind = str(schema.get("type", "STRING")).upper()  # Schema says OBJECT, parametersJsonSchema says object
    if kind == "OBJECT":
        props = schema.get("properties") or {}
        return {name: _example(props.get(name), depth + 1) for name in schema.get("required") or ()}
    if kind == "ARRAY":
        return [_example(schema.get("items"), depth + 1)]
    return {"INTEGER": 1, "NUMBER": 1, "BOOLEAN": True, "NULL": None}.get(kind, "example")


def _chosen_calls(body: dict[str, Any]) -> list[dict[str, Any]]:
    declarations = [d for t in body.get("tools") or () for d in t.get("functionDeclarations") or ()]
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    last = body["contents"][-1]
    if (not declarations or config.get("mode") == "NONE" or last["role"] != "user"
            or not any("text" in p for p in last["parts"])):
        return []
    allowed = config.get("allowedFunctionNames")
    if allowed:
        declarations = [d for d in declarations if d["name"] in allowed] or [{"name": allowed[0]}]
        declarations = declarations[:1]
    return [{"name": d["name"], "args": _example(_parameters(d))} for d in declarations[:2]]


def _parameters(declaration: dict[str, Any]) -> dict[str, Any]:
    return declaration.get("parameters") or declaration.get("parametersJsonSchema") or {"type": "OBJECT"}


def _tool_result(response: Any) -> str:
    if isinstance(response, dict) and set(response) == {"output"} and isinstance(response["output"], str):
        return response["output"]
    return json.dumps(response, separators=(",", ":"))


def _answer_text(body: dict[str, Any]) -> str:
    last = body["contents"][-1]
    results = [_tool_result(p["functionResponse"].get("response")) for p in last["parts"] if "functionResponse" in p]
    if results:
        return _TOOL_PREFIX + " | ".join(results)
    user = next((c for c in reversed(body["contents"]) if c["role"] == "user"), {"parts": []})
    return _PREFIX + " ".join(p["text"] for p in user["parts"] if "text" in p)


def _check_signatures(body: dict[str, Any]) -> None:
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    if not thinking.get("includeThoughts"):
        return
    for content in body["contents"]:
        calls = [p for p in content["parts"] if "functionCall" in p]
        if content["role"] == "model" and calls and "thoughtSignature" not in calls[0]:
            name = calls[0]["functionCall"].get("name")
            raise SimError(400, "Function call is missing a thought_signature in functionCall parts. This is "
                                "required for tools to work correctly, and missing thought_signature may lead to "
                                f"degraded model performance. Additional data, function call `default_api:{name}`"
                                " , position 2. Please refer to https://ai.google.dev/gemini-api/docs/"
                                "thought-signatures for more details.")


def answer(body: dict[str, Any], model: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the parts of each candidate, usageMetadata) for a validated generateContent body."""
    config = body.get("generationConfig") or {}
    _check_signatures(body)
    text = _answer_text(body)
    calls = _chosen_calls(body)
    if config.get("responseSchema") is not None:
        text = json.dumps(_example(config["responseSchema"]), separators=(",", ":"))
    elif config.get("responseMimeType") == "application/json":
        text = json.dumps({"reply": text}, separators=(",", ":"))
    limit = config.get("maxOutputTokens")
    truncated = limit is not None and not calls and _count(text) > limit
    if truncated:
        text = "".join(_words(text)[:limit])
    parts: list[dict[str, Any]] = []
    thoughts = 0
    signature = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    if (config.get("thinkingConfig") or {}).get("includeThoughts"):
        thought = "Thinking about: " + text
        thoughts = _count(thought)
        parts.append({"text": thought, "thought": True})
    if calls:
        parts += [{"functionCall": call} for call in calls]
    else:
        parts.append({"text": text})
    if thoughts:
        parts[1]["thoughtSignature"] = signature
    completion = sum(_count(p.get("text", "")) for p in parts if not p.get("thought"))
    completion += sum(_count(c["name"]) + _count(json.dumps(c["args"])) for c in calls)
    n = config.get("candidateCount") or 1
    prompt = sum(3 + sum(_count(p.get("text", "")) for p in c["parts"]) for c in body["contents"])
    prompt += sum(_count(p.get("text", "")) for p in (body.get("systemInstruction") or {}).get("parts") or ())
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": completion * n,
             "totalTokenCount": prompt + (completion + thoughts) * n,
             "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts * n
    reason = "MAX_TOKENS" if truncated else "STOP"
    return [{"parts": parts, "finishReason": reason}] * n, usage


def _candidate(index: int, parts: list[dict[str, Any]], reason: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": index}
    if reason:
        candidate["finishReason"] = reason
    return candidate


def response_body(body: dict[str, Any], model: str) -> dict[str, Any]:
    candidates, usage = answer(body, model)
    return {"candidates": [_candidate(i, c["parts"], c["finishReason"]) for i, c in enumerate(candidates)],
            "usageMetadata": usage, "modelVersion": model, "responseId": _response_id()}


def stream_events(body: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """The GenerateContentResponse events of a stream: a word of text (or a whole call) each, usage on all."""
    candidates, usage = answer(body, model)
    response_id = _response_id()
    running = {k: v for k, v in usage.items() if k in ("promptTokenCount", "promptTokensDetails")}
    events = []
    for index, candidate in enumerate(candidates):
        pieces: list[dict[str, Any]] = []
        for part in candidate["parts"]:
            pieces += _split_part(part)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            events.append({"candidates": [_candidate(index, [piece], candidate["finishReason"] if last else None)],
                           "usageMetadata": usage if last and index == len(candidates) - 1 else running,
                           "modelVersion": model, "responseId": response_id})
    return events


def _split_part(part: dict[str, Any]) -> list[dict[str, Any]]:
    """A text part as one part per word; its thoughtSignature, if any, rides on the last word."""
    if "text" not in part:
        return [part]
    words = _words(part["text"]) or [""]
    bare = {k: v for k, v in part.items() if k != "thoughtSignature"}
    pieces = [{**bare, "text": word} for word in words]
    pieces[-1] = {**part, "text": words[-1]}
    return pieces


def embeddings(body: Any, model: str, *, batch: bool) -> dict[str, Any]:
    requests = body.get("requests") if batch and isinstance(body, dict) else [body]
    if not isinstance(requests, list) or not requests:
        raise SimError(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
    vectors = []
    for i, request in enumerate(requests):
        if batch and request.get("model") != model:
            raise SimError(400, f"Model name in request {i} ({request.get('model')}) does not match {model}.")
        texts = [p.get("text", "") for p in (request.get("content") or {}).get("parts") or ()]
        if not texts:
            raise SimError(400, f"* BatchEmbedContentsRequest.requests[{i}].content.parts: must not be empty")
        dims = request.get("outputDimensionality") or (3072 if "gemini-embedding" in model else 768)
        vectors.append({"values": _vector(" ".join(texts), int(dims))})
    return {"embeddings": vectors} if batch else {"embedding": vectors[0]}


def _vector(text: str, dims: int) -> list[float]:
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    values = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _response_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")[:22]


class GeminiSimulator(SimulatorServer[Script]):
    """The Gemini API on 127.0.0.1, served by aiohttp on its own event loop in a background thread.

    with GeminiSimulator() as sim:
        genai.Client(api_key="gm-test", http_options=types.HttpOptions(base_url=sim.url, api_version="v1beta"))
    """

    provider = "Gemini"
    base_path = "/v1beta"  # the api_base in LiteLLM's meaning for gemini/: the …/v1beta root

    def __init__(self, api_keys: set[str] | None = None) -> None:
        super().__init__(api_keys if api_keys is not None else {"gm-test"})

    def script(self, status: int, body: Any = None, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer the next `times` requests with `status` and `body` (None → Google's body for the status)."""
        self._add_script(Script(status, body, lowered(headers), times))

    def script_stream_error(self, after_events: int, status: int = 500, message: str | None = None) -> None:
        """Break the next stream after `after_events` events with `data: {"error": …}`."""
        self._add_stream_error(after_events, _sse(error_body(status, message)))

    async def _scripted(self, request: web.Request, recorded: RecordedRequest, script: Script) -> web.Response:
        body = script.body if script.body is not None else error_body(script.status)
        return _json(body, script.status, script.headers)

    async def _answer(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        try:
            return await self._method(request, recorded)
        except SimError as error:
            return _json(error.body, error.status)

    async def _method(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        match = _PATH.match(request.path)
        if request.method != "POST" or match is None:
            raise SimError(404, f"Method not found: {request.method} {request.path}")
        key = recorded.headers.get("x-goog-api-key") or recorded.query.get("key")
        if not key:
            raise SimError(403, "Method doesn't allow unregistered callers (callers without established identity)."
                                " Please use API Key or other form of API consumer identity to call this API.")
        if key not in self.api_keys:
            raise SimError(400, "API key not valid. Please pass a valid API key.",
                           invalid_key_body()["error"]["details"])
        payload = recorded.json
        if payload is None and recorded.raw:
            raise SimError(400, "Invalid JSON payload received. Unexpected token.")
        model, method = match["model"], match["method"]
        if method in ("batchEmbedContents", "embedContent"):
            return _json(embeddings(payload or {}, model, batch=method == "batchEmbedContents"))
        if method not in ("generateContent", "streamGenerateContent"):
            raise SimError(404, f"Method not found: {method}")
        validate(payload)
        name = model.removeprefix("models/")
        if method == "generateContent":
            return _json(response_body(payload, name))
        events = stream_events(payload, name)
        if recorded.query.get("alt") != "sse":  # without alt=sse Google streams one JSON array of the same responses
            return _json(events)
        return await self._send_stream(request, {"content-type": "text/event-stream"}, [_sse(e) for e in events])


def _sse(event: dict[str, Any]) -> bytes:
    """Google frames each event as `data: <json>` with CRLF line ends."""
    return b"data: " + json.dumps(event).encode() + b"\r\n\r\n"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    raw = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    return web.Response(status=status, body=raw, headers={"content-type": "application/json; charset=UTF-8",
                                                          **(headers or {})})
