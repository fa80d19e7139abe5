"""An adapter's OpenAI-shaped dict → the public response object, with cost and LiteLLM's hidden params attached.

`response._hidden_params` carries what LiteLLM users read there: `custom_llm_provider`, `model`, `api_base`,
`response_cost` (USD, None when the model has no known price) and `additional_headers` (the provider's rate-limit
headers). The cost never fails a call: an unknown model costs None, not an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluicegate.prepare import Prepared
from sluicegate.pricing import call_cost
from sluicegate.transport.retry import RATE_LIMIT_HEADERS
from sluicegate.types.chat import ChatCompletion
from sluicegate.types.completions import TextCompletionResponse
from sluicegate.types.embeddings import EmbeddingResponse

_RESPONSE_TYPES: dict[str, type[ChatCompletion] | type[EmbeddingResponse] | type[TextCompletionResponse]] = {
    "chat": ChatCompletion, "embedding": EmbeddingResponse, "text_completion": TextCompletionResponse}
_PASSED_HEADERS = ("x-request-id", "openai-processing-ms", *RATE_LIMIT_HEADERS, "retry-after")


def build_response(prepared: Prepared, data: dict[str, Any], headers: Mapping[str, str]) -> Any:
    response = _RESPONSE_TYPES[prepared.call.kind].model_validate(data)
    response._hidden_params.update(hidden_params(prepared, data.get("model"), data.get("usage"), headers))
    response._response_headers = dict(headers)
    return response


def hidden_params(prepared: Prepared, reported_model: str | None, usage: Mapping[str, Any] | None,
                  headers: Mapping[str, str]) -> dict[str, Any]:
    call = prepared.call
    cost = call_cost(prepared, reported_model, usage) if usage else None
    return {
        "custom_llm_provider": call.provider,
        "model": call.model,
        "api_base": call.credentials.api_base,
        "response_cost": float(cost) if cost is not None else None,
        "additional_headers": {f"llm_provider-{name}": headers[name] for name in _PASSED_HEADERS
                               if name in headers},
        "metadata": prepared.metadata,
        "dropped_params": prepared.dropped_params,
    }
