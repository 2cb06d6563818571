"""The audit's view of one field, and how to read fields out of a JSON Schema document.

The registry's flattened field rows hold what submissions and the portal need; the audit also
wants the evidence they leave out (``pattern``, string lengths, the name of the ``$ref``'d
definition), so it walks the stored schema of each published version itself and joins the two by
pointer (``*`` stands for any item of an array, as in the registry)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

ANY_ITEM = "*"
MAX_DEPTH = 24
MAX_STEPS = 20_000
"""Schema nodes one version's walk may visit. A property declared both in ``properties`` and
in an ``allOf`` branch is walked once per declaration, so a ``$defs`` chain declaring each
level twice doubles the work per level (review: 16 levels took 1.5 s, 24 would take
minutes, for a schema the registry imports in a millisecond). Past this many the walk stops
where it is, with a warning: the version's fields read so far are kept. The VA's largest
forms take under 500 (tests/audit/test_fields.py)."""

log = logging.getLogger("tellonce.registry.audit")


@dataclass(frozen=True, slots=True)
class FieldRecord:
    """One field of one published form version, with the evidence the audit reads."""

    form: str
    agency: str
    version: int
    pointer: str
    name: str
    title: str | None = None
    description: str | None = None
    type: str | None = None
    format: str | None = None
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    element: str | None = None
    ref: str | None = None
    """The name of the ``$ref``'d definition the field's schema came from (``ssn``)."""

    @property
    def key(self) -> tuple[str, str]:
        """A field's identity across versions: the same pointer of the same form."""
        return (self.form, self.pointer)


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def pointer_segments(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [_unescape(p) for p in pointer.lstrip("/").split("/")]


def _resolve_local(root: dict[str, Any], ref: str) -> dict[str, Any] | None:
    if not ref.startswith("#"):
        return None
    node: Any = root
    for raw in pointer_segments(ref[1:]):
        if isinstance(node, dict) and raw in node:
            node = node[raw]
        else:
            return None
    return node if isinstance(node, dict) else None


def _deref(
    root: dict[str, Any], schema: dict[str, Any], seen: tuple[str, ...]
) -> tuple[dict[str, Any], str | None, tuple[str, ...]]:
    """Follow local ``$ref``s; return the merged schema, the last definition name, the refs seen."""
    ref_name: str | None = None
    for _ in range(MAX_DEPTH):
        ref = schema.get("$ref")
        if not isinstance(ref, str) or ref in seen:
            break
        target = _resolve_local(root, ref)
        if target is None:
            break
        seen = (*seen, ref)
        ref_name = _unescape(ref.rsplit("/", 1)[-1])
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema, ref_name, seen


def _first_type(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str) and item != "null":
                return item
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def flatten_schema(
    schema: dict[str, Any], *, form: str, agency: str, version: int
) -> list[FieldRecord]:
    """Every leaf field of a JSON Schema (draft-04 to 2020-12), in document order, with local
    ``$ref``s, ``allOf``/``anyOf``/``oneOf`` branches and draft-04 ``dependencies`` followed.
    A ``$ref`` that points nowhere leaves the field with what it has, never an error."""
    found: dict[str, FieldRecord] = {}
    steps = [MAX_STEPS]
    for record in _walk(schema, schema, "", None, (), 0, form, agency, version, steps):
        if record.pointer not in found:
            found[record.pointer] = record
        else:
            found[record.pointer] = _merge(found[record.pointer], record)
    if steps[0] < 0:
        log.warning(
            "audit walk stopped: the schema takes more steps than allowed",
            extra={"form": form, "version": version, "max_steps": MAX_STEPS},
        )
    return list(found.values())


def _merge(a: FieldRecord, b: FieldRecord) -> FieldRecord:
    return replace(
        a,
        title=a.title or b.title,
        description=a.description or b.description,
        type=a.type or b.type,
        format=a.format or b.format,
        pattern=a.pattern or b.pattern,
        enum=tuple(dict.fromkeys((*a.enum, *b.enum))) if a.enum and b.enum else a.enum or b.enum,
        min_length=a.min_length if a.min_length is not None else b.min_length,
        max_length=a.max_length if a.max_length is not None else b.max_length,
        element=a.element or b.element,
        ref=a.ref or b.ref,
    )


def _walk(
    root: dict[str, Any],
    node: Any,
    pointer: str,
    name: str | None,
    seen: tuple[str, ...],
    depth: int,
    form: str,
    agency: str,
    version: int,
    steps: list[int],
) -> Iterator[FieldRecord]:
    steps[0] -= 1
    if not isinstance(node, dict) or depth > MAX_DEPTH or steps[0] < 0:
        return
    schema, ref_name, seen = _deref(root, node, seen)
    properties: dict[str, list[Any]] = {}
    branches: list[dict[str, Any]] = []
    for keyword in ("allOf", "anyOf", "oneOf"):
        value = schema.get(keyword)
        if isinstance(value, list):
            branches.extend(b for b in value if isinstance(b, dict))
    dependencies = schema.get("dependencies") or schema.get("dependentSchemas")
    if isinstance(dependencies, dict):
        branches.extend(d for d in dependencies.values() if isinstance(d, dict))
    leaf_extras: dict[str, Any] = {}
    for branch in branches:
        resolved, _, _ = _deref(root, branch, seen)
        props = resolved.get("properties")
        if isinstance(props, dict):
            for key, value in props.items():
                properties.setdefault(key, []).append(value)
        else:
            for key in ("type", "format", "pattern", "enum", "minLength", "maxLength"):
                if key in resolved and key not in schema:
                    if key == "enum" and isinstance(resolved[key], list):
                        known = leaf_extras.setdefault("enum", [])
                        known.extend(v for v in resolved[key] if v not in known)
                    else:
                        leaf_extras.setdefault(key, resolved[key])
    own = schema.get("properties")
    if isinstance(own, dict):
        properties = {k: [v, *properties.get(k, [])] for k, v in own.items()} | {
            k: v for k, v in properties.items() if k not in own
        }
    if properties:
        for key, values in properties.items():
            distinct: list[Any] = []
            for value in values:  # the same declaration twice is walked once
                if value not in distinct:
                    distinct.append(value)
            for value in distinct:
                yield from _walk(
                    root,
                    value,
                    f"{pointer}/{_escape(key)}",
                    key,
                    seen,
                    depth + 1,
                    form,
                    agency,
                    version,
                    steps,
                )
        return
    items = schema.get("items")
    if isinstance(items, list):
        items = items[0] if items else None
    if isinstance(items, dict):
        item_schema, _, _ = _deref(root, items, seen)
        if item_schema.get("properties") or any(
            k in item_schema for k in ("allOf", "anyOf", "oneOf")
        ):
            yield from _walk(
                root,
                items,
                f"{pointer}/{ANY_ITEM}",
                name,
                seen,
                depth + 1,
                form,
                agency,
                version,
                steps,
            )
            return
    if not pointer:
        return
    merged = {**leaf_extras, **schema}
    enum = merged.get("enum")
    if enum is None and isinstance(items, dict):
        item_schema, _, _ = _deref(root, items, seen)
        enum = item_schema.get("enum")
    element = merged.get("x-element")
    yield FieldRecord(
        form=form,
        agency=agency,
        version=version,
        pointer=pointer,
        name=name or pointer_segments(pointer)[-1],
        title=_text(merged.get("title")),
        description=_text(merged.get("description")),
        type=_first_type(merged.get("type")),
        format=_text(merged.get("format")),
        pattern=_text(merged.get("pattern")),
        enum=tuple(str(v) for v in enum) if isinstance(enum, list) else None,
        min_length=_int(merged.get("minLength")),
        max_length=_int(merged.get("maxLength")),
        element=element if isinstance(element, str) else None,
        ref=ref_name,
    )
