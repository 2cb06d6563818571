"""Readable names for pointers (agreements name fields by pointer or element id)."""

from __future__ import annotations

from typing import Any

from tellonce_portal.forms import pointers
from tellonce_portal.forms.schema import FormDefinition


def field_labels(defn: FormDefinition) -> dict[str, str]:
    """Pointer (and element id) -> "Section: Question" for every question of the form; array
    items are named with ``*`` like the registry's flattened fields."""
    out: dict[str, str] = {}
    for page in defn.all_pages():
        for top in defn.page_fields(page, {}):
            _collect(defn, top.pointer, top.label, out, depth=0)
    return out


def _collect(
    defn: FormDefinition, pointer: str, label: str, out: dict[str, str], depth: int
) -> None:
    field = defn.field_for(pointer, {})
    if field is None or depth > 6:
        return
    out.setdefault(pointer, label)
    if field.element:
        out.setdefault(field.element, label)
    if field.kind == "group":
        for child in field.children:
            _collect(defn, child.pointer, f"{label}: {child.label}", out, depth + 1)
    elif field.kind == "repeat":
        probe_answers: dict[str, Any] = {}
        pointers.set_value(probe_answers, pointer, [{}])
        probe = defn.field_for(pointer, probe_answers)
        if probe is not None and probe.children:
            for child in probe.children[0].children:
                sub = f"{pointer}/*/{child.pointer.rsplit('/', 1)[-1]}"
                out.setdefault(sub, f"{label}: {child.label}")
