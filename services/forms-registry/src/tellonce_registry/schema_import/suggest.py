"""Suggest data elements for fields a new version did not map with ``x-element``.

A suggestion needs a matching name (one of the element's aliases, or a name that ends
with one: ``veteranDateOfBirth`` -> ``dateOfBirth``) or title (the element's English label),
and a compatible type and format. Suggestions are only proposals: an admin confirms them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from tellonce_registry.schema_import.flatten import FlatField

THRESHOLD = 90.0
MIN_FUZZY_LENGTH = 6
_NON_ALNUM = re.compile(r"[^a-z0-9]")


def normalize(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


@dataclass(frozen=True)
class ElementProfile:
    id: str
    type: str | None
    format: str | None
    label_en: str
    aliases: tuple[str, ...]

    @classmethod
    def of(
        cls, element_id: str, schema: dict[str, Any], label_en: str, aliases: Iterable[str]
    ) -> ElementProfile:
        kind = schema.get("type")
        fmt = schema.get("format")
        return cls(
            id=element_id,
            type=kind if isinstance(kind, str) else None,
            format=fmt if isinstance(fmt, str) else None,
            label_en=label_en,
            aliases=tuple(normalize(a) for a in aliases),
        )


def _compatible(field: FlatField, element: ElementProfile) -> bool:
    if element.type is not None and field.type is not None:
        same = field.type == element.type or {field.type, element.type} == {"integer", "number"}
        if not same:
            return False
    return not (element.format and field.format and element.format != field.format)


def score(field: FlatField, element: ElementProfile) -> tuple[float, str]:
    name = normalize(field.name)
    best, reason = 0.0, ""
    for alias in element.aliases:
        if not alias:
            continue
        if name == alias:
            return 100.0, f"name {field.name!r} is a known name of {element.id}"
        if len(alias) >= MIN_FUZZY_LENGTH and name.endswith(alias):
            candidate, why = 92.0, f"name {field.name!r} ends with {alias!r}"
        elif min(len(alias), len(name)) < MIN_FUZZY_LENGTH:
            continue
        else:
            candidate, why = fuzz.ratio(name, alias), f"name {field.name!r} resembles {alias!r}"
        if candidate > best:
            best, reason = candidate, why
    if field.title:
        title = fuzz.token_sort_ratio(field.title.lower(), element.label_en.lower())
        if title > best:
            best, reason = title, f"title {field.title!r} resembles {element.label_en!r}"
    if element.format and field.format == element.format:
        best = min(100.0, best + 4)
    return best, reason


def suggest(
    fields: Iterable[FlatField], elements: Iterable[ElementProfile]
) -> list[dict[str, Any]]:
    """The best element for each unmapped scalar field, when it scores above the threshold."""
    profiles = list(elements)
    found: list[dict[str, Any]] = []
    for field in fields:
        if field.element_id is not None or field.type in ("object", "array", None):
            continue
        ranked = sorted(
            ((score(field, e), e) for e in profiles if _compatible(field, e)),
            key=lambda pair: pair[0][0],
            reverse=True,
        )
        if ranked and ranked[0][0][0] >= THRESHOLD:
            (value, reason), element = ranked[0]
            found.append(
                {
                    "pointer": field.pointer,
                    "element": element.id,
                    "score": round(value, 1),
                    "reason": reason,
                }
            )
    return found
