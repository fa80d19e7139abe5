"""Real processes for the gateway's end-to-end durability and concurrency tests: a gateway started in a chosen
working directory (so a restart finds the spend journal the last one left), a private Redis server the test may
stop and restart, a burst of chat requests, and the database rows a burst should have left."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from sqlalchemy import select
from sqlalchemy.engine import make_url

from sluicegate.gateway.db.engine import create_engine, create_session_factory
from sluicegate.gateway.db.models import SpendLog, Team, User, VirtualKey
from sluicegate.gateway.db.tokens import hash_key, key_name
from tests.gateway.conftest import MASTER_KEY, PROVIDER_KEY
from tests.gateway.server import GatewayProcess, free_port
from tests.simulators.openai import OpenAISimulator

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}


def models_yaml(sim: OpenAISimulator, *, litellm_params: str = "") -> str:
    """One chat model on the simulator, no retries; `litellm_params` are extra lines for its deployment."""
    return f"""model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {sim.base_url}
      api_key: {PROVIDER_KEY}
{litellm_params}
litellm_settings:
  num_retries: 0
"""


def gateway_config(sim: OpenAISimulator, database_url: str, *, router_settings: str = "") -> str:
    """`models_yaml` with the master key and `database_url`; `router_settings` are extra lines for that section."""
    return f"""{models_yaml(sim)}
router_settings:
  num_retries: 0
{router_settings}
general_settings:
  master_key: {MASTER_KEY}
  database_url: {database_url}
"""


class GatewayInDir(GatewayProcess):
    """A gateway process whose working directory is `workdir` (its ./sluicegate-spend journal lives there).

    GatewayProcess picks a fresh directory per process; a restart after `kill -9` must find the old one.
    """

    def __init__(self, config_text: str, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        workdir.mkdir(exist_ok=True)
        self.log_path = workdir / f"gateway-{self.port}.log"
        config = workdir / f"config-{self.port}.yaml"
        config.write_text(config_text)
        command = [sys.executable, "-m", "sluicegate", "serve", "--port", str(self.port), "--config", str(config)]
        env = {k: v for k, v in os.environ.items()
               if not k.endswith(("_API_KEY", "_API_BASE"))
               and k not in ("LITELLM_MASTER_KEY", "SLUICEGATE_CONFIG", "DATABASE_URL", "REDIS_URL", "REDIS_HOST")}
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True, cwd=workdir)


class RedisServer:
    """A private `redis-server` on a free port, with no persistence: stop it and start it again at will."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self._binary = binary
        self._workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        self._process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self._workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self._process.returncode}")
                try:
                    if client.ping():
                        return self
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout_s}s")

    def send_signal(self, sig: int) -> None:
        """E.g. SIGSTOP: the server keeps its port and connections but answers nothing until SIGCONT."""
        if self._process is not None:
            self._process.send_signal(sig)

    def stop(self, sig: int = signal.SIGKILL) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            process.wait(10)


@dataclass
class Answer:
    """One request of a burst: its id (x-request-id), status, and whether the client saw all of it."""

    request_id: str
    status: int
    is_complete: bool  # a 200 JSON body read whole, or a stream read to `data: [DONE]`
    error: str = ""


async def send_chat(client: httpx.AsyncClient, url: str, key: str, body: dict[str, Any]) -> Answer:
    """One chat request to the gateway at `url`; a transport failure (it went away) is an Answer with status 0."""
    headers = {"authorization": f"Bearer {key}"}
    try:
        async with client.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers) as response:
            text = (await response.aread()).decode()
    except httpx.HTTPError as error:
        return Answer("", 0, is_complete=False, error=repr(error))
    request_id = response.headers.get("x-request-id", "")
    if response.status_code != 200:
        return Answer(request_id, response.status_code, is_complete=False, error=text)
    is_complete = text.endswith("data: [DONE]\n\n") if body.get("stream") else text.startswith("{")
    return Answer(request_id, 200, is_complete=is_complete)


async def burst(urls: str | Sequence[str], key: str, bodies: list[dict[str, Any]], *, timeout_s: float = 30.0,
                on_answer: Callable[[list[Answer]], None] | None = None) -> list[Answer]:
    """Send every body at once (one connection each), body i to gateway `urls[i % len(urls)]`; `on_answer` sees
    the answers so far each time one arrives. Answers come back in the order of `bodies`."""
    urls = [urls] if isinstance(urls, str) else list(urls)
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    answers: list[Answer] = []

    async def one(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Answer:
        answer = await send_chat(client, url, key, body)
        answers.append(answer)
        if on_answer is not None:
            on_answer(answers)
        return answer

    async with httpx.AsyncClient(limits=limits, timeout=timeout_s) as client:
        return list(await asyncio.gather(*(one(client, urls[i % len(urls)], body)
                                           for i, body in enumerate(bodies))))


def mixed_bodies(count: int) -> list[dict[str, Any]]:
    """`count` chat bodies, every other one streamed (with usage), prompts of different lengths."""
    bodies: list[dict[str, Any]] = []
    for i in range(count):
        body = STREAM if i % 2 else CHAT
        words = " ".join(["word"] * (1 + i % 7))
        bodies.append({**body, "messages": [{"role": "user", "content": words}]})
    return bodies


def new_key(plain: str, **fields: Any) -> VirtualKey:
    return VirtualKey(token=hash_key(plain), key_name=key_name(plain), **fields)


async def add_rows(database_url: str, *rows: Any) -> None:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            session.add_all(rows)
            await session.commit()
    finally:
        await engine.dispose()


@dataclass
class Stored:
    """What the database holds for one key after a run: its spend-log rows and the key/user/team totals."""

    rows: list[SpendLog]
    key_spend: Decimal | None
    user_spend: Decimal | None
    team_spend: Decimal | None


async def stored_spend(database_url: str, plain_key: str, user_id: str | None = None,
                       team_id: str | None = None) -> Stored:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            rows = list((await session.scalars(select(SpendLog).where(SpendLog.api_key == hash_key(plain_key))))
                        .all())
            key = await session.get(VirtualKey, hash_key(plain_key))
            user = await session.get(User, user_id) if user_id else None
            team = await session.get(Team, team_id) if team_id else None
            return Stored(rows, key.spend if key else None, user.spend if user else None,
                          team.spend if team else None)
    finally:
        await engine.dispose()


async def wait_for_rows(database_url: str, plain_key: str, count: int, timeout_s: float = 10.0) -> Stored:
    """What the database holds for the key once the spend sink (which stores in ~1 s batches) has `count` rows."""
    deadline = time.monotonic() + timeout_s
    while len((stored := await stored_spend(database_url, plain_key)).rows) < count:
        assert time.monotonic() < deadline, f"{len(stored.rows)} spend rows, not {count}, after {timeout_s}s"
        await asyncio.sleep(0.1)
    return stored


def service_url(name: str, env: str, default: str) -> str:
    """A shared test service's URL for fixtures wider than one test (tests/conftest.py's `postgres_url` and
    `redis_url` are per test); skips as they do when it does not answer, fails under CI."""
    url = os.environ.get(env, default)
    host, port = make_url(url).host or "127.0.0.1", make_url(url).port
    try:
        socket.create_connection((host, int(port or 0)), timeout=1).close()
    except OSError:
        reason = f"{name} is not answering on {host}:{port}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
        pytest.skip(reason)
    return url


@contextlib.contextmanager
def throwaway_postgres_database(maintenance_url: str) -> Iterator[str]:
    """`tests.gateway.conftest.postgres_database` for synchronous fixtures wider than one test (each statement on
    an event loop of its own, so no loop has to outlive the fixture)."""
    name = f"sluicegate_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(maintenance_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(maintenance_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(maintenance_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(maintenance_url: str, statement: str) -> None:
    connection = await asyncpg.connect(maintenance_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def served_ids(answers: list[Answer]) -> set[str]:
    """The request ids of every response the client received whole with status 200."""
    return {a.request_id for a in answers if a.status == 200 and a.is_complete}
