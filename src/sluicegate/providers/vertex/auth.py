"""Google credentials for Vertex AI: a service-account key (a file path or its JSON text, LiteLLM's
`vertex_credentials`) or Application Default Credentials, traded for an OAuth access token by google-auth.

This is the adapter's one I/O step (`authenticate`). Credentials objects are cached per key source and refreshed
only when google-auth says they are no longer valid (tokens live an hour), under a lock per source, so concurrent
calls share one refresh.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, replace
from typing import Any

from sluicegate.errors import AuthenticationError, BadRequestError
from sluicegate.providers.base import Call, Credentials

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_INSTALL_HINT = "Vertex AI needs google-auth: pip install 'sluicegate[vertex]'"


@dataclass(slots=True)
class _Source:
    credentials: Any  # google.auth.credentials.Credentials
    project: str | None
    lock: threading.Lock


_sources: dict[str, _Source] = {}
_sources_lock = threading.Lock()


def authenticate(call: Call) -> Credentials:
    """Credentials with a fresh `access_token` and the `vertex_project` to use, in `extra`."""
    extra = call.credentials.extra
    source = _source(extra.get("vertex_credentials"))
    with source.lock:
        if not source.credentials.valid:
            _refresh(source.credentials)
        token = source.credentials.token
    project = extra.get("vertex_project") or source.project
    if not project:
        raise BadRequestError("no Google Cloud project for Vertex AI: set vertex_project (or VERTEXAI_PROJECT), or "
                              "use credentials that name one", provider=call.provider, model=call.model)
    return replace(call.credentials, extra={**extra, "access_token": token, "vertex_project": project})


def _source(given: Any) -> _Source:
    key = given if isinstance(given, str) else json.dumps(given, sort_keys=True) if given else ""
    found = _sources.get(key)
    if found is None:
        with _sources_lock:
            found = _sources.get(key)
            if found is None:
                credentials, project = _load(given)
                found = _sources[key] = _Source(credentials, project, threading.Lock())
    return found


def _load(given: Any) -> tuple[Any, str | None]:
    try:
        import google.auth
        from google.oauth2 import service_account
    except ImportError as error:
        raise AuthenticationError(_INSTALL_HINT) from error
    if not given:
        try:
            credentials, project = google.auth.default(scopes=SCOPES)
        except google.auth.exceptions.DefaultCredentialsError as error:
            raise AuthenticationError("no Google credentials for Vertex AI: set vertex_credentials (a service "
                                      "account key file or its JSON), or GOOGLE_APPLICATION_CREDENTIALS, or run "
                                      "on Google Cloud with a service account") from error
        return credentials, project
    info = _key_info(given)
    if info.get("type") != "service_account":
        # An authorized-user or external-account file: google-auth knows every type ADC knows.
        credentials, project = google.auth.load_credentials_from_dict(info, scopes=SCOPES)
        return credentials, project
    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    except ValueError as error:
        raise AuthenticationError(f"vertex_credentials is not a valid service-account key: {error}") from None
    return credentials, info.get("project_id")


def _key_info(given: Any) -> dict[str, Any]:
    """vertex_credentials as LiteLLM takes it: a dict, the JSON text, or a path to the JSON file."""
    if isinstance(given, dict):
        return given
    text = str(given).strip()
    if not text.startswith("{"):
        if not os.path.isfile(text):
            raise AuthenticationError("vertex_credentials is neither JSON nor a readable key file path")
        with open(text, encoding="utf-8") as file:
            text = file.read()
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        raise AuthenticationError("vertex_credentials is not valid JSON") from None
    if not isinstance(info, dict):
        raise AuthenticationError("vertex_credentials must be a JSON object")
    return info


def _refresh(credentials: Any) -> None:
    import google.auth.exceptions
    from google.auth.transport.requests import Request

    try:
        credentials.refresh(Request())
    except google.auth.exceptions.RefreshError as error:
        # google-auth's message carries the token endpoint's answer, never the private key.
        raise AuthenticationError(f"Google rejected the Vertex AI credentials: {error}") from None
    except google.auth.exceptions.TransportError as error:
        raise AuthenticationError(f"could not reach Google's token endpoint: {error}") from None
