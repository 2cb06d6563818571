"""Prometheus metrics of the fan-out: attempts and their latency (counted by the worker
process), deliveries by state and the age of the oldest due delivery (gauges refreshed
from the database by whichever process runs :func:`refresh_gauges`)."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_submissions.deliveries import repository
from tellonce_submissions.deliveries.clock import aware
from tellonce_submissions.deliveries.models import DELIVERY_STATES

ATTEMPTS = Counter(
    "tellonce_delivery_attempts_total", "Webhook delivery attempts", ["agency", "outcome"]
)
ATTEMPT_LATENCY = Histogram(
    "tellonce_delivery_attempt_seconds",
    "Time for a receiver to answer a webhook",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
)
FIRST_ATTEMPT_LAG = Histogram(
    "tellonce_delivery_first_attempt_lag_seconds",
    "From the outbox row's commit to its first push attempt",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LEASES_LOST = Counter(
    "tellonce_delivery_leases_lost_total",
    "Claimed deliveries a worker no longer held when renewing or recording: another worker "
    "took them after the lease ran out (renewals failed or came late), or the agency "
    "acknowledged them; the worker left their state alone",
)
RECORD_FAILURES = Counter(
    "tellonce_delivery_record_failures_total",
    "Transactions recording webhook attempts that failed (the database answered with an "
    "error, not unreachable), by what was being written: a whole batch (then recorded one "
    "by one), one attempt in full (then without outside text), one without outside text "
    "(then the row's state alone: dead unless delivered), the row's state alone (nothing "
    "written: the lease runs out and the row is claimed again). Should stay at 0",
    ["stage"],
)
STATE = Gauge("tellonce_deliveries", "Deliveries by agency and state", ["agency", "state"])
OLDEST_DUE_AGE = Gauge(
    "tellonce_delivery_oldest_due_age_seconds",
    "How long the oldest due delivery has waited past its due time",
)


async def refresh_gauges(session: AsyncSession, now: datetime) -> None:
    counts = await repository.counts_by_state(session)
    oldest = await repository.oldest_due(session, now)
    refresh_from(counts, now, oldest)


def refresh_from(
    counts: dict[tuple[str, str], int], now: datetime, oldest: datetime | None
) -> None:
    for agency in {agency for agency, _ in counts}:
        for state in DELIVERY_STATES:
            STATE.labels(agency, state).set(counts.get((agency, state), 0))
    OLDEST_DUE_AGE.set(max((now - aware(oldest)).total_seconds(), 0.0) if oldest else 0.0)
