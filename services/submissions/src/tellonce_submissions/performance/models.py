"""Tables of performance management (issue 11): OPM's targets per form, and the indexes the
measure queries need on the resident-side tables (declared here, owned by this feature)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tellonce_submissions.models import Base, SubmissionEvent


class PerformanceTarget(Base):
    """'Decide within ``days`` days for ``share`` of applications', set by OPM per form."""

    __tablename__ = "performance_targets"

    form: Mapped[str] = mapped_column(String(128), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    share: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(128))


# For a past period, the status an open application had at the period's end is read from its
# timeline: the latest event by then, which this index finds without visiting the table.
Index(
    "ix_submission_events_timeline",
    SubmissionEvent.__table__.c.submission_id,
    SubmissionEvent.__table__.c.at,
    SubmissionEvent.__table__.c.status,
    SubmissionEvent.__table__.c.agency,
    SubmissionEvent.__table__.c.id,
)


class SubmissionFacts(Base):
    """One row per submission with the milestones the measures read (first agency response,
    first decision, first needs_info, latest status), kept up to date when the submission is
    stored and each time an agency posts a status. The measures then scan one narrow row per
    application instead of joining the timeline (see docs/performance-management.md)."""

    __tablename__ = "submission_facts"
    __table_args__ = (
        Index("ix_submission_facts_submitted_at", "submitted_at"),
        Index("ix_submission_facts_form_submitted_at", "form", "submitted_at"),
        Index("ix_submission_facts_agency_submitted_at", "owning_agency", "submitted_at"),
    )

    submission_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    form: Mapped[str] = mapped_column(String(128))
    owning_agency: Mapped[str] = mapped_column(String(32))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    needs_info_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_status: Mapped[str] = mapped_column(String(32))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
