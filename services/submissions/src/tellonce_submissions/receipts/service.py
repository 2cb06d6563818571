"""What goes on a receipt, gathered from the stored submission, its version's labels and its
UI document (the questions and choices in English and Spanish, as the portal shows them).

Everything here is worked out from what the request already holds (the submission, the
cached form version, the deliveries read with it): no call to another service per receipt."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from tellonce_shared import words
from tellonce_shared.schema_branches import resolve
from tellonce_submissions.answers import (
    flatten,
    format_pointer,
    free_text_at,
    mask,
    matches,
    parse_pointer,
)
from tellonce_submissions.models import Submission
from tellonce_submissions.receipts.render import STATES, WORDS
from tellonce_submissions.registry.client import FormVersion

MAX_SCHEMA_NODES = 2_000
"""The schema nodes one answer's walk may visit (a deeply branching schema is not read)."""


def utc_minute(at: datetime) -> str:
    """``2026-11-26 12:45 UTC``: the instant in UTC, whatever zone it was read back in (the
    database answers in its session's time zone); a naive time is taken as UTC (SQLite)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M UTC")


def day_in_words(value: str, lang: str) -> str | None:
    """``1985-02-03`` as "3 February 1985" / "3 de febrero de 1985" (the portal's words);
    None for anything that is not a whole calendar date (``XXXX-02-03`` stays as it is)."""
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None
    if day is None:
        return None
    return words.day_in_words(day, lang)


def _localized(value: Any, lang: str) -> str | None:
    """A UI text (``{"en": ..., "es": ...}`` or a plain string) in ``lang``, else English."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        for key in (lang, "en"):
            text = value.get(key)
            if isinstance(text, str) and text:
                return text
    return None


def _nodes_at(schema: Any, tokens: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """The schema objects that describe the value at ``tokens`` (through ``properties``,
    ``items``, ``allOf``/``anyOf``/``oneOf`` and local ``$ref``); empty when unknown."""
    budget = [MAX_SCHEMA_NODES]

    def spread(nodes: list[Any]) -> list[Mapping[str, Any]]:
        found: list[Mapping[str, Any]] = []
        stack = list(reversed(nodes))
        while stack and budget[0] > 0:
            budget[0] -= 1
            node = resolve(schema, stack.pop())
            if not isinstance(node, Mapping):
                continue
            found.append(node)
            for key in ("allOf", "anyOf", "oneOf"):
                listed = node.get(key)
                if isinstance(listed, list):
                    stack += reversed(listed)
        return found

    found = spread([schema])
    for token in tokens:
        deeper: list[Any] = []
        for node in found:
            properties = node.get("properties")
            if isinstance(properties, Mapping) and token in properties:
                deeper.append(properties[token])
            elif token.isdigit() and isinstance(node.get("items"), Mapping):
                deeper.append(node["items"])
        found = spread(deeper)
    return found


class _Wording:
    """One receipt's way of putting questions and answers in words, in ``lang``: labels and
    choice labels from the UI document (``fields``: ``{pointer: {"label", "options"}}``), the
    version's field titles and the schema's ``enumNames`` otherwise; dates in words."""

    def __init__(self, version: FormVersion, ui: Mapping[str, Any] | None, lang: str) -> None:
        self.version = version
        self.lang = lang
        self.words = WORDS[lang]
        fields = ui.get("fields") if isinstance(ui, Mapping) else None
        self.specs: dict[str, Mapping[str, Any]] = {}
        if isinstance(fields, Mapping):
            for key, spec in fields.items():
                if isinstance(key, str) and isinstance(spec, Mapping):
                    pointer = key if key.startswith("/") else "/" + key.replace(".", "/")
                    self.specs[pointer] = spec
        # in English the registry's title of the form (as the portal does); in another
        # language the UI document's in that language, when it has one
        titles = ui.get("title") if isinstance(ui, Mapping) else None
        own = titles.get(lang) if isinstance(titles, Mapping) and lang != "en" else None
        self.form_title = own if isinstance(own, str) and own else version.form_title

    def spec(self, tokens: tuple[str, ...]) -> Mapping[str, Any]:
        """The UI settings of a field (array indexes matched by ``*``, or dropped)."""
        generic = tuple("*" if t.isdigit() else t for t in tokens)
        for candidate in (tokens, generic, tuple(t for t in tokens if not t.isdigit())):
            found = self.specs.get(format_pointer(candidate))
            if found is not None:
                return found
        return {}

    def label(self, tokens: tuple[str, ...]) -> str:
        return (
            _localized(self.spec(tokens).get("label"), self.lang)
            or self.version.label(tokens)
            or format_pointer(tokens)
        )

    def value(self, tokens: tuple[str, ...], value: Any) -> str:
        spec = self.spec(tokens)
        schema = self.version.compiled.schema
        if isinstance(value, list):
            items = _nodes_at(schema, (*tokens, "0"))
            return ", ".join(self._one(v, spec, items) for v in value)
        return self._one(value, spec, _nodes_at(schema, tokens))

    def _one(self, value: Any, spec: Mapping[str, Any], nodes: list[Mapping[str, Any]]) -> str:
        if value is None or isinstance(value, dict | list):
            return ""
        if isinstance(value, bool):
            return self.words["yes"] if value else self.words["no"]
        options = spec.get("options")
        if isinstance(options, Mapping):
            found = _localized(options.get(str(value)), self.lang)
            if found:
                return found
        for node in nodes:
            enum, names = node.get("enum"), node.get("enumNames")
            if isinstance(enum, list) and isinstance(names, list) and value in enum:
                index = enum.index(value)
                name = names[index] if index < len(names) else None
                if isinstance(name, str) and name:
                    return name
        if isinstance(value, str) and any(words.asks_for_a_date(node) for node in nodes):
            return day_in_words(value, self.lang) or value
        return str(value)


def receipt_data(
    submission: Submission,
    answers: dict[str, Any],
    version: FormVersion,
    lang: str = "en",
    *,
    ui: Mapping[str, Any] | None = None,
    deliveries: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A plain, picklable dict for the renderer (restricted values already masked here), in
    ``lang`` (one of ``render.LANGUAGES``): the form's title, questions and choices in that
    language where the version's UI document (``ui``) has them; ``deliveries`` each
    receiving agency's delivery state (``pending``, ``delivered``, ``acked``, ``dead``)."""
    wording = _Wording(version, ui, lang)
    receivers = [
        (str(r["agency"]), [parse_pointer(p) for p in r["fields"]]) for r in submission.receivers
    ]
    restricted = version.compiled.restricted
    rows = []
    for tokens, value in flatten(answers):
        if any(matches(p, tokens) for p in restricted):
            # the stored value, not its "Yes"/"No" wording: a choice is masked whole
            shown = mask(value, free_text=free_text_at(version.compiled.schema, tokens))
        else:
            shown = wording.value(tokens, value)
        agencies = [a for a, patterns in receivers if any(matches(p, tokens) for p in patterns)]
        rows.append(
            {"label": wording.label(tokens), "value": shown, "agencies": ", ".join(agencies)}
        )
    states = STATES[lang]
    return {
        "lang": lang,
        "id": submission.id,
        "reference": submission.reference,
        "form": submission.form,
        "form_title": wording.form_title,
        "version": submission.version,
        "submitted_at": utc_minute(submission.submitted_at),
        "receivers": [
            {
                "agency": agency,
                "fields": ", ".join(dict.fromkeys(wording.label(p) for p in patterns)),
                "state": states.get((deliveries or {}).get(agency) or "", ""),
            }
            for agency, patterns in receivers
        ],
        "answers": rows,
    }
