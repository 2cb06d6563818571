"""Posted HTML form data back into a JSON answers document, coerced per the schema.

A value that cannot be coerced (``twelve`` for an integer) is not written into the answers:
it is kept as typed (``raw``) and reported, so the page shows it again next to its error.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tellonce_portal.forms import pointers
from tellonce_portal.forms.model import OTHER_CHOICE, Field, FieldError, Option, OtherChoice
from tellonce_portal.forms.validate import MESSAGES, lower_first

FormData = Mapping[str, Sequence[str]]
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass
class ParseResult:
    answers: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)
    raw: dict[str, str] = field(default_factory=dict)
    locale: str = "en"
    named: set[str] = field(default_factory=set)
    """Choices with "Another country" whose typed text named a listed option ("usa")."""


def _first(form: FormData, name: str) -> str:
    values = form.get(name) or []
    return values[0].strip() if values else ""


def coerce_number(text: str, *, integer: bool) -> int | float | None:
    cleaned = text.replace(",", "").replace("$", "").strip()
    if not _NUMBER.match(cleaned):
        return None
    value = float(cleaned)
    if not math.isfinite(value):  # "1e400", 400 nines: no JSON number holds it
        return None
    if integer:
        return int(value) if value.is_integer() else None
    return int(value) if value.is_integer() and not re.search(r"[.eE]", cleaned) else value


def _match_option(options: Sequence[Option], text: str) -> tuple[bool, Any]:
    for option in options:
        if option.html_value == text:
            return True, option.value
    return False, None


def parse_fields(
    fields: Sequence[Field], form: FormData, answers: dict[str, Any], locale: str = "en"
) -> ParseResult:
    """Apply the posted values of ``fields`` onto a copy of ``answers``."""
    result = ParseResult(answers=copy.deepcopy(answers), locale=locale)
    variants = _variants(fields)
    answered_before = {id(f) for f in variants if f.condition_met(answers)}
    for f in fields:
        _parse_one(f, form, result)
    # Then the per-branch questions: only the one the (now parsed) discriminator selects.
    for f in variants:
        if f.condition_met(result.answers):
            reported = len(result.errors)
            _parse_one(f, form, result)
            if len(result.errors) > reported and id(f) not in answered_before:
                # The branch changed and its question's value did not parse: the answer
                # still there is the previous branch's (a US state for Mexico), not this one's.
                for error in result.errors[reported:]:
                    pointers.delete(result.answers, error.pointer)
    _ask_where_it_belongs(variants, form, result)
    answering = {f.pointer for f in variants if f.condition_met(result.answers)}
    for f in fields:
        _drop_unmet(f, result.answers, answering)
    return result


def _variants(fields: Sequence[Field]) -> list[Field]:
    return [f for top in fields for f in top.walk() if f.variant]


def _ask_where_it_belongs(variants: list[Field], form: FormData, result: ParseResult) -> None:
    """A country typed under "Another country" that names a listed one ("usa") selects that
    country's questions. An answer typed meanwhile in another country's question for the
    same answer (the free-text state, which shows without JavaScript) is not carried over:
    the chosen country's question, left empty, asks for it ("Select state from the
    list") instead of the answer being lost without a word. ``variants``: the page's
    per-branch questions."""
    for f in variants:
        chosen_and_empty = (
            f.condition is not None
            and f.condition.pointer in result.named
            and f.condition.met(result.answers)
            and pointers.get(result.answers, f.pointer) is None
        )
        typed_elsewhere = any(
            _first(form, g.name) for g in variants if g.pointer == f.pointer and g is not f
        )
        if chosen_and_empty and typed_elsewhere:
            key = "from_list" if f.options else "enter"
            result.errors.append(FieldError(f.pointer, _say(result, key, f)))


def _put(result: ParseResult, pointer: str, value: Any) -> None:
    if value is None:
        pointers.delete(result.answers, pointer)
    else:
        pointers.set_value(result.answers, pointer, value)


def _parse_one(f: Field, form: FormData, result: ParseResult) -> None:
    """``f``'s posted value(s) into the answers; per-branch questions (``variant``) are left
    to :func:`parse_fields`, which reads only the one whose branch was chosen."""
    if f.kind == "group":
        for child in f.children:
            if not child.variant:
                _parse_one(child, form, result)
        return
    if f.kind == "repeat":
        if not isinstance(pointers.get(result.answers, f.pointer), list):
            pointers.set_value(result.answers, f.pointer, [])
        for child in f.children:
            if not isinstance(pointers.get(result.answers, child.pointer), dict):
                pointers.set_value(result.answers, child.pointer, {})
            _parse_one(child, form, result)
        return
    if f.kind == "checkboxes":
        chosen = []
        for text in form.get(f.name) or []:
            ok, value = _match_option(f.options, text)
            if not ok:
                result.errors.append(FieldError(f.pointer, _say(result, "from_list", f)))
                return
            if value not in chosen:
                chosen.append(value)
        _put(result, f.pointer, chosen or None)
        return
    if f.kind == "lines":
        text = "\n".join(form.get(f.name) or [])
        items: list[Any] = []
        for line in (ln.strip() for ln in text.splitlines()):
            if not line:
                continue
            if f.item_type in ("integer", "number"):
                num = coerce_number(line, integer=f.item_type == "integer")
                if num is None:
                    result.raw[f.name] = text
                    result.errors.append(FieldError(f.pointer, _say(result, "numbers_per_line", f)))
                    return
                items.append(num)
            else:
                items.append(line)
        _put(result, f.pointer, items or None)
        return
    if f.other is not None:
        _parse_open_choice(f, f.other, form, result)
        return
    text = _first(form, f.name)
    if f.kind == "checkbox":
        _put(result, f.pointer, True if text == "true" else None)
        return
    if text == "":
        _put(result, f.pointer, None)
        return
    if f.kind == "yesno":
        if text not in ("true", "false"):
            result.raw[f.name] = text
            result.errors.append(FieldError(f.pointer, _say(result, "yes_or_no", f)))
            return
        _put(result, f.pointer, text == "true")
        return
    if f.kind in ("radios", "select", "hidden") and f.options:
        ok, value = _match_option(f.options, text)
        if not ok:
            result.raw[f.name] = text
            result.errors.append(FieldError(f.pointer, _say(result, "from_list", f)))
            return
        _put(result, f.pointer, value)
        return
    if f.kind in ("integer", "number"):
        num = coerce_number(text, integer=f.kind == "integer")
        if num is None:
            result.raw[f.name] = text
            key = "whole_number" if f.kind == "integer" else "a_number"
            result.errors.append(FieldError(f.pointer, _say(result, key, f)))
            return
        _put(result, f.pointer, num)
        return
    _put(result, f.pointer, forgiving_digits(f, text))


_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\s\-.()\[\]\u2010-\u2015\u2212]+(?=\d)")
"""What people type between the digits of a number of a set length: spaces, dashes (and
their typographic kin), dots and brackets ("123-45-6789", "(860) 555-0100", "860.555.0100")."""
_SPACES_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\s\-\u2010-\u2015]+(?=\d)")
"""For a number of varying length (an account number), only spaces and dashes between digit
groups: a dot there is a decimal point and a leading dash a minus sign, and removing them
would turn "12.5" or "-5" into another valid answer ("125", "5") instead of refusing it."""
_OPENING = re.compile(r"^\s*[(\[]\s*(?=\d)")
"""The bracket opening an area code, "(860) 555-0100" or "[860] 555 0100"."""


def forgiving_digits(f: Field, text: str) -> str:
    """``text`` without the separators people type between digit groups when ``f`` takes
    only digits (its ``pattern`` is made of digit runs, as an SSN's ``^[0-9]{9}$``) and what
    is left then matches the pattern; else ``text`` as typed, which the pattern then turns
    down (GOV.UK: let people type a number the way they are used to). Only separators
    between digits go (and an area code's opening bracket); for a number of varying length
    only spaces and dashes (``_SPACES_BETWEEN_DIGITS``)."""
    if f.kind not in ("text", "tel") or f.digits is None:
        return text
    low, high = f.digits
    if low == high:
        cleaned = _BETWEEN_DIGITS.sub("", _OPENING.sub("", text.strip()))
    else:
        cleaned = _SPACES_BETWEEN_DIGITS.sub("", text.strip())
    if cleaned == text or not cleaned.isascii() or not cleaned.isdigit():
        return text
    try:
        return cleaned if re.search(f.pattern, cleaned) else text
    except re.error:
        return text


def _parse_open_choice(f: Field, other: OtherChoice, form: FormData, result: ParseResult) -> None:
    """A choice with "Another country": a listed choice is kept as its value; "Another
    country" keeps the typed name, unless it names a listed one ("united states" is
    ``USA``). Without JavaScript the text box always shows, so a name typed with no choice
    made counts as "Another country"; so does a choice the page does not offer (a page
    from before the choice existed posting ``FRA``), as the question takes every value."""
    chosen = _first(form, f.name)
    ok, value = _match_option(f.options, chosen) if chosen else (False, None)
    if ok:
        _put(result, f.pointer, value)
        return
    typed = chosen if chosen and chosen != OTHER_CHOICE else _first(form, f.other_name)
    if typed == OTHER_CHOICE:
        typed = ""  # the choice's own marker typed as the name names no country
    if not typed:
        if chosen == OTHER_CHOICE:
            result.raw.update({f.name: OTHER_CHOICE, f.other_name: ""})
            message = _say(result, other.missing, f)
            result.errors.append(FieldError(f.pointer, message, target=f.other_id))
            return
        _put(result, f.pointer, None)
        return
    listed = other.listed(typed)
    ok, found = _match_option(f.options, listed) if listed is not None else (False, None)
    if ok:
        result.named.add(f.pointer)
    _put(result, f.pointer, found if ok else typed)


def _drop_unmet(f: Field, answers: dict[str, Any], answering: set[str]) -> None:
    """Answers to a question whose condition is not met are not kept (unless another
    branch's question for the same answer, in ``answering``, applies)."""
    if f.condition is not None and not f.condition.met(answers):
        if not (f.variant and f.pointer in answering):
            pointers.delete(answers, f.pointer)
        return
    for child in f.children:
        _drop_unmet(child, answers, answering)


@dataclass(frozen=True)
class ListAction:
    """``add:/dependents`` or ``remove:/dependents/1``, sent by the page's buttons."""

    verb: str
    pointer: str

    @classmethod
    def parse(cls, text: str) -> ListAction | None:
        verb, _, pointer = text.partition(":")
        if verb not in ("add", "remove") or not pointer.startswith("/"):
            return None
        if verb == "remove" and not pointer.rsplit("/", 1)[-1].isdigit():
            return None
        return cls(verb, pointer)

    def apply(self, answers: dict[str, Any], fields: Sequence[Field]) -> bool:
        """Apply to the answers if the pointer names a list on this page; say if it did."""
        target = self.pointer if self.verb == "add" else self.pointer.rsplit("/", 1)[0]
        repeat = next(
            (f for top in fields for f in top.walk() if f.kind == "repeat" and f.pointer == target),
            None,
        )
        if repeat is None:
            return False
        current = pointers.get(answers, target)
        items = list(current) if isinstance(current, list) else []
        if self.verb == "add":
            if repeat.max_items is not None and len(items) >= repeat.max_items:
                return False
            items.append({})
        else:
            index = int(self.pointer.rsplit("/", 1)[-1])
            if index >= len(items):
                return False
            items.pop(index)
        pointers.set_value(answers, target, items)
        return True


def _say(result: ParseResult, key: str, f: Field) -> str:
    table = MESSAGES.get(result.locale, MESSAGES["en"])
    return table[key].format(name=f.label, lower=lower_first(f.label))
