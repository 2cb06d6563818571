from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Sensitivity = Literal["public", "personal", "restricted"]
ELEMENT_ID = r"^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)+$"


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid")

    en: str = Field(min_length=1, max_length=200)
    es: str = Field(min_length=1, max_length=200)


class ElementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ELEMENT_ID, max_length=100, examples=["person.birthDate"])
    schema_: dict[str, Any] = Field(alias="schema", examples=[{"type": "string", "format": "date"}])
    label: Label
    sensitivity: Sensitivity
    aliases: list[str] = Field(default_factory=list, max_length=50)
    description: str | None = Field(default=None, max_length=2000)


class ElementOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    schema_: dict[str, Any] = Field(alias="schema")
    label: Label
    sensitivity: Sensitivity
    aliases: list[str]
    description: str | None


class ElementPage(BaseModel):
    items: list[ElementOut]
    next_cursor: str | None
