"""Seal restricted values that drafts and submissions still keep in clear
(``tellonce-submissions seal-restricted``).

A row's restricted values are sealed with the restricted set its form version had when it
was written. When the registry later says more of the version's fields are restricted (it
infers an unmapped Social Security number, VA file number or bank number restricted since
2026-11-26; an auditor maps a field to a restricted element), rows written before keep those
values in their clear ``answers``, and ``GET`` shows them in full (it masks what is sealed).
This command moves every such value into the row's sealed blob, by the version's *current*
restricted set read from the registry; the row then opens, masks and delivers like a new one.

- Nothing else changes: what a row opens to (``open_answers``) is the same before and after,
  so agencies' shares in the outbox (sealed on their own at submission time), referrals and
  receipts see the same answers; a draft's ``updated_at`` (its retention clock) is kept.
- A row it changes is re-sealed whole with the active answer key (its earlier sealed values
  with the moved ones); rows with nothing in clear are left as they are (run it again and
  it changes nothing).
- Batches of ``batch`` rows: each batch is read without locks, and only the rows holding a
  value to seal are then locked (``SELECT ... FOR UPDATE``), read again and rewritten, in one
  short transaction per batch; the registry is asked before the locks are taken. Safe while
  the service and workers run.
- Left as they are, counted and logged by id (never a value): rows whose version the registry
  does not know (``skipped``) and rows whose sealed blob no configured key opens
  (``unreadable``). The registry unreachable stops the command (run it again: the batches
  done are committed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select

from tellonce_shared.http import service_client
from tellonce_shared.problems import NotFound
from tellonce_submissions.answers import take_out
from tellonce_submissions.config import Settings
from tellonce_submissions.crypto import AnswerSealer, KeyRingError
from tellonce_submissions.db import Database
from tellonce_submissions.models import Draft, Submission
from tellonce_submissions.registry.client import RegistryClient
from tellonce_submissions.sealing import draft_context, submission_context
from tellonce_submissions.validation import SchemaUnusable

log = logging.getLogger("tellonce.submissions.seal_restricted")

Restricted = list[tuple[str, ...]]


@dataclass(frozen=True)
class _Table:
    model: type[Submission] | type[Draft]
    counter: str
    context: Callable[[str], str]


TABLES = (
    _Table(Submission, "submissions_sealed", submission_context),
    _Table(Draft, "drafts_sealed", draft_context),
)


def empty_counts() -> dict[str, int]:
    return {
        "submissions_sealed": 0,
        "drafts_sealed": 0,
        "values_sealed": 0,
        "current": 0,
        "skipped": 0,
        "unreadable": 0,
    }


class _Versions:
    """Each form version's current restricted set, asked of the registry once per run
    (None: the registry knows no such version, or its schema cannot be used)."""

    def __init__(self, registry: RegistryClient) -> None:
        self.registry = registry
        self.known: dict[tuple[str, int], Restricted | None] = {}

    async def restricted(self, form: str, number: int) -> Restricted | None:
        key = (form, number)
        if key not in self.known:
            try:
                version = await self.registry.version(form, number)
                self.known[key] = list(version.compiled.restricted)
            except (NotFound, SchemaUnusable):
                log.warning(
                    "form version unknown to the registry; its rows are left as they are",
                    extra={"form": form, "version": number},
                )
                self.known[key] = None
        return self.known[key]


async def seal_restricted(
    database: Database,
    registry: RegistryClient,
    sealer: AnswerSealer,
    *,
    batch: int = 500,
) -> dict[str, int]:
    """Every submission's and draft's restricted values still in clear, sealed (see the
    module's docstring). Counts: rows of each table that were sealed, ``values_sealed``,
    ``current`` rows (nothing in clear to seal), ``skipped`` and ``unreadable`` rows."""
    counts = empty_counts()
    versions = _Versions(registry)
    for table in TABLES:
        await _seal_table(database, versions, sealer, table, counts, batch)
    return counts


async def _seal_table(
    database: Database,
    versions: _Versions,
    sealer: AnswerSealer,
    table: _Table,
    counts: dict[str, int],
    batch: int,
) -> None:
    model = table.model
    after = ""
    while True:
        async with database.sessions() as session:
            rows = (
                await session.execute(
                    select(model.id, model.form, model.version, model.answers)
                    .where(model.id > after)
                    .order_by(model.id)
                    .limit(batch)
                )
            ).all()
        if not rows:
            return
        after = rows[-1].id
        todo: list[str] = []
        for row_id, form, number, answers in rows:
            restricted = await versions.restricted(form, number)
            if restricted is None:
                log.warning("row of an unknown form version left", extra={"id": row_id})
                counts["skipped"] += 1
            elif _in_clear(answers, restricted):
                todo.append(row_id)
            else:
                counts["current"] += 1
        if todo:
            await _seal_rows(database, versions, sealer, table, todo, counts)


def _in_clear(answers: Any, restricted: Restricted) -> dict[str, Any]:
    if not isinstance(answers, dict):
        return {}
    return take_out(answers, restricted)[1]


async def _seal_rows(
    database: Database,
    versions: _Versions,
    sealer: AnswerSealer,
    table: _Table,
    ids: list[str],
    counts: dict[str, int],
) -> None:
    """One transaction: the rows locked, read again (a draft may have been saved meanwhile)
    and their clear restricted values sealed with those sealed before."""
    model = table.model
    async with database.sessions() as session, session.begin():
        locked = (
            (
                await session.execute(
                    select(model).where(model.id.in_(ids)).order_by(model.id).with_for_update()
                )
            )
            .scalars()
            .all()
        )
        for row in cast("Sequence[Submission | Draft]", locked):
            restricted = versions.known.get((row.form, row.version))
            if restricted is None or not isinstance(row.answers, dict):
                continue
            public, taken = take_out(row.answers, restricted)
            if not taken:
                counts["current"] += 1
                continue
            context = table.context(row.id)
            kept: dict[str, Any] = {}
            if row.sealed is not None and row.key_id is not None:
                try:
                    kept = sealer.open(row.sealed, row.key_id, context=context)
                except KeyRingError:
                    log.error("sealed answers no configured key opens", extra={"id": row.id})
                    counts["unreadable"] += 1
                    continue
            # a value sealed before wins over a clear copy at the same pointer (it is the
            # one every reader has been given: ``put_back`` lays sealed values over clear)
            blob, key_id = sealer.seal({**taken, **kept}, context=context)
            row.answers, row.sealed, row.key_id = public, blob, key_id
            counts[table.counter] += 1
            counts["values_sealed"] += len(taken)


async def seal_restricted_now(settings: Settings) -> dict[str, int]:
    database = Database(settings.database_url)
    registry = RegistryClient(
        service_client(settings.registry_url, timeout=settings.registry_timeout_seconds)
    )
    try:
        return await seal_restricted(
            database, registry, AnswerSealer(settings.answer_keys.get_secret_value())
        )
    finally:
        await registry.aclose()
        await database.dispose()
