"""`sluicegate demo`: every step runs against the real gateway, and the gateway stops whatever happens."""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys

import httpx
import pytest

from sluicegate import demo
from sluicegate.cli import main


def test_demo_runs_every_step_and_exits_0():
    result = subprocess.run([sys.executable, "-m", "sluicegate", "demo"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"\[1/5\] chat: .*You said: Hello, gateway!.*usage \d+ prompt \+ \d+ completion tokens"
                     r".*x-litellm-response-cost", out)
    assert re.search(r"\[2/5\] stream: .* -> This is a mock answer .* \(\d+ chunks\)", out)
    assert '[3/5] tool call: ' in out
    assert 'get_weather({"city":"example","unit":"celsius"}) | finish_reason=tool_calls' in out
    assert re.search(r"\[4/5\] anthropic: .*You said: Hello, gateway!.*stop_reason=end_turn", out)
    assert re.search(r'\[5/5\] models \+ metrics: .*mock/\*.*requested_model="mock/demo".*/v1/messages 200: 1', out)
    assert "sluicegate serve --config config.yaml" in out
    assert "FAILED" not in out


@pytest.mark.parametrize(("raised", "code", "said"), [
    (demo.StepFailed("no answer"), 1, "step 1 (broken) failed"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_a_failing_or_interrupted_step_stops_the_gateway(monkeypatch, capsys, raised, code, said):
    def step(client: httpx.Client, out: io.StringIO) -> str:
        raise raised

    monkeypatch.setattr(demo, "STEPS", [("broken", "GET /nothing", step)])
    assert main(["demo"]) == code
    out = capsys.readouterr().out
    assert said in out
    url = re.search(r"gateway on (http://127\.0\.0\.1:\d+)", out).group(1)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health/readiness", timeout=2, trust_env=False)


def test_a_port_in_use_is_a_clear_error(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().out
