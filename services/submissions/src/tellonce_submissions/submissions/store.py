"""Writing a submission: every row it makes, in the caller's transaction, at once.

A submission writes its own row, its first timeline event, its performance facts, one outbox
row per receiving agency, the resident's profile values (only if they consent, read when the
write runs), the idempotency record, and removes the draft it came from. ``SubmissionWrite``
holds those rows as plain dicts, and ``store`` writes them:

- on PostgreSQL, as **one statement** (data-modifying CTEs, rows passed as JSON and unpacked
  by ``json_to_recordset``). Its text depends only on which columns are written, so it is
  built once per process, run on the psycopg connection itself and prepared once by the
  server: a submission costs one round trip and no per-request SQL building
  (``bench/submissions.py`` measures it). The statement stores anything only if the
  idempotency outcome can be stored (see ``idempotency``). Foreign keys are checked at the
  statement's end, so the event may reference the submission of the same statement;
- elsewhere (SQLite, local development), as a few plain INSERTs in order.

Consent is read with a lock (PostgreSQL): the statement takes a shared lock on the resident's
profile row and reads the row's current version, and withdrawing consent or erasing the
profile takes that row's lock first, so the two are ordered whichever starts first: a
withdrawal committed while the statement waited is seen (nothing is kept), and a withdrawal
that comes after waits for the statement, then erases what it kept.
"""

# ruff: noqa: S608 -- the SQL text holds only identifiers from the tables' metadata; every value
# is a bound parameter.
from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

import orjson
import psycopg
from sqlalchemy import (
    DateTime,
    LargeBinary,
    String,
    Table,
    delete,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tellonce_submissions.deliveries.models import Delivery
from tellonce_submissions.deliveries.outbox import NOTIFY_CHANNEL
from tellonce_submissions.drafts import repository as drafts_repository
from tellonce_submissions.models import (
    IdempotencyKey,
    ProfileValue,
    Submission,
    SubmissionEvent,
)
from tellonce_submissions.performance.models import SubmissionFacts
from tellonce_submissions.profile import repository as profile_repository


@dataclass
class SubmissionWrite:
    submission: dict[str, Any]
    event: dict[str, Any]
    facts: dict[str, Any]
    deliveries: list[dict[str, Any]]
    owner: str
    profile_values: list[dict[str, Any]] = field(default_factory=list)
    """Kept only if ``owner``'s profile says keep when the write runs."""
    draft_id: str | None = None
    """The draft the submission came from, removed by the same write."""
    outcome: dict[str, Any] | None = None
    """The idempotency record of the response: the write happens only if this row can be
    stored (its key is new, or held by an outcome older than ``replace_before``)."""
    outcome_lock: int | None = None
    """Advisory-lock id of (resident, key) (PostgreSQL): taken by the write itself, so a
    twin request writing at the same moment is told it is in flight."""
    replace_before: datetime | None = None


@dataclass(frozen=True)
class Stored:
    locked: bool
    """False: a twin with the same key was writing at that moment; nothing was written."""
    stored: bool
    """False: the key already holds an outcome (a twin finished first), or the draft is gone;
    nothing was written."""
    draft_gone: bool = False
    """True: the write came from a draft that another write (the same draft submitted twice
    at once, with two keys) or a delete removed first; nothing was written."""


async def store(session: AsyncSession, write: SubmissionWrite) -> Stored:
    """Write everything or nothing, in the session's transaction (on PostgreSQL, one
    statement: ``store_many`` of one write). A row refused (e.g. a reference drawn twice)
    raises ``IntegrityError`` and nothing is kept. The service writes through
    ``GroupWriter`` on PostgreSQL, and through this on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        [stored] = await store_many(await session.connection(), [write])
        return stored
    return await _store_in_order(session, write)


Shape = tuple[tuple[str, ...], ...]
"""The columns a write fills in each table, and whether its outcome may replace an expired
one: writes of one shape share one statement text."""


def shape(write: SubmissionWrite) -> Shape:
    return (
        tuple(write.submission),
        tuple(write.event),
        tuple(write.facts),
        tuple(write.deliveries[0]) if write.deliveries else (),
        tuple(write.profile_values[0]) if write.profile_values else (),
        tuple(write.outcome) if write.outcome is not None else (),
        ("replace",) if write.replace_before is not None else (),
    )


async def store_many(connection: AsyncConnection, writes: list[SubmissionWrite]) -> list[Stored]:
    """Every row of several writes of one ``shape``, in one statement on a PostgreSQL
    connection (in autocommit: one transaction, one commit). Each write is stored or not on
    its own terms (its key's lock and outcome), but a refused row (a taken reference, one
    resident's profile value twice) fails the whole statement: the caller then writes them
    one at a time (``GroupWriter``). Results in the order of ``writes``."""
    kind = shape(writes[0])
    assert all(shape(w) == kind for w in writes[1:]), "writes of one shape"
    statement = _postgresql_statement(kind)
    befores = [w.replace_before for w in writes if w.replace_before is not None]
    params = {
        "writes": _json(
            [
                {
                    "n": n,
                    "lock": w.outcome_lock,
                    "draft": w.draft_id,
                    "owner": w.outcome["owner"] if w.outcome is not None else None,
                    "key": w.outcome["key"] if w.outcome is not None else None,
                }
                for n, w in enumerate(writes)
            ]
        ),
        "submission": _numbered(writes, lambda w: [w.submission]),
        "event": _numbered(writes, lambda w: [w.event]),
        "facts": _numbered(writes, lambda w: [w.facts]),
        "deliveries": _numbered(writes, lambda w: w.deliveries),
        "profile": _numbered(writes, lambda w: w.profile_values),
        "outcome": _numbered(writes, lambda w: [w.outcome] if w.outcome is not None else []),
        "channel": NOTIFY_CHANNEL,
        # One bound for the batch: the earliest (writes of one batch are milliseconds apart,
        # so an outcome expiring within them is kept, and its key replayed, a moment longer).
        "replace_before": min(befores) if befores else None,
    }
    rows = await _execute_on_driver(connection, statement, params)
    by_number = {
        row[0]: Stored(locked=bool(row[1]), stored=bool(row[2]), draft_gone=bool(row[4]))
        for row in rows
    }
    return [by_number[n] for n in range(len(writes))]


def _numbered(
    writes: list[SubmissionWrite], rows_of: Callable[[SubmissionWrite], list[dict[str, Any]]]
) -> str:
    """The rows of every write as one JSON array, each row with its write's number ``n``."""
    return _json([{**row, "n": n} for n, w in enumerate(writes) for row in rows_of(w)])


async def _execute_on_driver(
    connection: AsyncConnection, statement: str, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of ``statement``, run on the connection's psycopg connection itself: the
    statement text is fixed and its values plain, so SQLAlchemy's execution machinery
    (0.13 ms of CPU a submission, measured: docs/submissions.md) has nothing to add. Errors come out
    as SQLAlchemy's (``IntegrityError`` for a refused row, ``OperationalError`` for a lost
    connection), with the values hidden, so the service's problem handlers answer them as
    before."""
    raw = await connection.get_raw_connection()
    driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
    try:
        cursor = await driver.execute(statement, params)
        rows = await cursor.fetchall()
    except psycopg.Error as exc:
        if driver.broken or driver.closed:
            # Lost (e.g. the database restarted): as SQLAlchemy does on a disconnect, this
            # connection is dropped and the pooled ones with it, so one request sees the 503.
            await connection.invalidate()
            await connection.engine.dispose()
        raise DBAPIError.instance(
            statement,
            params,
            exc,
            psycopg.Error,
            hide_parameters=True,
            dialect=connection.dialect,
        ) from exc
    return [tuple(row) for row in rows]


def _json(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows, default=_bytes_as_base64).decode()


def _bytes_as_base64(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


@lru_cache(maxsize=64)
def _postgresql_statement(columns: Shape) -> str:
    """The statement's text for writes of one shape, with psycopg's ``%(name)s`` placeholders.

    ``w`` holds one row per write (its number ``n``, advisory lock, draft, key); each write
    takes its lock, claims its draft (if it came from one), stores its outcome if it can, and
    only the writes in ``stored`` get their rows. One row per write comes back: (n, locked,
    stored, woken, draft_gone).

    The draft is claimed with a row lock (``claim``): of two writes of one draft running at
    once (two statements), the second waits for the first, then finds the row deleted
    (READ COMMITTED re-checks it) and writes nothing, its outcome included; of two in one
    statement, the first by number claims it. Drafts are locked in id order, so two
    statements never wait for each other in a circle."""
    submission, event, facts, deliveries, profile, outcome, _replace = columns
    gate = "WHERE r.n IN (SELECT n FROM stored)"
    parts = [
        _insert_rows(_table(Submission), submission, "submission", gate),
        _insert_rows(_table(SubmissionEvent), event, "event", gate),
        _insert_rows(_table(SubmissionFacts), facts, "facts", gate),
    ]
    if deliveries:
        parts.append(_insert_rows(_table(Delivery), deliveries, "deliveries", gate))
    if profile:
        updates = ", ".join(f"{c} = excluded.{c}" for c in profile_repository.REPLACED_ON_UPSERT)
        kept = " AND r.owner IN (SELECT owner FROM kept)"
        upsert = f" ON CONFLICT (owner, element) DO UPDATE SET {updates}"
        parts.append(_insert_rows(_table(ProfileValue), profile, "profile", gate) + kept + upsert)
    parts.append(
        "DELETE FROM drafts WHERE id IN (SELECT draft FROM w WHERE n IN (SELECT n FROM stored))"
    )
    ctes = [
        "w AS MATERIALIZED (SELECT * FROM json_to_recordset(CAST(:writes AS json))"
        " AS w(n int, lock bigint, draft text, owner text, key text))",
        "lock AS MATERIALIZED (SELECT n, CASE WHEN lock IS NULL THEN true"
        " ELSE pg_try_advisory_xact_lock(lock) END AS ok FROM w)",
        "claim AS MATERIALIZED (SELECT id FROM drafts WHERE id IN (SELECT w.draft FROM w"
        " JOIN lock l ON l.n = w.n WHERE l.ok) ORDER BY id FOR UPDATE)",
        "ready AS MATERIALIZED (SELECT w.n FROM w JOIN lock l ON l.n = w.n WHERE l.ok AND"
        " w.draft IS NULL UNION SELECT min(w.n) FROM w JOIN lock l ON l.n = w.n WHERE l.ok"
        " AND w.draft IN (SELECT id FROM claim) GROUP BY w.draft)",
    ]
    if outcome:
        replaced = ", ".join(f"{c} = excluded.{c}" for c in outcome if c not in ("owner", "key"))
        ctes.append(
            "outcome AS ("
            + _insert_rows(
                _table(IdempotencyKey),
                outcome,
                "outcome",
                "WHERE r.n IN (SELECT n FROM ready)",
            )
            + f" ON CONFLICT (owner, key) DO UPDATE SET {replaced}"
            " WHERE idempotency_keys.created_at < :replace_before RETURNING owner, key)"
        )
        ctes.append(
            "stored AS MATERIALIZED (SELECT w.n FROM w JOIN outcome o"
            " ON o.owner = w.owner AND o.key = w.key)"
        )
    else:
        ctes.append("stored AS MATERIALIZED (SELECT n FROM ready)")
    if profile:
        # The residents who consent, read from their profile rows as they are now, not as the
        # statement's snapshot saw them: FOR SHARE waits for a withdrawal or an erasure that
        # holds the row (``profile.service`` locks it first) and then reads its latest version
        # (READ COMMITTED re-checks ``keep`` on it; an erased row is skipped), so values are
        # never written back after consent is withdrawn. The shared lock is held until this
        # statement commits, so a withdrawal that comes next waits and erases these values too.
        ctes.append(
            "kept AS MATERIALIZED (SELECT p.owner FROM profiles p WHERE p.keep AND p.owner IN"
            " (SELECT owner FROM json_to_recordset(CAST(:profile AS json)) AS r(owner text))"
            " FOR SHARE OF p)"
        )
    ctes += [f"write_{n} AS ({sql})" for n, sql in enumerate(parts)]
    ctes.append(
        "notify AS MATERIALIZED (SELECT pg_notify(:channel, '') FROM"
        " (SELECT 1 WHERE EXISTS (SELECT 1 FROM stored)) AS s)"
    )
    sql = (
        "WITH " + ",\n".join(ctes) + "\nSELECT lock.n, lock.ok AS locked,"
        " lock.n IN (SELECT n FROM stored) AS stored, (SELECT count(*) FROM notify) AS woken,"
        " lock.ok AND lock.n NOT IN (SELECT n FROM ready) AS draft_gone FROM lock"
    )
    return _PARAM.sub(r"%(\1)s", sql)


_PARAM = re.compile(r"(?<![:\w]):(\w+)")
"""A ``:name`` bound parameter in the statement's text (never ``::type``; no literal holds
a colon or a percent sign)."""


def _table(model: type[object]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def _insert_rows(table: Table, columns: tuple[str, ...], param: str, where: str = "") -> str:
    """``INSERT INTO table (columns) SELECT ... FROM json_to_recordset(:param)``, each column
    typed as the table declares it (strings as text: the table checks lengths; binary columns
    travel as base64). Kept terse: psycopg caches the parsing of a statement only under 4 KB."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    typed, picked = [], []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, LargeBinary):
            typed.append(f"{name} text")
            picked.append(f"decode({name}, 'base64')")
            continue
        if isinstance(column_type, String):
            sql_type = "text"
        elif isinstance(column_type, DateTime):
            sql_type = "timestamptz" if column_type.timezone else "timestamp"
        else:
            sql_type = column_type.compile(dialect=dialect)
        typed.append(f"{name} {sql_type}")
        picked.append(name)
    typed.append("n int")  # the number of the write the row belongs to
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {', '.join(picked)}"
        f" FROM json_to_recordset(CAST(:{param} AS json)) AS r({', '.join(typed)}) {where}"
    )


async def _store_in_order(session: AsyncSession, write: SubmissionWrite) -> Stored:
    if write.outcome is not None:  # the key's outcome, if any: kept, or replaced once expired
        keys = IdempotencyKey.__table__.c
        match = (keys.owner == write.outcome["owner"]) & (keys.key == write.outcome["key"])
        held = await session.scalar(select(keys.created_at).where(match))
        if held is not None:
            if held.tzinfo is None:  # SQLite drops the zone
                held = held.replace(tzinfo=UTC)
            if write.replace_before is None or held >= write.replace_before:
                return Stored(locked=True, stored=False)
            await session.execute(delete(IdempotencyKey).where(match))
    if write.draft_id is not None and not await drafts_repository.remove(session, write.draft_id):
        # removed since the service read it (the same draft submitted twice at once)
        return Stored(locked=True, stored=False, draft_gone=True)
    await session.execute(insert(Submission), [write.submission])
    await session.execute(insert(SubmissionEvent), [write.event])
    await session.execute(insert(SubmissionFacts), [write.facts])
    if write.deliveries:
        await session.execute(insert(Delivery), write.deliveries)
    if write.profile_values:
        profile = await profile_repository.get(session, write.owner)
        if profile is not None and profile.keep:
            await profile_repository.upsert_values(session, write.profile_values)
    if write.outcome is not None:
        await session.execute(insert(IdempotencyKey), [write.outcome])
    return Stored(locked=True, stored=True)
