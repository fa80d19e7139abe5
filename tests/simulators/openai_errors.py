"""The OpenAI / Azure OpenAI simulator's error bodies: the ones tests script, and the real one per status.

Pure data and functions (no server here); `openai.py` sends them, `openai_wire.py` raises `ApiError` with them.
"""

from __future__ import annotations

from typing import Any

_AZURE_CONTENT_FILTER_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
    "Please modify your prompt and retry. To learn more about our content filtering policies please read "
    "our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)

CONTEXT_LENGTH_ERROR: dict[str, Any] = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "130021 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
CONTENT_POLICY_ERROR: dict[str, Any] = {
    "error": {
        "message": "Your request was rejected as a result of our safety system. Your prompt may contain text "
        "that is not allowed by our safety system.",
        "type": "invalid_request_error",
        "param": None,
        "code": "content_policy_violation",
    }
}
AZURE_CONTENT_FILTER_ERROR: dict[str, Any] = {
    "error": {
        "message": _AZURE_CONTENT_FILTER_MESSAGE,
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {
                "hate": {"filtered": False, "severity": "safe"},
                "jailbreak": {"filtered": False, "detected": False},
                "self_harm": {"filtered": False, "severity": "safe"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": True, "severity": "medium"},
            },
        },
    }
}


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def error_body(message: str, *, type_: str | None = "invalid_request_error", param: str | None = None,
           code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _mask_key(key: str) -> str:
    """Mask a key the way OpenAI's 401 message does: sk-WRQsP***…xQBt (short keys: sk-wr****ng)."""
    if len(key) > 12:
        return key[:8] + "*" * (len(key) - 12) + key[-4:]
    return key[:5] + "****" + key[-2:]


def auth_error(key: str | None) -> dict[str, Any]:
    if not key:
        return error_body(
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
            "username) if you're accessing the API from your browser and are prompted for a username and "
            "password. You can obtain an API key from https://platform.openai.com/account/api-keys."
        )
    return error_body(
        f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def azure_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


AZURE_AUTH_ERROR = azure_error(
    "401",
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource.",
)
AZURE_NOT_FOUND = azure_error("404", "Resource not found")


def default_error_body(status: int, *, model: str, key: str | None, request_id: str,
                        is_azure: bool, api_version: str) -> dict[str, Any]:
    """The body the real API sends for `status` (Azure's own shape for the statuses where it differs)."""
    if is_azure and status == 401:
        return AZURE_AUTH_ERROR
    if is_azure and status == 404:
        return AZURE_NOT_FOUND
    if is_azure and status == 429:
        return azure_error(
            "429",
            f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version {api_version} "
            "have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 1 "
            "second. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase "
            "the default rate limit.",
        )
    bodies = {
        400: error_body("Unrecognized request argument supplied: simulated"),
        401: auth_error(key),
        403: error_body("Country, region, or territory not supported", type_="request_forbidden",
                    code="unsupported_country_region_territory"),
        404: error_body(f"The model `{model}` does not exist or you do not have access to it.",
                    code="model_not_found"),
        408: error_body("Request timed out.", type_="server_error"),
        409: error_body("Another request is already in progress for this resource. Please retry.",
                    code="conflict"),
        422: error_body("The request was well-formed but could not be processed.", code="unprocessable_entity"),
        429: error_body(
            f"Rate limit reached for {model} in organization org-simulator on requests per min (RPM): "
            "Limit 3, Used 3, Requested 1. Please try again in 20ms. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.",
            type_="requests", code="rate_limit_exceeded",
        ),
        500: error_body(
            "The server had an error processing your request. Sorry about that! You can retry your request, "
            "or contact us through our help center at help.openai.com if you keep seeing this error. "
            f"(Please include the request ID {request_id} in your email.)",
            type_="server_error",
        ),
        503: error_body(
            "That model is currently overloaded with other requests. You can retry your request, or contact "
            "us through our help center at help.openai.com if the error persists. (Please include the "
            f"request ID {request_id} in your message.)",
            type_="server_error",
        ),
    }
    if status in bodies:
        return bodies[status]
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return error_body(f"Simulated HTTP {status}.", type_=kind)

