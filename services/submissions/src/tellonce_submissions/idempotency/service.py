"""``Idempotency-Key`` (IETF httpapi draft): one key, one outcome.

Everything happens in the request's own transaction. On PostgreSQL the transaction first
takes a transaction-scoped advisory lock on (resident, key) with ``pg_try_advisory_xact_lock``:
a concurrent request with the same key does not get it and is told the first one is still
*in flight* (409, ``Retry-After: 1``). With the lock held, a stored outcome for the key is
replayed (same body) or refused (other body, 422). Otherwise the work runs and its response
is inserted in the same transaction as the submission, so both exist or neither does.

The lock dies with the transaction, so a request that fails (invalid answers: nothing is
stored, the resident may fix the body and retry with the same key) or a process killed mid-way
never leaves a key stuck, and no extra commit is spent on an "in flight" marker. On SQLite
(local development, one writer at a time) the primary key on (resident, key) is the guard: the
loser of a race gets a 409 and its transaction is rolled back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, func, literal, select
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


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise BadRequest("The Idempotency-Key header is required for this request.")
    key = key.strip()
    if len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"The Idempotency-Key header is longer than {MAX_KEY_LENGTH} characters.")
    return key


def lock_id(owner: str, key: str) -> int:
    """A signed 64-bit advisory-lock id for (resident, key)."""
    digest = hashlib.blake2b(f"{owner}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def claim(
    session: AsyncSession,
    *,
    owner: str,
    key: str,
    print_: str,
    now: datetime,
    retention_hours: int,
) -> Claim:
    key_row = select(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
    if session.get_bind().dialect.name == "postgresql":
        # One round trip: the lock and the stored outcome. A twin committing between this
        # statement's snapshot and its lock is still caught by the primary key at flush.
        lock = func.pg_try_advisory_xact_lock(lock_id(owner, key)).label("locked")
        found = (
            await session.execute(
                select(lock, IdempotencyKey).outerjoin_from(
                    select(literal(1).label("one")).subquery(),
                    IdempotencyKey,
                    (IdempotencyKey.owner == owner) & (IdempotencyKey.key == key),
                )
            )
        ).one()
        if not found.locked:
            raise in_flight()
        row = found.IdempotencyKey
    else:
        row = (await session.execute(key_row)).scalar_one_or_none()
    if row is not None:
        created = row.created_at
        if created.tzinfo is None and now.tzinfo is not None:  # SQLite drops the zone
            created = created.replace(tzinfo=now.tzinfo)
        if created + timedelta(hours=retention_hours) <= now:
            await session.delete(row)  # expired: the key starts afresh
            await session.flush()
        elif row.fingerprint != print_:
            raise KeyReused("This Idempotency-Key was already used with a different request body.")
        else:
            return Claim(owner, key, print_, row.status_code, row.response)
    return Claim(owner, key, print_)


def record(
    session: AsyncSession,
    claim_: Claim,
    *,
    status_code: int,
    body: dict[str, Any],
    now: datetime,
) -> None:
    """Add the outcome to the caller's transaction, flushed with what it describes. A twin
    that got there first (possible on SQLite only) makes that flush fail: nothing is stored."""
    session.add(
        IdempotencyKey(
            owner=claim_.owner,
            key=claim_.key,
            fingerprint=claim_.fingerprint,
            state=COMPLETED,
            status_code=status_code,
            response=body,
            created_at=now,
            locked_until=now,
        )
    )


async def purge_expired(session: AsyncSession, *, now: datetime, retention_hours: int) -> int:
    cutoff = now - timedelta(hours=retention_hours)
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
