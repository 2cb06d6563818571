"""Request and response models of the prefill profile."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

from tellonce_submissions.answers import StorableJson
from tellonce_submissions.times import UTCDateTime


class ConsentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep: bool


class ValueUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Annotated[Any, StorableJson]


class ProfileValueOut(BaseModel):
    element: str
    value: Any
    masked: bool
    source_form: str | None
    source_version: int | None
    updated_at: UTCDateTime


class ProfileOut(BaseModel):
    keep: bool
    values: list[ProfileValueOut]
