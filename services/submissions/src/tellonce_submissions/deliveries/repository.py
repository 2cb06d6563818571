"""Queries of the fan-out tables. No HTTP errors here: callers decide what a miss means."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_submissions.deliveries.models import (
    ACKED,
    DEAD,
    DELIVERED,
    ENDPOINT_ACTIVE,
    FINAL_STATES,
    PENDING,
    AnswerAccess,
    Delivery,
    DeliveryAttempt,
    WebhookEndpoint,
)
from tellonce_submissions.ids import canonical_id

FEED_LOCK_KEY = 6_020_260_006
"""pg advisory lock held by the one transaction that numbers the pull feed."""
AGENCY_LOCK = "endpoint:"
"""Prefix of an agency's endpoint lock (``hashtext`` of it and the agency's code)."""

_NUMBER_FEED_PG = text(
    """
    UPDATE deliveries SET feed_seq = numbered.base + numbered.rn
    FROM (
        SELECT todo.id, row_number() OVER (ORDER BY todo.created_at, todo.id) AS rn, top.base
        FROM (
            SELECT id, created_at FROM deliveries WHERE feed_seq IS NULL
            ORDER BY created_at, id LIMIT :batch FOR UPDATE SKIP LOCKED
        ) AS todo
        CROSS JOIN (SELECT coalesce(max(feed_seq), 0) AS base FROM deliveries) AS top
    ) AS numbered
    WHERE deliveries.id = numbered.id
    """
)
"""Rows another transaction has locked are skipped (numbered next time) so numbering never
waits on, or deadlocks with, a worker recording an attempt."""

_NUMBER_FEED_SQLITE = text(
    """
    UPDATE deliveries SET feed_seq = numbered.base + numbered.rn
    FROM (
        SELECT todo.id, row_number() OVER (ORDER BY todo.created_at, todo.id) AS rn, top.base
        FROM (
            SELECT id, created_at FROM deliveries WHERE feed_seq IS NULL
            ORDER BY created_at, id LIMIT :batch
        ) AS todo
        CROSS JOIN (SELECT coalesce(max(feed_seq), 0) AS base FROM deliveries) AS top
    ) AS numbered
    WHERE deliveries.id = numbered.id
    """
)
FEED_NUMBER_BATCH = 5000


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def is_id(value: str) -> bool:
    """Whether ``value`` is a delivery's id as this service writes it: a UUID in its
    canonical text form (a feed cursor's position; path ids go through ``canonical_id``).
    Anything else names no row, and is not sent to the database (a NUL in it would make
    PostgreSQL refuse the whole query)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


async def lock_agency(session: AsyncSession, agency: str) -> None:
    """Serialise changes to an agency's endpoints (registering, enabling) with what depends
    on them (a worker parking the agency's deliveries because it has no active endpoint:
    :func:`try_lock_agency_shared`), until the transaction ends: an exclusive lock, waited
    for. Hold it only for short database work, never across anything slow (a DNS lookup):
    a worker parking the agency's deliveries does not wait for it, but releases them due a
    little later instead. PostgreSQL only (a transaction-scoped advisory lock); SQLite has
    a single writer."""
    if is_postgres(session):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:a))"), {"a": AGENCY_LOCK + agency}
        )


async def try_lock_agency_shared(session: AsyncSession, agency: str) -> bool:
    """The agency's endpoint lock (:func:`lock_agency`), shared, until the transaction
    ends, if it can be had at once: ``False`` when a registering or an enabling holds it or
    waits for it. Never waits (a worker parking deliveries must not stall its batch).
    Always ``True`` on SQLite (a single writer)."""
    if not is_postgres(session):
        return True
    got = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock_shared(hashtext(:a))"),
        {"a": AGENCY_LOCK + agency},
    )
    return bool(got)


# --- the pull feed ---------------------------------------------------------------------


async def number_feed(session: AsyncSession) -> int:
    """Give feed positions to committed rows that have none, in one statement, by one
    transaction at a time (PostgreSQL: a transaction-scoped advisory lock; SQLite has a
    single writer). Positions therefore become visible in increasing order, so a reader
    that has seen position N will never later find a new row below N. Returns how many
    rows were numbered (0 when another transaction holds the lock: it is numbering)."""
    if is_postgres(session):
        got = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FEED_LOCK_KEY}
        )
        if not got:
            return 0
    statement = _NUMBER_FEED_PG if is_postgres(session) else _NUMBER_FEED_SQLITE
    result = await session.execute(statement, {"batch": FEED_NUMBER_BATCH})
    return int(getattr(result, "rowcount", 0) or 0)


async def feed_page(
    session: AsyncSession, *, agency: str, after: int, limit: int
) -> Sequence[Delivery]:
    stmt = (
        select(Delivery)
        .where(Delivery.agency == agency, Delivery.feed_seq.is_not(None), Delivery.feed_seq > after)
        .order_by(Delivery.feed_seq)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def log_access(session: AsyncSession, rows: Sequence[AnswerAccess]) -> None:
    session.add_all(rows)


async def access_log_page(
    session: AsyncSession,
    *,
    agency: str | None,
    submission_id: str | None,
    after_id: int,
    limit: int,
) -> Sequence[AnswerAccess]:
    stmt = select(AnswerAccess).where(AnswerAccess.id > after_id)
    if agency:
        stmt = stmt.where(AnswerAccess.agency == agency)
    if submission_id:
        stmt = stmt.where(AnswerAccess.submission_id == submission_id)
    return (await session.scalars(stmt.order_by(AnswerAccess.id).limit(limit))).all()


# --- deliveries ------------------------------------------------------------------------


async def get_delivery(
    session: AsyncSession, delivery_id: str, *, lock: bool = False
) -> Delivery | None:
    """The delivery; ``None`` when there is none, or ``delivery_id`` cannot be an id (any
    case is: the canonical form is looked up)."""
    canonical = canonical_id(delivery_id)
    if canonical is None:
        return None
    stmt = select(Delivery).where(Delivery.id == canonical)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def list_deliveries(
    session: AsyncSession,
    *,
    agency: str | None,
    status: str | None,
    submission_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[Delivery]:
    stmt = _filtered(select(Delivery), agency, status, submission_id)
    if after is not None:
        at, last_id = after
        stmt = stmt.where(
            or_(Delivery.created_at > at, (Delivery.created_at == at) & (Delivery.id > last_id))
        )
    stmt = stmt.order_by(Delivery.created_at, Delivery.id).limit(limit)
    return (await session.scalars(stmt)).all()


def _filtered(
    stmt: Select[Delivery], agency: str | None, status: str | None, submission_id: str | None
) -> Select[Delivery]:
    """The listing's filters, each only when given."""
    if agency:
        stmt = stmt.where(Delivery.agency == agency)
    if status:
        stmt = stmt.where(Delivery.status == status)
    if submission_id:
        stmt = stmt.where(Delivery.submission_id == submission_id)
    return stmt


async def list_by_feed(
    session: AsyncSession,
    *,
    agency: str | None,
    status: str | None,
    submission_id: str | None,
    older_than: int | None,
    newer_than: int | None,
    limit: int,
) -> Sequence[Delivery]:
    """Numbered deliveries by feed position: newest first below ``older_than`` (or from the
    newest), or, with ``newer_than``, oldest first above it (the caller turns that page
    round)."""
    stmt = by_feed_statement(
        agency=agency,
        status=status,
        submission_id=submission_id,
        older_than=older_than,
        newer_than=newer_than,
        limit=limit,
    )
    return (await session.scalars(stmt)).all()


def by_feed_statement(
    *,
    agency: str | None,
    status: str | None,
    submission_id: str | None,
    older_than: int | None,
    newer_than: int | None,
    limit: int,
) -> Select[Delivery]:
    """:func:`list_by_feed`'s query. It walks ``ix_deliveries_agency_feed`` (or
    ``uq_deliveries_feed_seq``, the planner's choice for an agency holding much of the
    table), backwards for newest first: no sort of the agency's rows (checked with EXPLAIN,
    ``tests/fanout/test_newest_first.py``)."""
    numbered = select(Delivery).where(Delivery.feed_seq.is_not(None))
    stmt = _filtered(numbered, agency, status, submission_id)
    if newer_than is not None:
        stmt = stmt.where(Delivery.feed_seq > newer_than).order_by(Delivery.feed_seq)
    else:
        if older_than is not None:
            stmt = stmt.where(Delivery.feed_seq < older_than)
        stmt = stmt.order_by(Delivery.feed_seq.desc())
    return stmt.limit(limit)


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[str]
) -> dict[str, list[DeliveryAttempt]]:
    out: dict[str, list[DeliveryAttempt]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return out
    stmt = (
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(DeliveryAttempt.id)
    )
    for attempt in (await session.scalars(stmt)).all():
        out[attempt.delivery_id].append(attempt)
    return out


async def dead_for_replay(
    session: AsyncSession, *, agency: str | None, limit: int
) -> Sequence[Delivery]:
    stmt = select(Delivery).where(Delivery.status == DEAD, Delivery.share_purged_at.is_(None))
    if agency:
        stmt = stmt.where(Delivery.agency == agency)
    stmt = stmt.order_by(Delivery.created_at, Delivery.id).limit(limit).with_for_update()
    return (await session.scalars(stmt)).all()


async def counts_by_state(session: AsyncSession) -> dict[tuple[str, str], int]:
    stmt = select(Delivery.agency, Delivery.status, func.count()).group_by(
        Delivery.agency, Delivery.status
    )
    return {(a, s): int(n) for a, s, n in (await session.execute(stmt)).all()}


async def oldest_due(
    session: AsyncSession, now: datetime, *, agency: str | None = None
) -> datetime | None:
    """When the oldest due push was due: of every agency, or of ``agency`` only."""
    stmt = select(func.min(Delivery.next_attempt_at)).where(
        Delivery.status == PENDING, Delivery.next_attempt_at <= now
    )
    if agency is not None:
        stmt = stmt.where(Delivery.agency == agency)
    value: datetime | None = await session.scalar(stmt)
    return value


# --- the workers' side -----------------------------------------------------------------


def _lease_free(now: datetime) -> ColumnElement[bool]:
    """No worker holds a live lease on the row (none taken, or it has run out)."""
    return or_(Delivery.lease_until.is_(None), Delivery.lease_until < now)


def _locked_once(ids: Select[str], name: str) -> Select[str]:
    """The ids ``ids`` picks, locked ``FOR UPDATE SKIP LOCKED`` (on PostgreSQL) in a
    ``MATERIALIZED`` common table expression, as a subquery for ``IN``. Materialized, the
    locking query runs once whatever plan PostgreSQL picks; as a plain ``IN (subquery)`` it
    may be run again per row of a nested loop, each run skipping the rows the statement has
    already taken and locking the next ones, so a batch of ``limit`` takes every row (seen:
    7 rows for a limit of 3 on a fresh table)."""
    due = ids.with_for_update(skip_locked=True).cte(name).prefix_with("MATERIALIZED")
    return select(due.c.id)


async def claim_due(
    session: AsyncSession, *, now: datetime, lease_until: datetime, worker: str, limit: int
) -> Sequence[Delivery]:
    """Take up to ``limit`` due deliveries nobody holds a live lease on, in one statement.
    On PostgreSQL the candidate rows are locked ``FOR UPDATE SKIP LOCKED`` so concurrent
    workers take disjoint sets; the lease (committed with the claim) keeps them out of
    other workers' claims until it expires, which is how a killed worker's deliveries
    come back."""
    due = _locked_once(
        select(Delivery.id)
        .where(
            Delivery.status == PENDING,
            Delivery.next_attempt_at <= now,
            _lease_free(now),
            Delivery.share_purged_at.is_(None),  # nothing left to send (see revive)
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit),
        "due_deliveries",
    )
    stmt = (
        update(Delivery)
        .where(Delivery.id.in_(due))
        .values(lease_until=lease_until, leased_by=worker)
        .returning(Delivery)
        .execution_options(synchronize_session=False)
    )
    return (await session.scalars(stmt)).all()


async def renew_leases(
    session: AsyncSession, delivery_ids: Sequence[str], *, worker: str, lease_until: datetime
) -> set[str]:
    """Extend the lease of the rows ``worker`` still holds (pending and ``leased_by`` it);
    returns their ids. A row another worker has claimed since (its lease had run out) is
    not touched and not returned: that lease is lost."""
    if not delivery_ids:
        return set()
    stmt = (
        update(Delivery)
        .where(
            Delivery.id.in_(list(delivery_ids)),
            Delivery.status == PENDING,
            Delivery.leased_by == worker,
        )
        .values(lease_until=lease_until)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return set((await session.scalars(stmt)).all())


async def lock_held(session: AsyncSession, delivery_ids: Sequence[str], *, worker: str) -> set[str]:
    """Lock (``FOR UPDATE``, in id order) the rows ``worker`` still holds and return their
    ids: until the caller commits, no other worker can claim them, so what it records
    about them cannot land on another worker's claim."""
    if not delivery_ids:
        return set()
    stmt = (
        select(Delivery.id)
        .where(
            Delivery.id.in_(list(delivery_ids)),
            Delivery.status == PENDING,
            Delivery.leased_by == worker,
        )
        .order_by(Delivery.id)
        .with_for_update()
    )
    return set((await session.scalars(stmt)).all())


_OUTCOME_COLUMNS = (
    "status",
    "attempts",
    "next_attempt_at",
    "lease_until",
    "leased_by",
    "last_status_code",
    "last_error",
    "first_attempt_at",
    "delivered_at",
    "dead_at",
)


async def record_outcomes(
    session: AsyncSession,
    outcomes: Sequence[dict[str, Any]],
    *,
    leased_by: str,
) -> None:
    """Write many attempts' consequences in one executemany. Each dict has ``id`` and
    every column of ``_OUTCOME_COLUMNS``. Only pending rows that ``leased_by`` still holds
    change: a worker that lost its lease must not record anything over the new holder's
    claim (the holder's own attempt decides the row)."""
    if not outcomes:
        return
    table = cast(Table, Delivery.__table__)
    conditions = [
        table.c.id == bindparam("v_id"),
        table.c.status == PENDING,
        table.c.leased_by == leased_by,
    ]
    stmt = (
        update(table)
        .where(*conditions)
        .values({name: bindparam("v_" + name) for name in _OUTCOME_COLUMNS})
    )
    params = [
        {"v_id": o["id"], **{"v_" + name: o[name] for name in _OUTCOME_COLUMNS}} for o in outcomes
    ]
    await session.execute(stmt, params)


async def next_due_at(session: AsyncSession) -> datetime | None:
    value: datetime | None = await session.scalar(
        select(func.min(func.coalesce(Delivery.lease_until, Delivery.next_attempt_at))).where(
            Delivery.status == PENDING, Delivery.next_attempt_at.is_not(None)
        )
    )
    return value


async def active_endpoints(
    session: AsyncSession, agencies: Sequence[str]
) -> dict[str, WebhookEndpoint]:
    if not agencies:
        return {}
    stmt = (
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.agency.in_(list(set(agencies))),
            WebhookEndpoint.status == ENDPOINT_ACTIVE,
        )
        .order_by(WebhookEndpoint.created_at)
    )
    return {e.agency: e for e in (await session.scalars(stmt)).all()}


async def update_delivery(
    session: AsyncSession, delivery_id: str, *, only_if_pending: bool, values: dict[str, Any]
) -> bool:
    stmt = update(Delivery).where(Delivery.id == delivery_id)
    if only_if_pending:
        stmt = stmt.where(Delivery.status == PENDING)
    result = await session.execute(stmt.values(**values))
    return bool(getattr(result, "rowcount", 0))


async def add_attempts(session: AsyncSession, attempts: Sequence[DeliveryAttempt]) -> None:
    session.add_all(attempts)


# --- endpoints -------------------------------------------------------------------------


async def get_endpoint(
    session: AsyncSession, endpoint_id: str, *, lock: bool = False
) -> WebhookEndpoint | None:
    """The endpoint; ``None`` when there is none, or ``endpoint_id`` cannot be an id (any
    case is: the canonical form is looked up)."""
    canonical = canonical_id(endpoint_id)
    if canonical is None:
        return None
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == canonical)
    if lock:
        # Locked, the row is read afresh even if the session already holds it (read
        # before the lock, as enabling does before its URL check).
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(stmt)).first()


async def list_endpoints(session: AsyncSession, agency: str | None) -> Sequence[WebhookEndpoint]:
    stmt = select(WebhookEndpoint)
    if agency:
        stmt = stmt.where(WebhookEndpoint.agency == agency)
    return (await session.scalars(stmt.order_by(WebhookEndpoint.created_at))).all()


async def lock_agency_endpoints(session: AsyncSession, agency: str) -> Sequence[WebhookEndpoint]:
    stmt = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.agency == agency)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).all()


async def update_delivery_if_leased(
    session: AsyncSession, delivery_id: str, *, worker: str, values: dict[str, Any]
) -> bool:
    """Change a delivery only if this worker still holds its lease (a worker whose lease
    ran out and was taken over must not change the new holder's delivery)."""
    stmt = (
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == PENDING, Delivery.leased_by == worker)
        .values(**values)
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def agencies_with_active_endpoint(session: AsyncSession, agencies: Iterable[str]) -> set[str]:
    wanted = sorted(set(agencies))
    if not wanted:
        return set()
    stmt = select(WebhookEndpoint.agency).where(
        WebhookEndpoint.agency.in_(wanted), WebhookEndpoint.status == ENDPOINT_ACTIVE
    )
    return set((await session.scalars(stmt)).all())


async def push_parked(
    session: AsyncSession,
    agency: str,
    now: datetime,
    *,
    delivery_ids: Sequence[str] | None = None,
    replay: bool = False,
) -> set[str]:
    """Make the agency's parked deliveries (pending with no push scheduled: they were
    claimed while it had no active endpoint, and wait in its pull feed) due now, with a
    fresh round of attempts; only ``delivery_ids`` if given; ``replay`` counts it as one.
    Returns their ids. An acked row is never touched (the agency has it), nor one whose
    share was erased (nothing to send)."""
    stmt = update(Delivery).where(
        Delivery.agency == agency,
        Delivery.status == PENDING,
        Delivery.next_attempt_at.is_(None),
        Delivery.share_purged_at.is_(None),
    )
    if delivery_ids is not None:
        stmt = stmt.where(Delivery.id.in_(list(delivery_ids)))
    values: dict[str, Any] = {
        "next_attempt_at": now,
        "attempts": 0,
        "lease_until": None,
        "leased_by": None,
    }
    if replay:
        values["replays"] = Delivery.replays + 1
    result = await session.scalars(
        stmt.values(**values).returning(Delivery.id).execution_options(synchronize_session=False)
    )
    return set(result.all())


async def mark_unopenable(
    session: AsyncSession, delivery_ids: Sequence[str], *, now: datetime, reason: str
) -> None:
    """Make dead, with ``reason``, claimed deliveries whose share cannot be opened."""
    if not delivery_ids:
        return
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(delivery_ids)), Delivery.status == PENDING)
        .values(
            status=DEAD,
            dead_at=now,
            next_attempt_at=None,
            lease_until=None,
            leased_by=None,
            last_error=reason,
        )
        .execution_options(synchronize_session=False)
    )


async def pull_retries_forward(session: AsyncSession, agency: str, now: datetime) -> int:
    """Make every pending retry of ``agency`` due now (its endpoint has just recovered)."""
    stmt = (
        update(Delivery)
        .where(
            Delivery.agency == agency,
            Delivery.status == PENDING,
            Delivery.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


# --- retention of the agencies' shares -------------------------------------------------


ECHO_ERASED = "the receiver's answer was erased with the delivery's share (retention)"
"""What an attempt's error says once the share is erased, when the receiver answered (its
status code is kept; what its body said may have quoted the answers)."""


async def purge_shares(
    session: AsyncSession, *, cutoff: datetime, now: datetime, limit: int
) -> int:
    """Erase the share of the answers (``answers`` emptied, ``sealed_answers`` nulled,
    ``share_purged_at`` = ``now``) of up to ``limit`` deliveries that have been in their
    final state since ``cutoff`` or earlier: delivered (``delivered_at``), acked
    (``acked_at``) or dead (``dead_at``). Pending rows are never chosen, nor a row under a
    live lease. One statement; on PostgreSQL the chosen rows are locked ``FOR UPDATE SKIP
    LOCKED``, so it never waits on a worker recording an attempt, an ack or a replay (a row
    another transaction holds is left for the next round), and concurrent runs take
    disjoint rows. Returns how many rows were erased (at most ``limit``)."""
    final_since_cutoff = or_(
        and_(Delivery.status == DELIVERED, Delivery.delivered_at <= cutoff),
        and_(Delivery.status == ACKED, Delivery.acked_at <= cutoff),
        and_(Delivery.status == DEAD, Delivery.dead_at <= cutoff),
    )
    conditions = (
        Delivery.share_purged_at.is_(None),
        Delivery.status.in_(FINAL_STATES),
        final_since_cutoff,
        _lease_free(now),
    )
    due = _locked_once(
        select(Delivery.id)
        # created_at precedes every final timestamp: lets the partial index
        # ix_deliveries_share_held (status, created_at WHERE share_purged_at IS NULL) serve.
        .where(*conditions, Delivery.created_at <= cutoff)
        .limit(limit),
        "due_shares",
    )
    stmt = (
        update(Delivery)
        # The conditions again: the update re-reads each row at its newest version.
        .where(Delivery.id.in_(due), *conditions)
        .values(
            answers={},
            sealed_answers=None,
            share_purged_at=now,
            # A receiver's answer ("HTTP 400: invalid ssn 123-45-6789") may echo the
            # answers: its body goes with them, its status code stays.
            last_error=case(
                (Delivery.last_status_code.is_not(None), ECHO_ERASED), else_=Delivery.last_error
            ),
        )
        # Counted from RETURNING: SQLite's driver reports no rowcount for a WITH statement.
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    erased = list((await session.scalars(stmt)).all())
    if erased:
        await session.execute(
            update(DeliveryAttempt)
            .where(
                DeliveryAttempt.delivery_id.in_(erased),
                DeliveryAttempt.status_code.is_not(None),
                DeliveryAttempt.error.is_not(None),
            )
            .values(error=ECHO_ERASED)
            .execution_options(synchronize_session=False)
        )
    return len(erased)


async def revive(session: AsyncSession, delivery_ids: Sequence[str], now: datetime) -> set[str]:
    """Send dead deliveries again: those of ``delivery_ids`` still dead and still holding
    their share become pending, due now, with no lease and their attempts reset; returns
    their ids. One conditional statement, so a row the retention job erased in the meantime
    (on SQLite nothing holds the row between the caller's read and this write) is not
    revived to send nothing."""
    if not delivery_ids:
        return set()
    stmt = (
        update(Delivery)
        .where(
            Delivery.id.in_(list(delivery_ids)),
            Delivery.status == DEAD,
            Delivery.share_purged_at.is_(None),
        )
        .values(
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            dead_at=None,
            lease_until=None,
            leased_by=None,
            replays=Delivery.replays + 1,
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return set((await session.scalars(stmt)).all())
