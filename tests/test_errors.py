from sluicegate.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    BadRequestError,
    ConfigError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    RateLimitError,
    SluicegateError,
    Timeout,
    UnsupportedParamsError,
)


def test_tree_matches_the_docstring():
    assert issubclass(ConfigError, SluicegateError)
    assert issubclass(Timeout, APIConnectionError)
    assert issubclass(APIConnectionError, APIError)
    for cls in (ContextWindowExceededError, ContentPolicyViolationError, UnsupportedParamsError):
        assert issubclass(cls, BadRequestError)
        assert cls.status_code == 400
    assert issubclass(BadRequestError, APIStatusError)


def test_error_carries_context_and_lowercases_headers():
    error = RateLimitError("slow down", provider="openai", model="gpt-4o", headers={"Retry-After": "1"},
                           body={"error": {}}, code="rate_limit_exceeded")
    assert (error.status_code, error.provider, error.llm_provider, error.model) == (429, "openai", "openai",
                                                                                     "gpt-4o")
    assert error.headers == {"retry-after": "1"}
    assert str(error) == "RateLimitError (429) from openai/gpt-4o: slow down"
    assert error.to_openai_body() == {"error": {"message": "slow down", "type": "rate_limit_error",
                                                "param": None, "code": "rate_limit_exceeded"}}


def test_config_error_names_file_and_line():
    assert str(ConfigError("unknown key 'x'", file="config.yaml", line=12)) == "config.yaml:12: unknown key 'x'"
