"""Request and response models of drafts."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tellonce_submissions.answers import Answers
from tellonce_submissions.registry.client import FORM_SLUG, MAX_VERSION
from tellonce_submissions.times import UTCDateTime

UUID_TEXT = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
"""A UUID as text (drafts' ids are UUIDs, written in lower case)."""

DraftId = Annotated[str, StringConstraints(pattern=UUID_TEXT, to_lower=True)]
"""A draft's id in a request body: anything else is a 422 naming the field, never a query."""


class DraftCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form: str = Field(min_length=1, max_length=128, pattern=FORM_SLUG)
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    """Pinned version; the latest published one when omitted."""
    answers: Answers | None = None
    prefill: bool = False


class DraftUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: Answers


class DraftOut(BaseModel):
    id: str
    form: str
    version: int
    answers: dict[str, Any]
    prefilled: list[str] = []
    """Pointers filled from the profile (on creation with ``prefill: true``)."""
    created_at: UTCDateTime
    updated_at: UTCDateTime
    expires_at: UTCDateTime


class DraftPage(BaseModel):
    items: list[DraftOut]
