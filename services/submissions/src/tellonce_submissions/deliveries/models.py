"""Fan-out tables: the transactional outbox (one Delivery per receiving agency), the
agencies' webhook endpoints, every delivery attempt, and the log of agency reads of
resident answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tellonce_submissions.models import Base

# Delivery states.
PENDING = "pending"
"""Waiting for its next push attempt (``next_attempt_at``) or, parked (``next_attempt_at``
NULL: claimed while its agency had no active endpoint), to be pulled; enabling the agency's
endpoint, or a replay, pushes a parked one again."""
DELIVERED = "delivered"
"""A webhook attempt got a 2xx."""
ACKED = "acked"
"""The agency pulled it from the feed and acknowledged it."""
DEAD = "dead"
"""Retries exhausted, a non-retryable answer, or the endpoint was disabled; or, on this side,
a share that cannot be opened or an attempt that cannot be recorded: replayable."""
DELIVERY_STATES = (PENDING, DELIVERED, ACKED, DEAD)
FINAL_STATES = (DELIVERED, ACKED, DEAD)
"""States a delivery's share of the answers may be erased from, once it has been in them for
``delivery_share_retention_days`` (counted from ``delivered_at``, ``acked_at``, ``dead_at``)."""

ENDPOINT_ACTIVE = "active"
ENDPOINT_DISABLED = "disabled"


class Delivery(Base):
    """One outbox row: one submission for one agency, holding only that agency's fields."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_agency_feed", "agency", "feed_seq"),
        Index("ix_deliveries_agency_status", "agency", "status", "created_at"),
        Index(
            "ix_deliveries_share_held",
            "status",
            "created_at",
            postgresql_where=text("share_purged_at IS NULL"),
            sqlite_where=text("share_purged_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """The webhook-id: the same on every retry, so a receiver can de-duplicate."""
    submission_id: Mapped[str] = mapped_column(String(64), index=True)
    reference: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(32))
    form: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fields: Mapped[list[str]] = mapped_column(JSON)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Empty when ``sealed_answers`` holds them (always, for rows written by the outbox)."""
    sealed_answers: Mapped[str | None] = mapped_column(Text, default=None)
    """The agency's answers sealed with AES-256-GCM (``answer_keys``, the stored-answers
    ring; rows written before 2026-11-26 used ``webhook_secret_keys``, see
    ``outbox.ShareBox``; associated data: the delivery id), because they may hold restricted
    values such as an SSN."""
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    feed_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True, default=None)
    """Position in the agency pull feed, given after commit by one sequencer at a time, so
    positions become visible in order (see docs/fan-out.md)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts in the current round (reset by a replay); the schedule reads this."""
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    """When a worker may push it next; NULL when nothing is to be pushed."""
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    leased_by: Mapped[str | None] = mapped_column(String(64), default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    first_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    replays: Mapped[int] = mapped_column(Integer, default=0)
    share_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    """When the retention job erased this row's share of the answers (``answers`` emptied,
    ``sealed_answers`` nulled) after ``delivery_share_retention_days`` in its final state;
    NULL while the row still holds them. The rest of the row stays, for audit."""


class WebhookEndpoint(Base):
    """An agency's webhook receiver; at most one active per agency."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency: Mapped[str] = mapped_column(String(32), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(Text)
    """The current ``whsec_`` secret, encrypted (AES-GCM, see secrets.py)."""
    previous_secret: Mapped[str | None] = mapped_column(Text, default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
    status: Mapped[str] = mapped_column(String(16), default=ENDPOINT_ACTIVE)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeliveryAttempt(Base):
    """One push attempt, kept for ever so a dead letter shows why it died."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[str | None] = mapped_column(String(36), default=None)
    url: Mapped[str] = mapped_column(String(2048))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    outcome: Mapped[str] = mapped_column(String(16))
    """delivered, retry, dead or disabled."""
    worker: Mapped[str] = mapped_column(String(64))


class AnswerAccess(Base):
    """Who among the agencies read which resident answers, when and how."""

    __tablename__ = "answer_access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency: Mapped[str] = mapped_column(String(32), index=True)
    submission_id: Mapped[str] = mapped_column(String(64), index=True)
    delivery_id: Mapped[str] = mapped_column(String(36))
    fields: Mapped[list[str]] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(16))
    """webhook, feed or read (one delivery read with ``?include=answers``)."""
    actor: Mapped[str | None] = mapped_column(String(128), default=None)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
