"""Re-seal the answers the outbox keeps with the answer ring's active key: after the rings
were separated (rows sealed with the webhook-secret ring before 2026-11-26), and after an
answer key rotation (a new key put first). Once it has run, the keys it moved rows off can
be dropped. ``tellonce-submissions reseal``; safe to run while workers deliver (a row is
only replaced if it still holds what was read) and to run again (rows already sealed with
the active key are left as they are)."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from tellonce_submissions.config import Settings
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.models import Delivery
from tellonce_submissions.deliveries.outbox import share_box
from tellonce_submissions.deliveries.signing import SecretBoxError

log = logging.getLogger("tellonce.submissions.reseal")


async def reseal_deliveries(
    database: Database, settings: Settings, *, batch: int = 500
) -> dict[str, int]:
    """Every delivery's sealed answers, re-sealed with the active answer key where they are
    not already, each row's compare-and-swap committed on its own; counts of ``resealed``,
    ``current`` and ``unreadable`` rows (those no configured key opens: logged, left as
    they are)."""
    shares = share_box(settings)
    active = shares.box.active
    counts = {"resealed": 0, "current": 0, "unreadable": 0}
    after = ""
    while True:
        async with database.sessions() as session:
            rows = (
                await session.execute(
                    select(Delivery.id, Delivery.sealed_answers)
                    .where(Delivery.sealed_answers.is_not(None), Delivery.id > after)
                    .order_by(Delivery.id)
                    .limit(batch)
                )
            ).all()
            await session.commit()  # plain values: the read holds nothing while rows change
            if not rows:
                return counts
            for delivery_id, sealed in rows:
                after = delivery_id
                if sealed is None:  # not selected; for the type checker
                    continue
                if sealed.partition(":")[0] == active:
                    try:
                        shares.box.open(sealed, context=delivery_id)
                        counts["current"] += 1
                        continue
                    except SecretBoxError:
                        pass  # the same key id in the old ring: not the active key's
                try:
                    answers = shares.open(sealed, context=delivery_id)
                except SecretBoxError:
                    log.error("delivery answers no configured key opens", extra={"id": delivery_id})
                    counts["unreadable"] += 1
                    continue
                result = await session.execute(
                    update(Delivery)
                    .where(Delivery.id == delivery_id, Delivery.sealed_answers == sealed)
                    .values(sealed_answers=shares.seal(answers, context=delivery_id))
                )
                counts["resealed"] += result.rowcount  # type: ignore[attr-defined]
                # Committed at once: no row stays locked while the next is taken, so a
                # writer locking rows in another order (an admin's replay of dead letters)
                # cannot deadlock with this.
                await session.commit()


async def reseal_now(settings: Settings) -> dict[str, int]:
    """The whole ``reseal`` command: the outbox's shares (``resealed``, ``current``,
    ``unreadable``), then what drafts, submissions and profile values keep sealed
    (``reseal_rows``: the same counts per table, and added into the totals)."""
    from tellonce_submissions.crypto import AnswerSealer
    from tellonce_submissions.reseal_rows import reseal_rows

    database = Database(settings.database_url)
    try:
        counts = await reseal_deliveries(database, settings)
        counts = {f"deliveries_{k}": v for k, v in counts.items()} | counts
        rows = await reseal_rows(database, AnswerSealer(settings.answer_keys.get_secret_value()))
        for name, n in rows.items():
            counts[name] = n
            counts[name.rpartition("_")[2]] += n
        return counts
    finally:
        await database.dispose()
