"""The shared dictionary of data elements (like NIEM or the EU Semantic Repository)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.db import flush_new
from tellonce_registry.elements import repository
from tellonce_registry.elements.schemas import ElementCreate, ElementOut, Label
from tellonce_registry.models import DataElement
from tellonce_registry.paging import NUL
from tellonce_registry.schema_import.check import SchemaRejected, encoded_size
from tellonce_registry.schema_import.pointers import escape
from tellonce_shared.problems import Conflict, NotFound, ValidationFailed


def check_element_schema(schema: dict[str, Any]) -> None:
    try:
        encoded_size(schema, "/schema", "schema")
    except SchemaRejected as exc:
        raise ValidationFailed("The element's schema cannot be stored.", errors=exc.errors) from exc
    errors = list(
        jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA).iter_errors(
            schema
        )
    )
    if errors:
        raise ValidationFailed(
            "The element's schema is not valid JSON Schema 2020-12.",
            errors=[
                {
                    "pointer": "/schema" + "".join(f"/{p}" for p in e.absolute_path),
                    "message": e.message,
                }
                for e in errors[:20]
            ],
        )
    if "$ref" in schema:
        raise ValidationFailed(
            "An element's schema must stand alone.",
            errors=[{"pointer": "/schema/$ref", "message": "References are not allowed here."}],
        )


def option_key(value: Any) -> str | None:
    """The key naming an enum value in an element's ``options``: a string is its own key, a
    number, ``true``, ``false`` or ``null`` its JSON text; an object or array has none."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def check_element_options(schema: dict[str, Any], options: dict[str, Label] | None) -> None:
    """Every labelled choice is one of the schema's top-level ``enum`` values (a 422 at
    ``/options/<key>`` otherwise; ``options`` on a schema without an ``enum`` at
    ``/options``). Run after the schema's own check."""
    if not options:
        return
    enum = schema.get("enum")
    if not isinstance(enum, list) or not enum:
        raise ValidationFailed(
            "The element's options label enum values, and its schema has no enum.",
            errors=[
                {
                    "pointer": "/options",
                    "message": "Options need a top-level enum in the schema.",
                }
            ],
        )
    keys = {k for k in map(option_key, enum) if k is not None}
    errors = [
        {
            "pointer": f"/options/{escape(key)}",
            "message": "Not one of the schema's enum values.",
        }
        for key in options
        if key not in keys
    ]
    if errors:
        raise ValidationFailed("The element's options do not match its enum.", errors=errors[:20])


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\\ud800" in JSON)
        return False
    return True


def check_element_text(data: ElementCreate) -> None:
    """Labels, aliases and description are stored as text: never a NUL character. An option's
    key with a lone surrogate is refused first, at ``/options``: no enum value can hold one
    (``check_element_schema``), and a pointer naming it could not be written in the answer."""
    if not all(_encodable(key) for key in data.options or {}):
        raise ValidationFailed(
            "The element cannot be stored.",
            errors=[
                {
                    "pointer": "/options",
                    "message": "An option's value cannot hold a lone surrogate (U+D800 to U+DFFF).",
                }
            ],
        )
    texts = {
        "/label/en": data.label.en,
        "/label/es": data.label.es,
        "/description": data.description,
        **{f"/aliases/{i}": alias for i, alias in enumerate(data.aliases)},
        **{
            f"/options/{escape(key)}/{lang}": text
            for key, label in (data.options or {}).items()
            for lang, text in (("en", label.en), ("es", label.es))
        },
    }
    errors = [
        {"pointer": pointer, "message": "Text cannot hold the NUL character (U+0000)."}
        for pointer, text in texts.items()
        if text is not None and NUL in text
    ]
    if errors:
        raise ValidationFailed("The element cannot be stored.", errors=errors)


async def create(session: AsyncSession, data: ElementCreate) -> DataElement:
    check_element_text(data)
    check_element_schema(data.schema_)
    check_element_options(data.schema_, data.options)
    already = f"The element {data.id} already exists."
    if await repository.get(session, data.id) is not None:
        raise Conflict(already)
    element = DataElement(
        id=data.id,
        schema=data.schema_,
        label_en=data.label.en,
        label_es=data.label.es,
        sensitivity=data.sensitivity,
        aliases=list(data.aliases),
        description=data.description,
        options=stored_options(data.options),
    )
    repository.add(session, element)
    await flush_new(session, already)
    return element


async def get(session: AsyncSession, element_id: str) -> DataElement:
    element = await repository.get(session, element_id)
    if element is None:
        raise NotFound(f"No data element {element_id}.")
    return element


async def page(
    session: AsyncSession, after: str | None, limit: int, prefix: str | None
) -> list[DataElement]:
    return await repository.page(session, after, limit + 1, prefix)


def stored_options(options: dict[str, Label] | None) -> dict[str, dict[str, str]] | None:
    """Options as the ``options`` column holds them (none: ``NULL``)."""
    if not options:
        return None
    return {key: label.model_dump() for key, label in options.items()}


def to_out(element: DataElement) -> ElementOut:
    return ElementOut.model_validate(
        {
            "id": element.id,
            "schema": element.schema,
            "label": Label(en=element.label_en, es=element.label_es),
            "sensitivity": element.sensitivity,
            "aliases": list(element.aliases or []),
            "description": element.description,
            "options": element.options or {},
        }
    )
