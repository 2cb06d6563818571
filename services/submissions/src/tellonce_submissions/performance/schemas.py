"""Request and response models of performance management. Every figure is an aggregate; a
group (or cell) with fewer than ``MIN_CELL`` applications carries ``null`` instead."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tellonce_submissions.times import UTCDateTime

GroupBy = Literal["form", "agency", "priority"]
Rag = Literal["green", "amber", "red"]


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(ge=1, le=3650, description="decide within this many days...")
    share: float = Field(gt=0, le=1, description="...for this share of applications (0.9)")


class TargetOut(BaseModel):
    form: str
    days: int
    share: float
    updated_at: UTCDateTime
    updated_by: str


class TargetPage(BaseModel):
    items: list[TargetOut]


class Durations(BaseModel):
    """Days from submission, over the applications that reached the milestone."""

    count: int | None
    median_days: float | None
    p90_days: float | None


class BacklogCell(BaseModel):
    status: str
    age: str
    count: int | None


class Deliveries(BaseModel):
    total: int | None
    dead_letters: int | None
    median_minutes_to_deliver: float | None
    p90_minutes_to_deliver: float | None


class TargetResult(BaseModel):
    due: int | None
    """Applications decided, or open past their form's target days."""
    met: int | None
    share_met: float | None
    target_share: float | None
    rag: Rag | None


class WeekPoint(BaseModel):
    week: date
    volume: int | None
    decided: int | None
    median_days_to_decision: float | None
    share_met: float | None
    rag: Rag | None


class GroupMeasures(BaseModel):
    key: str
    label: str
    suppressed: bool
    volume: int | None
    first_response: Durations
    decision: Durations
    needs_info_share: float | None
    backlog: list[BacklogCell]
    deliveries: Deliveries
    yearly_volume: int | None
    digital_uptake: float | None
    """Hub submissions in the period over the yearly volume pro-rated to the period."""
    target: TargetResult
    trend: list[WeekPoint]


class PerformanceReport(BaseModel):
    period: str
    start: UTCDateTime
    end: UTCDateTime
    as_of: UTCDateTime
    group_by: GroupBy
    min_cell: int
    groups: list[GroupMeasures]


class FunnelRow(BaseModel):
    from_form: str
    to_form: str
    suppressed: bool
    suggested: int | None
    started: int | None
    submitted: int | None


class FunnelReport(BaseModel):
    period: str
    start: UTCDateTime
    end: UTCDateTime
    min_cell: int
    rows: list[FunnelRow]
    total: FunnelRow
