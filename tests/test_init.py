"""The public SDK surface: pinned, lazily loaded, LiteLLM's names present, settings behind module attributes."""

import subprocess
import sys

import pytest

import sluicegate

EXPECTED_PUBLIC = {
    "completion", "acompletion", "embedding", "aembedding", "text_completion", "atext_completion",
    "stream_chunk_builder", "aclose", "ChatCompletion", "ModelResponse", "ChatCompletionChunk",
    "ModelResponseStream", "EmbeddingResponse", "TextCompletionResponse", "Message", "Choices", "Delta",
    "StreamingChoices", "Usage", "get_model_info", "model_cost", "register_model", "completion_cost",
    "cost_per_token", "token_counter", "encode", "decode", "supports_function_calling",
    "supports_parallel_function_calling", "supports_vision", "supports_response_schema", "supports_reasoning",
    "supports_prompt_caching", "supports_audio_input", "supports_audio_output", "supports_system_messages",
    "supports_tool_choice", "supports_web_search", "supports_pdf_input", "Settings", "Router", "SluicegateError",
    "ConfigError", "APIError", "APIConnectionError", "Timeout", "APIStatusError", "BadRequestError",
    "ContextWindowExceededError", "ContentPolicyViolationError", "UnsupportedParamsError",
    "AuthenticationError", "PermissionDeniedError", "NotFoundError", "ConflictError",
    "UnprocessableEntityError", "RateLimitError", "InternalServerError", "ServiceUnavailableError",
    "settings", "__version__",
}


def test_public_names_are_pinned_and_all_resolve():
    assert set(sluicegate.__all__) == EXPECTED_PUBLIC
    for name in sluicegate.__all__:
        assert getattr(sluicegate, name) is not None


def test_import_loads_no_heavy_dependency():
    code = ("import sys, sluicegate; heavy = [m for m in ('pydantic', 'aiohttp', 'httpx', 'tiktoken', 'orjson')"
            " if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_module_settings_read_and_write_one_settings_object():
    sluicegate.drop_params = True
    sluicegate.num_retries = 5
    sluicegate.request_timeout = 12.5
    defaults = sluicegate.settings.defaults
    assert (defaults.drop_params, defaults.num_retries, defaults.request_timeout) == (True, 5, 12.5)
    assert sluicegate.drop_params is True
    assert "drop_params" not in vars(sluicegate)  # never shadowed by a module global


def test_settings_repr_never_shows_the_key():
    sluicegate.api_key = "sk-secret-value"
    assert "sk-secret-value" not in repr(sluicegate.settings.defaults)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        sluicegate.no_such_name  # noqa: B018
