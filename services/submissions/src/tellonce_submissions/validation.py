"""Answers checked against the exact published version's JSON Schema.

jsonschema-rs compiles each version once (the registry client keeps the compiled schema
with the immutable version), ``is_valid`` is the hot path, and ``iter_errors`` lists every
error only when the answers fail. Formats are annotations, not assertions, exactly as the
reference ``jsonschema`` package treats them without a format checker, so both always give
the same verdict (tests hold them to it on the VA corpus).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jsonschema_rs
import orjson

from tellonce_submissions.answers import format_pointer, matches

ANSWERS_POINTER = "/answers"
"""Error pointers are into the request body, like every other validation error."""


class SchemaUnusable(ValueError):
    """The registry served a schema that does not compile (it should never happen)."""


class CompiledSchema:
    def __init__(self, schema: dict[str, Any], restricted: list[tuple[str, ...]]) -> None:
        try:
            self._validator = jsonschema_rs.validator_for(
                schema, validate_formats=False, offline=True
            )
        except (ValueError, jsonschema_rs.ReferencingError) as exc:
            raise SchemaUnusable(str(exc)) from exc
        self.schema = schema
        self.restricted = list(restricted)
        # the hot path: jsonschema-rs's own method, no Python wrapper in between
        self.is_valid: Callable[[Any], bool] = self._validator.is_valid

    def errors(self, answers: Any) -> list[dict[str, str]]:
        """Every error as ``{pointer, message}``; restricted values are not echoed back."""
        found: list[dict[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for err in _into_branches(self._validator.iter_errors(answers)):
            tokens = tuple(str(t) for t in err.instance_path)
            message = str(err.message)
            if any(matches(p, tokens) for p in self.restricted):
                message = _without_value(message, err.instance)
            pointer = ANSWERS_POINTER + format_pointer(tokens)
            if (pointer, message) not in seen:
                seen.add((pointer, message))
                found.append({"pointer": pointer, "message": message})
        return found


def _into_branches(
    errors: Iterable[jsonschema_rs.ValidationError],
) -> Iterator[jsonschema_rs.ValidationError]:
    """Each error, but a ``oneOf``/``anyOf`` that no branch accepted, where the answers
    chose one branch by a property every other branch pins to another value (the VA forms'
    addresses: ``country`` picks the list of states), is replaced by that branch's errors:
    ``/answers/veteranAddress/state`` "is not one of ...", not the whole address "is not
    valid under any of the schemas". Anything else is passed on as it is."""
    for error in errors:
        chosen = _chosen_branch(error)
        if chosen is None:
            yield error
        else:
            yield from _into_branches(chosen)


def _chosen_branch(
    error: jsonschema_rs.ValidationError,
) -> list[jsonschema_rs.ValidationError] | None:
    """The errors of the only branch not turned down by a pinned property (a ``const``, a
    one-value ``enum`` or a ``not`` failing on one of the object's own properties); None
    when the error has no branches, or none or several are left."""
    kind = error.kind
    if not isinstance(
        kind,
        jsonschema_rs.ValidationErrorKind.OneOfNotValid | jsonschema_rs.ValidationErrorKind.AnyOf,
    ):
        return None
    branches = kind.context or []
    depth = len(error.instance_path) + 1
    left = [
        branch
        for branch in branches
        if branch and not any(len(e.instance_path) == depth and _pins(e.kind) for e in branch)
    ]
    return left[0] if len(left) == 1 and len(branches) > 1 else None


def _pins(kind: Any) -> bool:
    """Whether a failed keyword names the one value a branch wants (its discriminator)."""
    kinds = jsonschema_rs.ValidationErrorKind
    if isinstance(kind, kinds.Constant | kinds.Not):
        return True
    return isinstance(kind, kinds.Enum) and len(kind.options) == 1


def _without_value(message: str, instance: Any) -> str:
    try:
        shown = orjson.dumps(instance).decode()
    except TypeError:
        return "The value is not valid here."
    return message.replace(shown, "The value")
