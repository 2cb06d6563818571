"""Suggest data elements for fields a new version did not map with ``x-element``.

A suggestion needs a matching name (one of the element's aliases, or a name that ends
with one: ``veteranDateOfBirth`` -> ``dateOfBirth``) or title (the element's English label),
and a field that can hold the element (``elements.compat``: the same type and format, the rule
for declared mappings). Suggestions are only proposals: an admin confirms them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from tellonce_registry.elements.compat import ValueKind, compatible
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
        kind = ValueKind.of_schema(schema)
        return cls(
            id=element_id,
            type=kind.type,
            format=kind.format,
            label_en=label_en,
            aliases=tuple(normalize(a) for a in aliases),
        )


def _compatible(field: FlatField, element: ElementProfile) -> bool:
    field_kind = ValueKind(field.type, field.format, field.pattern)
    return compatible(field_kind, ValueKind(element.type, element.format))


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
