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


def pinned(root: Any, branch: Any) -> frozenset[str]:
    """The properties a branch pins to one value (``const``, or a one-value ``enum``)."""
    schema = resolve(root, branch)
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping):
        return frozenset()
    names = set()
    for name, rule in properties.items():
        rule = resolve(root, rule)
        if isinstance(rule, Mapping) and (
            "const" in rule or (isinstance(rule.get("enum"), list) and len(rule["enum"]) == 1)
        ):
            names.add(str(name))
    return frozenset(names)


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
