"""`sluicegate db import-litellm`: copy a LiteLLM proxy database's keys (their stored hashes), users, teams and
memberships, organisations, budgets and end users, with their spend totals, into sluicegate's — idempotently,
with a dry run. It never writes to LiteLLM's database, never changes sluicegate's schema, and copies no spend logs.

A row is inserted when sluicegate lacks it, updated when LiteLLM changed it after sluicegate did (LiteLLM's
`updated_at` is newer), and otherwise left alone, so a re-run never undoes a change made in sluicegate since.
Rows LiteLLM keeps no `updated_at` for (end users, team memberships) are inserted once and never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Table, and_, bindparam, insert, select, text, tuple_, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from sluicegate.errors import ConfigError
from sluicegate.gateway.db import import_litellm_schema as litellm
from sluicegate.gateway.db.engine import create_engine, redact_url, scrub
from sluicegate.gateway.db.import_litellm_schema import Cells, Skip, Source
from sluicegate.gateway.db.models import Base
from sluicegate.gateway.db.schema_version import HEAD_REVISION, VERSION_TABLE
from sluicegate.gateway.db.tokens import short_hash

_CHUNK = 500  # rows per IN (…) look-up and per multi-row write
_SHOWN_IDS = 5  # row ids listed per reason in the report

# How a row's reference to another table is checked: a missing required one skips the row, a missing nullable
# one is cleared (the row is imported without it), a missing loose one is only noted (keys name users and
# teams as plain strings, since LiteLLM keeps keys whose user or team is long gone).
Reference = tuple[str, str, Literal["required", "nullable", "loose"]]  # column, sluicegate table, kind


@dataclass(frozen=True, slots=True)
class _Spec:
    """A sluicegate table the import fills: from which LiteLLM table, by which key, checking which references."""

    table: str
    source: str
    key: tuple[str, ...]
    references: tuple[Reference, ...] = ()
    keeps_updated_at: bool = True  # whether LiteLLM's row has an updated_at to compare


# In foreign-key order: a row's references are written before it.
_SPECS = (
    _Spec("budgets", litellm.BUDGETS, ("budget_id",)),
    _Spec("organizations", litellm.ORGANIZATIONS, ("organization_id",), (("budget_id", "budgets", "nullable"),)),
    _Spec("users", litellm.USERS, ("user_id",), (("organization_id", "organizations", "nullable"),)),
    _Spec("teams", litellm.TEAMS, ("team_id",), (("organization_id", "organizations", "nullable"),)),
    _Spec("team_memberships", litellm.TEAM_MEMBERSHIPS, ("user_id", "team_id"),
          (("user_id", "users", "required"), ("team_id", "teams", "required"), ("budget_id", "budgets", "nullable")),
          keeps_updated_at=False),
    _Spec("organization_memberships", litellm.ORGANIZATION_MEMBERSHIPS, ("user_id", "organization_id"),
          (("user_id", "users", "required"), ("organization_id", "organizations", "required"),
           ("budget_id", "budgets", "nullable"))),
    _Spec("end_users", litellm.END_USERS, ("user_id",), (("budget_id", "budgets", "nullable"),),
          keeps_updated_at=False),
    _Spec("virtual_keys", litellm.KEYS, ("token",),
          (("organization_id", "organizations", "nullable"), ("budget_id", "budgets", "nullable"),
           ("user_id", "users", "loose"), ("team_id", "teams", "loose"))),
)
_ENTITY = {"budgets": "budget", "organizations": "organization", "users": "user", "teams": "team"}
_CONVERTERS: dict[str, Callable[[Cells], dict[str, Any]]] = {
    "budgets": litellm.budget_row, "organizations": litellm.organization_row, "users": litellm.user_row,
    "teams": litellm.team_row, "organization_memberships": litellm.organization_membership_row,
    "end_users": litellm.end_user_row, "virtual_keys": litellm.key_row,
}
NOT_IMPORTED = ("spend logs (LiteLLM_SpendLogs) and the daily spend tables: totals are copied, not the history",
                "models added through the API, credentials, tags, MCP servers, projects, audit log, config")


@dataclass(slots=True)
class TableReport:
    """What the import did (or, in a dry run, would do) to one sluicegate table."""

    table: str
    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason → row ids
    notes: dict[str, list[str]] = field(default_factory=dict)  # oddity → ids of rows imported anyway

    @property
    def skipped_count(self) -> int:
        return sum(len(ids) for ids in self.skipped.values())

    def skip(self, row_id: str, reason: str) -> None:
        self.skipped.setdefault(reason, []).append(row_id)

    def note(self, row_id: str, note: str) -> None:
        self.notes.setdefault(note, []).append(row_id)


@dataclass(slots=True)
class ImportReport:
    source: str  # redacted URLs
    target: str
    dry_run: bool
    tables: list[TableReport]
    missing_tables: tuple[str, ...] = ()
    missing_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(slots=True)
class _Row:
    values: dict[str, Any]
    row_id: str
    has_updated_at: bool  # LiteLLM gave an updated_at to compare with sluicegate's


@dataclass(slots=True)
class _Writes:
    spec: _Spec
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)


async def import_litellm(source_url: str, database_url: str, *, dry_run: bool = False) -> ImportReport:
    """Copy LiteLLM's database at `source_url` (PostgreSQL) into sluicegate's at `database_url`, which must be
    migrated to this version's head (`sluicegate db upgrade`). One transaction: all or nothing.

    >>> report = await import_litellm("postgresql://litellm@db/litellm", "sqlite:///sluicegate.db", dry_run=True)
    >>> print(format_report(report))
    """
    source = await litellm.read_source(source_url)
    engine = create_engine(database_url, pooled=False, sqlite_begin="IMMEDIATE")
    try:
        async with engine.connect() as connection, connection.begin() as transaction:
            await _require_current_schema(connection, database_url)
            tables, writes = await _plan(connection, source, datetime.now(UTC))
            if dry_run:
                await transaction.rollback()
            else:
                for one in writes:
                    await _write(connection, one)
    except SQLAlchemyError as error:
        cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
        detail = scrub(str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__,
                       database_url)
        raise ConfigError(f"sluicegate database {redact_url(database_url)}: {detail} (nothing was written)"
                          ) from None
    finally:
        await engine.dispose()
    return ImportReport(source=redact_url(source_url), target=redact_url(database_url), dry_run=dry_run,
                        tables=tables, missing_tables=source.missing_tables, missing_columns=source.missing_columns)


async def _require_current_schema(connection: AsyncConnection, database_url: str) -> None:
    """The import writes rows, never schema: the target must be exactly at this version's head."""
    try:
        async with connection.begin_nested():
            revision = (await connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))).scalar()  # noqa: S608
    except DBAPIError:  # no version table: never migrated
        revision = None
    if revision != HEAD_REVISION:
        raise ConfigError(f"the database {redact_url(database_url)} is at schema revision {revision or 'none'}, "
                          f"not {HEAD_REVISION}: run `sluicegate db upgrade --database-url …` on it first")


async def _plan(connection: AsyncConnection, source: Source,
                now: datetime) -> tuple[list[TableReport], list[_Writes]]:
    known: dict[str, set[str]] = {table: set() for table in _ENTITY}  # ids that exist once the import is done
    members: dict[tuple[str, str], str] = {}  # (user_id, team_id) → role, from teams' members_with_roles
    reports, writes = [], []
    for spec in _SPECS:
        report = TableReport(spec.table, spec.source)
        if spec.table == "team_memberships":
            rows = _membership_rows(source, members, report, now)
        else:
            rows = _convert(spec, source.rows.get(spec.source, []), report, now,
                            members if spec.table == "teams" else None)
        rows = await _check_references(connection, spec, rows, report, known)
        if spec.table in known:
            known[spec.table].update(row.row_id for row in rows)
        reports.append(report)
        writes.append(await _compare(connection, spec, rows, report))
    return reports, writes


def _convert(spec: _Spec, source_rows: list[dict[str, Any]], report: TableReport, now: datetime,
             members: dict[tuple[str, str], str] | None) -> list[_Row]:
    rows = []
    for source_row in source_rows:
        cells = Cells(source_row, now)
        try:
            values = _CONVERTERS[spec.table](cells)
        except Skip as reason:
            report.skip(_source_id(spec, source_row), str(reason))
            continue
        row = _Row(values, _row_id(spec, values), spec.keeps_updated_at and source_row.get("updated_at") is not None)
        if members is not None:
            for user_id, role in litellm.team_members(cells).items():
                members[(user_id, row.row_id)] = role
        for note in cells.notes:
            report.note(row.row_id, note)
        rows.append(row)
    return rows


def _membership_rows(source: Source, members: dict[tuple[str, str], str], report: TableReport,
                     now: datetime) -> list[_Row]:
    """Team members: each `members_with_roles` entry (the role) joined with its LiteLLM_TeamMembership row (spend
    inside the team, per-member budget); a member found in only one of the two still becomes a row."""
    by_pair = {(str(r["user_id"]), str(r["team_id"])): r for r in source.rows.get(litellm.TEAM_MEMBERSHIPS, [])}
    rows = []
    for user_id, team_id in sorted(by_pair.keys() | members.keys()):
        source_row = by_pair.get((user_id, team_id)) or {"user_id": user_id, "team_id": team_id}
        cells = Cells(source_row, now)
        try:
            values = litellm.team_membership_row(cells, members.get((user_id, team_id), "user"))
        except Skip as reason:
            report.skip(f"{user_id}/{team_id}", str(reason))
            continue
        rows.append(_Row(values, f"{user_id}/{team_id}", has_updated_at=False))
    return rows


def _row_id(spec: _Spec, values: dict[str, Any]) -> str:
    if spec.table == "virtual_keys":
        return short_hash(values["token"])
    return "/".join(str(values[k]) for k in spec.key)


def _source_id(spec: _Spec, source_row: dict[str, Any]) -> str:
    if spec.table == "virtual_keys":
        return short_hash(str(source_row.get("token") or ""))
    return "/".join(str(source_row.get(k)) for k in spec.key)


async def _check_references(connection: AsyncConnection, spec: _Spec, rows: list[_Row], report: TableReport,
                            known: dict[str, set[str]]) -> list[_Row]:
    """Apply `spec.references`: skip, clear or note each reference to a row neither imported nor in sluicegate."""
    for column, table, kind in spec.references:
        wanted = {row.values[column] for row in rows if row.values[column]} - known[table]
        known[table].update(await _ids_in(connection, table, wanted))
        entity = _ENTITY[table]
        kept = []
        for row in rows:
            ref = row.values[column]
            if not ref or ref in known[table]:
                kept.append(row)
            elif kind == "required":
                report.skip(row.row_id, f"{column} {ref!r}: no such {entity} in LiteLLM or sluicegate")
            else:
                if kind == "nullable":
                    row.values[column] = None
                how = "imported without it" if kind == "nullable" else "imported as is"
                report.note(row.row_id, f"{column} {ref!r}: no such {entity} in LiteLLM or sluicegate ({how})")
                kept.append(row)
        rows = kept
    return rows


async def _ids_in(connection: AsyncConnection, table_name: str, ids: set[str]) -> set[str]:
    table = _table(table_name)
    (key,) = (c for c in table.primary_key.columns)
    found: set[str] = set()
    for chunk in _chunks(sorted(ids)):
        found.update(await connection.scalars(select(key).where(key.in_(chunk))))
    return found


async def _compare(connection: AsyncConnection, spec: _Spec, rows: list[_Row], report: TableReport) -> _Writes:
    """Sort `rows` into inserts, updates and rows left alone, by what sluicegate holds now."""
    table = _table(spec.table)
    existing = await _existing(connection, table, spec.key, rows)
    writes = _Writes(spec)
    for row in rows:
        stored = existing.get(tuple(row.values[k] for k in spec.key))
        if stored is None:
            writes.inserts.append(row.values)
            report.new += 1
        elif row.has_updated_at and row.values["updated_at"] > stored["updated_at"]:
            writes.updates.append(row.values)
            report.updated += 1
        elif row.has_updated_at and row.values["updated_at"] == stored["updated_at"]:
            report.unchanged += 1
        elif row.has_updated_at:
            report.skip(row.row_id, "changed in sluicegate after LiteLLM's last change: sluicegate's row kept")
        elif _same(row.values, stored):
            report.unchanged += 1
        else:
            report.skip(row.row_id, "differs from sluicegate's, and LiteLLM keeps no updated_at to tell which is "
                                    "newer: sluicegate's row kept")
    return writes


def _same(values: dict[str, Any], stored: dict[str, Any]) -> bool:
    return all(stored[c] == v for c, v in values.items() if c not in ("created_at", "updated_at"))


async def _existing(connection: AsyncConnection, table: Table, key: tuple[str, ...],
                    rows: list[_Row]) -> dict[tuple[Any, ...], dict[str, Any]]:
    key_columns = [table.c[k] for k in key]
    match = key_columns[0] if len(key) == 1 else tuple_(*key_columns)
    wanted = sorted({tuple(row.values[k] for k in key) for row in rows})
    existing: dict[tuple[Any, ...], dict[str, Any]] = {}
    for chunk in _chunks(wanted):
        ids = [ident[0] for ident in chunk] if len(key) == 1 else chunk
        for stored in (await connection.execute(select(table).where(match.in_(ids)))).mappings():
            existing[tuple(stored[k] for k in key)] = dict(stored)
    return existing


async def _write(connection: AsyncConnection, writes: _Writes) -> None:
    table = _table(writes.spec.table)
    for chunk in _chunks(writes.inserts):
        await connection.execute(insert(table), list(chunk))
    if not writes.updates:
        return
    # SET takes every column of the parameters; the WHERE binds the key under other names.
    match = and_(*(table.c[k] == bindparam(f"key_{k}") for k in writes.spec.key))
    for chunk in _chunks(writes.updates):
        params = [{**{c: v for c, v in values.items() if c not in writes.spec.key},
                   **{f"key_{k}": values[k] for k in writes.spec.key}} for values in chunk]
        await connection.execute(update(table).where(match), params)


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def format_report(report: ImportReport) -> str:
    """The report as the CLI prints it: a table of counts, then every skip and oddity with the rows concerned."""
    verb = "would import" if report.dry_run else "imported"
    lines = [f"LiteLLM {report.source} → sluicegate {report.target}"
             + (" (dry run: nothing written)" if report.dry_run else ""),
             "", f"{'table':<26}{'new':>8}{'updated':>9}{'unchanged':>11}{'skipped':>9}"]
    lines += [f"{t.table:<26}{t.new:>8}{t.updated:>9}{t.unchanged:>11}{t.skipped_count:>9}" for t in report.tables]
    for title, part in (("Skipped (not written)", "skipped"), (f"Oddities ({verb} anyway)", "notes")):
        entries = [(t.table, reason, ids) for t in report.tables for reason, ids in getattr(t, part).items()]
        if entries:
            lines += ["", f"{title}:"] + [f"  {table}: {reason} — {_ids(ids)}" for table, reason, ids in entries]
    if report.missing_tables or report.missing_columns:
        lines += ["", "Absent from this LiteLLM version (read as empty):"]
        lines += [f"  table {table}" for table in report.missing_tables]
        lines += [f"  {table}: {', '.join(columns)}" for table, columns in report.missing_columns.items()]
    lines += ["", "Not imported: " + "; ".join(NOT_IMPORTED) + "."]
    return "\n".join(lines)


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:_SHOWN_IDS])
    return f"{shown} and {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else shown
