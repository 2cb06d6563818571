"""Flatten a form schema into one row per question (what submissions, the portal and the audit
read): pointer into the answers, name, title, type, format, required, enum, description and the
data element named by ``x-element``.

Local ``$ref``s are followed (sibling keywords override the target, as real schemas expect),
``allOf`` branches merge, ``anyOf``/``oneOf``/``if``-``then``-``else`` branches contribute their
properties as optional, and an array of objects yields ``/list/*/field`` rows. A schema that
declares no type of its own takes it from its ``allOf``/``anyOf``/``oneOf`` branches (the first
that is not ``null``), so ``oneOf: [{"type": "null"}, {"type": "object", ...}]`` is an object
whose properties are fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tellonce_registry.schema_import import pointers
from tellonce_registry.schema_import.check import SchemaRejected, anchors, resolve_local_ref

ELEMENT_KEYWORD = "x-element"
MAX_DEPTH = 24
MAX_POINTER = 500
MAX_STEPS = 50_000
"""The work one schema may take to flatten: references followed, branches visited and
properties gathered. ``$ref`` and ``allOf``/``anyOf``/``oneOf`` can fan out (two branches
naming the same definition, twenty levels deep, is a million paths in 1.4 kB); a schema that
needs more is refused (422) instead of holding the service. Real forms use a few thousand."""


@dataclass
class FlatField:
    pointer: str
    name: str
    title: str | None
    type: str | None
    format: str | None
    required: bool
    enum: list[Any] | None
    description: str | None
    element_id: str | None
    element_location: str | None = None
    """Where ``x-element`` sits in the schema document (for error pointers)."""
    pattern: str | None = None
    """The field's ``pattern`` (``elements.compat``: a date written as a pattern)."""

    def public(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("element_location")
        doc.pop("pattern")
        return doc


@dataclass
class _Prop:
    name: str
    schema: dict[str, Any]
    loc: str
    required: bool


class Flattener:
    def __init__(self, schema: dict[str, Any], *, max_fields: int, base: str = "/schema") -> None:
        self.root = schema
        self.base = base
        self.max_fields = max_fields
        self.named = anchors(schema)
        self.rows: list[FlatField] = []
        self.seen: set[str] = set()
        self.steps = 0

    def step(self, loc: str, count: int = 1) -> None:
        """Count work; past :data:`MAX_STEPS` the schema is refused."""
        self.steps += count
        if self.steps > MAX_STEPS:
            raise SchemaRejected(
                [
                    {
                        "pointer": self.base + loc,
                        "message": f"The schema takes more than {MAX_STEPS} steps to flatten:"
                        " its $ref/allOf/anyOf/oneOf branches fan out too much.",
                    }
                ]
            )

    def resolve(
        self, node: Any, loc: str, refs: tuple[str, ...]
    ) -> tuple[dict[str, Any], str, tuple[str, ...]]:
        """Follow ``$ref`` chains; sibling keywords of a ``$ref`` win over the target's."""
        self.step(loc)
        merged: dict[str, Any] = {}
        current: Any = node
        where = loc
        while isinstance(current, dict) and isinstance(current.get("$ref"), str):
            ref = current["$ref"]
            for key, value in current.items():
                if key != "$ref":
                    merged.setdefault(key, value)
            if ref in refs:  # a recursive schema: stop descending here
                return {**merged, "x-recursive": True}, where, refs
            refs = (*refs, ref)
            try:
                current = resolve_local_ref(self.root, ref, self.named)
            except (KeyError, ValueError) as exc:
                raise SchemaRejected(
                    [
                        {
                            "pointer": self.base + pointers.join(where, "$ref"),
                            "message": f"Reference {ref!r} resolves nowhere.",
                        }
                    ]
                ) from exc
            where = pointers.fragment_pointer(ref[1:]) if ref.startswith("#/") else where
        if isinstance(current, dict):
            for key, value in current.items():
                merged.setdefault(key, value)
        return merged, where, refs

    def properties(
        self,
        node: dict[str, Any],
        loc: str,
        refs: tuple[str, ...],
        optional: bool = False,
        depth: int = 0,
    ) -> list[tuple[_Prop, tuple[str, ...]]]:
        """The properties of ``node`` and of its branches (``depth`` levels of them so far),
        one per name: the first declaration, required when any of them is (as ``walk`` reads
        a name met twice)."""
        self.step(loc)
        if depth > MAX_DEPTH or node.get("x-recursive"):
            return []
        required = (
            set(node.get("required", [])) if isinstance(node.get("required"), list) else set()
        )
        found: list[tuple[_Prop, tuple[str, ...]]] = []
        props = node.get("properties")
        if isinstance(props, dict):
            for name, sub in props.items():
                if isinstance(sub, dict):
                    found.append(
                        (
                            _Prop(
                                name,
                                sub,
                                pointers.join(loc, "properties", name),
                                (name in required) and not optional,
                            ),
                            refs,
                        )
                    )
        branches: list[tuple[str, bool]] = [("allOf", optional)]
        branches += [(k, True) for k in ("anyOf", "oneOf")]
        for key, branch_optional in branches:
            items = node.get(key)
            if not isinstance(items, list):
                continue
            for i, branch in enumerate(items):
                resolved, where, branch_refs = self.resolve(
                    branch, pointers.join(loc, key, i), refs
                )
                found.extend(
                    self.properties(resolved, where, branch_refs, branch_optional, depth + 1)
                )
        for key in ("then", "else"):
            branch = node.get(key)
            if isinstance(branch, dict):
                resolved, where, branch_refs = self.resolve(branch, pointers.join(loc, key), refs)
                found.extend(self.properties(resolved, where, branch_refs, True, depth + 1))
        deps = node.get("dependencies") or node.get("dependentSchemas")
        if isinstance(deps, dict):
            for dep_name, branch in deps.items():
                if isinstance(branch, dict):
                    resolved, where, branch_refs = self.resolve(
                        branch, pointers.join(loc, "dependencies", dep_name), refs
                    )
                    found.extend(self.properties(resolved, where, branch_refs, True, depth + 1))
        self.step(loc, len(found))
        # a name required by the parent but declared in a branch is still required
        by_name: dict[str, tuple[_Prop, tuple[str, ...]]] = {}
        for p, r in found:
            is_required = p.required or (p.name in required and not optional)
            first = by_name.get(p.name)
            if first is None:
                by_name[p.name] = (_Prop(p.name, p.schema, p.loc, is_required), r)
            elif is_required:
                first[0].required = True
        return list(by_name.values())

    def walk(
        self, node: dict[str, Any], prefix: str, loc: str, refs: tuple[str, ...], depth: int
    ) -> None:
        if depth > MAX_DEPTH or node.get("x-recursive"):
            return
        for prop, prop_refs in self.properties(node, loc, refs):
            pointer = pointers.join(prefix, prop.name)
            if pointer in self.seen:
                self._merge_required(pointer, prop.required)
                continue
            resolved, where, sub_refs = self.resolve(prop.schema, prop.loc, prop_refs)
            shape = self.shape(resolved, where, sub_refs)
            self.emit(pointer, prop.name, resolved, shape, prop.required, prop.loc)
            kind = type_of(shape)
            if kind == "object":
                self.walk(resolved, pointer, where, sub_refs, depth + 1)
            elif kind == "array":
                items = resolved.get("items")
                if isinstance(items, dict):
                    item, item_where, item_refs = self.resolve(
                        items, pointers.join(where, "items"), sub_refs
                    )
                    if type_of(self.shape(item, item_where, item_refs)) == "object":
                        self.walk(
                            item,
                            pointers.join(pointer, pointers.ANY_ITEM),
                            item_where,
                            item_refs,
                            depth + 1,
                        )

    def shape(
        self, node: dict[str, Any], loc: str, refs: tuple[str, ...], depth: int = 0
    ) -> dict[str, Any]:
        """The schema that tells what kind of value ``node`` holds: ``node`` itself when it says
        (a type, properties, items, an enum or a const), else its first ``allOf``/``anyOf``/
        ``oneOf`` branch whose kind is known and not ``null``."""
        self.step(loc)
        if type_of(node) is not None or depth > MAX_DEPTH or node.get("x-recursive"):
            return node
        for key in ("allOf", "anyOf", "oneOf"):
            branches = node.get(key)
            if not isinstance(branches, list):
                continue
            for i, branch in enumerate(branches):
                resolved, where, branch_refs = self.resolve(
                    branch, pointers.join(loc, key, i), refs
                )
                found = self.shape(resolved, where, branch_refs, depth + 1)
                if type_of(found) not in (None, "null"):
                    return found
        return node

    def _merge_required(self, pointer: str, required: bool) -> None:
        if required:
            for row in self.rows:
                if row.pointer == pointer:
                    row.required = True

    def emit(
        self,
        pointer: str,
        name: str,
        schema: dict[str, Any],
        shape: dict[str, Any],
        required: bool,
        loc: str,
    ) -> None:
        """One row for ``schema``; its type, format and enum come from ``shape`` (the branch
        that gives its kind) where the schema itself says nothing."""
        if len(self.rows) >= self.max_fields:
            raise SchemaRejected(
                [
                    {
                        "pointer": self.base,
                        "message": f"The schema has more than {self.max_fields} fields.",
                    }
                ]
            )
        if len(pointer) > MAX_POINTER:
            raise SchemaRejected(
                [
                    {
                        "pointer": self.base + loc,
                        "message": f"The field's pointer is over {MAX_POINTER} characters.",
                    }
                ]
            )
        self.seen.add(pointer)
        kind = type_of(shape)
        enum = schema.get("enum", shape.get("enum"))
        fmt = schema.get("format", shape.get("format"))
        if kind == "array" and isinstance(shape.get("items"), dict):
            items, _, _ = self.resolve(shape["items"], loc, ())
            enum = enum if enum is not None else items.get("enum")
        element = schema.get(ELEMENT_KEYWORD)
        element_location = None
        if element is not None:
            element_location = self.base + pointers.join(loc, ELEMENT_KEYWORD)
            if not isinstance(element, str):
                raise SchemaRejected(
                    [{"pointer": element_location, "message": "x-element must be an element id."}]
                )
        self.rows.append(
            FlatField(
                pointer=pointer,
                name=name,
                title=_text(schema.get("title")),
                type=kind,
                format=fmt if isinstance(fmt, str) else None,
                required=required,
                enum=enum if isinstance(enum, list) else None,
                description=_text(schema.get("description")),
                element_id=element,
                element_location=element_location,
                pattern=_text(schema.get("pattern")),
            )
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def type_of(schema: dict[str, Any]) -> str | None:
    """The field's one JSON type (``null`` dropped from a type list), inferred when absent."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    if isinstance(declared, list):
        real = [t for t in declared if isinstance(t, str) and t != "null"]
        return real[0] if real else "null"
    if isinstance(schema.get("properties"), dict):
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    values = schema.get("enum")
    if isinstance(values, list) and values:
        return _json_type(values[0])
    if "const" in schema:
        return _json_type(schema["const"])
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def flatten(
    schema: dict[str, Any], *, max_fields: int = 5000, base: str = "/schema"
) -> list[FlatField]:
    """The field rows of ``schema`` in document order."""
    flattener = Flattener(schema, max_fields=max_fields, base=base)
    root, where, refs = flattener.resolve(schema, "", ())
    flattener.walk(root, "", where, refs, 0)
    return flattener.rows
