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
