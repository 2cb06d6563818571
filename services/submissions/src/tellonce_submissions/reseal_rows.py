"""Re-seal what drafts, submissions and kept profile values hold sealed (their restricted
values: SSNs, bank numbers...) with the active answer key, so that after an answer key
rotation the old key can be dropped. Part of ``tellonce-submissions reseal``, beside the
outbox's shares (:mod:`tellonce_submissions.deliveries.reseal`).

A row sealed with another key is opened with the ring (every configured key opens) and
sealed again with the active key, its context (the row it belongs to) bound as before, in a
compare-and-swap: the update names the blob and key id it read, so a row the service
rewrote meanwhile (a draft saved, a profile value changed: always with the active key) is
left as the service wrote it. Each update commits on its own, so the command never holds a
row locked while it waits for another: a resident's write taking several rows in its own
order (a submission's kept values, in form order) cannot deadlock with it. Safe beside the
running service, and idempotent: rows already on the active key are only counted
(``current``). A row no configured key opens is logged by its key and left (``unreadable``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, and_, or_, select, update

from tellonce_shared.keyring import KeyRingError
from tellonce_submissions.crypto import AnswerSealer
from tellonce_submissions.db import Database
from tellonce_submissions.models import Draft, ProfileValue, Submission
from tellonce_submissions.sealing import draft_context, profile_context, submission_context

log = logging.getLogger("tellonce.submissions.reseal")

Model = type[Draft] | type[Submission] | type[ProfileValue]


@dataclass(frozen=True)
class SealedTable:
    """A table with ``sealed``/``key_id`` columns: its primary key columns (rows are read in
    their order, in batches) and what each row binds as context."""

    model: Model
    counter: str
    keys: tuple[str, ...]
    context: Callable[[Any], str]


TABLES = (
    SealedTable(Submission, "submissions", ("id",), lambda row: submission_context(row.id)),
    SealedTable(Draft, "drafts", ("id",), lambda row: draft_context(row.id)),
    SealedTable(
        ProfileValue,
        "profile_values",
        ("owner", "element"),
        lambda row: profile_context(row.owner, row.element),
    ),
)


def _after(model: Model, keys: tuple[str, ...], last: tuple[Any, ...]) -> ColumnElement[bool]:
    """Rows after ``last`` in primary-key order (lexicographic over ``keys``), spelt without
    row values so every database reads it the same way."""
    columns = [getattr(model, k) for k in keys]
    clauses = []
    for i, column in enumerate(columns):
        equal = [columns[j] == last[j] for j in range(i)]
        clauses.append(and_(*equal, column > last[i]))
    return or_(*clauses)


async def reseal_table(
    database: Database, sealer: AnswerSealer, table: SealedTable, *, batch: int = 500
) -> dict[str, int]:
    """One table's sealed rows moved onto the active key: counts of ``resealed``,
    ``current`` and ``unreadable`` rows."""
    model = table.model
    counts = {"resealed": 0, "current": 0, "unreadable": 0}
    last: tuple[Any, ...] | None = None
    while True:
        async with database.sessions() as session:
            order = [getattr(model, k) for k in table.keys]
            query = select(*order, model.sealed, model.key_id).where(model.sealed.is_not(None))
            if last is not None:
                query = query.where(_after(model, table.keys, last))
            result = await session.execute(query.order_by(*order).limit(batch))
            rows = cast(Sequence[Row[Any]], result.all())  # plain values: they outlive commits
            await session.commit()
            if not rows:
                return counts
            for row in rows:
                last = tuple(getattr(row, k) for k in table.keys)
                blob, key_id = row.sealed, row.key_id
                if blob is None or key_id is None:
                    continue  # not selected; for the type checker
                if key_id == sealer.active_key_id:
                    counts["current"] += 1
                    continue
                context = table.context(row)
                try:
                    value = sealer.open(blob, key_id, context=context)
                except KeyRingError:
                    log.error(
                        "sealed answers no configured key opens",
                        extra={"table": model.__tablename__, "key_id": key_id},
                    )
                    counts["unreadable"] += 1
                    continue
                new_blob, new_key = sealer.seal(value, context=context)
                same_row = [getattr(model, k) == v for k, v in zip(table.keys, last, strict=True)]
                result = await session.execute(
                    update(model)
                    .where(*same_row, model.key_id == key_id, model.sealed == blob)
                    .values(sealed=new_blob, key_id=new_key)
                    .execution_options(synchronize_session=False)
                )
                counts["resealed"] += result.rowcount  # type: ignore[attr-defined]
                await session.commit()  # this row's lock released before the next is taken


async def reseal_rows(
    database: Database, sealer: AnswerSealer, *, batch: int = 500
) -> dict[str, int]:
    """Every table's counts, as ``<table>_resealed``, ``<table>_current`` and
    ``<table>_unreadable``."""
    counts: dict[str, int] = {}
    for table in TABLES:
        found = await reseal_table(database, sealer, table, batch=batch)
        counts.update({f"{table.counter}_{name}": n for name, n in found.items()})
    return counts
