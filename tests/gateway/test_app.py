"""The app's shape: what starting it costs."""

import subprocess
import sys


def test_the_gateway_never_imports_pydantic():
    # Response objects are the SDK's; the gateway forwards dicts. pydantic would add ~0.4 s to every cold start.
    code = "import sys, sluicegate.gateway.app, sluicegate.cli; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
