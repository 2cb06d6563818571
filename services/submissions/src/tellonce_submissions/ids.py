"""Ids in a path: every id this service makes (submissions, drafts, deliveries, endpoints,
referrals) is a UUID, stored in its canonical text form (lower case, with dashes)."""

from __future__ import annotations

import uuid


def canonical_id(text: str) -> str | None:
    """``text`` as the stored form of the UUID it names (any case, braces or a ``urn:uuid:``
    prefix accepted: ``str(uuid.UUID(text))``), or ``None`` when it names no UUID: such an id
    names no row and is never sent to the database (a NUL in it would fail the query)."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None
