"""``tellonce-submissions reseal`` after an answer key rotation: what drafts, submissions and
kept profile values hold sealed (the 10-10CG's SSN) moves onto the new key, so that a
service holding only the new key still opens every row; rows the service rewrites meanwhile
are left as it wrote them; a second run finds everything current."""

from __future__ import annotations

import asyncio
import base64
import copy
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, select, update

from tellonce_shared.migrations import sync_url
from tellonce_shared.testing import (
    TokenFactory,
    asgi_client,
    eventually,
    migrated_database,
    static_verifier,
)
from tellonce_submissions.config import DEMO_ANSWER_KEYS, Settings
from tellonce_submissions.crypto import AnswerSealer
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.reseal import reseal_now
from tellonce_submissions.main import create_app
from tellonce_submissions.models import Draft, ProfileValue, Submission
from tellonce_submissions.profile import repository as profile_repository
from tellonce_submissions.profile.service import _row
from tellonce_submissions.reseal_rows import TABLES, reseal_rows, reseal_table
from tellonce_submissions.sealing import profile_context

from .conftest import SERVICE_DIR
from .registry_double import RegistryDouble, load

NEW_KEY = "2026-11-26T1900-a1b2:" + base64.b64encode(b"n" * 32).decode()
OLD_KEY_ID = DEMO_ANSWER_KEYS.partition(":")[0]


@pytest.fixture
def url() -> Iterator[str]:
    """A database of its own: the command goes through every row."""
    with migrated_database("submissions_reseal", SERVICE_DIR) as database_url:
        yield database_url


def settings(url: str, answer_keys: str) -> Settings:
    return Settings(
        database_url=url,
        answer_keys=answer_keys,
        retention_interval_seconds=0,
        version_status_cache_seconds=0,
        agreements_cache_seconds=0,
    )


async def started(url: str, answer_keys: str, tokens: TokenFactory) -> FastAPI:
    return create_app(
        settings(url, answer_keys),
        verifier=static_verifier(tokens),
        registry_transport=httpx.ASGITransport(app=RegistryDouble().app()),
    )


async def stopped(app: FastAPI) -> None:
    app.state.receipts.close()
    await app.state.registry.aclose()
    await app.state.catalog.aclose()
    await app.state.database.dispose()


@pytest.fixture
async def old_app(url: str, tokens: TokenFactory) -> AsyncIterator[FastAPI]:
    """The service before the rotation: the demo answer key only."""
    app = await started(url, DEMO_ANSWER_KEYS, tokens)
    try:
        yield app
    finally:
        await stopped(app)


@pytest.fixture
def tokens() -> TokenFactory:
    return TokenFactory()


async def file_everything(app: FastAPI, tokens: TokenFactory, sub: str) -> dict[str, str]:
    """A 10-10CG submitted with the profile kept (its SSN kept sealed), and a draft of it."""
    answers: dict[str, Any] = copy.deepcopy(load("10-10CG-example.json"))
    me = tokens.headers(sub)
    async with asgi_client(app) as client:
        consent = await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)
        assert consent.is_success
        resp = await client.post(
            "/api/v1/submissions",
            json={"form": "10-10cg", "version": 1, "answers": answers},
            headers={**me, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert resp.status_code == 201, resp.text
        submission_id = resp.json()["id"]
        resp = await client.post(
            "/api/v1/drafts", json={"form": "10-10cg", "answers": answers}, headers=me
        )
        assert resp.status_code == 201, resp.text
    return {
        "submission": submission_id,
        "draft": resp.json()["id"],
        "ssn": answers["veteran"]["ssnOrTin"],
    }


async def key_ids(app: FastAPI) -> set[str | None]:
    async with app.state.database.sessions() as s:
        found: set[str | None] = set()
        for model in (Submission, Draft, ProfileValue):
            found |= set(
                (await s.execute(select(model.key_id).where(model.sealed.is_not(None)))).scalars()
            )
        return found


async def test_every_sealed_row_moves_onto_the_new_key(
    url: str, old_app: FastAPI, tokens: TokenFactory
) -> None:
    sub = "res-" + uuid.uuid4().hex[:8]
    filed = await file_everything(old_app, tokens, sub)
    assert await key_ids(old_app) == {OLD_KEY_ID}

    rotated = settings(url, f"{NEW_KEY},{DEMO_ANSWER_KEYS}")
    counts = await reseal_now(rotated)
    assert counts["submissions_resealed"] == 1
    assert counts["drafts_resealed"] == 1
    assert counts["profile_values_resealed"] == 1  # person.ssn, the one restricted element
    assert counts["resealed"] == counts["deliveries_resealed"] + 3
    assert counts["unreadable"] == 0
    assert await key_ids(old_app) == {NEW_KEY.partition(":")[0]}

    # the old key dropped: a service holding only the new one opens everything
    new_app = await started(url, NEW_KEY, tokens)
    try:
        me = tokens.headers(sub)
        async with asgi_client(new_app) as client:
            draft = await client.get(f"/api/v1/drafts/{filed['draft']}", headers=me)
            assert draft.status_code == 200, draft.text
            assert draft.json()["answers"]["veteran"]["ssnOrTin"] == filed["ssn"]
            profile = await client.get("/api/v1/profile?reveal=true", headers=me)
            values = {v["element"]: v["value"] for v in profile.json()["values"]}
            assert values["person.ssn"] == filed["ssn"]
            mine = await client.get(f"/api/v1/submissions/{filed['submission']}", headers=me)
            assert mine.status_code == 200, mine.text
            assert mine.json()["answers"]["veteran"]["ssnOrTin"].endswith(filed["ssn"][-4:])
            receipt = await client.get(
                f"/api/v1/submissions/{filed['submission']}/receipt.pdf", headers=me
            )
            assert receipt.status_code == 200
    finally:
        await stopped(new_app)

    again = await reseal_now(rotated)
    assert again["resealed"] == 0
    assert again["submissions_current"] == again["drafts_current"] == 1
    assert again["profile_values_current"] == 1


async def test_a_row_rewritten_meanwhile_is_left_as_the_service_wrote_it(
    url: str, old_app: FastAPI, tokens: TokenFactory
) -> None:
    """The compare-and-swap: between the command's read of a draft and its write, the
    resident saves the draft (the service seals it with the active key, as always). The
    command's update names the blob it read, so it does not overwrite the resident's save."""
    filed = await file_everything(old_app, tokens, "res-" + uuid.uuid4().hex[:8])
    sealer = AnswerSealer(f"{NEW_KEY},{DEMO_ANSWER_KEYS}")
    drafts = next(t for t in TABLES if t.model is Draft)
    saved = {"veteran": {"ssnOrTin": "111223333"}}
    real_seal = sealer.seal
    engine = create_engine(sync_url(url))

    def seal_after_a_save(value: Any, *, context: str) -> tuple[bytes, str]:
        blob, key_id = real_seal(saved, context=context)  # the resident's save, committed
        with engine.begin() as conn:
            conn.execute(
                update(Draft).where(Draft.id == filed["draft"]).values(sealed=blob, key_id=key_id)
            )
        return real_seal(value, context=context)

    sealer.seal = seal_after_a_save  # type: ignore[method-assign]
    try:
        counts = await reseal_table(old_app.state.database, sealer, drafts)
    finally:
        engine.dispose()
    assert counts == {"resealed": 0, "current": 0, "unreadable": 0}
    async with old_app.state.database.sessions() as s:
        row = await s.get(Draft, filed["draft"])
        assert row is not None
        assert row.sealed is not None
        assert row.key_id is not None
        only_new = AnswerSealer(NEW_KEY)
        assert only_new.open(row.sealed, row.key_id, context=drafts.context(row)) == saved


async def test_a_row_no_key_opens_is_counted_and_left(
    old_app: FastAPI, tokens: TokenFactory
) -> None:
    await file_everything(old_app, tokens, "res-" + uuid.uuid4().hex[:8])
    stray = AnswerSealer("s9:" + base64.b64encode(b"9" * 32).decode())  # not the demo key
    counts = await reseal_rows(old_app.state.database, stray)
    assert counts["submissions_unreadable"] == counts["drafts_unreadable"] == 1
    assert counts["profile_values_unreadable"] == 1
    assert sum(n for name, n in counts.items() if name.endswith("_resealed")) == 0
    assert await key_ids(old_app) == {OLD_KEY_ID}


async def test_a_residents_write_of_several_rows_meanwhile_does_not_deadlock(url: str) -> None:
    """A submission keeps its values in one upsert, in the form's order (``person.ssn``
    before ``bank.*``); the command goes in key order (``bank.accountNumber`` first). Were
    it to hold the rows it re-sealed until a batch ends, the two would wait on each other
    (PostgreSQL ends one: the resident's submission a 503). Each row commits on its own."""
    owner = "res-" + uuid.uuid4().hex[:8]
    elements = ["person.ssn", "bank.routingNumber", "bank.accountNumber"]  # form order
    now = datetime.now(UTC)

    async def upsert(sealer: AnswerSealer, value: str) -> None:
        database = Database(url)
        try:
            async with database.sessions() as session:
                rows = [_row(owner, e, value, sealer, True, now) for e in elements]
                await profile_repository.upsert_values(session, rows)
                await session.commit()
        finally:
            await database.dispose()

    await upsert(AnswerSealer(DEMO_ANSWER_KEYS), "000000000")  # kept before the rotation
    sealer = AnswerSealer(f"{NEW_KEY},{DEMO_ANSWER_KEYS}")
    real_seal = sealer.seal
    outcome: dict[str, str] = {}

    def resident_submits() -> None:
        try:
            asyncio.run(upsert(AnswerSealer(f"{NEW_KEY},{DEMO_ANSWER_KEYS}"), "123456789"))
            outcome["resident"] = "kept"
        except Exception as exc:  # what the submission would have answered with
            outcome["resident"] = repr(exc)

    def seal_then_a_submission(value: Any, *, context: str) -> tuple[bytes, str]:
        if context == profile_context(owner, "bank.routingNumber"):
            # bank.accountNumber is re-sealed: the resident's submission comes now
            writer = threading.Thread(target=resident_submits)
            writer.start()
            writer.join(timeout=1.0)
        return real_seal(value, context=context)

    sealer.seal = seal_then_a_submission  # type: ignore[method-assign]
    database = Database(url)
    try:
        table = next(t for t in TABLES if t.model is ProfileValue)
        counts = await reseal_table(database, sealer, table)
        await eventually(lambda: "resident" in outcome)
        assert outcome["resident"] == "kept"
        assert counts["unreadable"] == 0
        async with database.sessions() as s:
            kept = (
                await s.execute(select(ProfileValue).where(ProfileValue.owner == owner))
            ).scalars()
            rows = list(kept)
            assert sorted(row.element for row in rows) == sorted(elements)
            only_new = AnswerSealer(NEW_KEY)
            for row in rows:
                assert row.sealed is not None
                assert row.key_id is not None
                opened = only_new.open(row.sealed, row.key_id, context=table.context(row))
                assert opened == "123456789", row.element
    finally:
        await database.dispose()
