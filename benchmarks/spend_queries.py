"""How fast the spend reports answer on PostgreSQL with 1,000,000 spend-log rows (issue 6: "well under a second").

    .venv/bin/python benchmarks/spend_queries.py [--rows N] [--maintenance-url URL] [--runs N] [--only TEXT]
                                                 [--keep | --reuse NAME]

Creates a throwaway database next to the maintenance database (default postgresql://postgres@127.0.0.1:5432/test),
migrates it, fills spend_logs with N rows over the last 30 days (one INSERT … SELECT generate_series) and
daily_spend with the matching rows (one INSERT … SELECT … GROUP BY per entity type, the same fold as the
DatabaseSink's), then times each report through manage/spend.py — the functions the endpoints call — as a proxy
admin, with its JSON body; daily activity also at its deepest page. Prints the median and worst of --runs timed
calls after one warm-up, and the body's size. Drops the database at the end.

Shape: 500 keys (key k belongs to user k % 200, team k % 20, organisation k % 5, tag k % 10), 1,000 end users
(each on one key), 6 models over 3 providers, 2% failures.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import asyncpg
import orjson
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sluicegate.gateway.auth import MASTER
from sluicegate.gateway.db.engine import create_engine, create_session_factory
from sluicegate.gateway.db.migrate import upgrade
from sluicegate.gateway.db.queries import spend as queries
from sluicegate.gateway.db.tokens import hash_key
from sluicegate.gateway.deps import Manage
from sluicegate.gateway.manage import spend

FILL_LOGS = """
INSERT INTO spend_logs (request_id, call_type, api_key, user_id, team_id, organization_id, end_user, model,
    model_group, model_id, custom_llm_provider, prompt_tokens, completion_tokens, total_tokens,
    cache_read_input_tokens, cache_creation_input_tokens, spend, start_time, end_time, request_duration_ms, status,
    cache_hit, request_tags, metadata)
SELECT 'req-' || i, 'acompletion', encode(sha256(('sk-bench-' || k)::bytea), 'hex'), 'user-' || (k % 200),
    'team-' || (k % 20), 'org-' || (k % 5), 'cust-' || (k + 500 * (i % 2)), m.model, m.model,
    'dep-' || (i % 6), m.provider, 100 + i % 50, 20 + i % 30,
    120 + i % 50 + i % 30, i % 7, 0, ((i % 1000) + 1) * 0.000001234567890123, ts, ts + interval '300 ms', 300,
    CASE WHEN i % 50 = 0 THEN 'failure' ELSE 'success' END, false, jsonb_build_array('tag-' || (k % 10)), '{}'
FROM (SELECT i, (i::bigint * 7919) % 500 AS k,
             CAST(:end AS timestamptz) - make_interval(secs => i * CAST(:step AS float8)) AS ts
      FROM generate_series(1, CAST(:rows AS integer)) AS i) AS g
JOIN (VALUES (0, 'gpt-4o', 'openai'), (1, 'gpt-4o-mini', 'openai'), (2, 'claude-sonnet-4-5', 'anthropic'),
             (3, 'claude-haiku-4-5', 'anthropic'), (4, 'gemini-2.5-pro', 'gemini'),
             (5, 'gemini-2.5-flash', 'gemini')) AS m (n, model, provider) ON m.n = g.i % 6
"""

FOLD_DAILY = """
INSERT INTO daily_spend (entity_type, entity_id, date, api_key, model, model_group, custom_llm_provider,
    prompt_tokens, completion_tokens, cache_read_input_tokens, cache_creation_input_tokens, spend, api_requests,
    successful_requests, failed_requests, created_at, updated_at)
SELECT '{entity_type}', {entity}, (start_time AT TIME ZONE 'UTC')::date, {key}, model, coalesce(model_group, ''),
    coalesce(custom_llm_provider, ''), sum(prompt_tokens), sum(completion_tokens), sum(cache_read_input_tokens),
    sum(cache_creation_input_tokens), sum(spend), count(*), count(*) FILTER (WHERE status = 'success'),
    count(*) FILTER (WHERE status <> 'success'), now(), now()
FROM spend_logs {join}
GROUP BY 2, 3, 4, 5, 6, 7
"""

ENTITIES = {  # entity_type → (entity id, api_key, join); the global rows leave the key out, as the sink does
    "key": ("api_key", "api_key", ""),
    "user": ("user_id", "api_key", ""),
    "team": ("team_id", "api_key", ""),
    "organization": ("organization_id", "api_key", ""),
    "end_user": ("end_user", "api_key", ""),
    "tag": ("tag", "api_key", "CROSS JOIN LATERAL jsonb_array_elements_text(request_tags) AS tag"),
    "global": ("''", "''", ""),
}

FILL_LABELS = """
INSERT INTO organizations (organization_id, organization_alias, models, spend, model_spend, metadata, created_at,
    updated_at) SELECT 'org-' || o, 'Org ' || o, '[]', 0, '{}', '{}', now(), now() FROM generate_series(0, 4) AS o;
INSERT INTO teams (team_id, team_alias, organization_id, models, model_aliases, model_rpm_limit, model_tpm_limit,
    spend, model_spend, blocked, guardrails, team_member_permissions, metadata, model_max_budget, created_at,
    updated_at)
    SELECT 'team-' || t, 'Team ' || t, 'org-' || (t % 5), '[]', '{}', '{}', '{}', 0, '{}', false, '[]', '[]', '{}',
    '{}', now(), now() FROM generate_series(0, 19) AS t;
INSERT INTO virtual_keys (token, key_name, key_alias, user_id, team_id, models, aliases, spend, model_spend,
    model_rpm_limit, model_tpm_limit, blocked, soft_budget_cooldown, permissions, guardrails, tags,
    allowed_cache_controls, allowed_routes, metadata, model_max_budget, created_at, updated_at)
    SELECT encode(sha256(('sk-bench-' || k)::bytea), 'hex'), 'sk-...' || k, 'key-' || k, 'user-' || (k % 200),
    'team-' || (k % 20), '[]', '{}', 0, '{}', '{}', '{}', false, false, '{}', '[]', '[]', '[]', '[]', '{}', '{}',
    now(), now() FROM generate_series(0, 499) AS k;
"""


async def admin(maintenance_url: str, statement: str) -> None:
    connection = await asyncpg.connect(maintenance_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def fill(sessions: async_sessionmaker[AsyncSession], rows: int) -> None:
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # the last row ends yesterday
    async with sessions() as session, session.begin():
        started = time.perf_counter()
        await session.execute(text(FILL_LOGS), {"end": end, "step": 30 * 86_400 / rows, "rows": rows})
        print(f"spend_logs: {rows:,} rows in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        for entity_type, (entity, key, join) in ENTITIES.items():
            fold = FOLD_DAILY.format(entity_type=entity_type, entity=entity, key=key, join=join)
            await session.execute(text(fold))
        for statement in FILL_LABELS.strip().split(";\n"):
            await session.execute(text(statement))
    async with sessions() as session:
        daily = await session.scalar(text("SELECT count(*) FROM daily_spend"))
        print(f"daily_spend: {daily:,} rows in {time.perf_counter() - started:.1f} s")



async def vacuum(url: str) -> None:
    """VACUUM ANALYZE, as autovacuum leaves a live database: statistics, and the visibility map that lets counts
    read the index alone."""
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


Call = Callable[[Manage], Awaitable[Any]]
MONTH_DAYS = 30


def month() -> tuple[date, date]:
    today = datetime.now(UTC).date()
    return today - timedelta(days=MONTH_DAYS), today


async def last_pages(sessions: async_sessionmaker[AsyncSession], page_size: int) -> dict[str, int]:
    """entity type → the last page of its month of every entity's activity (the deepest OFFSET a client asks)."""
    start, end = month()
    async with sessions() as session:
        counts = {entity_type: (await queries.daily_page(session, queries.ActivityFilter(entity_type, start, end),
                                                         offset=0, limit=1))[0]
                  for entity_type in ("user", "end_user")}
    return {entity_type: max(1, math.ceil(count / page_size)) for entity_type, count in counts.items()}


def scenarios(last: dict[int, dict[str, int]]) -> list[tuple[str, Call]]:
    start, end = (day.isoformat() for day in month())
    one_day = (datetime.now(UTC).date() - timedelta(days=3)).isoformat()
    key = hash_key("sk-bench-42")

    def logs(page: int = 1, **filters: str) -> Call:
        return lambda m: spend.log_page(m, spend.LogQuery(**filters), page=page, page_size=50)

    def activity(entity_type: str, ids: list[str] | None = None, page: int = 1, page_size: int = 50,
                 **extra: str) -> Call:
        query = spend.ActivityQuery(entity_type, ids, start, end, **extra)
        return lambda m: spend.activity(m, query, page=page, page_size=page_size)

    def aggregated(ids: list[str] | None = None) -> Call:
        query = spend.ActivityQuery("user", ids, start, end)
        return lambda m: spend.aggregated_activity(m, query)

    def deepest(entity_type: str, page_size: int) -> tuple[str, Call]:
        page = last[page_size][entity_type]
        return (f"  last page ({page:,}) of {page_size:,} rows", activity(entity_type, page=page, page_size=page_size))

    return [
        ("/spend/logs/v2 page 1, no filter (count of all)", logs()),
        ("/spend/logs/v2 page 1,000 (offset 49,950)", logs(page=1000)),
        ("/spend/logs/v2 user_id", logs(user_id="user-7")),
        ("/spend/logs/v2 team_id", logs(team_id="team-3")),
        ("/spend/logs/v2 api_key", logs(api_key=key)),
        ("/spend/logs/v2 one day", logs(start_date=one_day, end_date=one_day)),
        ("/spend/logs/v2 user_id + one day", logs(user_id="user-7", start_date=one_day, end_date=one_day)),
        ("/spend/logs/v2 request_id", logs(request_id="req-123456")),
        ("/user/daily/activity every user, 30 days, page 1", activity("user")),
        ("  page 1 of 1,000 rows (the largest page)", activity("user", page_size=1000)),
        deepest("user", 50),
        deepest("user", 1000),
        ("/user/daily/activity one user, 30 days", activity("user", ["user-7"])),
        ("/user/daily/activity one user, model filter", activity("user", ["user-7"], model="gpt-4o")),
        ("/user/daily/activity/aggregated one user, 30 days", aggregated(["user-7"])),
        ("/user/daily/activity/aggregated every user, 30 days", aggregated()),
        ("/team/daily/activity every team, 30 days", activity("team")),
        ("/team/daily/activity one team, 30 days", activity("team", ["team-3"])),
        ("/organization/daily/activity every org", activity("organization")),
        ("/tag/daily/activity every tag", activity("tag")),
        ("/customer/daily/activity one customer", activity("end_user", ["cust-42"])),
        ("/customer/daily/activity every customer", activity("end_user")),
        deepest("end_user", 50),
        deepest("end_user", 1000),
        ("/global/spend", spend.global_total),
        ("/global/spend/keys top 10", lambda m: spend.top_keys(m, limit=10)),
        ("/global/spend/models top 10", lambda m: spend.top_models(m, limit=10)),
        ("/global/spend/teams top 10", lambda m: spend.top_teams(m, limit=10)),
    ]


def to_json(answer: Any) -> bytes:
    """The answer's JSON body, as the route sends it (the reports are plain dicts; the rest pydantic models)."""
    if isinstance(answer, BaseModel):
        return answer.model_dump_json().encode()
    if isinstance(answer, list):
        return orjson.dumps([item.model_dump(mode="json") for item in answer])
    return orjson.dumps(answer)


async def measure(sessions: async_sessionmaker[AsyncSession], runs: int, only: str = "") -> None:
    last = {page_size: await last_pages(sessions, page_size) for page_size in (50, 1000)}
    print(f"\n{'report (answer and its JSON)':52} {'median ms':>10} {'worst ms':>10} {'KB':>8}")
    for name, call in scenarios(last):
        if only not in name:
            continue
        times = []
        for run in range(runs + 1):
            async with sessions() as session:
                manage = Manage(caller=MASTER, session=session, db=cast(Any, None))  # read-only: no cache to drop
                started = time.perf_counter()
                body = to_json(await call(manage))
                if run:  # the first call warms caches and the statement cache: not counted
                    times.append((time.perf_counter() - started) * 1000)
        print(f"{name:52} {statistics.median(times):10.1f} {max(times):10.1f} {len(body) / 1000:8.1f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--maintenance-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed) to explain plans")
    parser.add_argument("--reuse", metavar="NAME", help="measure a database kept by --keep instead of filling one")
    parser.add_argument("--only", default="", help="only the reports whose name contains this")
    args = parser.parse_args()
    name = args.reuse or f"sluicegate_bench_{uuid.uuid4().hex[:10]}"
    if not args.reuse:
        await admin(args.maintenance_url, f'CREATE DATABASE "{name}"')
    url = make_url(args.maintenance_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        sessions = create_session_factory(engine)
        if not args.reuse:
            await upgrade(url)
            await fill(sessions, args.rows)
            await vacuum(url)
        await measure(sessions, args.runs, args.only)
    finally:
        await engine.dispose()
        if args.keep or args.reuse:
            print(f"kept: {url} (--reuse {name})")
        else:
            await admin(args.maintenance_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
