"""Accept a schema only when it is an object, within the size limit, valid against its own
dialect's metaschema, and every ``$ref`` in it resolves inside the document.

Errors name the JSON pointer of the offending place in the request body, so a 422 tells the
agency exactly where to look.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import jsonschema_rs
import orjson
from jsonschema.protocols import Validator

from tellonce_registry.paging import NUL
from tellonce_registry.schema_import import pointers

DIALECTS: dict[str, str] = {
    "json-schema.org/draft-04/schema": "draft-04",
    "json-schema.org/draft-06/schema": "draft-06",
    "json-schema.org/draft-07/schema": "draft-07",
    "json-schema.org/draft/2019-09/schema": "2019-09",
    "json-schema.org/draft/2020-12/schema": "2020-12",
}
DEFAULT_DIALECT = "2020-12"
VALIDATORS: dict[str, type[Validator]] = {
    "draft-04": jsonschema.Draft4Validator,
    "draft-06": jsonschema.Draft6Validator,
    "draft-07": jsonschema.Draft7Validator,
    "2019-09": jsonschema.Draft201909Validator,
    "2020-12": jsonschema.Draft202012Validator,
}
MAX_ERRORS = 20
MAX_DEPTH = 64
"""Nesting levels of JSON a schema or UI document may have (real forms use about 20)."""

# Keywords whose value is one schema, a list of schemas, or a map of name -> schema. Walking
# only these keeps data that merely looks like a schema (enum, const, examples) out of it.
ONE_SCHEMA = (
    "additionalProperties",
    "additionalItems",
    "items",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)
LIST_OF_SCHEMAS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
MAP_OF_SCHEMAS = (
    "properties",
    "patternProperties",
    "definitions",
    "$defs",
    "dependentSchemas",
    "dependencies",
)


class SchemaRejected(Exception):
    """The schema cannot be imported; ``errors`` are ``{pointer, message}`` items."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['pointer']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass
class CheckedSchema:
    dialect: str
    warnings: list[dict[str, str]] = field(default_factory=list)


def dialect_of(schema: dict[str, Any], base: str) -> tuple[str, list[dict[str, str]]]:
    declared = schema.get("$schema")
    if declared is None:
        return DEFAULT_DIALECT, [
            {
                "pointer": base,
                "message": "No $schema: read as JSON Schema 2020-12.",
            }
        ]
    if not isinstance(declared, str):
        raise SchemaRejected(
            [{"pointer": pointers.join(base, "$schema"), "message": "$schema must be a string."}]
        )
    key = declared.split("://", 1)[-1].rstrip("#")
    dialect = DIALECTS.get(key)
    if dialect is None:
        raise SchemaRejected(
            [
                {
                    "pointer": pointers.join(base, "$schema"),
                    "message": f"Unknown JSON Schema dialect {declared!r}: use draft-04, draft-06,"
                    " draft-07, 2019-09 or 2020-12.",
                }
            ]
        )
    return dialect, []


def subschemas(node: dict[str, Any], loc: str) -> Iterator[tuple[Any, str]]:
    """Every direct subschema of ``node`` with its pointer."""
    for key in ONE_SCHEMA:
        value = node.get(key)
        if isinstance(value, dict | bool):
            yield value, pointers.join(loc, key)
    for key in LIST_OF_SCHEMAS:
        value = node.get(key)
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield item, pointers.join(loc, key, i)
    for key in MAP_OF_SCHEMAS:
        value = node.get(key)
        if isinstance(value, dict):
            for name, item in value.items():
                if isinstance(item, dict | bool):
                    yield item, pointers.join(loc, key, name)


def walk(node: Any, loc: str = "") -> Iterator[tuple[dict[str, Any], str]]:
    """Every schema object in the document, depth first, with its pointer."""
    stack: list[tuple[Any, str]] = [(node, loc)]
    while stack:
        current, where = stack.pop()
        if not isinstance(current, dict):
            continue
        yield current, where
        stack.extend(reversed(list(subschemas(current, where))))


def anchors(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Plain-name fragments (``#address``) declared with ``$anchor`` or an ``$id``/``id`` of
    the form ``#name`` (draft-04 to -07)."""
    found: dict[str, dict[str, Any]] = {}
    for node, _ in walk(schema):
        for key in ("$anchor", "$dynamicAnchor", "$recursiveAnchor"):
            value = node.get(key)
            if isinstance(value, str):
                found[value] = node
        for key in ("$id", "id"):
            value = node.get(key)
            if isinstance(value, str) and value.startswith("#") and len(value) > 1:
                found[value[1:]] = node
    return found


def resolve_local_ref(schema: dict[str, Any], ref: str, named: dict[str, dict[str, Any]]) -> Any:
    """The schema a local ``$ref`` points to; ``KeyError`` when it resolves nowhere."""
    if not ref.startswith("#"):
        raise KeyError(ref)
    fragment = ref[1:]
    if fragment == "" or fragment.startswith("/"):
        return pointers.resolve(schema, pointers.fragment_pointer(fragment))
    return named[fragment]


def check_refs(schema: dict[str, Any], base: str) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    named = anchors(schema)
    for node, loc in walk(schema):
        for key in ("$ref", "$dynamicRef", "$recursiveRef"):
            ref = node.get(key)
            if ref is None:
                continue
            where = base + pointers.join(loc, key)
            if not isinstance(ref, str):
                errors.append({"pointer": where, "message": f"{key} must be a string."})
                continue
            if not ref.startswith("#"):
                errors.append(
                    {
                        "pointer": where,
                        "message": f"Remote reference {ref!r} is not fetched: bundle it into"
                        " this document (#/$defs/...).",
                    }
                )
                continue
            try:
                target = resolve_local_ref(schema, ref, named)
            except (KeyError, ValueError):
                errors.append({"pointer": where, "message": f"Reference {ref!r} resolves nowhere."})
                continue
            if not isinstance(target, dict | bool):
                errors.append(
                    {"pointer": where, "message": f"Reference {ref!r} does not point to a schema."}
                )
    return errors


def metaschema_errors(schema: dict[str, Any], dialect: str, base: str) -> list[dict[str, str]]:
    cls = VALIDATORS[dialect]
    meta = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(meta.iter_errors(schema), key=lambda e: list(map(str, e.absolute_path)))
    return [
        {
            "pointer": base + "".join("/" + pointers.escape(p) for p in e.absolute_path),
            "message": f"Not valid {dialect} JSON Schema: {e.message}",
        }
        for e in errors[:MAX_ERRORS]
    ]


def too_deep(document: Any, max_depth: int) -> str | None:
    """The pointer of the first place nested deeper than ``max_depth``, if any."""
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth > max_depth:
            return where
        if isinstance(node, dict):
            stack.extend((v, pointers.join(where, k), depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, pointers.join(where, i), depth + 1) for i, v in enumerate(node))
    return None


def nul_at(document: Any) -> str | None:
    """The pointer of the first text (a value or a member name) holding the NUL character
    (U+0000), which PostgreSQL cannot store in a text column (a field's title, say)."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if NUL in node:
                return where
        elif isinstance(node, dict):
            for key, value in node.items():
                if NUL in key:
                    return where
                stack.append((value, pointers.join(where, key)))
        elif isinstance(node, list):
            stack.extend((v, pointers.join(where, i)) for i, v in enumerate(node))
    return None


def encoded_size(document: Any, base: str, what: str) -> int:
    """The compact JSON size of a document the service will store and serve; a 422 when it
    nests too deep, holds text with a NUL character or a number JSON consumers cannot read
    (beyond 64 bits)."""
    deep = too_deep(document, MAX_DEPTH)
    if deep is not None:
        raise SchemaRejected(
            [
                {
                    "pointer": base + deep,
                    "message": f"The {what} nests deeper than {MAX_DEPTH} levels.",
                }
            ]
        )
    nul = nul_at(document)
    if nul is not None:
        raise SchemaRejected(
            [
                {
                    "pointer": base + nul,
                    "message": f"Text in the {what} cannot hold the NUL character (U+0000).",
                }
            ]
        )
    try:
        return len(orjson.dumps(document))
    except TypeError as exc:  # orjson.JSONEncodeError: an integer beyond 64 bits
        raise SchemaRejected(
            [{"pointer": base, "message": f"The {what} cannot be stored: {exc}."}]
        ) from exc


def check_schema(schema: Any, *, max_bytes: int, base: str = "/schema") -> CheckedSchema:
    """Raise :class:`SchemaRejected` unless ``schema`` can be imported as it is."""
    if not isinstance(schema, dict):
        raise SchemaRejected([{"pointer": base, "message": "A form schema must be a JSON object."}])
    size = encoded_size(schema, base, "schema")
    if size > max_bytes:
        raise SchemaRejected(
            [
                {
                    "pointer": base,
                    "message": f"The schema is {size} bytes, over the limit of {max_bytes}.",
                }
            ]
        )
    dialect, warnings = dialect_of(schema, base)
    try:
        errors = metaschema_errors(schema, dialect, base)
    except (RecursionError, OverflowError) as exc:
        # the "regex" format check compiles each pattern with Python's re, which recurses per
        # nested group (2,000 of them exhaust the stack) and overflows on huge repeat counts
        raise SchemaRejected(
            [
                {
                    "pointer": base,
                    "message": "The schema cannot be checked: a pattern nests too deep or"
                    " repeats too many times.",
                }
            ]
        ) from exc
    if errors:
        raise SchemaRejected(errors)
    errors = check_refs(schema, base)
    if errors:
        raise SchemaRejected(errors[:MAX_ERRORS])
    try:
        jsonschema_rs.validator_for(schema)
    except (
        ValueError,
        RecursionError,
        OverflowError,
        jsonschema_rs.ValidationError,
        jsonschema_rs.ReferencingError,
    ) as exc:
        raise SchemaRejected(
            [{"pointer": base, "message": f"The schema does not compile: {exc}"}]
        ) from exc
    return CheckedSchema(dialect=dialect, warnings=warnings)
