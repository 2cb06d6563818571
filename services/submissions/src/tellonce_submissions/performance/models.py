"""Tables of performance management (issue 11): OPM's targets per form, and the indexes the
measure queries need on the resident-side tables (declared here, owned by this feature)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tellonce_submissions.models import Base, Submission, SubmissionEvent


class PerformanceTarget(Base):
    """'Decide within ``days`` days for ``share`` of applications', set by OPM per form."""

    __tablename__ = "performance_targets"

    form: Mapped[str] = mapped_column(String(128), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    share: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(128))


# The measures filter submissions by period (and form or agency), then join their timeline
# events: the timeline index covers every column the join reads (no heap visits), and the
# index on ``at`` lets a short period read only its own events.
Index("ix_submissions_submitted_at", Submission.__table__.c.submitted_at)
Index(
    "ix_submissions_form_submitted_at",
    Submission.__table__.c.form,
    Submission.__table__.c.submitted_at,
)
Index(
    "ix_submissions_agency_submitted_at",
    Submission.__table__.c.owning_agency,
    Submission.__table__.c.submitted_at,
)
Index(
    "ix_submission_events_timeline",
    SubmissionEvent.__table__.c.submission_id,
    SubmissionEvent.__table__.c.at,
    SubmissionEvent.__table__.c.status,
    SubmissionEvent.__table__.c.agency,
    SubmissionEvent.__table__.c.id,
)
Index("ix_submission_events_at", SubmissionEvent.__table__.c.at)
