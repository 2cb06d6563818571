"""Which branch of a failed ``oneOf``/``anyOf`` the answers chose, so that its errors can be
reported on the fields they are about instead of one "fits none of them" on the whole object.

The VA forms' addresses are the model: ``oneOf`` branches told apart by ``country``, most
branches pinning it to one value (``"enum": ["USA"]``) and listing that country's states,
and one for every other country. The answers chose a branch when it is the only object
branch not turned down by a pinned property (``const``, or an ``enum`` of one value) nor by
the object as a whole (see :func:`chosen_branch`). Anything else (no branch pins anything,
none or several qualify, a ``$ref`` that is not local) gives no choice, and the caller keeps
its general error. The portal (``jsonschema``) and the submissions service
(``jsonschema-rs``) both decide with this module, so they always agree."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

E = TypeVar("E")

_MAX_REFS = 8
"""Local ``$ref`` hops followed at the top of a branch before giving up."""


def node_at(root: Any, path: Sequence[str | int]) -> Any:
    """The schema node at ``path`` (keys and list indexes), or None when there is none."""
    node = root
    for step in path:
        if isinstance(node, Mapping) and isinstance(step, str):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        elif isinstance(node, list) and isinstance(step, str) and step.isdigit():
            index = int(step)
            node = node[index] if index < len(node) else None
        else:
            return None
        if node is None:
            return None
    return node


def resolve(root: Any, node: Any) -> Any:
    """``node`` with a local ``$ref`` (``#/...``) at its top followed, a few hops at most;
    None for a reference that cannot be followed here."""
    for _ in range(_MAX_REFS):
        if not isinstance(node, Mapping):
            return node
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return node
        if not ref.startswith("#"):
            return None
        steps = [part.replace("~1", "/").replace("~0", "~") for part in ref[1:].split("/") if part]
        node = node_at(root, steps)
    return None


def _listed(rule: Any) -> tuple[Any, ...] | None:
    """The values a property rule lists (``const``, or a non-empty ``enum``), or None."""
    if not isinstance(rule, Mapping):
        return None
    if "const" in rule:
        return (rule["const"],)
    enum = rule.get("enum")
    return tuple(enum) if isinstance(enum, list) and enum else None


def pinned_values(root: Any, branch: Any) -> dict[str, tuple[Any, ...]]:
    """The properties a branch limits to listed values (``const`` or an ``enum``), with them."""
    schema = resolve(root, branch)
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping):
        return {}
    out = {}
    for name, rule in properties.items():
        values = _listed(resolve(root, rule))
        if values is not None:
            out[str(name)] = values
    return out


def pinned(root: Any, branch: Any) -> frozenset[str]:
    """The properties a branch pins to one value (``const``, or a one-value ``enum``)."""
    return frozenset(
        name for name, values in pinned_values(root, branch).items() if len(values) == 1
    )


def _excluded_values(root: Any, branch: Any, name: str) -> tuple[Any, ...] | None:
    """The values a branch's property turns down with ``not`` (``{"not": {"enum": [...]}}``),
    when that is all the property says besides its type; else None."""
    schema = resolve(root, branch)
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    rule = resolve(root, properties.get(name)) if isinstance(properties, Mapping) else None
    if not isinstance(rule, Mapping) or set(rule) - {"not", "type"}:
        return None
    negated = resolve(root, rule.get("not"))
    if not isinstance(negated, Mapping) or set(negated) - {"enum", "const", "type"}:
        return None
    return _listed(negated)


@dataclass(frozen=True)
class Discriminator:
    """A property that tells a ``oneOf``/``anyOf``'s object branches apart: ``values[i]`` are
    the values that select branch ``i``; ``other`` is the index of the branch selected by
    every value no other branch lists (``{"not": {"enum": [those values]}}``), if any."""

    name: str
    values: tuple[tuple[Any, ...], ...]
    other: int | None = None

    def listed(self) -> tuple[Any, ...]:
        """Every listed value, in schema order."""
        return tuple(v for values in self.values for v in values)


def discriminator(root: Any, branches: Sequence[Any]) -> Discriminator | None:
    """The first property (in the first branch's order) that every branch has and that picks
    exactly one branch for each value: every branch lists its own values (``const`` or
    ``enum``) and no value is listed twice, except at most one branch that turns down exactly
    the others' values (``not``: "every other country"). None when there is no such property,
    fewer than two branches, or a branch that is not an object with ``properties``."""
    schemas = [resolve(root, branch) for branch in branches]
    if len(schemas) < 2 or not all(
        isinstance(s, Mapping) and isinstance(s.get("properties"), Mapping) for s in schemas
    ):
        return None
    pins = [pinned_values(root, branch) for branch in branches]
    for name in schemas[0]["properties"]:
        found = _discriminator_on(root, branches, pins, str(name))
        if found is not None:
            return found
    return None


def _discriminator_on(
    root: Any, branches: Sequence[Any], pins: Sequence[dict[str, tuple[Any, ...]]], name: str
) -> Discriminator | None:
    values: list[tuple[Any, ...]] = []
    other: int | None = None
    for index, branch in enumerate(branches):
        if name in pins[index]:
            values.append(pins[index][name])
        elif other is None and _excluded_values(root, branch, name) is not None:
            other = index
            values.append(())
        else:
            return None
    listed = [v for vals in values for v in vals]
    if not listed or any(listed.count(v) > 1 for v in listed):
        return None  # JSON equality: 1 and True count as the same value, so both are refused
    if other is not None:
        excluded = _excluded_values(root, branches[other], name) or ()
        if sorted(map(repr, excluded)) != sorted(map(repr, listed)):
            return None
    return Discriminator(name=name, values=tuple(values), other=other)


def chosen_branch(
    root: Any,
    branches: Sequence[Any],
    failed_on: Sequence[set[str]],
    misfit: Sequence[bool],
) -> int | None:
    """The index of the branch the answers chose, or None. ``failed_on``: for each branch,
    the names of the object's own properties its errors are about; ``misfit``: for each
    branch, whether the object as a whole failed it (its type, a ``const``, ``enum``, ``not``
    or a ``false`` schema: not a branch for objects like this one). The chosen branch is the
    only object branch (one with ``properties``) that the answers did not fit as a whole and
    that raised no error on any property some branch pins: every other branch was turned
    down by a pinned property (the country) or does not describe such an object."""
    if not (len(failed_on) == len(misfit) == len(branches)):
        return None
    pins = [pinned(root, branch) for branch in branches]
    every_pin = frozenset().union(*pins)
    if not every_pin:
        return None
    candidates = []
    for index, branch in enumerate(branches):
        schema = resolve(root, branch)
        if (
            isinstance(schema, Mapping)
            and isinstance(schema.get("properties"), Mapping)
            and not misfit[index]
            and not (every_pin & failed_on[index])
        ):
            candidates.append(index)
    return candidates[0] if len(candidates) == 1 else None


def into_branches(errors: Iterable[E], choose: Callable[[E], Sequence[E] | None]) -> Iterator[E]:
    """Each error, but one for which ``choose`` finds the branch the answers chose replaced
    by that branch's errors (themselves looked into the same way)."""
    for error in errors:
        chosen = choose(error)
        if chosen is None:
            yield error
        else:
            yield from into_branches(chosen, choose)
