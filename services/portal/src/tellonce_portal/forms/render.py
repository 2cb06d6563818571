"""Fields to accessible HTML: every input has a label, groups are fieldsets with legends, hints
and errors are tied to their input with ``aria-describedby``, answers are kept as typed, and
answers that came from the resident's profile say so."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jinja2 import Environment
from markupsafe import Markup

from tellonce_portal.forms import pointers
from tellonce_portal.forms.model import (
    OTHER_CHOICE,
    Field,
    FieldError,
    answering,
    encode_value,
    html_id,
    with_listed_choices,
)


@dataclass
class FieldState:
    """What a page knows when it draws its fields."""

    answers: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    prefilled: set[str] = field(default_factory=set)
    from_account: set[str] = field(default_factory=set)
    """Pointers the portal filled from the resident's account (name, email): marked like the
    profile's, in their own words."""
    on_page: set[str] = field(default_factory=set)
    """Pointers of the page's own questions: a condition on one of them is shown with a
    progressive-enhancement reveal instead of being decided on the server."""
    answering: dict[str, str] = field(default_factory=dict)
    """For an answer asked once per ``oneOf`` branch, the input name of the question the
    answers chose: its error is shown there, not on the hidden ones."""
    OTHER: ClassVar[str] = OTHER_CHOICE
    """The value of the "Another country" choice, for the templates."""

    @classmethod
    def build(
        cls,
        answers: dict[str, Any],
        errors: Iterable[FieldError] = (),
        raw: dict[str, str] | None = None,
        prefilled: Iterable[str] = (),
        fields: Sequence[Field] = (),
        from_account: Iterable[str] = (),
    ) -> FieldState:
        first: dict[str, str] = {}
        for error in errors:
            first.setdefault(error.pointer, error.message)
        answers = with_listed_choices(fields, answers)
        return cls(
            answers=answers,
            errors=first,
            raw=raw or {},
            prefilled=set(prefilled),
            from_account=set(from_account),
            on_page={f.pointer for top in fields for f in top.walk()},
            answering={p: f.name for p, f in answering(fields, answers).items() if f.variant},
        )

    def _answers_elsewhere(self, f: Field) -> bool:
        """Whether another branch's question holds this answer."""
        return bool(f.variant) and self.answering.get(f.pointer, f.name) != f.name

    def value(self, f: Field) -> str:
        if f.other is not None:
            return self.choice(f)
        if f.name in self.raw:
            return self.raw[f.name]
        if self._answers_elsewhere(f):
            return ""
        current = pointers.get(self.answers, f.pointer)
        if f.kind == "lines" and isinstance(current, list):
            return "\n".join(encode_value(v) for v in current)
        if isinstance(current, (dict, list)):
            return ""
        return encode_value(current)

    def selected(self, f: Field) -> list[str]:
        if f.other is not None:
            return [self.choice(f)] if self.choice(f) else []
        if self._answers_elsewhere(f):
            return []
        current = pointers.get(self.answers, f.pointer)
        if isinstance(current, list):
            return [encode_value(v) for v in current]
        return [] if current is None else [encode_value(current)]

    def choice(self, f: Field) -> str:
        """Of a choice with "Another country": the option to show chosen. A saved answer
        that names a listed one (a profile's "United States") chooses it; any other answer
        chooses "Another country"."""
        if f.name in self.raw:
            return self.raw[f.name]
        current = pointers.get(self.answers, f.pointer)
        if current is None or current == "" or isinstance(current, (dict, list)):
            return ""
        text = encode_value(current)
        if any(o.html_value == text for o in f.options):
            return text
        listed = f.other.listed(text) if f.other is not None else None
        return listed if listed is not None else OTHER_CHOICE

    def other_text(self, f: Field) -> str:
        """What the "Another country" text box shows: as typed, or the saved answer that
        is no listed option."""
        if f.other_name in self.raw:
            return self.raw[f.other_name]
        if self.choice(f) != OTHER_CHOICE:
            return ""
        current = pointers.get(self.answers, f.pointer)
        return "" if isinstance(current, (dict, list)) else encode_value(current)

    def other_error(self, f: Field) -> bool:
        """Whether the question's error is shown on its "Another country" text box too."""
        return bool(self.error(f)) and self.choice(f) == OTHER_CHOICE

    def error(self, f: Field) -> str:
        if self._answers_elsewhere(f):
            return ""
        return self.errors.get(f.pointer, "")

    def is_prefilled(self, f: Field) -> bool:
        return f.pointer in self.prefilled or f.pointer in self.from_account

    def prefill_note(self, f: Field) -> str:
        """The message key of a filled-in answer's note: the profile's, or the account's."""
        return "prefilled" if f.pointer in self.prefilled else "prefilled_account"

    def visible(self, f: Field) -> bool:
        """A question whose condition depends on another page's answer is left out when that
        answer does not meet it."""
        cond = f.condition
        if cond is None or cond.pointer in self.on_page:
            return True
        return cond.met(self.answers)

    def reveal_id(self, f: Field) -> str:
        return html_id(f.condition.pointer) if f.condition is not None else ""

    def describedby(self, f: Field, *extra: str) -> str:
        ids = [*extra]
        if f.hint:
            ids.append(f.html_id + "-hint")
        if self.is_prefilled(f):
            ids.append(f.html_id + "-prefilled")
        if self.error(f):
            ids.append(f.html_id + "-error")
        return " ".join(ids)


def render_fields(
    env: Environment, fields: Sequence[Field], state: FieldState, t: Any, *, heading: bool = False
) -> Markup:
    """The HTML of a page's fields, drawn by the ``_fields.html`` macros."""
    template = env.get_template("_fields.html")
    module = template.make_module({"t": t})
    out = Markup("")
    for f in fields:
        out += module.field(f, state, top=True, single=heading and len(fields) == 1)  # type: ignore[attr-defined]
    return out


def error_summary(
    errors: Sequence[FieldError], fields: Sequence[Field], answers: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    """(href, message) pairs for the error summary, linking to the input (the first option of
    a set of radios, the fieldset of a group; of an answer asked once per ``oneOf`` branch,
    the question the answers chose; the input the error names, such as the "Another country"
    text box)."""
    index = answering(fields, answers or {})
    out = []
    for error in errors:
        target = index.get(error.pointer)
        anchor = target.html_id if target is not None else html_id(error.pointer)
        if target is not None and target.kind in ("radios", "yesno", "checkboxes"):
            anchor = target.html_id + "-0"
        out.append(("#" + (error.target or anchor), error.message))
    return out
