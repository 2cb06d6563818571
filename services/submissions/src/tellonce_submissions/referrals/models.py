"""Referrals (issue 11): a rule of the catalog matched a resident's submission, so the
resident may be eligible for another program. Owned by the resident; OPM sees counts only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tellonce_submissions.models import Base

SUGGESTED = "suggested"
STARTED = "started"
SUBMITTED = "submitted"


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("source_submission_id", "rule_id"),
        Index("ix_referrals_owner_created_at", "owner", "created_at"),
        Index("ix_referrals_owner_to_form_status", "owner", "to_form", "status"),
        Index("ix_referrals_from_form_to_form", "from_form", "to_form"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    rule_id: Mapped[str] = mapped_column(String(64))
    source_submission_id: Mapped[str] = mapped_column(String(36))
    from_form: Mapped[str] = mapped_column(String(128))
    to_form: Mapped[str] = mapped_column(String(128))
    reason: Mapped[dict[str, Any]] = mapped_column(JSON)
    """{"en": ..., "es": ...} as the rule said when it matched."""
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    draft_id: Mapped[str | None] = mapped_column(String(36), default=None)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    submission_id: Mapped[str | None] = mapped_column(String(36), default=None)


class ReferralCheck(Base):
    """A submission whose form's rules were evaluated (so it is not evaluated again)."""

    __tablename__ = "referral_checks"

    submission_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
