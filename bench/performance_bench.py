"""Performance-management benchmark (issue 11): the measure queries over 1,000,000 generated
submissions on PostgreSQL.

A fresh database is built by ``alembic upgrade head`` (so it has exactly the service's
indexes), filled server-side with ``generate_series`` (1,000,000 submissions over two years
on 40 forms of 12 agencies, ~3.4 million timeline events with responses, needs_info and
decisions spread over weeks, the milestone row of each, 1,000,000 deliveries with 1% dead
letters, 100,000 referrals), vacuumed and analyzed, then every query of
``tellonce_submissions.performance.repository`` is run exactly as the service runs it (same
SQL, same parameters), per grouping and for four period lengths. Each query runs 3 times
(once for the long periods); the best and the first (colder) time are reported.

Run: ``uv run python -m bench.performance_bench`` (needs the PostgreSQL of the tests, see
``TELLONCE_TEST_ADMIN_URL``). ``BENCH_SUBMISSIONS`` changes the size; ``BENCH_KEEP=1`` keeps
the database. ``BENCH_DB=<name>`` uses (and keeps) the database of that name: created,
migrated and filled on the first run; later runs migrate it to head and reuse its rows (saves
the generation when profiling). Writes the "Performance measures" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from tellonce_shared.migrations import upgrade
from tellonce_shared.testing import admin_url, create_database, drop_database
from tellonce_submissions.performance import repository
from tellonce_submissions.performance.repository import Scope

ROOT = Path(__file__).resolve().parents[1]
SERVICE_DIR = ROOT / "services" / "submissions"
N = int(os.environ.get("BENCH_SUBMISSIONS", "1000000"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
REUSE = os.environ.get("BENCH_DB", "")
READ_AT = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 730
FORMS = 40
PRIORITIES = ("jobs-economy", "child-family", "transportation", "community-vitality")
BEGIN, END = "<!-- performance:begin -->", "<!-- performance:end -->"

# Every row is derived from its number i with cheap arithmetic "hashes", so runs are
# reproducible. h(i, k) is a pseudo-random integer in [0, 1000).
H = "((({i}::bigint * {k}) # ({i}::bigint >> 3)) % 1000)"


def h(i: str, k: int) -> str:
    return H.format(i=i, k=k)


GENERATE = [
    "SET synchronous_commit = off",
    # submissions: spread evenly over DAYS days before READ_AT, on 40 forms of 12 agencies
    f"""
INSERT INTO submissions (id, reference, owner, form, version, owning_agency, answers,
  receivers, submitted_at)
SELECT md5(i::text)::uuid::text, 'B-' || i, 'res-' || (i % 250000),
  'form-' || lpad((i % {FORMS})::text, 2, '0'), 1, 'AG' || lpad(((i % {FORMS}) % 12)::text, 2, '0'),
  '{{}}', '[]',
  timestamptz '{(READ_AT - timedelta(days=DAYS)).isoformat()}'
    + (i::float8 / {N} * {DAYS}) * interval '1 day'
FROM generate_series(1, {N}) AS i
""",
    # the submitted event of each
    """
INSERT INTO submission_events (submission_id, at, status)
SELECT id, submitted_at, 'submitted' FROM submissions
""",
    # 95% received by the agency after 1 to 200 hours
    f"""
INSERT INTO submission_events (submission_id, at, agency, status)
SELECT md5(i::text)::uuid::text, s.submitted_at + (1 + {h("i", 7919)} % 200) * interval '1 hour',
  s.owning_agency, 'received'
FROM generate_series(1, {N}) AS i JOIN submissions s ON s.id = md5(i::text)::uuid::text
WHERE {h("i", 104729)} < 950
""",
    # 15% asked for more information after 2 to 10 days
    f"""
INSERT INTO submission_events (submission_id, at, agency, status)
SELECT md5(i::text)::uuid::text, s.submitted_at + (2 + {h("i", 15485863)} % 9) * interval '1 day',
  s.owning_agency, 'needs_info'
FROM generate_series(1, {N}) AS i JOIN submissions s ON s.id = md5(i::text)::uuid::text
WHERE {h("i", 104729)} < 950 AND {h("i", 32452843)} < 150
""",
    # 60% in review after 3 to 12 days
    f"""
INSERT INTO submission_events (submission_id, at, agency, status)
SELECT md5(i::text)::uuid::text, s.submitted_at + (3 + {h("i", 49979687)} % 10) * interval '1 day',
  s.owning_agency, 'in_review'
FROM generate_series(1, {N}) AS i JOIN submissions s ON s.id = md5(i::text)::uuid::text
WHERE {h("i", 104729)} < 950 AND {h("i", 67867967)} < 600
""",
    # 85% decided (80% of them approved) after 5 to 94 days, if that is before READ_AT
    f"""
INSERT INTO submission_events (submission_id, at, agency, status)
SELECT md5(i::text)::uuid::text, s.submitted_at + (5 + {h("i", 86028121)} % 90) * interval '1 day',
  s.owning_agency, CASE WHEN {h("i", 122949829)} < 800 THEN 'approved' ELSE 'denied' END
FROM generate_series(1, {N}) AS i JOIN submissions s ON s.id = md5(i::text)::uuid::text
WHERE {h("i", 104729)} < 950 AND {h("i", 179424673)} < 850
  AND s.submitted_at + (5 + {h("i", 86028121)} % 90) * interval '1 day'
    < timestamptz '{READ_AT.isoformat()}'
""",
    # the milestones row of each (what the service keeps up to date as events are posted;
    # here set-based, like the migration's backfill but faster on a million rows)
    """
INSERT INTO submission_facts (submission_id, form, owning_agency, submitted_at, week,
  responded_at, response_s, decided_at, decision_s, needs_info_at, last_status, last_at)
SELECT m.id, m.form, m.owning_agency, m.submitted_at,
  CAST(date_trunc('week', m.submitted_at AT TIME ZONE 'UTC') AS date),
  m.responded_at, date_part('epoch', m.responded_at - m.submitted_at),
  m.decided_at, date_part('epoch', m.decided_at - m.submitted_at),
  m.needs_info_at, m.last_status, m.last_at
FROM (
  SELECT s.id, s.form, s.owning_agency, s.submitted_at,
    min(e.at) FILTER (WHERE e.agency IS NOT NULL) AS responded_at,
    min(e.at) FILTER (WHERE e.status IN ('approved', 'denied')) AS decided_at,
    min(e.at) FILTER (WHERE e.status = 'needs_info') AS needs_info_at,
    (array_agg(e.status ORDER BY e.at DESC, e.id DESC))[1] AS last_status, max(e.at) AS last_at
  FROM submissions s JOIN submission_events e ON e.submission_id = s.id
  GROUP BY s.id, s.form, s.owning_agency, s.submitted_at
) m
""",
    # one delivery each: 98% delivered after 1 to 600 seconds, 1% dead, 1% pending
    f"""
INSERT INTO deliveries (id, submission_id, reference, agency, form, version, submitted_at,
  fields, answers, status, created_at, attempts, replays, delivered_at, dead_at)
SELECT md5('d' || i)::uuid::text, s.id, s.reference, s.owning_agency, s.form, 1, s.submitted_at,
  '[]', '{{}}',
  CASE WHEN {h("i", 198491317)} < 980 THEN 'delivered'
       WHEN {h("i", 198491317)} < 990 THEN 'dead' ELSE 'pending' END,
  s.submitted_at, 1, 0,
  CASE WHEN {h("i", 198491317)} < 980
       THEN s.submitted_at + (1 + {h("i", 275604541)} % 600) * interval '1 second' END,
  CASE WHEN {h("i", 198491317)} >= 980 AND {h("i", 198491317)} < 990
       THEN s.submitted_at + interval '3 days' END
FROM generate_series(1, {N}) AS i JOIN submissions s ON s.id = md5(i::text)::uuid::text
""",
    # 100,000 referrals: 30% started, a third of those submitted
    f"""
INSERT INTO referrals (id, owner, rule_id, source_submission_id, from_form, to_form, reason,
  status, created_at)
SELECT md5('r' || i)::uuid::text, 'res-' || (i % 250000), 'rule-' || (i % 7),
  md5((i * 10)::text)::uuid::text, 'form-' || lpad((i % {FORMS})::text, 2, '0'),
  'form-' || lpad(((i * 7) % {FORMS})::text, 2, '0'), '{{"en": "x", "es": "x"}}',
  CASE WHEN {h("i", 373587883)} < 100 THEN 'submitted'
       WHEN {h("i", 373587883)} < 300 THEN 'started' ELSE 'suggested' END,
  timestamptz '{(READ_AT - timedelta(days=DAYS)).isoformat()}'
    + (i::float8 / {max(N // 10, 1)} * {DAYS}) * interval '1 day'
FROM generate_series(1, {max(N // 10, 1)}) AS i
""",
]


def mapping() -> list[tuple[str, str]]:
    """(form, priority): each form tagged with one priority, every third with a second."""
    pairs = []
    for n in range(FORMS):
        form = f"form-{n:02d}"
        pairs.append((form, PRIORITIES[n % 4]))
        if n % 3 == 0:
            pairs.append((form, PRIORITIES[(n + 1) % 4]))
    return pairs


PERIODS = {
    "month (2026-09)": (datetime(2026, 9, 1, tzinfo=UTC), READ_AT),
    "quarter (2026-Q3)": (datetime(2026, 7, 1, tzinfo=UTC), READ_AT),
    "year (last 365 days)": (READ_AT - timedelta(days=365), READ_AT),
    "all (730 days)": (READ_AT - timedelta(days=DAYS), READ_AT),
}


async def _with_scope(
    query: Callable[[AsyncSession, Scope], Awaitable[list[Any]]],
    scope: Scope,
    session: AsyncSession,
) -> list[Any]:
    return await query(session, scope)


async def _funnel(start: datetime, end: datetime, session: AsyncSession) -> list[Any]:
    return await repository.funnel(session, start, end)


async def timed(
    sessions: async_sessionmaker[AsyncSession],
    call: Callable[[AsyncSession], Awaitable[list[Any]]],
    runs: int = 3,
) -> tuple[float, float, int]:
    times = []
    rows = 0
    for _ in range(runs):
        async with sessions() as session:
            started = time.perf_counter()
            result = await call(session)
            times.append(time.perf_counter() - started)
            rows = len(result)
    return times[0], min(times), rows


async def run(
    url: str, generate: bool = True
) -> tuple[dict[str, Any], list[tuple[str, str, str, float, float, int]]]:
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    counts: dict[str, Any] = {}
    started = time.perf_counter()
    if generate:
        async with engine.begin() as conn:
            for statement in GENERATE:
                await conn.execute(text(statement))
    # what autovacuum does to a live table: statistics and the visibility map (so the
    # covering indexes answer without visiting the heap)
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text("VACUUM ANALYZE"))
    counts["generate_seconds"] = time.perf_counter() - started if generate else None
    async with sessions() as session:
        for table in (
            "submissions",
            "submission_events",
            "submission_facts",
            "deliveries",
            "referrals",
        ):
            counts[table] = (
                await session.execute(text(f"SELECT count(*) FROM {table}"))
            ).scalar_one()
        await session.execute(
            text(
                "INSERT INTO performance_targets (form, days, share, updated_at, updated_by) "
                "SELECT 'form-' || lpad(n::text, 2, '0'), 30, 0.9, now(), 'bench' "
                f"FROM generate_series(0, {FORMS - 1}) AS n ON CONFLICT DO NOTHING"
            )
        )
        await session.commit()
    results = []
    for label, (start, end) in PERIODS.items():
        for group_by in ("form", "agency", "priority"):
            scope = Scope(start=start, end=end, as_of=end, group_by=group_by, mapping=mapping())
            queries: dict[str, Callable[[AsyncSession], Awaitable[list[Any]]]] = {
                "measures + weekly trend": partial(_with_scope, repository.measures, scope),
                "backlog": partial(_with_scope, repository.backlog, scope),
                "deliveries": partial(_with_scope, repository.deliveries, scope),
                "volumes (uptake)": partial(_with_scope, repository.form_volumes, scope),
            }
            runs = 3 if (end - start).days <= 92 else 1
            for name, call in queries.items():
                first, best, rows = await timed(sessions, call, runs)
                results.append((label, group_by, name, first, best, rows))
                print(f"{label:22} {group_by:9} {name:24} first {first:7.3f}s best {best:7.3f}s")
        first, best, rows = await timed(sessions, partial(_funnel, start, end))
        results.append((label, "from, to form", "referral funnel", first, best, rows))
        print(
            f"{label:22} funnel                             first {first:7.3f}s best {best:7.3f}s"
        )
    await engine.dispose()
    counts["load"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return counts, results


def report(counts: dict[str, Any], results: list[tuple[str, str, str, float, float, int]]) -> str:
    cpu = platform.processor() or platform.machine()
    seconds = counts["generate_seconds"]
    generated = "(reused from an earlier run)" if seconds is None else f"in {seconds:.0f} s"
    lines = [
        BEGIN,
        "## Performance measures (issue 11): `uv run python -m bench.performance_bench`",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, {platform.system()}, PostgreSQL on the same "
        "machine (shared with other work). Data generated server-side with generate_series "
        f"{generated}: {counts['submissions']:,} submissions over "
        f"{DAYS} days (40 forms, 12 agencies), {counts['submission_events']:,} timeline events "
        f"({counts['submission_facts']:,} milestone rows), "
        f"{counts['deliveries']:,} deliveries, {counts['referrals']:,} referrals; the schema "
        "and indexes are the service's own (`alembic upgrade head`). Each query is the "
        "service's SQL with its parameters, run 3 times (once for the year and all): first "
        f"and best. Load average (1, 5, 15 min) when the queries ended: {counts['load']}.",
        "",
        "| period | group by | query | rows out | first s | best s | < 1 s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, group_by, name, first, best, rows in results:
        ok = "yes" if best < 1.0 else "NO"
        lines.append(
            f"| {label} | {group_by} | {name} | {rows} | {first:.3f} | {best:.3f} | {ok} |"
        )
    slow = [r for r in results if r[4] >= 1.0]
    lines += [
        "",
        f"{len(results) - len(slow)} of {len(results)} queries under 1 s (target: each under 1 s).",
        END,
    ]
    return "\n".join(lines) + "\n"


def reused_database(name: str) -> tuple[str, bool]:
    """The URL of database ``name`` (created if absent) and whether it still needs data."""
    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url()).set(database=name).render_as_string(hide_password=False)
    upgrade(SERVICE_DIR, url)
    engine = create_engine(url)
    with engine.connect() as conn:
        empty = conn.execute(text("SELECT NOT EXISTS (SELECT 1 FROM submissions)")).scalar_one()
    engine.dispose()
    return url, bool(empty)


def main() -> None:
    if REUSE:
        url, empty = reused_database(REUSE)
        counts, results = asyncio.run(run(url, generate=empty))
        print(f"kept {url}")
    else:
        url = create_database("perf_bench")
        try:
            upgrade(SERVICE_DIR, url)
            counts, results = asyncio.run(run(url))
        finally:
            if KEEP:
                print(f"kept {url}")
            else:
                drop_database(url)
    section = report(counts, results)
    print(section)
    doc = ROOT / "docs" / "benchmarks.md"
    content = doc.read_text() if doc.exists() else "# Benchmarks\n\n"
    if BEGIN in content:
        content = re.sub(rf"{BEGIN}.*?{END}\n", lambda _: section, content, flags=re.S)
    else:
        content = content.rstrip("\n") + "\n\n" + section
    doc.write_text(content)


if __name__ == "__main__":
    main()
