"""The exception tree: every failure a caller can see, with OpenAI's names and status codes.

```
SluicegateError
├── ConfigError                 startup: file, line, reason
└── APIError                    provider, model, message, status_code, headers (lower-cased), body
    ├── APIConnectionError
    │   └── Timeout
    └── APIStatusError
        ├── BadRequestError (400)
        │   ├── ContextWindowExceededError
        │   ├── ContentPolicyViolationError
        │   └── UnsupportedParamsError
        ├── AuthenticationError (401)    PermissionDeniedError (403)    NotFoundError (404)
        ├── ConflictError (409)    UnprocessableEntityError (422)    RateLimitError (429)
        └── InternalServerError (500)    ServiceUnavailableError (503)
```

The status code is a class attribute, so `error_for_status()` is a lookup. Whether an error is worth
retrying is decided in `transport/retry.py`, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class SluicegateError(Exception):
    """Base of every exception sluicegate raises."""


class ConfigError(SluicegateError):
    """Invalid configuration, found at start-up. Names the file, the line and the reason."""

    def __init__(self, reason: str, *, file: str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        super().__init__(f"{where}{reason}")


class APIError(SluicegateError):
    """A call to a provider failed. Carries what the caller needs to react, never a credential."""

    status_code: ClassVar[int | None] = None  # overridden per subclass; instances may refine it
    type: ClassVar[str] = "api_error"  # the OpenAI error `type` this maps to in an error body

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]  # instance refines the class default
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        self.body = body
        self.code = code
        self.param = param

    # LiteLLM's exceptions carry these names; scripts that catch them read them.
    @property
    def llm_provider(self) -> str | None:
        return self.provider

    def __str__(self) -> str:
        where = "/".join(p for p in (self.provider, self.model) if p)
        prefix = f"{type(self).__name__}"
        if self.status_code:
            prefix += f" ({self.status_code})"
        return f"{prefix}{' from ' + where if where else ''}: {self.message}"

    def to_openai_body(self) -> dict[str, Any]:
        """The error as OpenAI renders it: {"error": {"message", "type", "param", "code"}}."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code if self.code is not None else _code_text(self.status_code)}}


def _code_text(status: int | None) -> str | None:
    return None if status is None else str(status)


class APIConnectionError(APIError):
    """The provider could not be reached, or the connection broke before a full answer."""

    type = "api_connection_error"


class Timeout(APIConnectionError):
    """The call took longer than its timeout (connect, read or total)."""

    status_code = 408
    type = "timeout"


class APIStatusError(APIError):
    """The provider answered with an error status."""

    status_code = 500


class BadRequestError(APIStatusError):
    status_code = 400
    type = "invalid_request_error"


class ContextWindowExceededError(BadRequestError):
    """The prompt (plus requested output) does not fit the model's context window."""

    type = "invalid_request_error"


class ContentPolicyViolationError(BadRequestError):
    """The provider refused the input or output under its content policy."""


class UnsupportedParamsError(BadRequestError):
    """A parameter the provider or model cannot take; pass `drop_params=True` to drop it instead."""


class AuthenticationError(APIStatusError):
    status_code = 401
    type = "authentication_error"


class PermissionDeniedError(APIStatusError):
    status_code = 403
    type = "permission_error"


class NotFoundError(APIStatusError):
    status_code = 404
    type = "not_found_error"


class ConflictError(APIStatusError):
    status_code = 409
    type = "conflict_error"


class UnprocessableEntityError(APIStatusError):
    status_code = 422
    type = "invalid_request_error"


class RateLimitError(APIStatusError):
    status_code = 429
    type = "rate_limit_error"


class InternalServerError(APIStatusError):
    status_code = 500
    type = "api_error"


class ServiceUnavailableError(APIStatusError):
    status_code = 503
    type = "service_unavailable_error"


_BY_STATUS: dict[int, type[APIStatusError]] = {
    cls.status_code: cls
    for cls in (BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError, ConflictError,
                UnprocessableEntityError, RateLimitError, InternalServerError, ServiceUnavailableError)
}


def error_for_status(
    status: int,
    message: str,
    *,
    provider: str | None = None,
    model: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    code: str | None = None,
    param: str | None = None,
) -> APIError:
    """The exception class that OpenAI's SDK would raise for this status."""
    if status == 408:
        cls: type[APIError] = Timeout
    elif status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status >= 500:
        cls = InternalServerError
    elif status >= 400:
        cls = BadRequestError
    else:
        cls = APIStatusError
    return cls(message, provider=provider, model=model, status_code=status, headers=headers, body=body,
               code=code, param=param)

