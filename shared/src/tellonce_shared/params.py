"""Text a caller sends that reaches the database: never the NUL character.

PostgreSQL can neither store U+0000 in a text column nor compare text with it; sent as a
query parameter, a path segment (``%00``) or a body field, it would fail the statement. The
shared last-line handler turns that failure into a plain 400 (``problems._on_refused_value``)
that names nothing; ``Text`` refuses the NUL up front, a 422 problem whose ``errors`` name
the parameter (``/query/form``, ``/path/rule_id``) or the body field (``/name``), with the
message ``NUL_MESSAGE``.

Use it as the type of a parameter or a field, with FastAPI's or pydantic's own constraints::

    form: Annotated[Text | None, Query(max_length=100)] = None
    rule_id: Annotated[Text, Path(max_length=64)]
    name: Annotated[Text, Field(min_length=1, max_length=200)]

It is a plain string pattern, so the documents show it (``pattern: ^[^\\x00]*$``) to clients
and fuzzers, and it costs no Python call. A field with a pattern of its own needs no ``Text``
as long as that pattern has no room for NUL (a slug's ``^[a-z0-9-]+$``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

NUL = "\x00"
NO_NUL = r"^[^\x00]*$"
"""The rule as a pattern (JSON Schema and pydantic)."""
NUL_MESSAGE = "Text cannot hold the NUL character (U+0000)."
"""What the 422 says for a value that breaks ``NO_NUL``."""

Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
"""A string without the NUL character: for every text parameter or field that a query uses
or a row stores."""
