"""``Idempotency-Key`` (IETF httpapi draft): one key, one outcome.

The write is optimistic: the response is stored by the same statement that stores the
submission (``submissions/store.py``), only if the key holds no outcome yet (or an expired
one), so both exist or neither does. On PostgreSQL that statement first takes a
transaction-scoped advisory lock on (resident, key) with ``pg_try_advisory_xact_lock``: a twin
request writing at the same moment does not get it and is told the first is still *in flight*
(409, ``Retry-After: 1``). When the key already holds an outcome (``KeyTaken``), or a check
refused the request, the key is looked up (``claim``): a stored outcome is replayed (same
body) or refused (other body, 422); with none, the refusal stands.

The lock lives only as long as that one statement, so a request that fails (invalid answers:
nothing is stored, the resident may fix the body and retry with the same key) or a process
killed mid-way never leaves a key stuck, and no extra commit is spent on an "in flight"
marker. On SQLite (local development, one writer at a time) the primary key on (resident,
key) is the guard: the loser of a race gets a 409 and its transaction is rolled back.

An agency's status post (``POST /submissions/{id}/status``) may carry a key too
(``store_outcome``): its outcome is kept in the same table, scoped to the agency and the
submission (``status_scope``), and inserted *before* the timeline entry, in the request's
transaction. The primary key is the guard: a twin inserting the same key waits for the first
transaction, then finds its outcome (replayed) instead of writing a second entry; if the first
rolled back, the twin writes. A post is a few statements of one short transaction, so the
twin waits rather than being told to retry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.problems import BadRequest, Conflict, Problem
from tellonce_submissions.models import IdempotencyKey

COMPLETED = "completed"
MAX_KEY_LENGTH = 255


class KeyReused(Problem):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency key reused"


def in_flight() -> Conflict:
    return Conflict(
        "A request with this Idempotency-Key is still in progress; retry shortly.",
        headers={"Retry-After": "1"},
    )


@dataclass(frozen=True)
class Claim:
    owner: str
    key: str
    fingerprint: str
    replay_status: int | None = None
    replay_body: dict[str, Any] | None = None

    @property
    def is_replay(self) -> bool:
        return self.replay_body is not None


def fingerprint(body: Any) -> str:
    """Same JSON, same fingerprint, whatever the key order or spacing."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def optional_key(key: str | None) -> str | None:
    """An optional ``Idempotency-Key``: ``None`` when the header is absent, else checked as
    ``check_key`` does (an empty one is a 400, not "no key")."""
    if key is None:
        return None
    if not key.strip():
        raise BadRequest("The Idempotency-Key header is empty.")
    return check_key(key)


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise BadRequest("The Idempotency-Key header is required for this request.")
    key = key.strip()
    if len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"The Idempotency-Key header is longer than {MAX_KEY_LENGTH} characters.")
    if "\x00" in key:  # an HTTP server would not pass it on; PostgreSQL could not store it
        raise BadRequest("The Idempotency-Key header cannot hold the NUL character.")
    return key


def lock_id(owner: str, key: str) -> int:
    """A signed 64-bit advisory-lock id for (resident, key)."""
    digest = hashlib.blake2b(f"{owner}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_KEYS = IdempotencyKey.__table__.c
_MATCH = (_KEYS.owner == bindparam("owner")) & (_KEYS.key == bindparam("key"))
# Built once: a statement object reused keeps its SQLAlchemy cache key and compiled form.
_LOOKUP = select(_KEYS.fingerprint, _KEYS.status_code, _KEYS.response, _KEYS.created_at).where(
    _MATCH
)


class KeyTaken(Exception):
    """The key got an outcome between the look-up and the write (a twin finished first):
    nothing was written; look again and replay it."""


async def claim(
    session: AsyncSession,
    *,
    owner: str,
    key: str,
    print_: str,
    now: datetime,
    retention_hours: int,
) -> Claim:
    """The stored outcome of the key, replayed (same body) or refused (422, another body);
    else a claim to write one. An outcome older than the retention is ignored: the write
    replaces it."""
    params = {"owner": owner, "key": key}
    row = (await session.execute(_LOOKUP, params)).one_or_none()
    if row is not None:
        created = row.created_at
        if created.tzinfo is None and now.tzinfo is not None:  # SQLite drops the zone
            created = created.replace(tzinfo=now.tzinfo)
        if created > replace_before(now, retention_hours):  # else expired: the write replaces it
            if row.fingerprint != print_:
                raise KeyReused(
                    "This Idempotency-Key was already used with a different request body."
                )
            return Claim(owner, key, print_, row.status_code, row.response)
    return Claim(owner, key, print_)


def replace_before(now: datetime, retention_hours: int) -> datetime:
    """Outcomes stored before this have expired: their key may be used afresh."""
    return now - timedelta(hours=retention_hours)


def record(
    claim_: Claim,
    *,
    status_code: int,
    body: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The outcome's row, to insert in the same transaction as what it describes. A twin
    that got there first (possible on SQLite only) makes that insert fail: nothing is stored."""
    return {
        "owner": claim_.owner,
        "key": claim_.key,
        "fingerprint": claim_.fingerprint,
        "state": COMPLETED,
        "status_code": status_code,
        "response": body,
        "created_at": now,
        "locked_until": now,
    }


def status_scope(agency: str, submission_id: str) -> str:
    """The ``owner`` of an agency's status-post keys: one key space per (agency, submission).
    Never a resident's ``sub`` (an identity user id, no colon)."""
    return f"status:{agency}:{submission_id}"


async def store_outcome(
    session: AsyncSession,
    claim_: Claim,
    *,
    status_code: int,
    body: dict[str, Any],
    now: datetime,
    retention_hours: int,
) -> bool:
    """Store the key's outcome in the session's transaction, before what it describes is
    written: True when stored (the key was new, or held only an expired outcome, which is
    replaced); False when the key holds a live outcome (look it up with ``claim``). On
    PostgreSQL an insert of a key that a transaction in progress has just inserted waits
    for that transaction: committed, its outcome holds the key (False); rolled back, this
    one is stored. So two requests with one key never both write."""
    row = record(claim_, status_code=status_code, body=body, now=now)
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    values = insert(IdempotencyKey).values(row)
    statement = values.on_conflict_do_update(
        index_elements=[_KEYS.owner, _KEYS.key],
        set_={name: values.excluded[name] for name in row if name not in ("owner", "key")},
        where=_KEYS.created_at < replace_before(now, retention_hours),
    ).returning(_KEYS.owner)
    return (await session.execute(statement)).first() is not None


async def purge_expired(session: AsyncSession, *, now: datetime, retention_hours: int) -> int:
    cutoff = now - timedelta(hours=retention_hours)
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
