from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Sensitivity = Literal["public", "personal", "restricted"]
ELEMENT_ID = r"^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)+$"
MAX_OPTIONS = 300
"""At most this many labelled choices per element (the longest list of a dictionary element,
a country, has about 250)."""


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
    options: dict[str, Label] | None = Field(
        default=None,
        max_length=MAX_OPTIONS,
        description="Labels of the schema's top-level `enum` values, by value: the value itself"
        " for a string, its JSON text (`1`, `true`, `null`) otherwise.",
        examples=[{"oil": {"en": "Heating oil", "es": "Aceite de calefacción"}}],
    )


class ElementOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    schema_: dict[str, Any] = Field(alias="schema")
    label: Label
    sensitivity: Sensitivity
    aliases: list[str]
    description: str | None
    options: dict[str, Label] = Field(default_factory=dict)
    """Labels of the enum's values (an empty object when the element has none)."""


class ElementPage(BaseModel):
    items: list[ElementOut]
    next_cursor: str | None
