"""``Idempotency-Key`` (IETF httpapi draft): one key, one outcome.

The key is claimed in its own short transaction before any work starts, so a concurrent
request with the same key sees it *in flight* (409) instead of doing the work twice. The
response is stored in the same transaction as the submission it describes, so either both
exist or neither does. When the work fails (invalid answers, unknown form...) the claim is
released: nothing was created, and the client may correct the body and retry with the same
key. A claim whose request died holds the key for ``lease`` seconds at most.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.problems import BadRequest, Conflict, Problem
from tellonce_submissions.db import Database
from tellonce_submissions.models import IdempotencyKey

IN_FLIGHT = "in_flight"
COMPLETED = "completed"
MAX_KEY_LENGTH = 255


class KeyReused(Problem):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency key reused"


@dataclass(frozen=True)
class Claim:
    owner: str
    key: str
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


async def claim(
    database: Database,
    *,
    owner: str,
    key: str,
    print_: str,
    now: datetime,
    lease_seconds: int,
    retention_hours: int,
) -> Claim:
    locked_until = now + timedelta(seconds=lease_seconds)
    async with database.sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            # A claim lost in a crash is harmless (the work it guards dies with it), so it
            # need not wait for its WAL flush: one fsync per submission instead of two.
            await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        session.add(
            IdempotencyKey(
                owner=owner,
                key=key,
                fingerprint=print_,
                state=IN_FLIGHT,
                created_at=now,
                locked_until=locked_until,
            )
        )
        try:
            await session.commit()
            return Claim(owner, key)
        except IntegrityError:
            await session.rollback()
        row = await session.get(IdempotencyKey, (owner, key))
        if row is None:  # released between our insert and our read: the caller may retry
            raise Conflict(
                "A request with this Idempotency-Key is in progress.",
                headers={"Retry-After": "1"},
            )
        expired = _aware(row.created_at, now) + timedelta(hours=retention_hours) <= now
        if expired or (row.state == IN_FLIGHT and _aware(row.locked_until, now) <= now):
            # An expired key starts afresh; a dead request's claim is taken over, once.
            taken = await session.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.owner == owner,
                    IdempotencyKey.key == key,
                    IdempotencyKey.locked_until == row.locked_until,
                )
                .values(
                    fingerprint=print_,
                    state=IN_FLIGHT,
                    created_at=now,
                    locked_until=locked_until,
                    status_code=None,
                    response=None,
                )
            )
            await session.commit()
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return Claim(owner, key)
            raise Conflict(
                "A request with this Idempotency-Key is in progress.",
                headers={"Retry-After": "1"},
            )
        if row.fingerprint != print_:
            raise KeyReused("This Idempotency-Key was already used with a different request body.")
        if row.state == IN_FLIGHT:
            raise Conflict(
                "A request with this Idempotency-Key is in progress.",
                headers={"Retry-After": "1"},
            )
        return Claim(owner, key, replay_status=row.status_code, replay_body=row.response)


async def complete(
    session: AsyncSession, claim_: Claim, *, status_code: int, body: dict[str, Any]
) -> None:
    """Store the response in the caller's transaction, next to what it describes."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.owner == claim_.owner, IdempotencyKey.key == claim_.key)
        .values(state=COMPLETED, status_code=status_code, response=body)
    )


async def release(database: Database, claim_: Claim) -> None:
    """The work failed and stored nothing: free the key for a corrected retry."""
    async with database.sessions() as session:
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.owner == claim_.owner,
                IdempotencyKey.key == claim_.key,
                IdempotencyKey.state == IN_FLIGHT,
            )
        )
        await session.commit()


async def purge_expired(session: AsyncSession, *, now: datetime, retention_hours: int) -> int:
    cutoff = now - timedelta(hours=retention_hours)
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _aware(value: datetime, like: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they were stored in UTC."""
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value


__all__ = ["Claim", "KeyReused", "check_key", "claim", "complete", "fingerprint", "release"]
