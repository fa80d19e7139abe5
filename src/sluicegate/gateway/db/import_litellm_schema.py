"""LiteLLM's tables as `sluicegate db import-litellm` reads them, and each row turned into the sluicegate row it
becomes. Table and column names are those of LiteLLM's Prisma schema (schema.prisma); this module only reads.
Comparing with the target and writing are in `import_litellm.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from sluicegate.errors import ConfigError
from sluicegate.gateway.db.engine import create_engine, redact_url, scrub
from sluicegate.gateway.db.tokens import hash_key, is_key_hash
from sluicegate.gateway.db.types import to_money
from sluicegate.gateway.durations import parse_duration

BUDGETS = "LiteLLM_BudgetTable"
ORGANIZATIONS = "LiteLLM_OrganizationTable"
USERS = "LiteLLM_UserTable"
TEAMS = "LiteLLM_TeamTable"
TEAM_MEMBERSHIPS = "LiteLLM_TeamMembership"
ORGANIZATION_MEMBERSHIPS = "LiteLLM_OrganizationMembership"
END_USERS = "LiteLLM_EndUserTable"
KEYS = "LiteLLM_VerificationToken"

_LIMITS = ("max_budget", "soft_budget", "budget_duration", "budget_reset_at", "tpm_limit", "rpm_limit",
           "max_parallel_requests", "model_max_budget")
_AUTHORED = ("created_at", "created_by", "updated_at", "updated_by")

# What the import reads from each table. A column an older LiteLLM lacks reads as NULL (and the report says so);
# only the primary key must be there.
SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
    BUDGETS: ("budget_id", *_LIMITS, *_AUTHORED),
    ORGANIZATIONS: ("organization_id", "organization_alias", "budget_id", "models", "spend", "model_spend",
                    "metadata", *_AUTHORED),
    USERS: ("user_id", "user_alias", "user_email", "user_role", "sso_user_id", "organization_id", "models",
            "spend", "model_spend", "metadata", *_LIMITS, "created_at", "updated_at"),
    TEAMS: ("team_id", "team_alias", "organization_id", "members_with_roles", "models", "spend", "model_spend",
            "blocked", "team_member_permissions", "metadata", *_LIMITS, "created_at", "updated_at"),
    TEAM_MEMBERSHIPS: ("user_id", "team_id", "spend", "budget_id"),
    ORGANIZATION_MEMBERSHIPS: ("user_id", "organization_id", "user_role", "spend", "budget_id", "created_at",
                               "updated_at"),
    END_USERS: ("user_id", "alias", "spend", "budget_id", "allowed_model_region", "default_model", "blocked"),
    KEYS: ("token", "key_name", "key_alias", "user_id", "team_id", "organization_id", "budget_id", "models",
           "aliases", "spend", "model_spend", "expires", "blocked", "soft_budget_cooldown", "permissions",
           "allowed_cache_controls", "allowed_routes", "metadata", "last_active", *_LIMITS, *_AUTHORED),
}
SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    BUDGETS: ("budget_id",), ORGANIZATIONS: ("organization_id",), USERS: ("user_id",), TEAMS: ("team_id",),
    TEAM_MEMBERSHIPS: ("user_id", "team_id"), ORGANIZATION_MEMBERSHIPS: ("user_id", "organization_id"),
    END_USERS: ("user_id",), KEYS: ("token",),
}


@dataclass(frozen=True, slots=True)
class Source:
    """Every row the import reads, by LiteLLM table name; tables and columns this LiteLLM version lacks."""

    rows: dict[str, list[dict[str, Any]]]
    missing_tables: tuple[str, ...] = ()
    missing_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)


class Skip(Exception):
    """A row that cannot become a sluicegate row; the message is the reason the report shows."""


async def read_source(source_url: str) -> Source:
    """Read LiteLLM's tables from `source_url` (PostgreSQL only) in one read-only, consistent snapshot."""
    _require_postgres(source_url)
    engine = create_engine(source_url, pooled=False)
    try:
        async with engine.connect() as connection:
            snapshot = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with snapshot.begin():
                await snapshot.execute(text("SET TRANSACTION READ ONLY"))
                present = await _present_columns(snapshot)
                if KEYS not in present:
                    raise ConfigError(f"{redact_url(source_url)} has no table {KEYS!r} in its current schema: it "
                                      "is not a LiteLLM proxy database (add ?schema=NAME if LiteLLM uses another)")
                rows = {}
                for table, wanted in SOURCE_COLUMNS.items():
                    if table in present:
                        rows[table] = await _read_table(snapshot, table, wanted, present[table])
    except (SQLAlchemyError, OSError) as error:
        raise ConfigError(f"LiteLLM database {redact_url(source_url)}: {_detail(error, source_url)}") from None
    finally:
        await engine.dispose()
    missing_columns = {table: tuple(c for c in SOURCE_COLUMNS[table] if c not in present[table])
                       for table in rows}
    return Source(rows=rows, missing_tables=tuple(t for t in SOURCE_COLUMNS if t not in present),
                  missing_columns={t: cols for t, cols in missing_columns.items() if cols})


def _require_postgres(source_url: str) -> None:
    try:
        backend = make_url(source_url).get_backend_name()
    except ArgumentError:
        raise ConfigError("--from is not a database URL (expected postgresql://user:password@host:5432/litellm)"
                          ) from None
    if backend not in ("postgresql", "postgres"):
        raise ConfigError(f"--from {redact_url(source_url)}: LiteLLM's proxy database is PostgreSQL (the only "
                          "database LiteLLM supports for it); give its DATABASE_URL, postgresql://…")


async def _present_columns(connection: Any) -> dict[str, set[str]]:
    query = text("SELECT table_name, column_name FROM information_schema.columns "
                 "WHERE table_schema = current_schema() AND table_name IN :tables"
                 ).bindparams(bindparam("tables", expanding=True))
    present: dict[str, set[str]] = {}
    for table, column in await connection.execute(query, {"tables": list(SOURCE_COLUMNS)}):
        present.setdefault(str(table), set()).add(str(column))
    return present


async def _read_table(connection: Any, table: str, wanted: tuple[str, ...], present: set[str]) -> list[dict[str, Any]]:
    key = SOURCE_KEYS[table]
    if not set(key) <= present:
        raise ConfigError(f"LiteLLM table {table!r} has no {', '.join(key)} column: not a schema this import knows")
    columns = [c for c in wanted if c in present]
    # Identifiers come from SOURCE_COLUMNS (constants) filtered by the catalogue; no value is ever spliced in.
    quoted = ", ".join(f'"{c}"' for c in columns)
    order = ", ".join(f'"{c}"' for c in key)
    result = await connection.execute(text(f'SELECT {quoted} FROM "{table}" ORDER BY {order}'))  # noqa: S608
    return [{c: row.get(c) for c in wanted} for row in result.mappings()]


def _detail(error: BaseException, url: str) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    message = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return scrub(message, url)


class Cells:
    """One LiteLLM row read column by column into sluicegate's types; what had to give way is noted in `notes`."""

    def __init__(self, row: dict[str, Any], now: datetime) -> None:
        self.row, self.now = row, now
        self.notes: list[str] = []

    def text(self, column: str) -> str | None:
        value = self.row.get(column)
        return None if value is None else str(value)

    def flag(self, column: str) -> bool:
        return bool(self.row.get(column))

    def count(self, column: str) -> int | None:
        value = self.row.get(column)
        return None if value is None else int(value)

    def money(self, column: str, *, required: bool = False) -> Decimal | None:
        """LiteLLM's double precision as an exact amount: the shortest decimal that reads back as the same float."""
        value = self.row.get(column)
        if value is None:
            return Decimal(0) if required else None
        try:
            return to_money(Decimal(str(value)))
        except (ValueError, InvalidOperation) as error:
            raise Skip(f"{column} {value!r} cannot be stored as an amount ({error})") from None

    def when(self, column: str) -> datetime | None:
        """Prisma keeps UTC in `timestamp(3) without time zone`: a naive value is UTC."""
        value = self.row.get(column)
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def strings(self, column: str) -> list[str]:
        value = self.decoded(column)
        if value is None:
            return []
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        self.notes.append(f"{column} is not a list of strings ({value!r}): imported empty")
        return []

    def mapping(self, column: str) -> dict[str, Any]:
        value = self.decoded(column)
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.notes.append(f"{column} is not a JSON object: imported empty")
        return {}

    def model_amounts(self, column: str) -> dict[str, Any]:
        """`model_spend`: {model: amount}, each amount as exact text (what the spend writer keeps)."""
        amounts = {}
        for model, value in self.mapping(column).items():
            try:
                amounts[model] = f"{Decimal(str(value)):f}"
            except InvalidOperation:
                self.notes.append(f"{column}[{model!r}] {value!r} is not an amount: left out")
        return amounts

    def model_budgets(self) -> dict[str, Any]:
        """`model_max_budget`: {model: {"budget_limit", "time_period"}}, limits as exact text (keys.py's form)."""
        budgets = {}
        for model, value in self.mapping("model_max_budget").items():
            limit, period = (value.get("budget_limit"), value.get("time_period")) if isinstance(value, dict) else (
                value, None)
            try:
                exact = None if limit is None else f"{Decimal(str(limit)).normalize():f}"
            except InvalidOperation:
                self.notes.append(f"model_max_budget[{model!r}] {value!r} is not a budget: left out")
                continue
            budgets[model] = {"budget_limit": exact, "time_period": period}
        return budgets

    def from_metadata(self, name: str, check: Callable[[Any], bool]) -> Any:
        """A field LiteLLM keeps inside `metadata` (tags, guardrails, per-model limits) that has a column here."""
        value = self.mapping("metadata").get(name)
        if value is None:
            return None
        if check(value):
            return value
        self.notes.append(f"metadata.{name} {value!r} is not in the expected form: left in metadata only")
        return None

    def limits(self) -> dict[str, Any]:
        """The budget and rate-limit fields keys, users, teams and budgets share."""
        duration, reset_at = self.text("budget_duration"), self.when("budget_reset_at")
        if duration is not None:
            try:
                parse_duration(duration)
            except ValueError:
                self.notes.append(f"budget_duration {duration!r} is not a duration sluicegate knows: imported "
                                  "without a budget reset")
                duration, reset_at = None, None
        return {"max_budget": self.money("max_budget"), "soft_budget": self.money("soft_budget"),
                "budget_duration": duration, "budget_reset_at": reset_at, "tpm_limit": self.count("tpm_limit"),
                "rpm_limit": self.count("rpm_limit"), "max_parallel_requests": self.count("max_parallel_requests"),
                "model_max_budget": self.model_budgets()}

    def stamps(self, *, authored: bool = False) -> dict[str, Any]:
        stamps: dict[str, Any] = {"created_at": self.when("created_at") or self.now,
                                  "updated_at": self.when("updated_at") or self.now}
        if authored:
            stamps.update(created_by=self.text("created_by"), updated_by=self.text("updated_by"))
        return stamps

    def decoded(self, column: str) -> Any:
        """A JSON column's value (jsonb arrives decoded; a text column holding JSON is decoded here)."""
        value = self.row.get(column)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                self.notes.append(f"{column} is not JSON: imported empty")
                return None
        return value


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_int_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in value.values())


def budget_row(cells: Cells) -> dict[str, Any]:
    return {"budget_id": cells.text("budget_id"), **cells.limits(), **cells.stamps(authored=True)}


def organization_row(cells: Cells) -> dict[str, Any]:
    return {"organization_id": cells.text("organization_id"),
            "organization_alias": cells.text("organization_alias") or "", "budget_id": cells.text("budget_id"),
            "models": cells.strings("models"), "spend": cells.money("spend", required=True),
            "model_spend": cells.model_amounts("model_spend"), "metadata": cells.mapping("metadata"),
            **cells.stamps(authored=True)}


def user_row(cells: Cells) -> dict[str, Any]:
    role = cells.text("user_role")
    if role is None:
        cells.notes.append("user_role is empty: imported as internal_user")
    return {"user_id": cells.text("user_id"), "user_alias": cells.text("user_alias"),
            "user_email": cells.text("user_email"), "user_role": role or "internal_user",
            "sso_user_id": cells.text("sso_user_id"), "organization_id": cells.text("organization_id"),
            "models": cells.strings("models"), "spend": cells.money("spend", required=True),
            "model_spend": cells.model_amounts("model_spend"), "metadata": cells.mapping("metadata"),
            **cells.limits(), **cells.stamps()}


def team_row(cells: Cells) -> dict[str, Any]:
    return {"team_id": cells.text("team_id"), "team_alias": cells.text("team_alias"),
            "organization_id": cells.text("organization_id"), "models": cells.strings("models"),
            "spend": cells.money("spend", required=True), "model_spend": cells.model_amounts("model_spend"),
            "blocked": cells.flag("blocked"), "team_member_permissions": cells.strings("team_member_permissions"),
            "guardrails": cells.from_metadata("guardrails", _is_str_list) or [],
            "model_rpm_limit": cells.from_metadata("model_rpm_limit", _is_int_map) or {},
            "model_tpm_limit": cells.from_metadata("model_tpm_limit", _is_int_map) or {},
            "metadata": cells.mapping("metadata"), **cells.limits(), **cells.stamps()}


def team_members(cells: Cells) -> dict[str, str]:
    """A team's `members_with_roles` ([{"user_id", "role", "user_email"}, …]) as {user_id: role}."""
    value = cells.decoded("members_with_roles")
    if not value:  # LiteLLM's column default is {}: no members
        return {}
    members: dict[str, str] = {}
    for entry in value if isinstance(value, list) else [value]:
        if not isinstance(entry, dict) or not entry.get("user_id"):
            cells.notes.append(f"members_with_roles entry {entry!r} has no user_id: not imported as a member")
            continue
        role = entry.get("role") or "user"
        if role not in ("admin", "user"):
            cells.notes.append(f"member {entry['user_id']!r} has role {role!r}: imported as user")
            role = "user"
        members[str(entry["user_id"])] = role
    return members


def team_membership_row(cells: Cells, role: str) -> dict[str, Any]:
    return {"user_id": cells.text("user_id"), "team_id": cells.text("team_id"), "role": role,
            "spend": cells.money("spend", required=True), "budget_id": cells.text("budget_id"), **cells.stamps()}


def organization_membership_row(cells: Cells) -> dict[str, Any]:
    return {"user_id": cells.text("user_id"), "organization_id": cells.text("organization_id"),
            "user_role": cells.text("user_role"), "spend": cells.money("spend", required=True),
            "budget_id": cells.text("budget_id"), **cells.stamps()}


def end_user_row(cells: Cells) -> dict[str, Any]:
    return {"user_id": cells.text("user_id"), "alias": cells.text("alias"),
            "spend": cells.money("spend", required=True), "budget_id": cells.text("budget_id"),
            "allowed_model_region": cells.text("allowed_model_region"),
            "default_model": cells.text("default_model"), "blocked": cells.flag("blocked"), **cells.stamps()}


def key_row(cells: Cells) -> dict[str, Any]:
    return {"token": key_token(cells), "key_name": cells.text("key_name"), "key_alias": cells.text("key_alias"),
            "user_id": cells.text("user_id"), "team_id": cells.text("team_id"),
            "organization_id": cells.text("organization_id"), "budget_id": cells.text("budget_id"),
            "models": cells.strings("models"), "aliases": cells.mapping("aliases"),
            "spend": cells.money("spend", required=True), "model_spend": cells.model_amounts("model_spend"),
            "expires": cells.when("expires"), "blocked": cells.flag("blocked"),
            "soft_budget_cooldown": cells.flag("soft_budget_cooldown"), "permissions": cells.mapping("permissions"),
            "allowed_cache_controls": cells.strings("allowed_cache_controls"),
            "allowed_routes": cells.strings("allowed_routes"),
            "tags": cells.from_metadata("tags", _is_str_list) or [],
            "guardrails": cells.from_metadata("guardrails", _is_str_list) or [],
            "model_rpm_limit": cells.from_metadata("model_rpm_limit", _is_int_map) or {},
            "model_tpm_limit": cells.from_metadata("model_tpm_limit", _is_int_map) or {},
            "metadata": cells.mapping("metadata"), "last_active": cells.when("last_active"),
            **cells.limits(), **cells.stamps(authored=True)}


def key_token(cells: Cells) -> str:
    """The stored hash, kept as it is. A token LiteLLM stored unhashed (a plain "sk-…") is hashed here the way
    LiteLLM hashes keys, so that key keeps working too."""
    token = cells.text("token") or ""
    if is_key_hash(token):
        return token
    if token.startswith("sk-"):
        cells.notes.append("the key was stored unhashed in LiteLLM: imported as its SHA-256")
        return hash_key(token)
    raise Skip("token is neither a SHA-256 key hash nor an sk- key")
