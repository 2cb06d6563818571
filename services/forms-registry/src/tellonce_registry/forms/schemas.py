from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tellonce_registry.paging import Text

Priority = Literal["jobs-economy", "child-family", "transportation", "community-vitality"]
Topic = Literal[
    "benefits",
    "health",
    "work",
    "vehicles",
    "housing",
    "family",
    "records",
    "veterans",
    "taxes",
    "education",
]
SLUG = r"^[a-z0-9][a-z0-9-]{0,98}[a-z0-9]$"


class Translation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(default=None, min_length=1, max_length=300)
    description: Text | None = Field(default=None, max_length=5000)


I18n = dict[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")], Translation]


class FormCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG, examples=["dss-snap-application"])
    agency: Text = Field(min_length=2, max_length=16)
    title: Text = Field(min_length=1, max_length=300)
    description: Text = Field(default="", max_length=5000)
    minutes: int | None = Field(default=None, ge=0, le=100_000)
    yearly_volume: int | None = Field(default=None, ge=0, le=1_000_000_000)
    priorities: list[Priority] = Field(default_factory=list, max_length=4)
    topic: Topic | None = None
    i18n: I18n | None = Field(
        default=None, description='Translations: {"es": {"title": ..., "description": ...}}.'
    )


class FormUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(default=None, min_length=1, max_length=300)
    description: Text | None = Field(default=None, max_length=5000)
    minutes: int | None = Field(default=None, ge=0, le=100_000)
    yearly_volume: int | None = Field(default=None, ge=0, le=1_000_000_000)
    priorities: list[Priority] | None = Field(default=None, max_length=4)
    topic: Topic | None = None
    i18n: I18n | None = None


class VersionSummary(BaseModel):
    version: int
    status: str
    breaking: bool
    created_at: datetime
    published_at: datetime | None
    retired_at: datetime | None


class FormOut(BaseModel):
    slug: str
    agency: str
    title: str
    description: str
    minutes: int | None
    yearly_volume: int | None
    burden_hours: float | None
    """minutes x yearly volume / 60: the Paperwork Reduction Act burden."""
    priorities: list[str]
    topic: str | None
    i18n: dict[str, dict[str, str]]
    """Translated ``title`` and ``description`` per locale (``es``)."""
    latest_version: int | None
    """The newest published version, the one residents file."""


class FormDetail(FormOut):
    versions: list[VersionSummary]


class FormPage(BaseModel):
    items: list[FormOut]
    next_cursor: str | None


class VersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: Any = Field(alias="schema", description="A JSON Schema document (an object).")
    ui: Any = Field(default=None, description="The UI document: pages, labels per locale.")


class VersionCreated(BaseModel):
    form: str
    version: int
    status: str
    dialect: str
    breaking: bool
    changes: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]
    fields: int


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pointer: Text = Field(min_length=1, max_length=500)
    element: Text | None = Field(max_length=100)


class MappingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mappings: list[Mapping] = Field(min_length=1, max_length=5000)
