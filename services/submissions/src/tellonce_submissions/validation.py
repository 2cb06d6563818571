"""Answers checked against the exact published version's JSON Schema.

jsonschema-rs compiles each version once (the registry client keeps the compiled schema
with the immutable version), ``is_valid`` is the hot path, and ``iter_errors`` lists every
error only when the answers fail. Formats are annotations, not assertions, exactly as the
reference ``jsonschema`` package treats them without a format checker, so both always give
the same verdict (tests hold them to it on the VA corpus).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jsonschema_rs
import orjson

from tellonce_shared import schema_branches
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
        choose = partial(_chosen_branch, self.schema)
        for err in schema_branches.into_branches(self._validator.iter_errors(answers), choose):
            tokens = tuple(str(t) for t in err.instance_path)
            message = str(err.message)
            if any(matches(p, tokens) for p in self.restricted):
                message = _without_value(message, err.instance)
            pointer = ANSWERS_POINTER + format_pointer(tokens)
            if (pointer, message) not in seen:
                seen.add((pointer, message))
                found.append({"pointer": pointer, "message": message})
        return found


def _chosen_branch(
    root: Any, error: jsonschema_rs.ValidationError
) -> list[jsonschema_rs.ValidationError] | None:
    """For a ``oneOf``/``anyOf`` that no branch accepted, where the answers chose one branch
    by a property it pins to one value (the VA forms' addresses: ``country`` picks the list
    of states; ``tellonce_shared.schema_branches``), that branch's errors:
    ``/answers/veteranAddress/state`` "is not one of ...", not the whole address "is not
    valid under any of the schemas". None for anything else (passed on as it is)."""
    kinds = jsonschema_rs.ValidationErrorKind
    kind = error.kind
    if not isinstance(kind, kinds.OneOfNotValid | kinds.AnyOf):
        return None
    context = kind.context or []
    branches = schema_branches.node_at(root, list(error.schema_path))
    if not isinstance(branches, list) or len(context) != len(branches) or not all(context):
        return None
    depth = len(error.instance_path)
    failed_on = [
        {str(e.instance_path[depth]) for e in branch if len(e.instance_path) > depth}
        for branch in context
    ]
    whole = (kinds.Type, kinds.Constant, kinds.Enum, kinds.Not, kinds.FalseSchema)
    misfit = [
        any(len(e.instance_path) == depth and isinstance(e.kind, whole) for e in branch)
        for branch in context
    ]
    index = schema_branches.chosen_branch(root, branches, failed_on, misfit)
    return None if index is None else list(context[index])


def _without_value(message: str, instance: Any) -> str:
    try:
        shown = orjson.dumps(instance).decode()
    except TypeError:
        return "The value is not valid here."
    return message.replace(shown, "The value")
