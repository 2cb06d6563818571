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
"""

# ruff: noqa: S608 -- the SQL text holds only identifiers from the tables' metadata; every value
# is a bound parameter.
from __future__ import annotations

import base64
import re
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
from sqlalchemy.ext.asyncio import AsyncSession

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
    """False: the key already holds an outcome (a twin finished first); nothing was written."""


async def store(session: AsyncSession, write: SubmissionWrite) -> Stored:
    """Write everything or nothing. On PostgreSQL the write is one statement, so it is its
    own transaction when the session is in autocommit (see ``autocommit``); a row refused
    (e.g. a reference drawn twice) raises ``IntegrityError`` and nothing is kept."""
    if session.get_bind().dialect.name == "postgresql":
        statement = _postgresql_statement(
            tuple(write.submission),
            tuple(write.event),
            tuple(write.facts),
            tuple(write.deliveries[0]) if write.deliveries else (),
            tuple(write.profile_values[0]) if write.profile_values else (),
            tuple(write.outcome) if write.outcome is not None else (),
        )
        params = {
            "submission": _json([write.submission]),
            "event": _json([write.event]),
            "facts": _json([write.facts]),
            "deliveries": _json(write.deliveries),
            "profile": _json(write.profile_values),
            "outcome": _json([write.outcome] if write.outcome is not None else []),
            "owner": write.owner,
            "draft": write.draft_id,
            "channel": NOTIFY_CHANNEL,
            "lock": write.outcome_lock,
            "replace_before": write.replace_before,
        }
        locked, stored, _woken = await _execute_on_driver(session, statement, params)
        return Stored(locked=bool(locked), stored=bool(stored))
    return await _store_in_order(session, write)


async def _execute_on_driver(
    session: AsyncSession, statement: str, params: dict[str, Any]
) -> tuple[Any, ...]:
    """The one row of ``statement``, run on the session's psycopg connection itself: the
    statement text is fixed and its values plain, so SQLAlchemy's execution machinery
    (0.13 ms of CPU a submission, measured: docs/submissions.md) has nothing to add. Errors come out
    as SQLAlchemy's (``IntegrityError`` for a refused row, ``OperationalError`` for a lost
    connection), with the values hidden, so the service's problem handlers answer them as
    before."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
    try:
        cursor = await driver.execute(statement, params)
        row = await cursor.fetchone()
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
    assert row is not None  # the statement's SELECT always yields one row
    return tuple(row)


async def autocommit(session: AsyncSession) -> bool:
    """Put the session's connection in autocommit before its first statement (PostgreSQL):
    reads then need no BEGIN and the one-statement write no COMMIT, two round trips saved
    per submission. The pool restores the isolation level when the connection returns.
    True when it did: every statement then commits itself and the session has nothing
    left to commit."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return True


def _json(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows, default=_bytes_as_base64).decode()


def _bytes_as_base64(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


@lru_cache(maxsize=64)
def _postgresql_statement(
    submission: tuple[str, ...],
    event: tuple[str, ...],
    facts: tuple[str, ...],
    deliveries: tuple[str, ...],
    profile: tuple[str, ...],
    outcome: tuple[str, ...],
) -> str:
    """The statement's text, with psycopg's ``%(name)s`` placeholders."""
    gate = "WHERE EXISTS (SELECT 1 FROM outcome)"
    parts = [
        _insert_rows(_table(Submission), submission, "submission", gate),
        _insert_rows(_table(SubmissionEvent), event, "event", gate),
        _insert_rows(_table(SubmissionFacts), facts, "facts", gate),
    ]
    if deliveries:
        parts.append(_insert_rows(_table(Delivery), deliveries, "deliveries", gate))
    if profile:
        updates = ", ".join(f"{c} = excluded.{c}" for c in profile_repository.REPLACED_ON_UPSERT)
        kept = " AND EXISTS (SELECT 1 FROM profiles WHERE owner = :owner AND keep)"
        upsert = f" ON CONFLICT (owner, element) DO UPDATE SET {updates}"
        parts.append(_insert_rows(_table(ProfileValue), profile, "profile", gate) + kept + upsert)
    parts.append("DELETE FROM drafts WHERE id = :draft AND EXISTS (SELECT 1 FROM outcome)")
    ctes = [
        "lock AS (SELECT CASE WHEN CAST(:lock AS bigint) IS NULL THEN true"
        " ELSE pg_try_advisory_xact_lock(CAST(:lock AS bigint)) END AS ok)"
    ]
    if outcome:
        replaced = ", ".join(f"{c} = excluded.{c}" for c in outcome if c not in ("owner", "key"))
        ctes.append(
            "outcome AS ("
            + _insert_rows(
                _table(IdempotencyKey), outcome, "outcome", "WHERE (SELECT ok FROM lock)"
            )
            + f" ON CONFLICT (owner, key) DO UPDATE SET {replaced}"
            " WHERE idempotency_keys.created_at < :replace_before RETURNING 1 AS stored)"
        )
    else:
        ctes.append("outcome AS (SELECT 1 AS stored FROM lock WHERE ok)")
    ctes += [f"write_{n} AS ({sql})" for n, sql in enumerate(parts)]
    sql = (
        "WITH " + ",\n".join(ctes) + "\nSELECT (SELECT ok FROM lock) AS locked,"
        " EXISTS (SELECT 1 FROM outcome) AS stored,"
        " CASE WHEN EXISTS (SELECT 1 FROM outcome) THEN pg_notify(:channel, '') END AS woken"
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
    if write.draft_id is not None:
        await drafts_repository.remove(session, write.draft_id)
    return Stored(locked=True, stored=True)
