"""`sluicegate demo`: a 30-second tour that starts the gateway and sends it one call of each kind.

It runs the embedded defaults, so every call goes to the built-in `mock/` provider: no key, no network.
It shows the way in; it is neither a test suite nor a benchmark.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TextIO

import httpx
import uvicorn

from sluicegate import __version__
from sluicegate.gateway.app import create_app
from sluicegate.gateway.config import load_config

MODEL = "mock/demo"
PROMPT = "Hello, gateway!"
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city",
    "parameters": {"type": "object", "required": ["city", "unit"], "properties": {
        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}}
READY_TIMEOUT_S = 15.0


class StepFailed(Exception):
    """A step's answer was not what the gateway should have sent."""


def run_demo(port: int | None, out: TextIO) -> int:
    """Start the gateway, run the steps, stop it; 0 when every step passed, 1 when one failed."""
    try:
        sock = _listening_socket(port)
    except OSError as error:
        print(f"sluicegate demo: cannot listen on 127.0.0.1:{port}: {error.strerror or error}", file=out)
        return 1
    started = time.perf_counter()
    try:
        with _running_gateway(sock) as url:
            print(f"sluicegate {__version__} demo: gateway on {url} (embedded defaults: the mock/ provider, "
                  f"no key, no network), ready in {_ms(started)}", file=out, flush=True)
            with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:  # loopback: no proxy
                failed = _run_steps(client, out)
    except KeyboardInterrupt:
        print("\nsluicegate demo: interrupted; the gateway has stopped", file=out)
        return 130
    except StepFailed as error:
        print(f"sluicegate demo: {error}", file=out)
        return 1
    if failed:
        return 1
    _print_next_steps(out, time.perf_counter() - started)
    return 0


def _listening_socket(port: int | None) -> socket.socket:
    # Bound here and handed to uvicorn, so a free port cannot be taken between choosing and binding it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if sys.platform != "win32":  # rebinding a port a moment ago's run left in TIME_WAIT; Windows would share it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port or 0))
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def _running_gateway(sock: socket.socket) -> Iterator[str]:
    """The gateway in a background thread, its database and spend journal in a temporary directory (the demo
    leaves nothing behind); stopped on the way out, whatever happened."""
    with tempfile.TemporaryDirectory(prefix="sluicegate-demo-") as scratch:
        defaults = load_config(None)
        gateway = replace(defaults, database_url=f"sqlite:///{scratch}/demo.db",
                          general_settings={**defaults.general_settings, "spend_journal_dir": f"{scratch}/spend"})
        config = uvicorn.Config(create_app(gateway), log_level="warning", access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sluicegate-demo",
                                  daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        try:
            _wait_ready(url, thread)
            yield url
        finally:
            server.should_exit = True
            thread.join(10)
            sock.close()


def _wait_ready(url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise StepFailed("the gateway stopped while starting")
        try:
            if httpx.get(f"{url}/health/readiness", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise StepFailed(f"the gateway was not ready after {READY_TIMEOUT_S:.0f} s")


def _run_steps(client: httpx.Client, out: TextIO) -> bool:
    """Each step on one line: what is sent -> what came back | how long it took. True when one failed."""
    for number, (label, sent, step) in enumerate(STEPS, 1):
        print(f"[{number}/{len(STEPS)}] {label}: {sent} -> ", end="", file=out, flush=True)
        started = time.perf_counter()
        try:
            result = step(client, out)
        except (httpx.HTTPError, StepFailed, LookupError, ValueError, TypeError) as error:
            print(f"FAILED: {error}", file=out)
            print(f"sluicegate demo: step {number} ({label}) failed", file=out)
            return True
        print(f"{result} | {_ms(started)}", file=out, flush=True)
    return False


def _chat(client: httpx.Client, out: TextIO) -> str:
    response = _checked(client.post("/v1/chat/completions", json={"model": MODEL, "messages": _messages(PROMPT)}))
    body = response.json()
    usage = body["usage"]
    cost = response.headers.get("x-litellm-response-cost", "(not sent: mock/ has no price)")
    return (f"{body['choices'][0]['message']['content']!r} | usage {usage['prompt_tokens']} prompt + "
            f"{usage['completion_tokens']} completion tokens | x-litellm-response-cost: {cost}")


def _stream(client: httpx.Client, out: TextIO) -> str:
    request = {"model": MODEL, "messages": _messages(PROMPT), "stream": True}
    chunks = 0
    with client.stream("POST", "/v1/chat/completions", json=request) as response:
        _checked(response)
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunks += 1
            for choice in json.loads(line[6:]).get("choices") or ():
                print((choice.get("delta") or {}).get("content") or "", end="", file=out, flush=True)
    if chunks == 0:
        raise StepFailed("the stream sent no chunks")
    return f" ({chunks} chunks)"


def _tool_call(client: httpx.Client, out: TextIO) -> str:
    request = {"model": MODEL, "messages": _messages("What's the weather in Paris?"), "tools": [WEATHER_TOOL]}
    choice = _checked(client.post("/v1/chat/completions", json=request)).json()["choices"][0]
    calls = choice["message"].get("tool_calls")
    if not calls:
        raise StepFailed(f"no tool call in {choice['message']}")
    function = calls[0]["function"]
    return f"{function['name']}({function['arguments']}) | finish_reason={choice['finish_reason']}"


def _anthropic_messages(client: httpx.Client, out: TextIO) -> str:
    headers = {"x-api-key": "sk-demo", "anthropic-version": "2023-06-01"}
    request = {"model": MODEL, "max_tokens": 100, "messages": _messages(PROMPT)}
    body = _checked(client.post("/v1/messages", json=request, headers=headers)).json()
    text = "".join(block.get("text", "") for block in body["content"] if block.get("type") == "text")
    return f"{text!r} | stop_reason={body['stop_reason']}"


def _models_and_metrics(client: httpx.Client, out: TextIO) -> str:
    models = [m["id"] for m in _checked(client.get("/v1/models")).json()["data"]]
    counter = "litellm_proxy_total_requests_metric_total"
    lines = [line for line in _checked(client.get("/metrics")).text.splitlines()
             if line.startswith(counter + "{") and f'requested_model="{MODEL}"' in line]
    if not lines:
        raise StepFailed(f"/metrics has no {counter} line for {MODEL}")
    counts = [f"{_label(line, 'route')} {_label(line, 'status_code')}: {float(line.rsplit(' ', 1)[1]):.0f}"
              for line in lines]
    return f"models: {', '.join(models)} | {counter}{{requested_model=\"{MODEL}\"}} {', '.join(counts)}"


def _label(metric_line: str, name: str) -> str:
    found = re.search(f'{name}="([^"]*)"', metric_line)
    return found.group(1) if found else "?"


def _messages(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        response.read()
        raise StepFailed(f"HTTP {response.status_code}: {response.text[:300]}")
    return response


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"


def _print_next_steps(out: TextIO, elapsed_s: float) -> None:
    print(f"\nAll {len(STEPS)} steps passed in {elapsed_s:.1f} s; the gateway has stopped. To try next:\n"
          "  sluicegate serve --config config.yaml      # your models and keys, in LiteLLM's config format\n"
          "  sluicegate serve                           # these defaults, on http://127.0.0.1:4000\n"
          '  OpenAI(base_url="http://127.0.0.1:4000/v1", api_key="anything")   # any OpenAI client, pointed at it',
          file=out)


Step = Callable[[httpx.Client, TextIO], str]
STEPS: list[tuple[str, str, Step]] = [
    ("chat", f"POST /v1/chat/completions model={MODEL} {PROMPT!r}", _chat),
    ("stream", "POST /v1/chat/completions stream=true", _stream),
    ("tool call", "POST /v1/chat/completions tools=[get_weather] \"What's the weather in Paris?\"", _tool_call),
    ("anthropic", "POST /v1/messages (x-api-key, anthropic-version: 2023-06-01, max_tokens=100)",
     _anthropic_messages),
    ("models + metrics", "GET /v1/models, GET /metrics", _models_and_metrics),
]
