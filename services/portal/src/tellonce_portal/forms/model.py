"""What the renderer draws: fields with concrete pointers, pages of fields, and conditions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from tellonce_portal.forms import pointers

Kind = Literal[
    "text",
    "textarea",
    "email",
    "tel",
    "url",
    "date",
    "datetime",
    "number",
    "integer",
    "yesno",
    "checkbox",
    "radios",
    "select",
    "checkboxes",
    "lines",
    "hidden",
    "group",
    "repeat",
]

INPUT_KINDS = frozenset(
    {"text", "email", "tel", "url", "date", "datetime", "number", "integer", "textarea"}
)


@dataclass(frozen=True)
class Option:
    value: Any
    label: str

    @property
    def html_value(self) -> str:
        return encode_value(self.value)


def encode_value(value: Any) -> str:
    """How a JSON scalar travels in an HTML form field."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


@dataclass(frozen=True)
class Condition:
    """Show a field or page only when the answer at ``pointer`` equals (or is one of) a value."""

    pointer: str
    values: tuple[Any, ...]

    def met(self, answers: dict[str, Any]) -> bool:
        return pointers.get(answers, self.pointer) in self.values

    @classmethod
    def parse(cls, raw: Any) -> Condition | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("pointer"), str):
            return None
        pointer = raw["pointer"]
        if not pointer.startswith("/"):
            pointer = "/" + pointer
        if "in" in raw and isinstance(raw["in"], list):
            return cls(pointer, tuple(raw["in"]))
        if "equals" in raw:
            return cls(pointer, (raw["equals"],))
        return None


@dataclass
class Field:
    kind: Kind
    pointer: str
    name: str
    label: str
    hint: str = ""
    required: bool = False
    options: list[Option] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    item_type: str = "string"
    min_items: int = 0
    max_items: int | None = None
    item_label: str = ""
    element: str | None = None
    autocomplete: str | None = None
    max_length: int | None = None
    condition: Condition | None = None
    label_lang: str | None = None
    """Set when the label fell back to another language than the page's (WCAG 3.1.2)."""

    @property
    def html_id(self) -> str:
        return html_id(self.pointer)

    @property
    def is_container(self) -> bool:
        return self.kind in ("group", "repeat")

    def walk(self) -> list[Field]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out

    def leaves(self) -> list[Field]:
        return [f for f in self.walk() if not f.is_container]


def html_id(pointer: str) -> str:
    """A stable, valid HTML id for a pointer (``/a/0/b`` -> ``f-a-0-b``)."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", pointer.replace("/", "-").lstrip("-"))
    return "f-" + (slug or "root")


@dataclass
class Page:
    id: str
    title: str
    pointers: list[str]
    condition: Condition | None = None


@dataclass
class FieldError:
    pointer: str
    message: str
