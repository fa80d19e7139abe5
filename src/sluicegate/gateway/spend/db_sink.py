"""The database spend sink: each batch becomes spend-log rows, running totals and daily rows, in one transaction.

Idempotent on `request_id`: the spend-log INSERT ignores request ids already stored and returns the ones it
inserted; only those records add to the totals, so a batch offered twice (a replay) counts once. Not the hot path:
the SpendWriter calls it in the background. Cost per batch of N records: one INSERT (a JSON parameter on PostgreSQL,
an executemany on SQLite), one UPDATE per key, user, team, membership and organisation the batch touches, one multi-
row upsert each for end users and daily rows; on SQLite one SELECT per table more, for the exact read-modify-write
of money.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any, cast

import orjson
from sqlalchemy import JSON, ColumnElement, Table, and_, bindparam, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sluicegate.gateway.db.models import DailySpend, EndUser, SpendLog, utcnow
from sluicegate.gateway.db.types import Money, to_money
from sluicegate.gateway.spend.record import SpendRecord

log = logging.getLogger("sluicegate.gateway.spend")

ZERO = Decimal(0)
GLOBAL = "global"  # daily rows of the whole gateway (entity_id "", api_key ""): what /global/spend… reads
ENTITY_TYPES = ("key", "user", "team", "organization", "end_user", "tag", GLOBAL)
_LOGS = cast(Table, SpendLog.__table__)
_DAILY = cast(Table, DailySpend.__table__)
_END_USERS = cast(Table, EndUser.__table__)
_DAILY_KEY = ("entity_type", "entity_id", "date", "api_key", "model", "model_group", "custom_llm_provider")
_SELECT_CHUNK = 4_000  # keys per SELECT … IN (…): × 7 columns stays under SQLite's 32,766 parameters

# The running totals a record adds to: table → its primary-key columns.
_TOTAL_TABLES: dict[str, tuple[str, ...]] = {
    "virtual_keys": ("token",),
    "users": ("user_id",),
    "teams": ("team_id",),
    "team_memberships": ("user_id", "team_id"),
    "organizations": ("organization_id",),
}


class DatabaseSink:
    """Stores batches of spend records in the gateway's database (SQLite or PostgreSQL): the `SpendSink` the
    SpendWriter is given in production.

        writer = SpendWriter(Journal(directory), DatabaseSink(opened.sessions))
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def store(self, batch: list[SpendRecord]) -> None:
        """Store `batch` in one transaction; records whose request_id is already stored change nothing."""
        first: dict[str, SpendRecord] = {}
        for record in batch:
            first.setdefault(record.request_id, record)  # a request_id twice in one batch counts once too
        if not first:
            return
        rows = [_log_row(r) for r in first.values()]
        async with self._sessions() as session, session.begin():
            is_postgres = session.get_bind().dialect.name == "postgresql"
            inserted = await _insert_logs(session, rows, is_postgres=is_postgres)
            fresh = [row for row in rows if row["request_id"] in inserted]
            if not fresh:
                return
            # SQLite: _insert_logs took the database's write lock, so the reads below cannot go stale.
            totals = _totals(fresh)
            daily = _daily(fresh)
            if is_postgres:
                await _add_totals_postgres(session, totals)
                await _upsert_end_users(session, totals.end_users, is_postgres=True)
                await _upsert_daily(session, daily, is_postgres=True)
            else:
                await _add_totals_sqlite(session, totals)
                end_users = await _plus_stored_end_users(session, totals.end_users)
                await _upsert_end_users(session, end_users, is_postgres=False)
                await _upsert_daily(session, await _plus_stored_daily(session, daily), is_postgres=False)


def _log_row(record: SpendRecord) -> dict[str, Any]:
    """`record` as a spend_logs row (Core column names)."""
    metadata = dict(record.metadata)
    try:
        spend = to_money(record.spend_usd)
    except (TypeError, ValueError) as error:
        # A poison record must not block every later batch: keep it, at zero cost, with what it claimed.
        log.error("spend record %s: spend_usd %r cannot be stored (%s); stored as 0", record.request_id,
                  record.spend_usd, error)
        spend, metadata["invalid_spend_usd"] = ZERO, str(record.spend_usd)
    return {
        "request_id": record.request_id,
        "api_key": record.api_key_hash or "",
        "user_id": record.user_id,
        "team_id": record.team_id,
        "organization_id": record.org_id,
        "end_user": record.end_user,
        "model": record.model,
        "model_group": record.model_group,
        "model_id": record.deployment_id,
        "custom_llm_provider": record.provider,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "total_tokens": record.prompt_tokens + record.completion_tokens,
        "cache_read_input_tokens": record.cached_tokens,
        "cache_creation_input_tokens": record.cache_creation_tokens,
        "spend": spend,
        "start_time": record.start_time,
        "end_time": record.end_time,
        "request_duration_ms": (record.end_time - record.start_time) // timedelta(milliseconds=1),
        "status": record.status,
        "request_tags": list(dict.fromkeys(record.tags)),
        "metadata": _plain_json(metadata) if metadata else {},
    }


def _plain_json(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata as plain JSON values (a Decimal becomes its exact string, as in the journal)."""
    plain: dict[str, Any] = orjson.loads(orjson.dumps(metadata, default=str))
    return plain


# PostgreSQL: the whole batch as one JSON parameter, turned into rows by jsonb_to_recordset in SQL. One statement
# with one parameter whatever the batch's size: SQLAlchemy's multi-row VALUES processed every value of every row in
# Python (80 µs a record measured, most of what storing spend cost), asyncpg's arrays still checked every element
# (25 µs); orjson writes a row in about a microsecond. Numbers and times go as exact text (money never as a float).
# The columns the sink writes, with their PostgreSQL types (jsonb_to_recordset's record type).
_LOG_COLUMNS = (
    ("request_id", "text"), ("api_key", "text"), ("user_id", "text"), ("team_id", "text"),
    ("organization_id", "text"), ("end_user", "text"), ("model", "text"), ("model_group", "text"),
    ("model_id", "text"), ("custom_llm_provider", "text"), ("prompt_tokens", "bigint"),
    ("completion_tokens", "bigint"), ("total_tokens", "bigint"), ("cache_read_input_tokens", "bigint"),
    ("cache_creation_input_tokens", "bigint"), ("spend", "numeric"), ("start_time", "timestamptz"),
    ("end_time", "timestamptz"), ("request_duration_ms", "integer"), ("status", "text"),
    ("request_tags", "jsonb"), ("metadata", "jsonb"),
)
_PG_INSERT_LOGS = text(
    "INSERT INTO spend_logs (call_type, cache_hit, {names}) SELECT '', false, {names} "  # noqa: S608  (constants)
    "FROM jsonb_to_recordset(CAST(CAST(:batch AS text) AS jsonb)) AS batch({typed}) "
    "ON CONFLICT (request_id) DO NOTHING RETURNING request_id".format(
        names=", ".join(name for name, _ in _LOG_COLUMNS),
        typed=", ".join(f"{name} {kind}" for name, kind in _LOG_COLUMNS),
    ))


def _exact_json(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")  # the exact digits, never an exponent or a float
    raise TypeError(f"{type(value).__name__} is not JSON")


async def _insert_logs(session: AsyncSession, rows: list[dict[str, Any]], *, is_postgres: bool) -> set[str]:
    """INSERT the rows, skipping request ids already stored; the request ids actually inserted."""
    if is_postgres:
        batch = orjson.dumps(rows, default=_exact_json, option=orjson.OPT_NAIVE_UTC).decode()
        return set((await session.execute(_PG_INSERT_LOGS, {"batch": batch})).scalars())
    return await _insert_logs_sqlite(session, rows)


# SQLite: one prepared INSERT run over the batch by the driver (executemany, a C loop), each value converted by its
# column type's own bind processor, so stored text (money, times, JSON) is exactly what the ORM writes and reads.
# SQLAlchemy's multi-row VALUES spent 80 µs a record in Python. executemany cannot return ids, so the ids already
# stored are read first, under the write lock (taken by a no-op DELETE), which holds until the commit.
_LOG_NAMES = tuple(name for name, _ in _LOG_COLUMNS)
_SQLITE_INSERT_LOGS = "INSERT INTO spend_logs (call_type, cache_hit, {}) VALUES ('', 0, {})".format(  # noqa: S608
    ", ".join(_LOG_NAMES), ", ".join("?" for _ in _LOG_NAMES))


async def _insert_logs_sqlite(session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    await session.execute(text("DELETE FROM spend_logs WHERE 0"))  # the write lock, before reading what is stored
    stored: set[str] = set()
    for chunk in _chunks([row["request_id"] for row in rows], _SELECT_CHUNK):
        stored.update(await session.scalars(select(_LOGS.c.request_id).where(_LOGS.c.request_id.in_(chunk))))
    fresh = [row for row in rows if row["request_id"] not in stored]
    if fresh:
        connection = await session.connection()
        dialect = connection.dialect  # each type as this dialect binds it (Money: fixed-width text on SQLite)
        processors = [(name, _LOGS.c[name].type.dialect_impl(dialect).bind_processor(dialect))
                      for name in _LOG_NAMES]
        values = [tuple(row[name] if convert is None else convert(row[name]) for name, convert in processors)
                  for row in fresh]
        await connection.exec_driver_sql(_SQLITE_INSERT_LOGS, values)
    return {row["request_id"] for row in fresh}


@dataclass(slots=True)
class _Totals:
    """What the fresh records add, per entity: spend per table and key, per key and model group, per end user."""

    spend: dict[str, dict[tuple[str, ...], Decimal]] = field(
        default_factory=lambda: {table: defaultdict(Decimal) for table in _TOTAL_TABLES})
    key_models: dict[str, dict[str, Decimal]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Decimal)))
    end_users: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))


def _totals(rows: list[dict[str, Any]]) -> _Totals:
    totals = _Totals()
    for row in rows:
        spend: Decimal = row["spend"]
        key, user, team, org = row["api_key"], row["user_id"], row["team_id"], row["organization_id"]
        if key:
            totals.spend["virtual_keys"][(key,)] += spend
            totals.key_models[key][row["model_group"] or row["model"]] += spend
        if user:
            totals.spend["users"][(user,)] += spend
        if team:
            totals.spend["teams"][(team,)] += spend
        if user and team:
            totals.spend["team_memberships"][(user, team)] += spend
        if org:
            totals.spend["organizations"][(org,)] += spend
        if row["end_user"]:
            totals.end_users[row["end_user"]] += spend
    return totals


async def _add_totals_postgres(session: AsyncSession, totals: _Totals) -> None:
    """`spend = spend + :delta` (atomic on NUMERIC), one UPDATE per entity, in key order so that two sinks
    updating the same rows lock them in the same order and cannot deadlock."""
    for table, pk in _TOTAL_TABLES.items():
        amounts = totals.spend[table]
        if not amounts:
            continue
        where = " AND ".join(f"{column} = :k{i}" for i, column in enumerate(pk))
        assignments = "spend = spend + :delta"
        if table == "virtual_keys":
            assignments += f", model_spend = {_PG_MODEL_SPEND_MERGE}"
        params = []
        for ident in sorted(amounts):
            one: dict[str, Any] = {f"k{i}": part for i, part in enumerate(ident)}
            one["delta"] = amounts[ident]
            if table == "virtual_keys":
                one["models"] = _models_json(totals.key_models[ident[0]])
            params.append(one)
        await session.execute(text(f"UPDATE {table} SET {assignments} WHERE {where}"), params)  # noqa: S608  (names are constants)


# Adds each model group's amount to model_spend, exactly (JSONB numbers are NUMERIC): values are decimal strings.
_PG_MODEL_SPEND_MERGE = """COALESCE(model_spend, '{}'::jsonb) || COALESCE((
    SELECT jsonb_object_agg(d.key, to_jsonb((COALESCE(model_spend ->> d.key, '0')::numeric + d.value::numeric)::text))
    FROM jsonb_each_text(CAST(:models AS jsonb)) AS d), '{}'::jsonb)"""


def _models_json(amounts: dict[str, Decimal]) -> str:
    return orjson.dumps({model: str(amount) for model, amount in amounts.items()}).decode()


async def _add_totals_sqlite(session: AsyncSession, totals: _Totals) -> None:
    """Read, add in Python, write back: SQLite keeps money as text, where `spend + :delta` would make it a float."""
    for table_name, pk in _TOTAL_TABLES.items():
        amounts = totals.spend[table_name]
        if not amounts:
            continue
        table = cast(Table, SpendLog.metadata.tables[table_name])
        is_keys = table_name == "virtual_keys"
        columns = [table.c[c] for c in pk] + [table.c.spend] + ([table.c.model_spend] if is_keys else [])
        stored: dict[tuple[str, ...], Any] = {}
        for chunk in _chunks(sorted(amounts), _SELECT_CHUNK):
            for row in await session.execute(select(*columns).where(_key_in(table, pk, chunk))):
                stored[tuple(row[: len(pk)])] = row
        params = []
        for ident, row in sorted(stored.items()):
            one: dict[str, Any] = {f"k{i}": part for i, part in enumerate(ident)}
            one["new_spend"] = (row.spend or ZERO) + amounts[ident]
            if is_keys:
                one["new_models"] = _add_models(row.model_spend, totals.key_models[ident[0]])
            params.append(one)
        if not params:
            continue  # none of them exists (e.g. deleted keys): their spend stays in spend_logs only
        values: dict[str, Any] = {"spend": bindparam("new_spend", type_=Money())}
        if is_keys:
            values["model_spend"] = bindparam("new_models", type_=JSON())
        key_match = and_(*(table.c[c] == bindparam(f"k{i}") for i, c in enumerate(pk)))
        await session.execute(update(table).where(key_match).values(values), params)


def _add_models(stored: Any, amounts: dict[str, Decimal]) -> dict[str, Any]:
    merged = dict(stored) if isinstance(stored, dict) else {}
    for model, amount in amounts.items():
        merged[model] = str(Decimal(str(merged.get(model) or 0)) + amount)
    return merged


def _key_in(table: Table, pk: Sequence[str], keys: Sequence[tuple[str, ...]]) -> ColumnElement[bool]:
    if len(pk) == 1:
        return table.c[pk[0]].in_([k[0] for k in keys])
    return tuple_(*(table.c[c] for c in pk)).in_(keys)


async def _plus_stored_end_users(session: AsyncSession, amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    """SQLite: each end user's new total (stored spend + the batch's), for an upsert that sets it."""
    totals = dict(amounts)
    for chunk in _chunks(sorted(amounts), _SELECT_CHUNK):
        query = select(_END_USERS.c.user_id, _END_USERS.c.spend).where(_END_USERS.c.user_id.in_(chunk))
        for user_id, spend in await session.execute(query):
            totals[user_id] += spend or ZERO
    return totals


async def _upsert_end_users(session: AsyncSession, amounts: dict[str, Decimal], *, is_postgres: bool) -> None:
    """Create missing end users (LiteLLM does too) and add to the others: adds on PostgreSQL; on SQLite `amounts`
    already holds the new totals."""
    if not amounts:
        return
    now = utcnow()
    rows = [{"user_id": user_id, "spend": amounts[user_id], "blocked": False, "created_at": now, "updated_at": now}
            for user_id in sorted(amounts)]
    statement = (postgresql.insert if is_postgres else sqlite.insert)(_END_USERS)
    spend = _END_USERS.c.spend + statement.excluded.spend if is_postgres else statement.excluded.spend
    upsert = statement.on_conflict_do_update(index_elements=["user_id"], set_={"spend": spend})
    # RETURNING makes SQLAlchemy send the rows as multi-row statements instead of one execution per row.
    await session.execute(upsert.returning(_END_USERS.c.user_id), rows)


@dataclass(slots=True)
class _Counters:
    """One daily row's additive columns."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    spend: Decimal = ZERO
    api_requests: int = 0
    successful_requests: int = 0
    failed_requests: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.prompt_tokens += row["prompt_tokens"]
        self.completion_tokens += row["completion_tokens"]
        self.cache_read_input_tokens += row["cache_read_input_tokens"]
        self.cache_creation_input_tokens += row["cache_creation_input_tokens"]
        self.spend += row["spend"]
        self.api_requests += 1
        if row["status"] == "success":
            self.successful_requests += 1
        else:
            self.failed_requests += 1

    def merge(self, other: _Counters) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cache_read_input_tokens += other.cache_read_input_tokens
        self.cache_creation_input_tokens += other.cache_creation_input_tokens
        self.spend += other.spend
        self.api_requests += other.api_requests
        self.successful_requests += other.successful_requests
        self.failed_requests += other.failed_requests


_COUNTER_NAMES = tuple(f.name for f in fields(_Counters))
_DailyKey = tuple[str, str, date, str, str, str, str]  # in _DAILY_KEY's order


def _daily(rows: list[dict[str, Any]]) -> dict[_DailyKey, _Counters]:
    """The batch folded into daily rows: one per entity, UTC day (of the request's start) and dimensions.

    Records alike in every dimension (a busy key's, mostly) are summed once first, then added to each of their
    entities' rows: one addition per record instead of one per record and entity."""
    alike: dict[tuple[Any, ...], tuple[dict[str, Any], _Counters]] = {}
    for row in rows:
        key = (row["start_time"].astimezone(UTC).date(), row["model"], row["model_group"] or "",
               row["custom_llm_provider"] or "", row["api_key"], row["user_id"], row["team_id"],
               row["organization_id"], row["end_user"], tuple(row["request_tags"]))
        found = alike.get(key)
        if found is None:
            found = alike[key] = (row, _Counters())
        found[1].add(row)
    daily: dict[_DailyKey, _Counters] = defaultdict(_Counters)
    for (day, model, group, provider, *_), (row, counters) in alike.items():
        for entity_type, entity_id in _entities(row):
            daily[(entity_type, entity_id, day, row["api_key"], model, group, provider)].merge(counters)
        # The gateway-wide rows leave the key out: a few rows per day and model, whatever the number of keys.
        daily[(GLOBAL, "", day, "", model, group, provider)].merge(counters)
    return daily


def _entities(row: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for entity_type, column in (("key", "api_key"), ("user", "user_id"), ("team", "team_id"),
                                ("organization", "organization_id"), ("end_user", "end_user")):
        if row[column]:
            yield entity_type, row[column]
    for tag in row["request_tags"]:
        yield "tag", tag


async def _plus_stored_daily(session: AsyncSession, daily: dict[_DailyKey, _Counters]) -> dict[_DailyKey, _Counters]:
    """SQLite: the daily rows' spend replaced by the new total (stored + batch); the upsert then sets it."""
    key_columns = [_DAILY.c[c] for c in _DAILY_KEY]
    for chunk in _chunks(sorted(daily), _SELECT_CHUNK):
        query = select(*key_columns, _DAILY.c.spend).where(tuple_(*key_columns).in_(chunk))
        for row in await session.execute(query):
            daily[cast(_DailyKey, tuple(row[:-1]))].spend += row.spend or ZERO
    return daily


async def _upsert_daily(session: AsyncSession, daily: dict[_DailyKey, _Counters], *, is_postgres: bool) -> None:
    """One multi-row upsert (per 1,000 rows) into daily_spend, in key order (no deadlocks between two sinks).

    Counters are added in SQL; spend too on PostgreSQL, while on SQLite `daily` already holds the new totals."""
    if not daily:
        return
    now = utcnow()
    rows = []
    for key in sorted(daily):
        counters = daily[key]
        row: dict[str, Any] = dict(zip(_DAILY_KEY, key, strict=True))
        row.update({name: getattr(counters, name) for name in _COUNTER_NAMES})
        row["created_at"] = row["updated_at"] = now
        rows.append(row)
    statement = (postgresql.insert if is_postgres else sqlite.insert)(_DAILY)
    excluded = statement.excluded
    set_: dict[str, Any] = {name: _DAILY.c[name] + excluded[name] for name in _COUNTER_NAMES}
    if not is_postgres:
        set_["spend"] = excluded.spend
    set_["updated_at"] = excluded.updated_at
    upsert = statement.on_conflict_do_update(index_elements=list(_DAILY_KEY), set_=set_)
    await session.execute(upsert.returning(_DAILY.c.id), rows)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]

