"""Database models of the forms registry service.

All catalog tables live here so other features of this service (the redundancy audit) can read
forms, versions and their flattened fields without importing feature code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tellonce_shared.db import new_metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone; every one stored here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = new_metadata()


class Agency(Base):
    """A state agency that owns forms or receives answers (code: DSS, DOL, DMV...)."""

    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DataElement(Base):
    """One entry of the shared dictionary (``person.birthDate``): what a fact is, once."""

    __tablename__ = "data_elements"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    label_en: Mapped[str] = mapped_column(String(200))
    label_es: Mapped[str] = mapped_column(String(200))
    sensitivity: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Field names forms commonly use for this element (``dob``, ``birthDate``)."""
    options: Mapped[dict[str, dict[str, str]] | None] = mapped_column(JSON, default=None)
    """Labels of the schema's top-level ``enum`` values: ``{"<value>": {"en": ..., "es": ...}}``
    (a string value is its own key, any other its JSON text); ``NULL`` when none."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Form(Base):
    """A form an agency owns; its questions live in versions."""

    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    """Estimated minutes to complete (the Paperwork Reduction Act burden figure)."""
    yearly_volume: Mapped[int | None] = mapped_column(Integer, default=None)
    priorities: Mapped[list[str]] = mapped_column(JSON, default=list)
    topic: Mapped[str | None] = mapped_column(String(50), default=None)
    i18n: Mapped[dict[str, dict[str, str]] | None] = mapped_column(JSON, default=None)
    """Translations of title and description per locale: ``{"es": {"title", "description"}}``."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[FormVersion]] = relationship(
        back_populates="form", lazy="raise", order_by="FormVersion.number"
    )


class FormVersion(Base):
    """One JSON Schema (plus UI document) of a form: draft, then published (immutable), then
    retired."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "number", name="uq_form_versions_form_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    dialect: Mapped[str] = mapped_column(String(16))
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    ui: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    breaking: Mapped[bool] = mapped_column(Boolean, default=False)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    form: Mapped[Form] = relationship(back_populates="versions", lazy="raise")
    fields: Mapped[list[FormField]] = relationship(
        back_populates="version",
        lazy="raise",
        order_by="FormField.position",
        cascade="all, delete-orphan",
    )


class FormField(Base):
    """One flattened field of a version: what submissions, the portal and the audit read."""

    __tablename__ = "form_fields"
    __table_args__ = (
        UniqueConstraint("version_id", "pointer", name="uq_form_fields_version_pointer"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("form_versions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    pointer: Mapped[str] = mapped_column(String(500))
    """RFC 6901 pointer into the answers; ``*`` stands for any item of an array."""
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(500), default=None)
    type: Mapped[str | None] = mapped_column(String(20), default=None)
    format: Mapped[str | None] = mapped_column(String(50), default=None)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    enum: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    element_id: Mapped[str | None] = mapped_column(String(100), default=None, index=True)

    version: Mapped[FormVersion] = relationship(back_populates="fields", lazy="raise")


class Agreement(Base):
    """A data-sharing agreement: ``agency`` receives ``fields`` of ``form``."""

    __tablename__ = "agreements"
    __table_args__ = (UniqueConstraint("form_id", "agency_code", name="uq_agreements_form_agency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    form: Mapped[Form] = relationship(lazy="raise")


# Referral rules (issue 11), imported here so alembic's autogenerate and the
# models-match-migrations tests see the table.
from tellonce_registry.referral_rules import models as _referral_rules_models  # noqa: E402, F401
