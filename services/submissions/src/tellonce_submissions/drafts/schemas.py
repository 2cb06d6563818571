"""Request and response models of drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DraftCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form: str = Field(min_length=1, max_length=128)
    version: int | None = Field(default=None, ge=1)
    """Pinned version; the latest published one when omitted."""
    answers: dict[str, Any] | None = None
    prefill: bool = False


class DraftUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, Any]


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
