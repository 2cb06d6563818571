"""The retention job: drafts untouched for 60 days and idempotency keys older than 24 hours
are deleted, and the outbox's deliveries final (delivered, acked, dead) for
``delivery_share_retention_days`` (30) have their agency's share of the answers erased (the
row's metadata stays, for audit). Run it from cron (``tellonce-submissions purge``) or let
``serve`` run it every ``retention_interval_seconds``; it is idempotent, so several replicas
doing it is harmless (the outbox part takes its rows ``FOR UPDATE SKIP LOCKED``, in batches
of ``delivery_share_purge_batch`` rows, each committed on its own)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge

from tellonce_submissions.config import Settings
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.service import purge_expired_shares
from tellonce_submissions.drafts.service import purge_expired as purge_drafts
from tellonce_submissions.idempotency.service import purge_expired as purge_keys

log = logging.getLogger("tellonce.submissions.retention")

REMOVED = Counter(
    "tellonce_retention_removed_total",
    "What the retention job removed: drafts, idempotency keys, delivery shares erased",
    ["kind"],
)
ROUNDS = Counter("tellonce_retention_rounds_total", "Rounds of the retention job", ["outcome"])
LAST_SUCCESS = Gauge(
    "tellonce_retention_last_success_timestamp_seconds",
    "When a round of the retention job last succeeded (Unix time)",
)


async def purge(database: Database, settings: Settings, now: datetime) -> dict[str, int]:
    async with database.sessions() as session:
        drafts = await purge_drafts(session, now=now, retention_days=settings.draft_retention_days)
        keys = await purge_keys(
            session, now=now, retention_hours=settings.idempotency_retention_hours
        )
        await session.commit()
    shares = await purge_delivery_shares(database, settings, now)
    return {"drafts": drafts, "idempotency_keys": keys, "delivery_shares": shares}


async def purge_delivery_shares(database: Database, settings: Settings, now: datetime) -> int:
    """Erase expired delivery shares batch after batch, one short transaction each, until a
    batch comes back short (so a first run on a large outbox never holds one long
    transaction). Returns how many rows were erased."""
    total = 0
    while True:
        async with database.sessions() as session:
            erased = await purge_expired_shares(
                session,
                now=now,
                retention_days=settings.delivery_share_retention_days,
                batch=settings.delivery_share_purge_batch,
            )
            await session.commit()
        total += erased
        if erased < settings.delivery_share_purge_batch:
            return total


async def purge_now(settings: Settings) -> dict[str, int]:
    """One round of the retention job, for cron (``tellonce-submissions purge``)."""
    database = Database(settings.database_url)
    try:
        return await purge(database, settings, datetime.now(UTC))
    finally:
        await database.dispose()


async def purge_round(
    database: Database, settings: Settings, clock: Callable[[], datetime]
) -> dict[str, int] | None:
    """One round of ``serve``'s retention loop: purged, logged and counted in the metrics
    (what was removed, the round's outcome, when a round last succeeded, for an alert on a
    job that has stopped working); None when it failed (the next round retries: a failed
    purge must not stop ``serve``)."""
    try:
        removed = await purge(database, settings, clock())
    except Exception:
        log.exception("retention purge failed")
        ROUNDS.labels(outcome="failed").inc()
        return None
    log.info("retention purge", extra=removed)
    for kind, count in removed.items():
        REMOVED.labels(kind=kind).inc(count)
    ROUNDS.labels(outcome="ok").inc()
    LAST_SUCCESS.set(time.time())
    return removed


@asynccontextmanager
async def retention_loop(
    database: Database, settings: Settings, clock: Callable[[], datetime]
) -> AsyncIterator[None]:
    if settings.retention_interval_seconds <= 0:
        yield
        return

    async def run() -> None:
        while True:
            await asyncio.sleep(settings.retention_interval_seconds)
            await purge_round(database, settings, clock)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
