"""Breaking-change detection between the last published version and a new one.

A change is breaking when a field that an agreement shares is removed or changes type, or when a
new required field appears (an agency's systems and residents' saved drafts would not have it).
Every change is listed, breaking or not, so an admin sees what a new version does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class FieldLike(Protocol):
    @property
    def pointer(self) -> str: ...
    @property
    def type(self) -> str | None: ...
    @property
    def required(self) -> bool: ...
    @property
    def element_id(self) -> str | None: ...


@dataclass(frozen=True)
class Shared:
    """What agreements name: pointers and element ids."""

    pointers: frozenset[str]
    elements: frozenset[str]

    @classmethod
    def of(cls, names: Iterable[str]) -> Shared:
        names = list(names)
        return cls(
            frozenset(n for n in names if n.startswith("/")),
            frozenset(n for n in names if not n.startswith("/")),
        )

    def covers(self, pointer: str, element_id: str | None) -> bool:
        if element_id is not None and element_id in self.elements:
            return True
        return any(pointer == p or pointer.startswith(p + "/") for p in self.pointers)


def effectively_required(fields: Mapping[str, FieldLike]) -> set[str]:
    """Pointers a complete answer must hold: the field and each of its parents are required
    (a required field inside an optional object is only required when the object is given)."""
    out: set[str] = set()
    for pointer, f in fields.items():
        if not f.required:
            continue
        parts = pointer.split("/")
        parents = ["/".join(parts[:i]) for i in range(2, len(parts)) if parts[i - 1] != "*"]
        if all(p in fields and fields[p].required for p in parents):
            out.add(pointer)
    return out


def compare(
    old: Iterable[FieldLike], new: Iterable[FieldLike], shared: Shared
) -> tuple[bool, list[dict[str, Any]]]:
    """``(breaking, changes)`` going from ``old`` to ``new``."""
    before = {f.pointer: f for f in old}
    after = {f.pointer: f for f in new}
    req_before = effectively_required(before)
    req_after = effectively_required(after)
    changes: list[dict[str, Any]] = []
    for pointer, f in before.items():
        is_shared = shared.covers(pointer, f.element_id)
        if pointer not in after:
            changes.append(
                {
                    "kind": "removed",
                    "pointer": pointer,
                    "breaking": is_shared,
                    "detail": "Removed a field an agreement shares."
                    if is_shared
                    else "Removed a field no agreement shares.",
                }
            )
        elif after[pointer].type != f.type:
            changes.append(
                {
                    "kind": "type_changed",
                    "pointer": pointer,
                    "breaking": is_shared,
                    "detail": f"Type changed from {f.type} to {after[pointer].type}.",
                }
            )
    for pointer in after:
        if pointer not in before:
            required = pointer in req_after
            changes.append(
                {
                    "kind": "added",
                    "pointer": pointer,
                    "breaking": required,
                    "detail": "New required field." if required else "New optional field.",
                }
            )
        elif pointer in req_after and pointer not in req_before:
            changes.append(
                {
                    "kind": "now_required",
                    "pointer": pointer,
                    "breaking": True,
                    "detail": "An optional field became required.",
                }
            )
    changes.sort(key=lambda c: (not c["breaking"], c["pointer"]))
    return any(c["breaking"] for c in changes), changes
