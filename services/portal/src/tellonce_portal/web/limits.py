"""How long a typed answer on a staff or admin page may be. Checked in the handlers, not by
``Form(max_length=...)``: a value over the limit then shows the page again with a GOV.UK
error on its field ("Message must be 4,000 characters or fewer") and what was typed kept,
instead of failing validation before the handler (a bare 400 page, the text lost). The
inputs carry the same ``maxlength``."""

from __future__ import annotations

from collections.abc import Iterable

from tellonce_portal.i18n import Translator

STATUS_MESSAGE = 4000
"""The submissions API's limit on a status message."""
ENDPOINT_URL = 2048
ELEMENT = 100
CONFIRM_NOTE = 2000
CLUSTER_LABEL = 200
AGENCY_CODE = 16
AGENCY_NAME = 200
FORM_SLUG = 100
FORM_TITLE = 300
FORM_DESCRIPTION = 5000
MINUTES = 10
YEARLY_VOLUME = 12
AGREEMENT_FIELDS = 20000
AGREEMENT_TEXT = 2000


def typed(value: str) -> str:
    """A posted text as typed: browsers send a textarea's line breaks as CRLF but count one
    character for each against ``maxlength``, so the limit is checked (and the text sent)
    with LF line breaks."""
    return value.replace("\r\n", "\n")


def too_long(t: Translator, checks: Iterable[tuple[str, str, str, int]]) -> list[tuple[str, str]]:
    """(field, message) errors for each (field, label key, value, limit) whose value is over
    its limit."""
    return [
        (field, t("too_long", field=t(label), n=t.number(limit)))
        for field, label, value, limit in checks
        if len(value) > limit
    ]
