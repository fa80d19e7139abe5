"""Fixtures for gateway tests: a gateway process in front of the OpenAI simulator; databases on SQLite and, where
it answers, PostgreSQL (each PostgreSQL test gets a database of its own, dropped after); an in-process gateway
with a database for the management API."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from sluicegate.gateway.app import create_app
from sluicegate.gateway.config import load_config
from sluicegate.gateway.db.migrate import upgrade
from tests.gateway.server import GatewayProcess
from tests.simulators.openai import OpenAISimulator

MASTER_KEY = "sk-master-canary-7f3a9c"  # a canary: must never appear in logs or error bodies
PROVIDER_KEY = "sk-test"


def simulator_config(sim: OpenAISimulator, *, master_key: bool = True, extra: str = "") -> str:
    general = f"general_settings:\n  master_key: {MASTER_KEY}\n  max_request_size_mb: 1\n" if master_key else (
        "general_settings:\n  max_request_size_mb: 1\n")
    return f"""
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {sim.base_url}
      api_key: os.environ/SIM_OPENAI_KEY
  - model_name: text-embedding-3-small
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: {sim.base_url}
      api_key: os.environ/SIM_OPENAI_KEY
  - model_name: gpt-3.5-turbo-instruct
    litellm_params:
      model: openai/gpt-3.5-turbo-instruct
      api_base: {sim.base_url}
      api_key: os.environ/SIM_OPENAI_KEY
  - model_name: azure-gpt
    litellm_params:
      model: azure/my-deployment
      api_base: {sim.azure_endpoint}
      api_version: "2024-10-21"
      api_key: os.environ/SIM_OPENAI_KEY
    model_info:
      base_model: gpt-4o
{extra}
litellm_settings:
  num_retries: 0
{general}"""


@pytest.fixture(scope="module")
def gateway(openai_sim_server: OpenAISimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway (with a master key) for a test module, in front of the shared simulator."""
    process = GatewayProcess(simulator_config(openai_sim_server), tmp_path_factory.mktemp("gw"),
                             env={"SIM_OPENAI_KEY": PROVIDER_KEY})
    yield process.wait_ready()
    process.stop()


def _run(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion from any context (session fixtures may be set up inside a running loop)."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(lambda: asyncio.run(make())).result()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run; each test gets a copy (migrating per test cost ~1 s each)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    _run(lambda: upgrade(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def _postgres_template(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database migrated once per run, the TEMPLATE of each test's own database."""
    name = f"sluicegate_template_{uuid.uuid4().hex[:12]}"
    _run(lambda: _admin(postgres_url, f'CREATE DATABASE "{name}"'))
    try:
        _run(lambda: upgrade(make_url(postgres_url).set(database=name).render_as_string(hide_password=False)))
        yield name
    finally:
        _run(lambda: _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database migrated to this version's schema and otherwise empty: a fresh SQLite file, or a fresh
    PostgreSQL database. (tests/gateway/db/ overrides it with unmigrated ones, for the migration tests.)"""
    if request.param == "sqlite":
        path = tmp_path / "sluicegate.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("_postgres_template")
    async with postgres_database(request.getfixturevalue("postgres_url"), template=template) as url:
        yield url


@contextlib.asynccontextmanager
async def postgres_database(maintenance_url: str, template: str | None = None) -> AsyncIterator[str]:
    """A throwaway PostgreSQL database next to the one `maintenance_url` names (a copy of `template` when
    given); dropped on exit."""
    name = f"sluicegate_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    await _admin(maintenance_url, f'CREATE DATABASE "{name}"{copy}')
    try:
        yield make_url(maintenance_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(maintenance_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(maintenance_url: str, statement: str) -> None:
    connection = await asyncpg.connect(maintenance_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def gateway_client(tmp_path: Path, database_url: str, *, extra_config: str = "",
                   master_key: str | None = MASTER_KEY, general: str = "") -> TestClient:
    """An in-process gateway on `database_url` (use it as a context manager: that runs the lifespan, which
    migrates the database). Send `Authorization: Bearer MASTER_KEY` for admin calls. `general`: more
    general_settings lines, indented by two spaces."""
    journal = tmp_path / "spend"
    general = f"general_settings:\n  database_url: {database_url}\n  spend_journal_dir: {journal}\n" + general
    if master_key:
        general += f"  master_key: {master_key}\n"
    path = tmp_path / "gateway.yaml"
    models = "" if "model_list:" in extra_config else "model_list: []\n"
    path.write_text(f"{models}{extra_config}\n{general}")
    return TestClient(create_app(load_config(path, environ={})), raise_server_exceptions=True)


def admin_gateway(tmp_path: Path, name: str, database_url: str, *, extra_config: str,
                  general: str = "") -> TestClient:
    """Another gateway instance, in its own folder `name` under `tmp_path`, sending the master key on every call."""
    folder = tmp_path / name
    folder.mkdir()
    client = gateway_client(folder, database_url, extra_config=extra_config, general=general)
    client.headers["authorization"] = f"Bearer {MASTER_KEY}"
    return client


@pytest.fixture
def manage_client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    """The gateway's management API on a fresh database (SQLite, and PostgreSQL where it answers), started."""
    with gateway_client(tmp_path, database_url) as client:
        client.headers["authorization"] = f"Bearer {MASTER_KEY}"
        yield client
