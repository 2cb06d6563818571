"""What goes on a receipt, gathered from the stored submission and its version's labels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tellonce_submissions.answers import (
    flatten,
    format_pointer,
    free_text_at,
    mask,
    matches,
    parse_pointer,
)
from tellonce_submissions.models import Submission
from tellonce_submissions.receipts.render import WORDS
from tellonce_submissions.registry.client import FormVersion


def utc_minute(at: datetime) -> str:
    """``2026-11-26 12:45 UTC``: the instant in UTC, whatever zone it was read back in (the
    database answers in its session's time zone); a naive time is taken as UTC (SQLite)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _show(value: Any, words: dict[str, str]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return words["yes"] if value else words["no"]
    if isinstance(value, list):
        return ", ".join(_show(v, words) for v in value)
    if isinstance(value, dict):
        return ""
    return str(value)


def _field_names(version: FormVersion, pointers: list[str]) -> str:
    """The fields an agency received, by their titles (a resident reads "Date of birth", not
    ``/veteran/dateOfBirth``), each title once, in the agreement's order."""
    names = [version.label(parse_pointer(p)) or p for p in pointers]
    return ", ".join(dict.fromkeys(names))


def receipt_data(
    submission: Submission, answers: dict[str, Any], version: FormVersion, lang: str = "en"
) -> dict[str, Any]:
    """A plain, picklable dict for the renderer (restricted values already masked here), in
    ``lang`` (one of ``render.LANGUAGES``)."""
    words = WORDS[lang]
    receivers = [
        (str(r["agency"]), [parse_pointer(p) for p in r["fields"]]) for r in submission.receivers
    ]
    restricted = version.compiled.restricted
    rows = []
    for tokens, value in flatten(answers):
        shown = _show(value, words)
        if any(matches(p, tokens) for p in restricted):
            # the stored value, not its "Yes"/"No" wording: a choice is masked whole
            shown = mask(value, free_text=free_text_at(version.compiled.schema, tokens))
        agencies = [a for a, patterns in receivers if any(matches(p, tokens) for p in patterns)]
        rows.append(
            {
                "label": version.label(tokens) or format_pointer(tokens),
                "value": shown,
                "agencies": ", ".join(agencies),
            }
        )
    return {
        "lang": lang,
        "id": submission.id,
        "reference": submission.reference,
        "form": submission.form,
        "form_title": version.form_title,
        "version": submission.version,
        "submitted_at": utc_minute(submission.submitted_at),
        "receivers": [
            {"agency": str(r["agency"]), "fields": _field_names(version, list(r["fields"]))}
            for r in submission.receivers
        ],
        "answers": rows,
    }
