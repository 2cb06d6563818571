"""What the renderer draws: fields with concrete pointers, pages of fields, and conditions."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from tellonce_portal.forms import pointers
from tellonce_portal.forms.countries import folded

Kind = Literal[
    "text",
    "textarea",
    "email",
    "tel",
    "url",
    "date",
    "datetime",
    "number",
    "integer",
    "yesno",
    "checkbox",
    "radios",
    "select",
    "checkboxes",
    "lines",
    "hidden",
    "group",
    "repeat",
]

INPUT_KINDS = frozenset(
    {"text", "email", "tel", "url", "date", "datetime", "number", "integer", "textarea"}
)


@dataclass(frozen=True)
class Option:
    value: Any
    label: str

    @property
    def html_value(self) -> str:
        return encode_value(self.value)


def encode_value(value: Any) -> str:
    """How a JSON scalar travels in an HTML form field."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


OTHER_CHOICE = "~other"
"""The value of the "Another country" choice (``~`` cannot start a listed value we offer)."""


@dataclass(frozen=True)
class OtherChoice:
    """The last choice of a question whose options are not every answer (a country the
    schema does not list): it reveals a text box, whose answer is kept as typed unless it
    names one of the options (``aliases``: folded code or name -> the option's value)."""

    label: str
    """The choice: "Another country"."""
    text_label: str
    """The text box's label: "Country name"."""
    hint: str
    """Read without JavaScript, when the text box always shows: "If you chose another
    country"."""
    missing: str
    """The message key when the choice is made and the box left empty ("Enter the
    country")."""
    aliases: dict[str, str] = field(default_factory=dict)
    autocomplete: str | None = None

    def listed(self, text: str) -> str | None:
        """The option value (as in HTML) that ``text`` names, if any."""
        return self.aliases.get(folded(text))


@dataclass(frozen=True)
class Condition:
    """Show a field or page only when the answer at ``pointer`` equals (or is one of) a value."""

    pointer: str
    values: tuple[Any, ...]
    negate: bool = False
    """Show when the answer is given and is none of ``values`` ("every other country")."""

    def met(self, answers: dict[str, Any]) -> bool:
        value = pointers.get(answers, self.pointer)
        if self.negate:
            return value not in (None, "") and value not in self.values
        return value in self.values

    @classmethod
    def parse(cls, raw: Any) -> Condition | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("pointer"), str):
            return None
        pointer = raw["pointer"]
        if not pointer.startswith("/"):
            pointer = "/" + pointer
        if "in" in raw and isinstance(raw["in"], list):
            return cls(pointer, tuple(raw["in"]))
        if "equals" in raw:
            return cls(pointer, (raw["equals"],))
        return None


@dataclass
class Field:
    kind: Kind
    pointer: str
    name: str
    label: str
    hint: str = ""
    required: bool = False
    options: list[Option] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    item_type: str = "string"
    min_items: int = 0
    max_items: int | None = None
    item_label: str = ""
    """What one item of a list is called, mid-sentence ("person"): the UI document's
    ``item_label``, else the ``items`` schema's ``title``; empty when neither names it (the
    buttons then name the list by its label, as it is)."""
    element: str | None = None
    autocomplete: str | None = None
    max_length: int | None = None
    condition: Condition | None = None
    label_lang: str | None = None
    """Set when the label fell back to another language than the page's (WCAG 3.1.2)."""
    variant: str = ""
    """Set on one of several questions for the same answer, each for one branch of a
    ``oneOf`` (the state of a US address, that of a Canadian one): it tells their inputs
    apart, and ``condition`` says when the question applies."""
    other: OtherChoice | None = None
    """Set on a choice that also takes answers it does not list ("Another country")."""
    pattern: str = ""
    """The schema's ``pattern`` of a text answer."""
    format_hint: str = ""
    """The question's own hint (the schema's or the UI document's) when it has a
    ``pattern``: a format error repeats it."""
    switches: bool = False
    """Set on the question that switches between ``oneOf``/``anyOf`` branches each of which
    lists its values (21-686C's "Spouse has no SSN"): left unanswered, no branch's questions
    show, so it is never labelled "(optional)" and is asked for when no branch fits."""

    @property
    def html_id(self) -> str:
        return html_id(self.pointer) + (f"--{self.variant}" if self.variant else "")

    @property
    def other_name(self) -> str:
        """The input name of the "Another country" text box (``~o`` is no JSON pointer)."""
        return f"{self.name}~other"

    @property
    def other_id(self) -> str:
        return f"{self.html_id}-other"

    @property
    def digits(self) -> tuple[int, int | None] | None:
        """How many digits a text answer whose ``pattern`` takes only digits has (min, max;
        max None when unbounded); None for any other pattern."""
        return digits_only(self.pattern) if self.pattern else None

    @property
    def is_container(self) -> bool:
        return self.kind in ("group", "repeat")

    def condition_met(self, answers: dict[str, Any]) -> bool:
        return self.condition is None or self.condition.met(answers)

    def walk(self) -> list[Field]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out

    def leaves(self) -> list[Field]:
        return [f for f in self.walk() if not f.is_container]


_DIGIT_RUN = re.compile(r"(?:\[0-9\]|\\d)(?:\{(\d+)(?:(,)(\d*))?\}|([+*?]))?")


def digits_only(pattern: str) -> tuple[int, int | None] | None:
    """For an anchored pattern made only of digit runs (``^[0-9]{9}$``, ``^\\d{10}$``,
    ``^[0-9]{4,17}$``, ``^\\d+$``), the (min, max) number of digits it takes (max None:
    unbounded); None for any other pattern (``^[0-9]{5}(-[0-9]{4})?$`` takes a dash)."""
    if not (pattern.startswith("^") and pattern.endswith("$")) or pattern.endswith("\\$"):
        return None
    body = pattern[1:-1]
    low, high, at = 0, 0, 0
    unbounded = False
    while at < len(body):
        run = _DIGIT_RUN.match(body, at)
        if run is None or run.end() == at:
            return None
        exact, comma, upper, quantifier = run.groups()
        if exact is not None:
            low += int(exact)
            if comma is None:
                high += int(exact)
            elif upper:
                if int(upper) < int(exact):
                    return None
                high += int(upper)
            else:
                unbounded = True
        elif quantifier == "+":
            low, unbounded = low + 1, True
        elif quantifier == "*":
            unbounded = True
        elif quantifier == "?":
            high += 1
        else:
            low, high = low + 1, high + 1
        at = run.end()
    if at == 0 or (not unbounded and high == 0):
        return None
    return low, None if unbounded else high


def variant_name(pointer: str, variant: str) -> str:
    """The input name of one branch's question for ``pointer`` (``/address/state~v0``)."""
    return f"{pointer}~v{variant}" if variant else pointer


def answering(fields: Iterable[Field], answers: dict[str, Any]) -> dict[str, Field]:
    """Each pointer's question, walking ``fields``: of several for the same answer (one per
    ``oneOf`` branch), the one whose condition the answers meet, else the first."""
    out: dict[str, Field] = {}
    for top in fields:
        for f in top.walk():
            current = out.get(f.pointer)
            if current is None or (
                current.variant and not current.condition_met(answers) and f.condition_met(answers)
            ):
                out[f.pointer] = f
    return out


def with_listed_choices(fields: Iterable[Field], answers: dict[str, Any]) -> dict[str, Any]:
    """``answers`` with each answer to a choice with "Another country" that names one of its
    options (a profile's "United States") as that option's value (``USA``), so a page shows
    that country's questions and its other answers (the state) where they belong. The
    answers themselves are not changed; a copy is made when needed."""
    out = answers
    for top in fields:
        for f in top.walk():
            option = listed_option(f, pointers.get(out, f.pointer))
            if option is None:
                continue
            if out is answers:
                out = copy.deepcopy(answers)
            pointers.set_value(out, f.pointer, option.value)
    return out


def listed_option(f: Field, current: Any) -> Option | None:
    """The option that ``current``, a saved answer to ``f``, names when it is not already
    that option's value: "United States" (or "united states", "USA " ...) for ``USA`` on a
    choice with "Another country"; None on any other question or answer."""
    if f.other is None or not isinstance(current, str):
        return None
    listed = f.other.listed(current)
    option = next((o for o in f.options if o.html_value == listed), None)
    if option is None or option.value == current:
        return None
    return option


def html_id(pointer: str) -> str:
    """A stable, valid HTML id for a pointer (``/a/0/b`` -> ``f-a-0-b``)."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", pointer.replace("/", "-").lstrip("-"))
    return "f-" + (slug or "root")


@dataclass(frozen=True)
class Page:
    """Shared by every request of a kept definition (``tellonce_portal.definitions``):
    never changed."""

    id: str
    title: str
    pointers: list[str]
    condition: Condition | None = None


@dataclass
class FieldError:
    pointer: str
    message: str
    target: str = ""
    """The id the error summary links to when it is not the question's own (the "Another
    country" text box left empty)."""
