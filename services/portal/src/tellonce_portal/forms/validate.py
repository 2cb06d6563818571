"""Checking a page's answers against the schema before moving on, with messages a resident
can act on (GOV.UK style: say what to do, name the field), and placing the API's
``errors[{pointer, message}]`` on the fields they belong to."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from tellonce_portal.forms import pointers
from tellonce_portal.forms.model import Field, FieldError, answering, digits_only
from tellonce_shared import schema_branches

REQUIRED = "required"
"""Placeholder message of an API "required" error until it is placed on a labelled field."""
ONE_OF_MANY = "oneOf:many"
"""A ``oneOf`` failed because the answers fit more than one branch (both a phone and an
email where only one may be given), not because they fit none."""
_REQUIRED = re.compile(r"^'([^']+)' is a required property$")


def _missing_required(error: ValidationError) -> list[str]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    wanted = error.validator_value if isinstance(error.validator_value, list) else []
    return [str(name) for name in wanted if name not in instance]


def _pointer(path: Iterable[Any]) -> str:
    return "".join("/" + pointers.escape(p) for p in path)


MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "confirm": "Confirm {lower}",
        "select": "Select {lower}",
        "enter": "Enter {lower}",
        "real_date": "{name} must be a real date",
        "format": "Enter {lower} in the correct format",
        "email": "Enter an email address in the correct format, like name@example.com",
        "max_length": "{name} must be {n} characters or fewer",
        "from_list": "Select {lower} from the list",
        "minimum": "{name} must be {n} or more",
        "maximum": "{name} must be {n} or less",
        "ex_minimum": "{name} must be more than {n}",
        "ex_maximum": "{name} must be less than {n}",
        "min_items": "Add at least {n} to {lower}",
        "max_items": "{name} can have at most {n}",
        "type": "{name} must be {n}",
        "one_of": "Enter at least one of: {n}",
        "only_one": "Enter only one of: {n}",
        "fit": "Check {lower}: the answers do not fit together",
        "extra": "This answer is not part of the form",
        "extra_here": "{name} is not asked for this {n}",
        "check": "Check {lower}",
        "whole_number": "{name} must be a whole number",
        "a_number": "{name} must be a number",
        "numbers_per_line": "Enter {lower} as numbers, one per line",
        "yes_or_no": "Select yes or no for {lower}",
        "enter_country": "Enter the country",
        "enter_other": "Enter your answer for {lower}",
        "digits_exactly": "{name} must be {n} digits long",
        "digits_between": "{name} must be between {n} and {m} digits long",
        "digits_at_least": "{name} must be {n} digits long or longer",
        "digits_only": "{name} must contain only digits",
        "format_hint": "Enter {lower} in the correct format: {n}",
    },
    "es": {
        "confirm": "Confirme {lower}",
        "select": "Seleccione {lower}",
        "enter": "Escriba {lower}",
        "real_date": "{name} debe ser una fecha real",
        "format": "Escriba {lower} en el formato correcto",
        "email": "Escriba un correo electrónico en el formato correcto, como nombre@ejemplo.com",
        "max_length": "{name} debe tener {n} caracteres o menos",
        "from_list": "Seleccione {lower} de la lista",
        "minimum": "{name} debe ser {n} o más",
        "maximum": "{name} debe ser {n} o menos",
        "ex_minimum": "{name} debe ser mayor que {n}",
        "ex_maximum": "{name} debe ser menor que {n}",
        "min_items": "Agregue al menos {n} a {lower}",
        "max_items": "{name} admite como máximo {n}",
        "type": "{name} debe ser {n}",
        "one_of": "Escriba al menos uno de: {n}",
        "only_one": "Escriba solo uno de: {n}",
        "fit": "Revise {lower}: las respuestas no concuerdan",
        "extra": "Esta respuesta no es parte del formulario",
        "extra_here": "{name} no se pide para esta respuesta a {n}",
        "check": "Revise {lower}",
        "whole_number": "{name} debe ser un número entero",
        "a_number": "{name} debe ser un número",
        "numbers_per_line": "Escriba {lower} como números, uno por línea",
        "yes_or_no": "Seleccione sí o no en {lower}",
        "enter_country": "Escriba el país",
        "enter_other": "Escriba su respuesta en {lower}",
        "digits_exactly": "{name} debe tener {n} dígitos",
        "digits_between": "{name} debe tener entre {n} y {m} dígitos",
        "digits_at_least": "{name} debe tener {n} dígitos o más",
        "digits_only": "{name} solo debe contener dígitos",
        "format_hint": "Escriba {lower} en el formato correcto: {n}",
    },
}

_SIMPLE = {
    "maxLength": "max_length",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "ex_minimum",
    "exclusiveMaximum": "ex_maximum",
    "minItems": "min_items",
    "maxItems": "max_items",
    "type": "type",
}


def message_for(
    validator: str, value: Any, field: Field | None, pointer: str, locale: str = "en"
) -> str:
    """A GOV.UK-style message for one failed schema keyword on one field."""
    table = MESSAGES.get(locale, MESSAGES["en"])
    parts = pointers.split(pointer) if pointer.startswith("/") else []
    name = field.label if field is not None and field.label else (parts[-1] if parts else "")
    name = name or ("this answer" if locale == "en" else "esta respuesta")
    lower = lower_first(name)
    kind = field.kind if field is not None else "text"
    choose = kind in ("radios", "select", "yesno", "checkboxes")

    def say(key: str, n: Any = "", m: Any = "") -> str:
        return table[key].format(name=name, lower=lower, n=n, m=m)

    if validator == "required":
        if kind == "checkbox":
            return say("confirm")
        return say("select") if choose else say("enter")
    if validator in ("pattern", "format"):
        if kind == "date" or value in ("date", "date-time"):
            return say("real_date")
        if value == "email":
            return say("email")
        if validator == "pattern":
            return _format_wanted(value, field, say)
        return say("format")
    if validator == "minLength":
        return say("enter")
    if validator in ("enum", "const"):
        return say("from_list")
    if validator in _SIMPLE:
        return say(_SIMPLE[validator], value)
    if validator in ("anyOf", "oneOf", ONE_OF_MANY) and isinstance(value, list):
        options = [
            b["required"][0]
            for b in value
            if isinstance(b, dict) and set(b) == {"required"} and b["required"]
        ]
        if options and len(options) == len(value):
            return say("only_one" if validator == ONE_OF_MANY else "one_of", ", ".join(options))
        return say("fit")
    if validator == "additionalProperties":
        return say("extra")
    return say("check")


def _format_wanted(pattern: Any, field: Field | None, say: Callable[..., str]) -> str:
    """A pattern's error saying what is wanted: how many digits, for a pattern of digits only
    (``^[0-9]{9}$``: "must be 9 digits long"); else the question's own hint ("Enter ZIP code
    in the correct format: five digits"); else only that the format is wrong."""
    digits = digits_only(pattern) if isinstance(pattern, str) else None
    if digits is not None:
        low, high = digits
        if high is None:
            return say("digits_at_least", low) if low > 1 else say("digits_only")
        return say("digits_exactly", low) if low == high else say("digits_between", low, high)
    hint = field.format_hint.strip().rstrip(".").strip() if field is not None else ""
    return say("format_hint", lower_first(hint)) if hint else say("format")


def validate(
    schema: dict[str, Any],
    answers: dict[str, Any],
    fields: Sequence[Field],
    locale: str = "en",
) -> list[FieldError]:
    """Every schema error in ``answers``, as friendly messages on the fields' pointers."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    index = answering(fields, answers)
    out: list[FieldError] = []
    seen: set[str] = set()
    try:
        found = list(
            schema_branches.into_branches(
                validator.iter_errors(answers), lambda e: _chosen_branch(schema, e)
            )
        )
    except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.RefResolutionError):
        return []
    errors = sorted(found, key=lambda e: list(e.absolute_path))
    for error in errors:
        base = _pointer(error.absolute_path)
        kind = str(error.validator)
        key = _unanswered_switch(schema, error)
        if error.validator == "required":
            targets = [pointers.join(base, m) for m in _missing_required(error)]
        elif error.validator == "additionalProperties":
            targets = [pointers.join(base, m) for m in _extra_properties(error)] or [base]
        elif key is not None:
            # No branch chosen because the question that switches between them is not
            # answered: ask for it, on it.
            targets, kind = [pointers.join(base, key)], "required"
        else:
            targets = [base]
        for target in targets:
            if target in seen:
                continue
            seen.add(target)
            if kind == "oneOf" and not error.context:
                kind = ONE_OF_MANY  # no branch failed: the answers fit more than one
            field = index.get(target)
            if kind == "additionalProperties" and target != base:
                message = _extra_message(schema, error, base, field, index, target, locale)
            else:
                message = message_for(kind, error.validator_value, field, target, locale)
            out.append(FieldError(target, message))
    return out


def switch_of(root: Any, branches: Any) -> str | None:
    """The property that switches between a ``oneOf``/``anyOf``'s object branches, even when
    it does not tell each branch apart on its own (21-686C's address: two branches pin
    ``addressType`` to ``INTERNATIONAL``): the first property (in the first branch's order)
    that every branch limits to listed values (``const`` or ``enum``), where some value
    leaves out a branch. None when there is no such property, or fewer than two branches."""
    if not isinstance(branches, list) or len(branches) < 2:
        return None
    schemas = [schema_branches.resolve(root, b) for b in branches]
    if not all(isinstance(s, dict) and isinstance(s.get("properties"), dict) for s in schemas):
        return None
    pins = [schema_branches.pinned_values(root, b) for b in branches]
    for name in schemas[0]["properties"]:
        listed = [p.get(str(name)) for p in pins]
        if any(values is None for values in listed):
            continue
        every = {repr(v) for values in listed if values for v in values}
        if any({repr(v) for v in values or ()} != every for values in listed):
            return str(name)
    return None


def switched_to(root: Any, branches: list[Any], key: str, value: Any) -> list[int]:
    """The indexes of the branches whose ``key`` lists ``value`` (JSON equality)."""
    wanted = repr(value)
    out = []
    for index, branch in enumerate(branches):
        values = schema_branches.pinned_values(root, branch).get(key) or ()
        if any(repr(v) == wanted for v in values):
            out.append(index)
    return out


def _unanswered_switch(root: Any, error: ValidationError) -> str | None:
    """For a failed ``oneOf``/``anyOf`` (every branch failed) of an object that has not
    answered the question switching between its branches (:func:`switch_of`), that
    question's name."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return None
    if not isinstance(error.instance, dict):
        return None
    key = switch_of(root, error.validator_value)
    return key if key is not None and key not in error.instance else None


def _extra_properties(error: ValidationError) -> list[str]:
    """The answers an ``additionalProperties: false`` turned down, by name."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = schema.get("properties")
    known = known if isinstance(known, dict) else {}
    patterns = schema.get("patternProperties")
    patterns = list(patterns) if isinstance(patterns, dict) else []
    return [
        str(name)
        for name in instance
        if name not in known and not any(re.search(p, str(name)) for p in patterns)
    ]


def _extra_message(
    root: Any,
    error: ValidationError,
    base: str,
    field: Field | None,
    index: dict[str, Field],
    target: str,
    locale: str,
) -> str:
    """An answer the chosen branch does not ask (a military post office on a domestic
    address): "Post office is not asked for this address type", naming the question that
    chose the branch (a property the branch pins that the answers give); else the general
    "This answer is not part of the form"."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    parent = error.parent
    key = None
    if parent is not None and parent.validator in ("oneOf", "anyOf"):
        key = switch_of(root, parent.validator_value)
    if key is None or key not in instance:
        return message_for("additionalProperties", None, field, target, locale)
    table = MESSAGES.get(locale, MESSAGES["en"])
    parts = pointers.split(target)
    name = field.label if field is not None and field.label else parts[-1]
    key_field = index.get(pointers.join(base, key))
    key_label = key_field.label if key_field is not None and key_field.label else key
    return table["extra_here"].format(name=name, n=lower_first(key_label))


_WHOLE = frozenset({"type", "const", "enum", "not", "false"})
"""Keywords that, failing on the object itself, say it is not an object for that branch."""


def _chosen_branch(root: Any, error: ValidationError) -> list[ValidationError] | None:
    """For a failed ``oneOf``/``anyOf`` whose branches are told apart by a pinned property
    (an address whose ``country`` picks the list of states, as in the VA forms), the errors
    of the branch the answers chose (``tellonce_shared.schema_branches``): so "Select state
    from the list" sits on the state, not "the answers do not fit together" on the whole
    address. None when there is no such branch (the general message then stands)."""
    if error.validator not in ("oneOf", "anyOf"):
        return None
    branches = error.validator_value
    if not isinstance(branches, list) or not error.context:
        return None
    depth = len(error.absolute_path)
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        if sub.relative_schema_path:
            by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    if len(by_branch) < len(branches):
        return None  # some branch passed: a oneOf matched more than one, not a wrong answer
    failed_on = [
        {str(sub.absolute_path[depth]) for sub in by_branch[i] if len(sub.absolute_path) > depth}
        for i in range(len(branches))
    ]
    misfit = [
        any(len(sub.absolute_path) == depth and sub.validator in _WHOLE for sub in by_branch[i])
        for i in range(len(branches))
    ]
    index = schema_branches.chosen_branch(root, branches, failed_on, misfit)
    return None if index is None else by_branch[index]


def on_fields(
    errors: Sequence[FieldError],
    fields: Sequence[Field],
    locale: str = "en",
    answers: dict[str, Any] | None = None,
) -> list[FieldError]:
    """Only the errors that belong to these fields (a page), each moved onto the deepest
    field that contains its pointer; the API's "required" errors get the field's label (of
    an answer asked per ``oneOf`` branch, the question ``answers`` chose)."""
    index = answering(fields, answers or {})
    out = []
    for error in errors:
        owners = [p for p in index if pointers.is_within(error.pointer, p)]
        if owners:
            owner = max(owners, key=len)
            message = error.message
            if message == REQUIRED:
                message = message_for("required", None, index[owner], owner, locale)
            out.append(FieldError(owner, message))
    return out


def from_api(errors: Any) -> list[FieldError]:
    """The API's ``errors: [{pointer, message}]``; a "required" message on an object is moved
    onto the missing property."""
    out: list[FieldError] = []
    if not isinstance(errors, list):
        return out
    for raw in errors:
        if not isinstance(raw, dict):
            continue
        pointer = str(raw.get("pointer") or "")
        message = str(raw.get("message") or "Check this answer")
        if pointer and not pointer.startswith("/"):
            pointer = "/" + pointer.lstrip("#/")
        match = _REQUIRED.match(message)
        if match:
            pointer = pointers.join(pointer, match.group(1))
            message = REQUIRED
        out.append(FieldError(pointer, message))
    return out


def lower_first(label: str) -> str:
    """ "Full name" -> "full name"; proper names and acronyms keep their capitals ("Social
    Security number", "VA file number")."""
    words = label.split()
    if not words or (words[0].isupper() and len(words[0]) > 1):
        return label
    if len(words) > 1 and words[1][:1].isupper():
        return label
    return label[:1].lower() + label[1:]
