"""Suite-wide fixtures: loopback-only networking, fresh SDK settings, the provider simulators."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator

import pytest

from sluicegate.settings import Settings, defaults

pytest_plugins = [
    "tests.simulators.fixtures",
    "tests.simulators.anthropic_fixtures",
    "tests.simulators.gemini_fixtures",
    "tests.simulators.bedrock_fixtures",
    "tests.simulators.cohere_fixtures",
    "tests.simulators.vertex_fixtures",
]

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple):  # unix sockets
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"the test suite refuses non-loopback connections (to {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"the test suite refuses non-loopback connections (to {address!r})")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Each test starts from the documented defaults, whatever an earlier test set on `sluicegate.*`."""
    saved = Settings(**{name: getattr(defaults, name) for name in Settings.__slots__})  # type: ignore[attr-defined]
    yield
    for name in Settings.__slots__:  # type: ignore[attr-defined]
        setattr(defaults, name, getattr(saved, name))


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Provider keys in the developer's environment must never leak into a test's calls, nor the machine's cloud
    credentials (AWS and gcloud files, instance metadata) into botocore's and google-auth's chains."""
    for name in list(os.environ):
        if name.endswith(("_API_KEY", "_API_BASE", "_BASE_URL", "_API_VERSION")) or name.startswith(
            ("OPENAI_", "AZURE_", "AWS_", "GOOGLE_", "VERTEX", "GEMINI_", "ANTHROPIC_", "COHERE_")
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("CLOUDSDK_CONFIG", os.devnull)  # no gcloud login
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google-auth: do not probe the metadata server


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _service_or_skip(name: str, host: str, port: int) -> None:
    """Skip with a visible reason on a machine without the service; under CI its absence is a failure."""
    if _answers(host, port):
        return
    reason = f"{name} is not answering on {host}:{port}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL URL for tests marked `postgres` (trust auth, database `test`)."""
    _service_or_skip("PostgreSQL", "127.0.0.1", 5432)
    return os.environ.get("SLUICEGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis URL for tests marked `redis`."""
    _service_or_skip("Redis", "127.0.0.1", 6379)
    return os.environ.get("SLUICEGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
