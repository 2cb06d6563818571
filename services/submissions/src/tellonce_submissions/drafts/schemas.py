"""Request and response models of drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tellonce_submissions.answers import Answers
from tellonce_submissions.registry.client import FORM_SLUG, MAX_VERSION


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
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


class DraftPage(BaseModel):
    items: list[DraftOut]
