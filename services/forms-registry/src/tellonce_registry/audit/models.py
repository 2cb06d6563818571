"""Reviewers' decisions on the redundancy audit, kept so every re-run honours them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tellonce_registry.models import Base, utcnow


class AuditDecision(Base):
    """Confirm a cluster as a data element, split members off, or reject members."""

    __tablename__ = "audit_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    cluster_id: Mapped[str] = mapped_column(String(120), index=True)
    element_id: Mapped[str | None] = mapped_column(String(100), default=None)
    label: Mapped[str | None] = mapped_column(String(200), default=None)
    fields: Mapped[list[Any]] = mapped_column(JSON)
    """``[[form slug, pointer], ...]``: fields are named by form and pointer, so a decision
    outlives new versions of the form."""
    note: Mapped[str | None] = mapped_column(Text, default=None)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditFieldMapping(Base):
    """A field a reviewer mapped to a data element by confirming a cluster: what prefill reads
    for published versions, which never change (their ``x-element`` stays as published)."""

    __tablename__ = "audit_field_mappings"

    form_slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    pointer: Mapped[str] = mapped_column(String(500), primary_key=True)
    element_id: Mapped[str] = mapped_column(
        ForeignKey("data_elements.id", ondelete="CASCADE"), index=True
    )
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("audit_decisions.id", ondelete="CASCADE"), index=True
    )
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
