"""Filling a new draft from what the resident's account already knows (docs/portal.md, "What
the account already knows").

A resident gives their full name and email address when they sign up; the submissions
service's profile only holds answers of forms sent with "keep answers" on, so without this the
first form asks for both again. The portal knows the account (``GET /api/v1/identity/me``, kept
in the session) and which of the form's questions are mapped to which data element, so it
writes those answers into the new draft itself, as ordinary answers the resident can change.
Pure functions: the pages in ``web/catalog.py`` call the API and set the cookie.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import referencing.exceptions

from tellonce_portal.forms import pointers
from tellonce_portal.forms.model import Field
from tellonce_portal.forms.schema import FormDefinition

EMAIL = "person.email"
FULL_NAME = "person.fullName"
GIVEN_NAME = "person.givenName"
FAMILY_NAME = "person.familyName"


def account_values(email: str | None, full_name: str | None) -> dict[str, str]:
    """The account's answers by data element. The given and family names only when the full
    name is exactly two words (split on spaces): names cannot be split safely in general (W3C,
    "Personal names around the world": several given or family names, family name first,
    particles such as "de la"), so anything else leaves those questions to the resident."""
    out: dict[str, str] = {}
    if email and email.strip():
        out[EMAIL] = email.strip()
    name = (full_name or "").strip()
    if name:
        out[FULL_NAME] = name
        words = name.split()
        if len(words) == 2:
            out[GIVEN_NAME], out[FAMILY_NAME] = words
    return out


def mapped_questions(defn: FormDefinition, listed: Mapping[str, str] = {}) -> dict[str, str]:
    """Pointer -> data element of every question of the form mapped to an element, outside
    lists: the schema's ``x-element`` and ``listed`` (the registry's fields document, which
    adds the mappings an auditor confirmed since the version was published, as the profile's
    prefill uses them). Fields inside lists are left out: neither the profile nor the account
    fills them."""
    out: dict[str, str] = {}
    for page in defn.all_pages():
        for top in defn.page_fields(page, {}):
            for each in top.walk():
                if each.element and not each.is_container and _outside_lists(each.pointer):
                    out.setdefault(each.pointer, each.element)
    for pointer, element in listed.items():
        if _outside_lists(pointer):
            out.setdefault(pointer, element)
    return out


def _outside_lists(pointer: str) -> bool:
    return not any(part == "*" or part.isdigit() for part in pointers.split(pointer))


@dataclass
class AccountFill:
    """A draft's answers with the account's values written in, and where they went."""

    answers: dict[str, Any]
    filled: list[str] = field(default_factory=list)


def fill_from_account(
    defn: FormDefinition,
    answers: dict[str, Any],
    mapped: Mapping[str, str],
    values: Mapping[str, str],
    skip: Collection[str] = (),
) -> AccountFill:
    """``answers`` (copied) with each still-empty question of ``mapped`` whose element the
    account holds set to the account's value. Left alone: an answer already there (the
    profile's, filled by the drafts API, wins: it is the resident's later, deliberate answer),
    a pointer in ``skip``, a question not shown for these answers, and a value the form's own
    schema for that question refuses (a pattern, a format, a maximum length): a draft must
    never hold an answer the resident cannot send without knowing why."""
    out = copy.deepcopy(answers)
    filled: list[str] = []
    for pointer, element in mapped.items():
        value = values.get(element)
        if value is None or pointer in skip or pointers.get(out, pointer) not in (None, ""):
            continue
        if asked(defn, pointer, out) and fits(defn, pointer, value):
            pointers.set_value(out, pointer, value)
            filled.append(pointer)
    return AccountFill(out, filled)


def asked(defn: FormDefinition, pointer: str, answers: dict[str, Any]) -> bool:
    """Whether ``pointer`` is a question the form shows for ``answers``: on a page shown,
    its own condition met and every group's above it too (a group hidden by ``show_if``, a
    ``oneOf`` branch not chosen: their questions are not asked), not omitted."""

    def shown(field: Field) -> bool:
        if not field.condition_met(answers):
            return False
        if field.pointer == pointer:
            return not field.is_container
        return any(shown(child) for child in field.children)

    return any(
        shown(top) for page in defn.pages(answers) for top in defn.page_fields(page, answers)
    )


def fits(defn: FormDefinition, pointer: str, value: Any) -> bool:
    """Whether the form's own schema for the question at ``pointer`` accepts ``value``
    (formats asserted, as the portal's page check does; ``$ref`` resolved in the form)."""
    node = defn.schema_at(pointer)
    if node is None:
        return False
    schema = defn.schema
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator = cls(schema, format_checker=cls.FORMAT_CHECKER).evolve(schema=node)
        return bool(validator.is_valid(value))
    except (jsonschema.exceptions.SchemaError, referencing.exceptions.Unresolvable):
        return False
