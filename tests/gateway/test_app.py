"""The app's shape: what starting it costs."""

import subprocess
import sys


def test_the_gateway_never_imports_pydantic():
    # Response objects are the SDK's; the gateway forwards dicts. pydantic would add ~0.4 s to every cold start.
    code = "import sys, sluicegate.gateway.app, sluicegate.cli; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_serving_gateway_freezes_its_start_up_heap_and_collects_young_objects_less_often(tmp_path):
    """The server process (not tests or embedders sharing a process) tunes the garbage collector once started:
    full collections walking the start-up heap were the p99 of a loaded gateway (app.py, _settle_heap)."""
    code = f"""
import gc, os
os.chdir({str(tmp_path)!r})
from starlette.testclient import TestClient
from sluicegate.gateway.app import GC_YOUNG_THRESHOLD, create_app
from sluicegate.gateway.config import load_config
config = load_config(None, environ={{}})
with TestClient(create_app(config)):
    print(gc.get_freeze_count() == 0, gc.get_threshold()[0] != GC_YOUNG_THRESHOLD)
with TestClient(create_app(config, settle_heap=True)):
    print(gc.get_freeze_count() > 1000, gc.get_threshold()[0] == GC_YOUNG_THRESHOLD)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["True", "True", "True", "True"], out.stderr[-2000:]


def test_a_database_is_used_with_a_master_key_or_a_database_url_only(tmp_path, monkeypatch):
    """As LiteLLM: with neither, the gateway is a plain proxy (no admin could read what it stored)."""
    from starlette.testclient import TestClient

    from sluicegate.gateway.app import create_app
    from sluicegate.gateway.config import load_config

    monkeypatch.chdir(tmp_path)
    plain = create_app(load_config(None, environ={}))
    with TestClient(plain) as client:
        answer = client.post("/v1/chat/completions", json={"model": "mock/echo",
                                                           "messages": [{"role": "user", "content": "hi"}]})
        assert answer.status_code == 200
        refused = client.post("/key/generate", json={})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "no_database"
        assert "master key" in refused.json()["error"]["message"]
    assert plain.gateway.db is None
    assert plain.gateway.spend is None
    assert list(tmp_path.iterdir()) == []  # no database file, no spend journal

    keyed = create_app(load_config(None, environ={"LITELLM_MASTER_KEY": "sk-admin"}))
    assert keyed.gateway.db is not None
    assert keyed.gateway.spend is not None
    configured = create_app(load_config(None, environ={"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}))
    assert configured.gateway.db is not None
