"""Which fields may hold a data element: the one rule for every place a field meets an element.

A mapping is read two ways. The element's value is prefilled into every field mapped to it, so
**every value the element allows must fit the field**: that is this rule. A resident's answer
to a mapped field is kept as the element's value only when the element's own schema accepts
it (the submissions service checks each answer when it keeps it), so a field that takes more
than the element (free text for a date) loses nothing but the keeping of an odd answer.

A field holds an element when:

- both have the same JSON type, read the same way as a field's (``type: ["string", "null"]``
  is a string; with no ``type``, an ``enum`` or ``const`` gives it: an enum of strings is a
  string); ``integer`` and ``number`` count as one type; a field with no type of its own fits
  only an element with none;
- and the field asks for no more than the element promises:
  - the same ``format``, or neither has one;
  - or the field has no ``format`` and no ``pattern``: free text holds a date or an email;
  - or the field has no ``format`` and its ``pattern`` accepts every sample value of the
    element's format (``FORMAT_SAMPLES``). The VA's forms write dates so
    (``^(\\d{4}|XXXX)-(0[1-9]|1[0-2]|XX)-...$``: a full date, or one with unknown parts) and
    emails with a pattern; a date written ``MM/DD/YYYY`` does not take the element's
    ``1980-05-01``.

  A field with a format the element does not have (``format: email`` for a plain-string
  element, ``date-time`` for a date) is refused: the element's values do not promise it.

Otherwise patterns, lengths, bounds and enum values are not compared: they narrow a value, they
do not change its kind (the form's own validation still checks each prefilled answer).

Used for a version's declared mappings (``x-element``: a warning at import), for the elements
suggested for unmapped fields (only compatible ones), and for a redundancy-audit confirmation
(refused with a 422 when any field does not fit).

A form's ``pattern`` is never run with Python's ``re``: an admin writes it, and a pattern such as
``^(.|.)*!`` backtracks for seconds or for ever while holding the GIL. ``search`` runs it with
the engine the registry's schema validation uses (jsonschema-rs: Rust's linear-time ``regex``,
and ``fancy-regex`` with a backtracking limit for lookarounds and backreferences). A pattern the
engine refuses, or gives up on, accepts nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema_rs

from tellonce_registry.schema_import.flatten import type_of

FORMAT_SAMPLES: dict[str, tuple[str, ...]] = {
    "date": ("1980-05-01", "2024-12-31", "1999-02-28"),
    "email": ("resident@example.gov", "first.last@agency.state.gov", "a_b-c@mail.example.com"),
}
"""Values of a format that a field's pattern must all accept for the field to hold an element
of that format (a pattern accepting them all is written for that kind of value)."""


@dataclass(frozen=True, slots=True)
class ValueKind:
    """What kind of value a field or an element holds: its JSON type and its format (and, for
    a field, its pattern)."""

    type: str | None
    format: str | None = None
    pattern: str | None = None

    @classmethod
    def of_schema(cls, schema: Any) -> ValueKind:
        """The kind of an element's (or any) JSON Schema."""
        if not isinstance(schema, dict):
            return cls(None)
        fmt = schema.get("format")
        return cls(type_of(schema), fmt if isinstance(fmt, str) else None)

    def __str__(self) -> str:
        kind = self.type or "untyped"
        if self.format:
            return f"{kind} with format {self.format}"
        return f"{kind} with pattern {self.pattern}" if self.pattern else kind


def _family(type_: str | None) -> str | None:
    return "number" if type_ == "integer" else type_


def compatible(field: ValueKind, element: ValueKind) -> bool:
    """Whether a field of kind ``field`` may be mapped to an element of kind ``element``
    (every value of the element fits the field)."""
    if _family(field.type) != _family(element.type):
        return False
    if field.format == element.format:
        return True
    if field.format is not None:
        return False  # the field asks for a format the element's values do not promise
    if field.pattern is None:
        return True  # free text of the same type holds any value of the element
    return element.format is not None and _accepts_all(
        field.pattern, FORMAT_SAMPLES.get(element.format, ())
    )


PATTERN_OPTIONS = jsonschema_rs.FancyRegexOptions(
    backtrack_limit=100_000, size_limit=1 << 20, dfa_size_limit=1 << 20
)
"""The engine's bounds: steps of backtracking per search (a few milliseconds), and the size of
a compiled pattern and of its lazy DFA (1 MiB each)."""


@lru_cache(maxsize=2048)
def _matcher(pattern: str) -> jsonschema_rs.Validator | None:
    """A validator of ``{"pattern": pattern}``; ``None`` when the engine refuses the pattern."""
    try:
        return jsonschema_rs.Draft202012Validator(
            {"pattern": pattern}, pattern_options=PATTERN_OPTIONS
        )
    except ValueError:  # not a regex, too large, or not encodable (a lone surrogate)
        return None


def search(pattern: str, value: str) -> bool | None:
    """Whether a JSON Schema ``pattern`` finds a match in ``value`` (a search, not a full
    match, with ECMA-262's reading of the pattern). ``None`` when the engine refuses the
    pattern or gives up on the value (its backtracking limit): the pattern says nothing."""
    matcher = _matcher(pattern)
    if matcher is None:
        return None
    try:
        if matcher.is_valid(value):
            return True
        kinds = [error.kind for error in matcher.iter_errors(value)]
    except ValueError:  # a value the engine cannot read (a lone surrogate)
        return None
    if kinds and all(isinstance(k, jsonschema_rs.ValidationErrorKind.Pattern) for k in kinds):
        return False
    return None  # BacktrackLimitExceeded, RegexEngineFailure


@lru_cache(maxsize=1024)
def _accepts_all(pattern: str, samples: tuple[str, ...]) -> bool:
    """Whether a JSON Schema ``pattern`` (a search, not a full match) accepts every sample;
    False for no samples, or a pattern the engine refuses or gives up on."""
    return bool(samples) and all(search(pattern, sample) is True for sample in samples)


def mismatch(field: ValueKind, element_id: str, element: ValueKind) -> str | None:
    """Why the field cannot hold the element, in one sentence; ``None`` when it can."""
    if compatible(field, element):
        return None
    return f"The field is {field}; the element {element_id} is {element}."
