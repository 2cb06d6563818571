"""Tables of performance management (issue 11): OPM's targets per form, and the indexes the
measure queries need on the resident-side tables (declared here, owned by this feature)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Float, Index, Integer, String, Table, event
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


class PerformanceTargetChange(Base):
    """One change of a form's target from ``effective_from`` on: a set (``days``, ``share``)
    or a removal (both NULL). A period is judged against the change in force at its
    ``as_of`` (revision ``0009_performance_target_history``)."""

    __tablename__ = "performance_target_history"
    __table_args__ = (
        Index("ix_performance_target_history_form_effective_from", "form", "effective_from"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    form: Mapped[str] = mapped_column(String(128))
    days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    share: Mapped[float | None] = mapped_column(Float, nullable=True)
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    set_by: Mapped[str] = mapped_column(String(128))


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


# What the measure queries read of each application, in the order they group it: by form or
# owning agency, then by week of submission. An index-only scan of one of these hands the
# rows already sorted for ``GROUP BY GROUPING SETS ((group), (group, week))``, so no sort of
# the period's rows is needed and no heap page is read (see docs/performance-management.md).
MEASURED = (
    "submitted_at",
    "responded_at",
    "response_s",
    "decided_at",
    "decision_s",
    "needs_info_at",
)


def _index_deliveries(table: Table) -> None:
    """Delivery health of a cohort reads the deliveries by their own copy of the
    submission's form and submission time (set when the outbox row is written), in form
    order, without visiting the (wide) table."""
    if not any(i.name == "ix_deliveries_form_submitted_at" for i in table.indexes):
        Index(
            "ix_deliveries_form_submitted_at",
            table.c.form,
            table.c.submitted_at,
            postgresql_include=[
                "submission_id",
                "status",
                "created_at",
                "delivered_at",
                "acked_at",
            ],
        )


# The deliveries model may be declared before or after this module is imported (the two
# import each other through ``tellonce_submissions.models``): index it either way.
if "deliveries" in Base.metadata.tables:
    _index_deliveries(Base.metadata.tables["deliveries"])
else:

    @event.listens_for(Base, "after_mapper_constructed", propagate=True)
    def _on_mapper(mapper: Any, cls: Any) -> None:
        table = getattr(cls, "__table__", None)
        if isinstance(table, Table) and table.name == "deliveries":
            _index_deliveries(table)


class SubmissionFacts(Base):
    """One row per submission with the milestones the measures read (first agency response,
    first decision, first needs_info, latest status), kept up to date when the submission is
    stored and each time an agency posts a status. The measures then scan one narrow row per
    application instead of joining the timeline (see docs/performance-management.md).

    ``week`` (the Monday, UTC, of the submission) and the durations ``response_s`` and
    ``decision_s`` (seconds from submission to the first response / first decision) are
    derived from the other columns when they are written, so the queries neither compute
    them per row nor sort by them to group."""

    __tablename__ = "submission_facts"
    __table_args__ = (
        Index("ix_submission_facts_submitted_at", "submitted_at"),
        Index(
            "ix_submission_facts_form_week",
            "form",
            "week",
            postgresql_include=["owning_agency", *MEASURED],
        ),
        Index(
            "ix_submission_facts_agency_week",
            "owning_agency",
            "week",
            postgresql_include=["form", *MEASURED],
        ),
    )

    submission_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    form: Mapped[str] = mapped_column(String(128))
    owning_agency: Mapped[str] = mapped_column(String(32))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    week: Mapped[date] = mapped_column(Date)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    response_s: Mapped[float | None] = mapped_column(Float, default=None)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    decision_s: Mapped[float | None] = mapped_column(Float, default=None)
    needs_info_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_status: Mapped[str] = mapped_column(String(32))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
