"""Expand the demo catalog's compact form specs (``seed_data/forms/*.json``) into a JSON Schema
2020-12 document with ``x-element`` mappings and a UI document with English and Spanish labels.

A spec field is either an element reference (``{"name", "element", "required"}``: the element's
schema and labels are used, its option labels too), the same without the mapping
(``"unmapped": true``, as many real forms ask a fact without saying which one), or a custom
question (``schema`` and ``label``; a choice's labels in ``options``, ``{value: {en, es}}``).
Objects nest with ``fields``; arrays of objects with ``items``, one of which is called
``item_label`` (``{en, es}``, mid-sentence: "person"; the items' ``title`` and the UI
document's ``item_label``, so the portal says "Add another person"). A choice's labels go to
the UI document's ``options``, so the portal shows "Natural gas" / "Gas natural", not
``natural_gas``. An element's ``description`` (a hint on how to type it: "Nine digits, no
dashes.") is the question's hint (the schema's ``description``, the UI document's ``help``,
in Spanish from :data:`HINTS_ES`), unless the spec gives its own ``help``.
"""

from __future__ import annotations

import copy
from typing import Any

SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"

HINTS_ES: dict[str, str] = {
    "person.ssn": "Nueve dígitos, sin guiones.",
    "person.phone": "Diez dígitos, sin puntuación.",
}
"""Spanish for the element descriptions that are hints on how to type the answer (the
dictionary's descriptions are English only), by element."""


class SpecError(ValueError):
    pass


def _widget(schema: dict[str, Any], element: str | None) -> str:
    if element == "person.ssn":
        return "ssn"
    kind = schema.get("type")
    if kind == "array":
        return "repeat"
    if "enum" in schema:
        return "select" if len(schema["enum"]) > 4 else "radio"
    if kind == "boolean":
        return "radio"
    if kind in ("integer", "number"):
        return "number"
    fmt = schema.get("format")
    if fmt in ("date", "email"):
        return str(fmt)
    if element in ("person.phone", "person.mobilePhone", "employment.employerPhone"):
        return "tel"
    if isinstance(schema.get("maxLength"), int) and schema["maxLength"] > 300:
        return "textarea"
    return "text"


class Builder:
    def __init__(self, elements: dict[str, dict[str, Any]]) -> None:
        self.elements = elements
        self.ui_fields: dict[str, dict[str, Any]] = {}

    def field(self, spec: dict[str, Any], pointer: str) -> dict[str, Any]:
        element_id = spec.get("element")
        label = spec.get("label")
        options: dict[str, Any] = dict(spec.get("options") or {})
        schema: dict[str, Any]
        if element_id is not None:
            element = self.elements.get(element_id)
            if element is None:
                raise SpecError(f"{pointer}: unknown element {element_id}")
            schema = copy.deepcopy(element["schema"])
            label = label or element["label"]
            described = element.get("description")
            if "help" not in spec and isinstance(described, str) and described.strip():
                hint = {"en": described.strip()}
                if element_id in HINTS_ES:
                    hint["es"] = HINTS_ES[element_id]
                spec = {**spec, "help": hint}
            options = {**(element.get("options") or {}), **options}
            if not spec.get("unmapped"):
                schema["x-element"] = element_id
        else:
            schema = copy.deepcopy(spec.get("schema", {"type": "string", "maxLength": 200}))
        if "fields" in spec:
            schema.update(self.object(spec["fields"], pointer))
        if "items" in spec:
            schema["type"] = "array"
            schema["items"] = self.object(spec["items"], pointer + "/*")
            if "item_label" in spec:
                named = spec["item_label"]["en"]
                schema["items"]["title"] = named[:1].upper() + named[1:]
            schema.setdefault("minItems", spec.get("min_items", 0))
            schema["maxItems"] = spec.get("max_items", 20)
        for key in ("minimum", "maximum", "enum", "pattern", "maxLength"):
            if key in spec:
                schema[key] = spec[key]
        if not label:
            raise SpecError(f"{pointer}: a custom question needs a label")
        schema["title"] = label["en"]
        if "help" in spec:
            schema["description"] = spec["help"]["en"]
        ui: dict[str, Any] = {
            "label": label,
            "widget": spec.get("widget", _widget(schema, element_id)),
        }
        if "help" in spec:
            ui["help"] = spec["help"]
        if "item_label" in spec:
            ui["item_label"] = spec["item_label"]
        labelled = {
            v: options[v] for v in schema.get("enum") or [] if isinstance(v, str) and v in options
        }
        if labelled:
            ui["options"] = labelled
        self.ui_fields[pointer] = ui
        return schema

    def object(self, fields: list[dict[str, Any]], pointer: str) -> dict[str, Any]:
        props: dict[str, Any] = {}
        required: list[str] = []
        for spec in fields:
            name = spec["name"]
            props[name] = self.field(spec, f"{pointer}/{name}")
            if spec.get("required"):
                required.append(name)
        out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
        if required:
            out["required"] = required
        return out


def build(
    spec: dict[str, Any], elements: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(schema, ui)`` of one demo form."""
    builder = Builder(elements)
    props: dict[str, Any] = {}
    required: list[str] = []
    pages: list[dict[str, Any]] = []
    for page in spec["pages"]:
        names: list[str] = []
        for field in page["fields"]:
            props[field["name"]] = builder.field(field, "/" + field["name"])
            if field.get("required"):
                required.append(field["name"])
            names.append("/" + field["name"])
        pages.append({"id": page["id"], "title": page["title"], "fields": names})
    schema: dict[str, Any] = {
        "$schema": SCHEMA_2020_12,
        "$id": f"https://forms.ct.example.gov/schemas/{spec['slug']}/1",
        "title": spec["title"],
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }
    ui = {
        "locales": ["en", "es"],
        "title": {"en": spec["title"], "es": spec.get("title_es", spec["title"])},
        "pages": pages,
        "fields": builder.ui_fields,
    }
    return schema, ui
