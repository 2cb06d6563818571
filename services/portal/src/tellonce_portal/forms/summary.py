"""Answers as a summary list (check your answers, an application's page): one row per
answered question, its value shown as the resident chose it (option labels, Yes/No, dates in
the page's language)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tellonce_portal.forms import pointers
from tellonce_portal.forms.model import Field, Page, encode_value
from tellonce_portal.forms.schema import FormDefinition
from tellonce_portal.i18n import Translator


@dataclass
class Row:
    label: str
    value: str
    pointer: str
    html_id: str


@dataclass
class Section:
    title: str
    page: int
    rows: list[Row]


def display(f: Field, value: Any, t: Translator) -> str:
    if value is None or value == "" or value == []:
        return ""
    if f.kind in ("yesno", "checkbox") and isinstance(value, bool):
        return t("yes") if value else t("no")
    if f.options:
        labels = {o.html_value: o.label for o in f.options}
        if isinstance(value, list):
            return ", ".join(labels.get(encode_value(v), encode_value(v)) for v in value)
        return labels.get(encode_value(value), encode_value(value))
    if f.kind == "date":
        return t.date(value)
    if f.kind in ("number", "integer"):
        return t.number(value)
    if isinstance(value, list):
        return ", ".join(encode_value(v) for v in value)
    return encode_value(value)


def rows_for(fields: Sequence[Field], answers: dict[str, Any], t: Translator) -> list[Row]:
    out: list[Row] = []

    def visit(f: Field, prefix: str) -> None:
        if f.condition is not None and not f.condition.met(answers):
            return
        label = f"{prefix}{f.label}" if f.label else prefix.rstrip(": ")
        if f.kind == "group":
            for child in f.children:
                visit(child, f"{label}: " if label else "")
            return
        if f.kind == "repeat":
            for index, item in enumerate(f.children, start=1):
                item_prefix = f"{label} {index}: " if label else f"{index}: "
                for child in item.children:
                    visit(child, item_prefix)
            return
        if f.kind == "hidden":
            return
        text = display(f, pointers.get(answers, f.pointer), t)
        if text:
            out.append(Row(label=label, value=text, pointer=f.pointer, html_id=f.html_id))

    for f in fields:
        visit(f, "")
    return out


PageFields = list[tuple[Page, list[Field]]]
"""The visible pages of a form for some answers, each with its questions built."""


def built_pages(defn: FormDefinition, answers: dict[str, Any]) -> PageFields:
    """Build the questions of the visible pages once, for a caller that needs both
    :func:`sections` and :func:`visible_answers` of the same answers (check your answers):
    building them is most of either's cost on a large form."""
    return [(page, defn.page_fields(page, answers)) for page in defn.pages(answers)]


def sections(
    defn: FormDefinition,
    answers: dict[str, Any],
    t: Translator,
    built: PageFields | None = None,
) -> list[Section]:
    pages = built if built is not None else built_pages(defn, answers)
    return [
        Section(title=page.title, page=index, rows=rows_for(fields, answers, t))
        for index, (page, fields) in enumerate(pages, start=1)
    ]


def visible_answers(
    defn: FormDefinition, answers: dict[str, Any], built: PageFields | None = None
) -> dict[str, Any]:
    """The answers without those on pages or questions whose condition is not met (a resident
    who changes an earlier answer does not send what no longer applies)."""
    pages = built if built is not None else built_pages(defn, answers)
    kept: dict[str, Any] = {}
    for _, fields in pages:
        for f in fields:
            _copy_visible(f, answers, kept)
    pruned: dict[str, Any] = pointers.prune(kept)
    return pruned


def _copy_visible(f: Field, source: dict[str, Any], target: dict[str, Any]) -> None:
    if f.condition is not None and not f.condition.met(source):
        return
    if f.kind in ("group", "repeat"):
        if f.kind == "repeat":
            items = pointers.get(source, f.pointer)
            if isinstance(items, list):
                pointers.set_value(target, f.pointer, [{} for _ in items])
        for child in f.children:
            _copy_visible(child, source, target)
        return
    value = pointers.get(source, f.pointer)
    if value is not None:
        pointers.set_value(target, f.pointer, value)
