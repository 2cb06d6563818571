"""The UI document of a version: field order in pages, widgets, labels and help text per
locale. Checked against its own schema and against the version's fields, so a page never names
a question the form does not ask."""

from __future__ import annotations

from typing import Any

import jsonschema

from tellonce_registry.schema_import import pointers

LOCALIZED = {
    "type": "object",
    "propertyNames": {"pattern": "^[a-z]{2}(-[A-Z]{2})?$"},
    "additionalProperties": {"type": "string", "maxLength": 2000},
}
UI_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "locales": {"type": "array", "items": {"type": "string"}},
        "title": LOCALIZED,
        "pages": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "fields"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z0-9-]+$"},
                    "title": LOCALIZED,
                    "fields": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "fields": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "label": LOCALIZED,
                    "help": LOCALIZED,
                    "hint": LOCALIZED,
                    "widget": {"type": "string", "pattern": "^[a-z][a-z-]{0,29}$"},
                },
            },
        },
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(UI_SCHEMA)


def ui_errors(ui: Any, field_pointers: set[str], base: str = "/ui") -> list[dict[str, str]]:
    errors = [
        {
            "pointer": base + "".join("/" + pointers.escape(p) for p in e.absolute_path),
            "message": e.message,
        }
        for e in sorted(_VALIDATOR.iter_errors(ui), key=lambda e: list(map(str, e.path)))[:20]
    ]
    if errors or not isinstance(ui, dict):
        return errors
    for i, page in enumerate(ui.get("pages", [])):
        for j, pointer in enumerate(page.get("fields", [])):
            if pointer not in field_pointers:
                errors.append(
                    {
                        "pointer": f"{base}/pages/{i}/fields/{j}",
                        "message": f"The form has no field {pointer!r}.",
                    }
                )
    for pointer in ui.get("fields", {}):
        if pointer not in field_pointers:
            errors.append(
                {
                    "pointer": base + "/fields/" + pointers.escape(pointer),
                    "message": f"The form has no field {pointer!r}.",
                }
            )
    return errors[:20]
