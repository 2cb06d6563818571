"""Stored answers with their restricted values sealed apart (drafts and submissions)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tellonce_submissions.answers import (
    free_text_at,
    mask,
    matches,
    parse_pointer,
    put_back,
    take_out,
)
from tellonce_submissions.crypto import AnswerSealer

# What each kind of row binds to its sealed blob as associated data (a blob copied onto
# another row does not open): the one place these are spelt, for the services, `reseal` and
# `seal-restricted` alike.


def submission_context(submission_id: str) -> str:
    return f"submission:{submission_id}"


def draft_context(draft_id: str) -> str:
    return f"draft:{draft_id}"


def profile_context(owner: str, element: str) -> str:
    return f"profile:{owner}:{element}"


def seal_answers(
    answers: dict[str, Any],
    restricted: Iterable[tuple[str, ...]],
    sealer: AnswerSealer,
    *,
    context: str,
) -> tuple[dict[str, Any], bytes | None, str | None]:
    """(answers without restricted values, their sealed blob or None, key id or None)."""
    public, taken = take_out(answers, restricted)
    if not taken:
        return public, None, None
    blob, key_id = sealer.seal(taken, context=context)
    return public, blob, key_id


def open_answers(
    public: dict[str, Any],
    sealed: bytes | None,
    key_id: str | None,
    sealer: AnswerSealer,
    *,
    context: str,
) -> dict[str, Any]:
    if sealed is None or key_id is None:
        return public
    return put_back(public, sealer.open(sealed, key_id, context=context))


def masked_answers(
    public: dict[str, Any],
    sealed: bytes | None,
    key_id: str | None,
    sealer: AnswerSealer,
    *,
    context: str,
    schema: dict[str, Any] | None,
) -> dict[str, Any]:
    """The answers with every restricted value masked (``answers.mask``): free text by the
    form's ``schema`` keeps at most its last 4 characters, anything else nothing; with no
    schema (None: the registry could not say), every restricted value is masked whole."""
    if sealed is None or key_id is None:
        return public
    taken = sealer.open(sealed, key_id, context=context)
    return put_back(
        public,
        {p: mask(v, free_text=free_text_at(schema, parse_pointer(p))) for p, v in taken.items()},
    )


def is_restricted(pointer: str, restricted: Iterable[tuple[str, ...]]) -> bool:
    tokens = parse_pointer(pointer)
    return any(matches(p, tokens) and len(p) == len(tokens) for p in restricted)
