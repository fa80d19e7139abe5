"""OpenAI chat and embedding calls as Cohere v2 request bodies (https://docs.cohere.com/reference/chat,
https://docs.cohere.com/reference/embed). Pure translation: what cannot be expressed is a BadRequestError here,
or was refused earlier by `supported_params`.
"""

from __future__ import annotations

from typing import Any

from sluicegate.errors import BadRequestError
from sluicegate.params import ChatParams, EmbeddingParams
from sluicegate.providers.base import Call

# reasoning_effort → Cohere's thinking budget (https://docs.cohere.com/docs/reasoning): the budget table LiteLLM
# uses for Anthropic (low 1024, medium 2048, high 4096), so an effort costs the same order of tokens everywhere.
THINKING_BUDGETS = {"minimal": 512, "low": 1024, "medium": 2048, "high": 4096}
_THINKING_OFF = frozenset({"none", "disable", "disabled"})
_TOOL_CHOICES = {"none": "NONE", "required": "REQUIRED"}  # "auto" is Cohere's default: sent as nothing
# OpenAI names Cohere spells differently (https://docs.cohere.com/reference/chat#request).
_RENAMED_PROVIDER_PARAMS = {"top_k": "k"}


def _bad(message: str, call: Call, param: str = "messages") -> BadRequestError:
    return BadRequestError(message, provider=call.provider, model=call.model, param=param)


def chat_body(call: Call) -> dict[str, Any]:
    """The JSON body of POST /v2/chat for this call."""
    params = call.params
    assert isinstance(params, ChatParams)
    body: dict[str, Any] = {"model": call.model, "messages": [_message(m, i, call) for i, m in
                                                              enumerate(call.messages)]}
    tools = params.tools
    if params.tool_choice is not None:
        tools, choice = _tool_choice(params.tool_choice, tools, call)
        if choice is not None:
            body["tool_choice"] = choice
    if tools:
        body["tools"] = [_tool(tool, call) for tool in tools]
        if any((tool.get("function") or {}).get("strict") for tool in tools):
            # Cohere's strictness is one switch for every tool: strict for one means strict for all.
            body["strict_tools"] = True
    if params.response_format is not None:
        body["response_format"] = _response_format(params.response_format, call)
    max_tokens = params.max_completion_tokens if params.max_completion_tokens is not None else params.max_tokens
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if params.stop is not None:
        body["stop_sequences"] = [params.stop] if isinstance(params.stop, str) else list(params.stop)
    for name in ("temperature", "seed", "frequency_penalty", "presence_penalty", "logprobs"):
        value = getattr(params, name)
        if value is not None:
            body[name] = value
    if params.top_p is not None:
        body["p"] = params.top_p
    if params.reasoning_effort is not None:
        body["thinking"] = thinking(params.reasoning_effort, call)
    for name, value in params.provider_params.items():  # documents, citation_options, safety_mode, k, thinking …
        body[_RENAMED_PROVIDER_PARAMS.get(name, name)] = value
    if call.is_stream:
        body["stream"] = True
    body.update(call.extra_body)
    return body


def thinking(effort: str, call: Call) -> dict[str, Any]:
    """reasoning_effort as Cohere's `thinking` object."""
    if effort in _THINKING_OFF:
        return {"type": "disabled"}
    budget = THINKING_BUDGETS.get(effort)
    if budget is None:
        raise _bad(f"reasoning_effort must be one of {', '.join(THINKING_BUDGETS)} or 'none', not {effort!r}",
                   call, "reasoning_effort")
    return {"type": "enabled", "token_budget": budget}


def _tool_choice(choice: str | dict[str, Any], tools: list[dict[str, Any]] | None, call: Call
                 ) -> tuple[list[dict[str, Any]] | None, str | None]:
    """(tools to send, Cohere's tool_choice). Cohere cannot name a tool, so a named choice sends that tool alone
    with REQUIRED: the model must call a tool and has exactly one — what OpenAI's named choice means."""
    if isinstance(choice, str):
        if choice == "auto":
            return tools, None
        if choice in _TOOL_CHOICES:
            return tools, _TOOL_CHOICES[choice]
        raise _bad(f"tool_choice must be 'auto', 'none', 'required' or a named function, not {choice!r}",
                   call, "tool_choice")
    name = (choice.get("function") or {}).get("name") if choice.get("type") == "function" else None
    chosen = [tool for tool in tools or () if (tool.get("function") or {}).get("name") == name]
    if not name or not chosen:
        raise _bad(f"tool_choice names a function that is not in tools: {choice!r}", call, "tool_choice")
    return chosen[:1], "REQUIRED"


def _tool(tool: dict[str, Any], call: Call) -> dict[str, Any]:
    function = tool.get("function")
    if tool.get("type") != "function" or not isinstance(function, dict) or not function.get("name"):
        raise _bad(f"Cohere takes only function tools with a name, not {str(tool)[:80]}", call, "tools")
    out: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    # Cohere requires a JSON schema; OpenAI lets a function without arguments omit it.
    out["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
    return {"type": "function", "function": out}


def _response_format(response_format: dict[str, Any], call: Call) -> dict[str, Any]:
    kind = response_format.get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise _bad("response_format json_schema needs json_schema.schema", call, "response_format")
        return {"type": "json_object", "json_schema": schema}
    raise _bad(f"unknown response_format type {kind!r}", call, "response_format")


def _message(message: dict[str, Any], index: int, call: Call) -> dict[str, Any]:
    """One OpenAI message as Cohere's. Cohere messages have no `name`: it is not sent (a tool message's name is
    implied by its tool_call_id; a participant's name has no place in Cohere's format)."""
    role = message["role"]
    content = message.get("content")
    where = f"messages[{index}]"
    if role in ("system", "developer"):
        return {"role": "system", "content": _text_only(content, where, call)}
    if role == "user":
        return {"role": "user", "content": _user_content(content, where, call)}
    if role == "assistant":
        return _assistant(message, where, call)
    if role == "tool":
        if not message.get("tool_call_id"):
            raise _bad(f"{where} is a tool result without tool_call_id", call, where)
        return {"role": "tool", "tool_call_id": message["tool_call_id"], "content": _tool_content(content, where,
                                                                                                    call)}
    raise _bad(f"{where} has role {role!r}, which Cohere cannot take (use tool messages for function results)",
               call, where)


def _parts(content: Any, where: str, call: Call) -> list[dict[str, Any]]:
    if not isinstance(content, list) or not all(isinstance(part, dict) for part in content):
        raise _bad(f"{where}.content must be a string or a list of content parts", call, where)
    return content


def _text_only(content: Any, where: str, call: Call) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    texts = []
    for part in _parts(content, where, call):
        if part.get("type") != "text":
            raise _bad(f"{where} may hold only text parts for Cohere, not {part.get('type')!r}", call, where)
        texts.append({"type": "text", "text": part.get("text", "")})
    return texts


def _user_content(content: Any, where: str, call: Call) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    out = []
    for part in _parts(content, where, call):
        kind = part.get("type")
        if kind == "text":
            out.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            out.append({"type": "image_url", "image_url": _image(part.get("image_url"), where, call)})
        elif kind == "file":
            raise _bad(f"{where}: Cohere's chat API takes no file parts; pass the text as documents=[…] "
                       "(Cohere's `documents` parameter) instead", call, where)
        else:
            raise _bad(f"{where}: Cohere cannot take a {kind!r} content part", call, where)
    return out


def _image(image: Any, where: str, call: Call) -> dict[str, Any]:
    # Cohere takes http(s) and base64 data URLs alike (https://docs.cohere.com/docs/image-inputs).
    if isinstance(image, str):
        return {"url": image}
    if not isinstance(image, dict) or not isinstance(image.get("url"), str):
        raise _bad(f"{where}: an image_url part needs image_url.url", call, where)
    out = {"url": image["url"]}
    if image.get("detail"):
        out["detail"] = image["detail"]
    return out


def _assistant(message: dict[str, Any], where: str, call: Call) -> dict[str, Any]:
    content = message.get("content")
    text = content if isinstance(content, str) or content is None else _joined_text(content, where, call)
    out: dict[str, Any] = {"role": "assistant"}
    thinking_text = message.get("reasoning_content")
    tool_calls = message.get("tool_calls")
    if tool_calls:
        out["tool_calls"] = [_tool_call(c, where, call) for c in tool_calls]
        # Cohere's text before tool calls is the tool plan; our answers put the plan in `content`.
        plan = message.get("tool_plan") or text
        if plan:
            out["tool_plan"] = plan
        if thinking_text:
            out["content"] = [{"type": "thinking", "thinking": thinking_text}]
        return out
    if thinking_text:
        out["content"] = [{"type": "thinking", "thinking": thinking_text}, {"type": "text", "text": text or ""}]
    else:
        out["content"] = text or ""
    return out


def _joined_text(content: Any, where: str, call: Call) -> str:
    texts = []
    for part in _parts(content, where, call):
        if part.get("type") not in ("text", "refusal"):
            raise _bad(f"{where}: an assistant message may hold only text for Cohere, not {part.get('type')!r}",
                       call, where)
        texts.append(part.get("text") or part.get("refusal") or "")
    return "".join(texts)


def _tool_call(tool_call: dict[str, Any], where: str, call: Call) -> dict[str, Any]:
    function = tool_call.get("function") or {}
    if not tool_call.get("id") or not function.get("name"):
        raise _bad(f"{where}: each tool call needs an id and function.name", call, where)
    return {"id": tool_call["id"], "type": "function",
            "function": {"name": function["name"], "arguments": function.get("arguments") or "{}"}}


def _tool_content(content: Any, where: str, call: Call) -> str | list[dict[str, Any]]:
    """A tool result: a string, or text parts and Cohere document blocks ({"type": "document", "document": …})."""
    if isinstance(content, str):
        return content
    out = []
    for part in _parts(content, where, call):
        kind = part.get("type")
        if kind == "text":
            out.append({"type": "text", "text": part.get("text", "")})
        elif kind == "document" and isinstance(part.get("document"), dict):
            out.append({"type": "document", "document": part["document"]})
        else:
            raise _bad(f"{where}: a tool result for Cohere holds text or document parts, not {kind!r}", call, where)
    return out


def embed_body(call: Call) -> dict[str, Any]:
    """The JSON body of POST /v2/embed. Vectors are always asked for as floats: base64 is encoded locally, in
    OpenAI's layout (little-endian float32), which Cohere's own base64 type does not promise."""
    params = call.params
    assert isinstance(params, EmbeddingParams)
    texts = [params.input] if isinstance(params.input, str) else params.input
    if not texts or not all(isinstance(text, str) for text in texts):
        raise _bad("Cohere embeds text: input must be a string or a list of strings (not token ids)", call,
                   "input")
    if params.encoding_format not in (None, "float", "base64"):
        raise _bad(f"encoding_format must be 'float' or 'base64', not {params.encoding_format!r}", call,
                   "encoding_format")
    # input_type is required from embed v3 on; "search_document" is what stored texts are (a caller searching
    # passes input_type="search_query"). https://docs.cohere.com/reference/embed#request.body.input_type
    body: dict[str, Any] = {"model": call.model, "texts": list(texts), "input_type": "search_document",
                            "embedding_types": ["float"]}
    if params.dimensions is not None:
        body["output_dimension"] = params.dimensions
    body.update(params.provider_params)  # input_type, truncate, max_tokens, priority
    body.update(call.extra_body)
    return body
