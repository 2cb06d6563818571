"""Which fields with no data element still hold a restricted value.

A field's sensitivity comes from its element. Many real forms ask for a Social Security
number, a VA file number or bank numbers without mapping the field (the VA corpus maps
nothing), and such a value must be sealed and masked all the same. A field with no element
is *inferred* restricted when either:

- the version's stored suggestions (computed at import, ``suggest.py``) name a ``restricted``
  element for it with a score of at least :data:`MIN_SCORE`; or
- its name or title says it is one of the restricted identifiers of the dictionary: a Social
  Security number (or taxpayer id), a VA file number, a bank routing number, a bank account
  number, a driver's license number or a Medicaid (HUSKY) id (:func:`by_name`).

Never inferred: booleans and enums (``spouseHasNoSsn``, "Do you have an SSN?": they hold a
yes/no or a choice, not the number), the last four digits of a number (``ssnLastFour``,
``ssnLast4``; a partial number is not the identifier), claim, service, policy and phone
numbers (but a *VA* claim number, ``vaClaimNumber``, is the VA file number under another
name: 40-10007 asks it with the VA's ``centralMailVaFile`` pattern), a utility or other
non-bank account number, and any other license number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

RESTRICTED = "restricted"
MIN_SCORE = 90.0
"""A stored suggestion this sure (the score suggestions are kept at) makes a field restricted
when its element is."""

_NON_ALNUM = re.compile(r"[^a-z0-9]")
_PARTIAL = re.compile(r"last(4|four)|(4|four)digits?$")
_PARTIAL_TITLE = re.compile(r"\blast (4|four)\b|\b(4|four) digits\b")
_BANK_CONTEXT = re.compile(r"bank|checking|savings|deposit|financialinstitution|directdep")
_DRIVER_CONTEXT = re.compile(r"driver")

_NAME_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"ssn$|^ssn(or)?i?tin$|socialsecurity(number|num|no)$"),
        "a Social Security number",
    ),
    (re.compile(r"^i?tin$|taxpayerid(entificationnumber|number)?$"), "a taxpayer id"),
    (
        re.compile(r"vafile(number|num|no)$|^c?file(number|num|no)$|vaclaim(number|num|no)$"),
        "a VA file number",
    ),
    (re.compile(r"routing(transit)?(number|num|no)$"), "a bank routing number"),
    (
        re.compile(r"(bank|checking|savings|deposit)account(number|num|no)$"),
        "a bank account number",
    ),
    (
        re.compile(r"drivers?licen[cs]e(number|num|no|id)?$|^dl(number|num|no)$"),
        "a driver's license number",
    ),
    (re.compile(r"(medicaid|husky)(id|idnumber|number|num|no)$"), "a Medicaid id"),
)
_BARE_ACCOUNT = re.compile(r"^(account|acct)(number|num|no)$")
_BARE_LICENSE = re.compile(r"^licen[cs]e(number|num|no)$")

_TITLE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\bsocial security (number|no\b|#)|\bssn\b|\bss#"),
        "a Social Security number",
    ),
    (re.compile(r"\btaxpayer identification number\b|\bitin\b"), "a taxpayer id"),
    (re.compile(r"\bva file (number|no\b|#)|\bc-file (number|no\b|#)"), "a VA file number"),
    (re.compile(r"\brouting (number|no\b|#)|\baba number\b"), "a bank routing number"),
    (
        re.compile(r"\b(bank|checking|savings) account (number|no\b|#)"),
        "a bank account number",
    ),
    (re.compile(r"\bdriver'?s'? licen[cs]e (number|no\b|#|id)"), "a driver's license number"),
    (re.compile(r"\b(medicaid|husky) (id|number|no\b|#)"), "a Medicaid id"),
)
_TITLE_NOT = re.compile(r"\b(why|reason)\b")


def _norm(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


def _words(text: str) -> str:
    return " ".join(text.lower().split())


def partial(name: str, title: str | None) -> bool:
    """Whether the field says it holds only the last digits of a number (``ssnLastFour``,
    "Last 4 digits of your SSN")."""
    return bool(_PARTIAL.search(_norm(name)) or (title and _PARTIAL_TITLE.search(_words(title))))


def by_name(pointer: str, name: str, title: str | None, type_: str | None, enum: Any) -> str | None:
    """What a field's name or title says it holds, when that is a restricted identifier
    (``"a Social Security number"``), else None. Only text and number fields without an
    ``enum`` can hold an identifier."""
    if type_ not in ("string", "integer", "number") or enum or partial(name, title):
        return None
    n = _norm(name)
    if n:
        for pattern, what in _NAME_RULES:
            if pattern.search(n):
                return what
        # a bare account or license number says what it is only through its context: the
        # object holding it (``/bankAccount/accountNumber``) or its title
        context = _norm(pointer.rsplit("/", 1)[0]) + " " + _norm(title or "")
        if _BARE_ACCOUNT.match(n) and _BANK_CONTEXT.search(context):
            return "a bank account number"
        if _BARE_LICENSE.match(n) and _DRIVER_CONTEXT.search(context):
            return "a driver's license number"
    if title:
        text = _words(title)
        if not _TITLE_NOT.search(text):
            for pattern, what in _TITLE_RULES:
                if pattern.search(text):
                    return what
    return None


def suggested_restricted(
    suggestions: Iterable[Mapping[str, Any]], sensitivity: Mapping[str, str]
) -> dict[str, str]:
    """Pointer -> the restricted element a stored suggestion names for it, when at least
    :data:`MIN_SCORE` sure (``sensitivity``: element id -> its sensitivity)."""
    found: dict[str, str] = {}
    for s in suggestions:
        pointer, element, score = s.get("pointer"), s.get("element"), s.get("score")
        if not isinstance(pointer, str) or not isinstance(element, str):
            continue
        if isinstance(score, bool) or not isinstance(score, int | float) or score < MIN_SCORE:
            continue
        if sensitivity.get(element) == RESTRICTED:
            found.setdefault(pointer, element)
    return found


def suggested_elements(suggestions: Iterable[Mapping[str, Any]]) -> set[str]:
    """The element ids stored suggestions name (their sensitivities are needed)."""
    return {s["element"] for s in suggestions if isinstance(s.get("element"), str)}


def inferred(
    pointer: str,
    name: str,
    title: str | None,
    type_: str | None,
    enum: Any,
    suggested: Mapping[str, str],
) -> str | None:
    """Why a field with no element is restricted anyway (a reason for warnings), or None.
    ``suggested``: :func:`suggested_restricted` of the version. A field whose name or title
    says it holds only the last four digits is not (see the module's docstring)."""
    element = suggested.get(pointer)
    if element is not None and not partial(name, title):
        return f"suggested as {element}"
    what = by_name(pointer, name, title, type_, enum)
    if what is not None:
        return f"its name or title reads as {what}"
    return None
