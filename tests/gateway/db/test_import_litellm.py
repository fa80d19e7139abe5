"""`sluicegate db import-litellm` from a real LiteLLM-shaped PostgreSQL database into sluicegate on SQLite and
PostgreSQL: rows, hashes and exact spend, oddities reported, idempotent re-runs, dry runs, and an imported key
that works on the gateway."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from sluicegate.errors import ConfigError
from sluicegate.gateway.db.engine import create_engine
from sluicegate.gateway.db.import_litellm import ImportReport, TableReport, format_report, import_litellm
from sluicegate.gateway.db.migrate import db_cli, upgrade
from sluicegate.gateway.db.models import (
    Budget,
    EndUser,
    Organization,
    OrganizationMembership,
    Team,
    TeamMembership,
    User,
    VirtualKey,
)
from sluicegate.gateway.db.tokens import hash_key
from tests.gateway.conftest import gateway_client, postgres_database
from tests.simulators.openai import OpenAISimulator

pytestmark = pytest.mark.postgres  # the source is always PostgreSQL, as LiteLLM's is

MAIN_KEY = "sk-litellm-main-0042"
ORPHAN_KEY = "sk-litellm-orphan-0043"
ODD_KEY = "sk-litellm-odd-0044"
NEGATIVE_KEY = "sk-litellm-negative-0045"
CREATED = datetime(2025, 1, 2, 3, 4, 5, 678000)  # Prisma: timestamp(3) without time zone, in UTC
UPDATED = datetime(2025, 3, 4, 5, 6, 7, 891000)

# LiteLLM's tables as its Prisma schema creates them (schema.prisma): the columns the import reads, a few it
# ignores, and for the keys one column (allowed_routes) left out, as in older LiteLLM versions.
_AUTHORED = ('"created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "created_by" TEXT NOT NULL, '
             '"updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_by" TEXT NOT NULL')
_LIMITS = ('"max_budget" DOUBLE PRECISION, "soft_budget" DOUBLE PRECISION, "max_parallel_requests" INTEGER, '
           '"tpm_limit" BIGINT, "rpm_limit" BIGINT, "model_max_budget" JSONB DEFAULT \'{}\', '
           '"budget_duration" TEXT, "budget_reset_at" TIMESTAMP(3)')
LITELLM_SCHEMA = [
    f'CREATE TABLE "LiteLLM_BudgetTable" ("budget_id" TEXT PRIMARY KEY, {_LIMITS}, '
    f'"allowed_models" TEXT[] DEFAULT ARRAY[]::TEXT[], {_AUTHORED})',
    'CREATE TABLE "LiteLLM_OrganizationTable" ("organization_id" TEXT PRIMARY KEY, "organization_alias" TEXT NOT '
    'NULL, "budget_id" TEXT NOT NULL, "metadata" JSONB NOT NULL DEFAULT \'{}\', "models" TEXT[], '
    '"spend" DOUBLE PRECISION NOT NULL DEFAULT 0, "model_spend" JSONB NOT NULL DEFAULT \'{}\', '
    f'"object_permission_id" TEXT, {_AUTHORED})',
    'CREATE TABLE "LiteLLM_UserTable" ("user_id" TEXT PRIMARY KEY, "user_alias" TEXT, "team_id" TEXT, '
    '"sso_user_id" TEXT UNIQUE, "organization_id" TEXT, "password" TEXT, "teams" TEXT[] DEFAULT ARRAY[]::TEXT[], '
    '"user_role" TEXT, "spend" DOUBLE PRECISION NOT NULL DEFAULT 0, "user_email" TEXT, "models" TEXT[], '
    f'"metadata" JSONB NOT NULL DEFAULT \'{{}}\', {_LIMITS}, "model_spend" JSONB NOT NULL DEFAULT \'{{}}\', '
    '"created_at" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP, "updated_at" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP)',
    'CREATE TABLE "LiteLLM_TeamTable" ("team_id" TEXT PRIMARY KEY, "team_alias" TEXT, "organization_id" TEXT, '
    '"admins" TEXT[], "members" TEXT[], "members_with_roles" JSONB NOT NULL DEFAULT \'{}\', '
    f'"metadata" JSONB NOT NULL DEFAULT \'{{}}\', {_LIMITS}, "spend" DOUBLE PRECISION NOT NULL DEFAULT 0, '
    '"models" TEXT[], "blocked" BOOLEAN NOT NULL DEFAULT false, "model_spend" JSONB NOT NULL DEFAULT \'{}\', '
    '"team_member_permissions" TEXT[] DEFAULT ARRAY[]::TEXT[], "model_id" INTEGER, '
    '"created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, '
    '"updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP)',
    'CREATE TABLE "LiteLLM_TeamMembership" ("user_id" TEXT, "team_id" TEXT, "spend" DOUBLE PRECISION NOT NULL '
    'DEFAULT 0, "total_spend" DOUBLE PRECISION NOT NULL DEFAULT 0, "budget_id" TEXT, '
    'PRIMARY KEY ("user_id", "team_id"))',
    'CREATE TABLE "LiteLLM_OrganizationMembership" ("user_id" TEXT, "organization_id" TEXT, "user_role" TEXT, '
    '"spend" DOUBLE PRECISION DEFAULT 0, "budget_id" TEXT, "created_at" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP, '
    '"updated_at" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY ("user_id", "organization_id"))',
    'CREATE TABLE "LiteLLM_EndUserTable" ("user_id" TEXT PRIMARY KEY, "alias" TEXT, "spend" DOUBLE PRECISION NOT '
    'NULL DEFAULT 0, "allowed_model_region" TEXT, "default_model" TEXT, "budget_id" TEXT, '
    '"blocked" BOOLEAN NOT NULL DEFAULT false)',
    'CREATE TABLE "LiteLLM_VerificationToken" ("token" TEXT PRIMARY KEY, "key_name" TEXT, "key_alias" TEXT, '
    '"soft_budget_cooldown" BOOLEAN NOT NULL DEFAULT false, "spend" DOUBLE PRECISION NOT NULL DEFAULT 0, '
    '"expires" TIMESTAMP(3), "models" TEXT[], "aliases" JSONB NOT NULL DEFAULT \'{}\', '
    '"config" JSONB NOT NULL DEFAULT \'{}\', "user_id" TEXT, "team_id" TEXT, '
    '"permissions" JSONB NOT NULL DEFAULT \'{}\', "metadata" JSONB NOT NULL DEFAULT \'{}\', "blocked" BOOLEAN, '
    f'{_LIMITS}, "allowed_cache_controls" TEXT[] DEFAULT ARRAY[]::TEXT[], '
    '"model_spend" JSONB NOT NULL DEFAULT \'{}\', "budget_id" TEXT, "organization_id" TEXT, '
    '"created_at" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP, "created_by" TEXT, '
    '"updated_at" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP, "updated_by" TEXT, "last_active" TIMESTAMP(3))',
]
_JSON_COLUMNS = {"metadata", "model_spend", "model_max_budget", "members_with_roles", "aliases", "permissions",
                 "config"}
_AUTHORS = {"created_by": "admin", "updated_by": "admin", "created_at": CREATED, "updated_at": UPDATED}

SAMPLE: list[tuple[str, dict[str, Any]]] = [
    ("LiteLLM_BudgetTable", {"budget_id": "b-monthly", "max_budget": 100.0, "soft_budget": 80.0,
                             "budget_duration": "30d", "budget_reset_at": datetime(2025, 4, 1), "rpm_limit": 60,
                             **_AUTHORS}),
    ("LiteLLM_BudgetTable", {"budget_id": "b-odd", "max_budget": 5.0, "budget_duration": "monthly",
                             "budget_reset_at": datetime(2025, 4, 1), **_AUTHORS}),
    ("LiteLLM_OrganizationTable", {"organization_id": "org-1", "organization_alias": "Acme",
                                   "budget_id": "b-monthly", "models": ["gpt-4o-mini"], "spend": 1.25,
                                   "model_spend": {"gpt-4o-mini": 1.25}, **_AUTHORS}),
    ("LiteLLM_OrganizationTable", {"organization_id": "org-2", "organization_alias": "Gone budget",
                                   "budget_id": "b-deleted", "models": [], **_AUTHORS}),
    ("LiteLLM_UserTable", {"user_id": "u-1", "user_email": "ada@example.com", "user_role": "proxy_admin",
                           "organization_id": "org-1", "spend": 0.1, "models": [], "teams": ["t-1"],
                           "model_spend": {"gpt-4o-mini": 0.1}, "max_budget": 20.0, "budget_duration": "1mo",
                           "created_at": CREATED, "updated_at": UPDATED}),
    ("LiteLLM_UserTable", {"user_id": "u-2", "user_role": None, "organization_id": "org-deleted", "models": [],
                           "created_at": CREATED, "updated_at": UPDATED}),
    ("LiteLLM_TeamTable", {"team_id": "t-1", "team_alias": "research", "organization_id": "org-1",
                           "models": ["gpt-4o-mini"], "spend": 2.5, "metadata": {"guardrails": ["pii"]},
                           "members_with_roles": [{"user_id": "u-1", "role": "admin"},
                                                  {"user_id": "u-2", "role": "user"},
                                                  {"user_id": "u-deleted", "role": "user"},
                                                  {"user_id": None, "user_email": "nobody@example.com"}],
                           "created_at": CREATED, "updated_at": UPDATED}),
    ("LiteLLM_TeamTable", {"team_id": "t-2", "budget_duration": "fortnightly", "max_budget": 1.0, "models": [],
                           "created_at": CREATED, "updated_at": UPDATED}),
    ("LiteLLM_TeamMembership", {"user_id": "u-1", "team_id": "t-1", "spend": 0.3, "budget_id": "b-monthly"}),
    ("LiteLLM_OrganizationMembership", {"user_id": "u-1", "organization_id": "org-1", "user_role": "org_admin",
                                        "spend": 0.05, "created_at": CREATED, "updated_at": UPDATED}),
    ("LiteLLM_EndUserTable", {"user_id": "customer-1", "alias": "Customer", "spend": 0.7,
                              "budget_id": "b-monthly"}),
    ("LiteLLM_VerificationToken", {
        "token": hash_key(MAIN_KEY), "key_name": "sk-...0042", "key_alias": "main", "user_id": "u-1",
        "team_id": "t-1", "models": ["gpt-4o-mini"], "spend": 0.123456789012345, "max_budget": 50.0,
        "budget_duration": "7d", "budget_reset_at": datetime(2025, 3, 10), "tpm_limit": 100000, "rpm_limit": 1000,
        "metadata": {"tags": ["prod"], "team": "research"}, "config": {"ignored": True},
        "model_max_budget": {"gpt-4o-mini": {"budget_limit": 0.1, "time_period": "1d"}},
        "model_spend": {"gpt-4o-mini": 0.123456789012345}, "permissions": {"allow_pii_controls": False},
        "allowed_cache_controls": ["no-cache"], "blocked": None, **_AUTHORS}),
    ("LiteLLM_VerificationToken", {"token": hash_key(ORPHAN_KEY), "user_id": "u-deleted", "team_id": "t-deleted",
                                   "models": [], "spend": 3.0, **_AUTHORS}),
    ("LiteLLM_VerificationToken", {"token": hash_key(ODD_KEY), "budget_duration": "2 weeks",
                                   "budget_reset_at": datetime(2025, 3, 10), "organization_id": "org-deleted",
                                   "models": [], **_AUTHORS}),
    ("LiteLLM_VerificationToken", {"token": hash_key(NEGATIVE_KEY), "spend": -1.0, "models": [], **_AUTHORS}),
]


async def _insert(connection: asyncpg.Connection, table: str, values: dict[str, Any]) -> None:
    columns = ", ".join(f'"{c}"' for c in values)
    places = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    params = [json.dumps(v) if c in _JSON_COLUMNS else v for c, v in values.items()]
    statement = f'INSERT INTO "{table}" ({columns}) VALUES ({places})'  # noqa: S608  (names from SAMPLE)
    await connection.execute(statement, *params)


async def _on_litellm(url: str, statement: str, *params: Any) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement, *params)
    finally:
        await connection.close()


@pytest.fixture
async def litellm_url(postgres_url: str) -> AsyncIterator[str]:
    """A LiteLLM proxy database with sample rows: an orphaned key, odd durations, a negative spend."""
    async with postgres_database(postgres_url) as url:
        connection = await asyncpg.connect(url)
        try:
            for statement in LITELLM_SCHEMA:
                await connection.execute(statement)
            for table, values in SAMPLE:
                await _insert(connection, table, values)
        finally:
            await connection.close()
        yield url


@pytest.fixture
async def target_url(database_url: str) -> str:
    await upgrade(database_url)
    return database_url


async def _rows(database_url: str, model: Any) -> dict[Any, Any]:
    engine = create_engine(database_url, pooled=False)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(model.__table__))).mappings().all()
    finally:
        await engine.dispose()
    key = [c.name for c in model.__table__.primary_key.columns]
    return {row[key[0]] if len(key) == 1 else tuple(row[k] for k in key): dict(row) for row in rows}


def _counts(report: ImportReport) -> dict[str, tuple[int, int, int, int]]:
    return {t.table: (t.new, t.updated, t.unchanged, t.skipped_count) for t in report.tables}


def _table(report: ImportReport, name: str) -> TableReport:
    return next(t for t in report.tables if t.table == name)


FIRST_RUN = {"budgets": (2, 0, 0, 0), "organizations": (2, 0, 0, 0), "users": (2, 0, 0, 0),
             "teams": (2, 0, 0, 0), "team_memberships": (2, 0, 0, 1), "organization_memberships": (1, 0, 0, 0),
             "end_users": (1, 0, 0, 0), "virtual_keys": (3, 0, 0, 1)}


async def test_import_copies_keys_with_their_hashes_and_spend_exactly(litellm_url: str, target_url: str) -> None:
    report = await import_litellm(litellm_url, target_url)
    assert _counts(report) == FIRST_RUN

    keys = await _rows(target_url, VirtualKey)
    assert set(keys) == {hash_key(MAIN_KEY), hash_key(ORPHAN_KEY), hash_key(ODD_KEY)}  # the negative one skipped
    main = keys[hash_key(MAIN_KEY)]
    assert main["spend"] == Decimal("0.123456789012345")
    assert main["max_budget"] == Decimal(50)
    assert (main["key_name"], main["key_alias"], main["user_id"], main["team_id"]) == ("sk-...0042", "main", "u-1",
                                                                                       "t-1")
    assert main["models"] == ["gpt-4o-mini"]
    assert main["tags"] == ["prod"]  # LiteLLM keeps tags in metadata; sluicegate has a column
    assert main["metadata"] == {"tags": ["prod"], "team": "research"}
    assert main["model_max_budget"] == {"gpt-4o-mini": {"budget_limit": "0.1", "time_period": "1d"}}
    assert main["model_spend"] == {"gpt-4o-mini": "0.123456789012345"}
    assert main["blocked"] is False
    assert (main["tpm_limit"], main["rpm_limit"], main["budget_duration"]) == (100000, 1000, "7d")
    assert main["created_at"] == CREATED.replace(tzinfo=UTC)
    assert main["updated_at"] == UPDATED.replace(tzinfo=UTC)
    assert main["budget_reset_at"] == datetime(2025, 3, 10, tzinfo=UTC)

    orphan = keys[hash_key(ORPHAN_KEY)]  # its user and team are gone in LiteLLM: still imported, as is
    assert (orphan["user_id"], orphan["team_id"], orphan["spend"]) == ("u-deleted", "t-deleted", Decimal(3))
    odd = keys[hash_key(ODD_KEY)]  # an unparseable budget_duration: imported without the reset
    assert (odd["budget_duration"], odd["budget_reset_at"], odd["organization_id"]) == (None, None, None)


async def test_import_copies_users_teams_orgs_budgets_and_end_users(litellm_url: str, target_url: str) -> None:
    await import_litellm(litellm_url, target_url)

    budgets = await _rows(target_url, Budget)
    assert budgets["b-monthly"]["max_budget"] == Decimal(100)
    assert (budgets["b-monthly"]["budget_duration"], budgets["b-monthly"]["rpm_limit"]) == ("30d", 60)
    assert (budgets["b-odd"]["budget_duration"], budgets["b-odd"]["budget_reset_at"]) == (None, None)
    orgs = await _rows(target_url, Organization)
    assert (orgs["org-1"]["spend"], orgs["org-1"]["budget_id"]) == (Decimal("1.25"), "b-monthly")
    assert orgs["org-2"]["budget_id"] is None  # its budget no longer exists in LiteLLM
    users = await _rows(target_url, User)
    assert (users["u-1"]["user_role"], users["u-1"]["spend"], users["u-1"]["organization_id"]) == (
        "proxy_admin", Decimal("0.1"), "org-1")
    assert (users["u-2"]["user_role"], users["u-2"]["organization_id"]) == ("internal_user", None)
    teams = await _rows(target_url, Team)
    assert (teams["t-1"]["spend"], teams["t-1"]["guardrails"], teams["t-1"]["models"]) == (
        Decimal("2.5"), ["pii"], ["gpt-4o-mini"])
    assert teams["t-2"]["budget_duration"] is None
    members = await _rows(target_url, TeamMembership)
    assert {k: (v["role"], v["spend"], v["budget_id"]) for k, v in members.items()} == {
        ("u-1", "t-1"): ("admin", Decimal("0.3"), "b-monthly"), ("u-2", "t-1"): ("user", Decimal(0), None)}
    org_members = await _rows(target_url, OrganizationMembership)
    assert org_members[("u-1", "org-1")]["user_role"] == "org_admin"
    assert org_members[("u-1", "org-1")]["spend"] == Decimal("0.05")
    end_users = await _rows(target_url, EndUser)
    assert (end_users["customer-1"]["spend"], end_users["customer-1"]["budget_id"]) == (Decimal("0.7"), "b-monthly")


async def test_the_report_names_every_oddity_and_skip(litellm_url: str, target_url: str) -> None:
    report = await import_litellm(litellm_url, target_url)
    text = format_report(report)
    keys = _table(report, "virtual_keys")
    assert any("spend -1.0" in reason for reason in keys.skipped)
    assert any("'2 weeks'" in note and "without a budget reset" in note for note in keys.notes)
    assert any("user_id 'u-deleted'" in note and "imported as is" in note for note in keys.notes)
    assert any("'fortnightly'" in note for note in _table(report, "teams").notes)
    assert any("no user_id" in note for note in _table(report, "teams").notes)
    assert any("user_id 'u-deleted'" in reason for reason in _table(report, "team_memberships").skipped)
    assert any("'b-deleted'" in note for note in _table(report, "organizations").notes)
    assert report.missing_columns == {"LiteLLM_VerificationToken": ("allowed_routes",)}
    assert "Not imported: spend logs" in text
    assert hash_key(MAIN_KEY) not in text  # rows are named by a short prefix of the hash


async def test_a_second_run_changes_nothing(litellm_url: str, target_url: str) -> None:
    await import_litellm(litellm_url, target_url)
    before = await _rows(target_url, VirtualKey)
    report = await import_litellm(litellm_url, target_url)
    for table in report.tables:
        assert (table.new, table.updated) == (0, 0), table
    assert _counts(report)["virtual_keys"] == (0, 0, 3, 1)  # the negative-spend key is skipped again
    assert _counts(report)["end_users"] == (0, 0, 1, 0)
    assert await _rows(target_url, VirtualKey) == before


async def test_a_dry_run_reports_the_same_and_writes_nothing(litellm_url: str, target_url: str) -> None:
    dry = await import_litellm(litellm_url, target_url, dry_run=True)
    assert _counts(dry) == FIRST_RUN
    assert "dry run: nothing written" in format_report(dry)
    for model in (Budget, Organization, User, Team, TeamMembership, EndUser, VirtualKey):
        assert await _rows(target_url, model) == {}


async def test_newer_litellm_rows_update_and_changes_made_in_sluicegate_are_kept(litellm_url: str,
                                                                                 target_url: str) -> None:
    await import_litellm(litellm_url, target_url)
    later = datetime(2025, 5, 1)
    await _on_litellm(litellm_url, 'UPDATE "LiteLLM_VerificationToken" SET spend = 4.5, updated_at = $1 '
                      "WHERE token = $2", later, hash_key(MAIN_KEY))
    await _on_litellm(litellm_url, 'UPDATE "LiteLLM_UserTable" SET user_alias = $1, updated_at = $2 '
                      "WHERE user_id = 'u-1'", "from litellm", later)
    await _on_litellm(litellm_url, """UPDATE "LiteLLM_EndUserTable" SET spend = 9.0""")
    engine = create_engine(target_url, pooled=False)
    try:
        async with engine.begin() as connection:  # an admin edits u-1 in sluicegate after the import
            await connection.execute(update(User).where(User.user_id == "u-1").values(
                user_alias="from sluicegate", updated_at=datetime.now(UTC)))
    finally:
        await engine.dispose()

    report = await import_litellm(litellm_url, target_url)
    assert _counts(report)["virtual_keys"] == (0, 1, 2, 1)
    assert _counts(report)["users"] == (0, 0, 1, 1)
    assert _counts(report)["end_users"] == (0, 0, 0, 1)
    keys = await _rows(target_url, VirtualKey)
    assert keys[hash_key(MAIN_KEY)]["spend"] == Decimal("4.5")
    assert (await _rows(target_url, User))["u-1"]["user_alias"] == "from sluicegate"
    assert (await _rows(target_url, EndUser))["customer-1"]["spend"] == Decimal("0.7")
    assert any("changed in sluicegate" in reason for reason in _table(report, "users").skipped)


async def test_an_unmigrated_target_is_refused(litellm_url: str, database_url: str) -> None:
    with pytest.raises(ConfigError, match="sluicegate db upgrade"):
        await import_litellm(litellm_url, database_url)


@pytest.mark.parametrize("url", ["sqlite:///litellm.db", "mysql://root:pw-canary@127.0.0.1/litellm"])
async def test_a_source_other_than_postgresql_is_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PostgreSQL") as caught:
        await import_litellm(url, f"sqlite:///{tmp_path / 'sg.db'}")
    assert "pw-canary" not in str(caught.value)


async def test_a_database_without_litellms_tables_is_refused(postgres_url: str, tmp_path: Path) -> None:
    async with postgres_database(postgres_url) as url:
        with pytest.raises(ConfigError, match="not a LiteLLM proxy database"):
            await import_litellm(url, f"sqlite:///{tmp_path / 'sg.db'}")


def test_the_cli_dry_run_then_import_never_prints_the_password(litellm_url: str, target_url: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    # The test server trusts every local connection, so the password is accepted and ignored.
    source = make_url(litellm_url).set(password="pw-canary").render_as_string(hide_password=False)
    out = io.StringIO()
    assert db_cli(["import-litellm", "--from", source, "--database-url", target_url, "--dry-run"], out) == 0
    assert db_cli(["import-litellm", "--from", source, "--database-url", target_url], out) == 0
    printed = out.getvalue() + capsys.readouterr().err
    assert "dry run: nothing written" in printed
    assert "virtual_keys" in printed
    assert "pw-canary" not in printed
    assert len(asyncio.run(_rows(target_url, VirtualKey))) == 3


def test_an_imported_key_works_on_the_gateway_with_its_original_plain_key(
        litellm_url: str, target_url: str, tmp_path: Path, openai_sim: OpenAISimulator) -> None:
    asyncio.run(import_litellm(litellm_url, target_url))
    models = f"""model_list:
  - model_name: gpt-4o-mini
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{openai_sim.base_url}", api_key: sk-test}}
litellm_settings: {{num_retries: 0}}
"""
    with gateway_client(tmp_path, target_url, extra_config=models) as client:
        answer = client.post("/v1/chat/completions", headers={"authorization": f"Bearer {MAIN_KEY}"},
                             json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
        assert answer.status_code == 200, answer.text
        refused = client.post("/v1/chat/completions", headers={"authorization": f"Bearer {NEGATIVE_KEY}"},
                              json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
        assert refused.status_code == 401  # skipped in the import: never a key sluicegate knows
