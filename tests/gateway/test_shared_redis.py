"""Which Redis the gateway shares, from whichever place a LiteLLM user named it, and one client for both its users:
the router's state and the budget ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluicegate.gateway.app import create_app
from sluicegate.gateway.config import load_config
from sluicegate.gateway.redis_ledger import ResilientLedger
from sluicegate.gateway.shared_redis import SharedRedis, shared_redis
from sluicegate.router.sharing import PartlyShared


def config_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_config(str(path), environ=environ or {})


def test_router_settings_come_first(tmp_path: Path) -> None:
    config = config_of(tmp_path, """
router_settings: {redis_host: router.internal, redis_port: 6380, redis_password: pw1, redis_namespace: prod}
litellm_settings: {cache_params: {type: redis, host: cache.internal, port: 6381}}
""")
    found = shared_redis(config, {"REDIS_URL": "redis://env.internal:6379/0"})
    assert found == SharedRedis("router_settings", host="router.internal", port=6380, password="pw1",
                                namespace="prod")


def test_cache_params_of_type_redis_come_next(tmp_path: Path) -> None:
    config = config_of(tmp_path, "litellm_settings:\n  cache_params: {type: redis, host: cache.internal, port: 6381, "
                                 "password: pw2, db: 3, ttl: 60}\n")
    found = shared_redis(config, {"REDIS_HOST": "env.internal"})
    assert found == SharedRedis("litellm_settings.cache_params", host="cache.internal", port=6381, password="pw2",
                                db=3)
    local_cache = config_of(tmp_path, "litellm_settings:\n  cache_params: {type: local}\n")
    assert shared_redis(local_cache, {}) is None


def test_the_environment_comes_last(tmp_path: Path) -> None:
    config = config_of(tmp_path, "model_list: []\n")
    assert shared_redis(config, {}) is None
    assert shared_redis(config, {"REDIS_HOST": "env.internal", "REDIS_PORT": "6390", "REDIS_PASSWORD": "pw3"}) == \
        SharedRedis("REDIS_HOST", host="env.internal", port=6390, password="pw3")
    assert shared_redis(config, {"REDIS_URL": "redis://:pw4@env.internal:6379/2"}) == \
        SharedRedis("REDIS_URL", url="redis://:pw4@env.internal:6379/2")
    with pytest.raises(ValueError, match="whole number"):
        shared_redis(config, {"REDIS_HOST": "env.internal", "REDIS_PORT": "sixty"})


def test_the_password_and_url_are_never_shown() -> None:
    shown = repr(SharedRedis("REDIS_URL", url="redis://:hunter2@env.internal:6379/0", password="hunter2"))
    assert "hunter2" not in shown


def test_the_router_state_and_the_ledger_share_the_redis_named_once(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_HOST", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    config = config_of(tmp_path, f"""
litellm_settings: {{cache_params: {{type: redis, host: 127.0.0.1, port: 6379}}}}
general_settings: {{master_key: sk-master, database_url: "sqlite+aiosqlite:///{tmp_path}/g.db"}}
""")
    state = create_app(config).gateway
    router_state = state.router.state
    ledger = state.enforcement.ledger
    assert isinstance(router_state, PartlyShared)
    assert isinstance(ledger, ResilientLedger)
    # The router's state and the ledger reach the same Redis, named once (the ledger on its pipelined connection).
    pool = router_state.shared.primary._redis.connection_pool  # type: ignore[attr-defined]
    assert (pool.connection_kwargs["host"], pool.connection_kwargs["port"]) == ("127.0.0.1", 6379)
    assert (ledger.shared._redis._host, ledger.shared._redis._port) == ("127.0.0.1", 6379)
