"""Referral rules (issue 11): "a resident who filed form X with answers matching a condition
may be eligible for form Y". Kept in the catalog; submissions evaluates them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tellonce_registry.models import Base, utcnow


class ReferralRule(Base):
    __tablename__ = "referral_rules"
    __table_args__ = (Index("ix_referral_rules_from_form", "from_form", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    from_form: Mapped[str] = mapped_column(String(100))
    to_form: Mapped[str] = mapped_column(String(100))
    condition: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason_en: Mapped[str] = mapped_column(Text)
    reason_es: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
