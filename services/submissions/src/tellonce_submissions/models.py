"""Database models of the submissions service.

Resident side (issue 12): drafts, submissions and their timeline events, idempotency keys,
and the prefill profile. Restricted element values never sit here in clear text: they are
taken out of ``answers`` and kept in ``sealed`` (AES-GCM, see ``crypto.py``) with the id of
the key that sealed them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tellonce_shared.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class Draft(Base):
    """A resident's unfinished answers, pinned to one form version."""

    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    form: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Submission(Base):
    """Answers accepted once, validated against the exact published version."""

    __tablename__ = "submissions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    owner: Mapped[str] = mapped_column(String(128))
    form: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    owning_agency: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    receivers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """[{agency, fields}] as decided at submission time (what the receipt shows)."""
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_submissions_owner_submitted_at", "owner", "submitted_at"),)


class SubmissionEvent(Base):
    """One line of the timeline: submitted, then each agency's status posts."""

    __tablename__ = "submission_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    agency: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor: Mapped[str | None] = mapped_column(String(128), nullable=True)


class IdempotencyKey(Base):
    """One ``Idempotency-Key`` per caller: in flight until its response is stored."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    locked_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Profile(Base):
    """A resident's consent to keep element values for prefill."""

    __tablename__ = "profiles"

    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    keep: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProfileValue(Base):
    """One data element's latest value, from whichever form gave it last."""

    __tablename__ = "profile_values"

    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    element: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_form: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# Fan-out models (issue 6), imported here so that alembic's autogenerate and the
# models-match-migrations test see them.
from tellonce_submissions.deliveries import models as _deliveries_models  # noqa: E402

# Performance management and referrals (issue 11), likewise.
from tellonce_submissions.performance import models as _performance_models  # noqa: E402
from tellonce_submissions.referrals import models as _referrals_models  # noqa: E402

__all__ = [
    "Base",
    "Draft",
    "Submission",
    "SubmissionEvent",
    "_deliveries_models",
    "_performance_models",
    "_referrals_models",
]
