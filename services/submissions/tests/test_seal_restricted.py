"""``tellonce-submissions seal-restricted``: a submission and a draft stored while a field was
not restricted keep its value in clear; once the registry says the field is restricted (an
unmapped SSN it now infers), the command seals it in the row, so that ``GET`` masks it, while
the agencies entitled to it still get it in full. Running it again changes nothing."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from tellonce_shared.testing import TokenFactory, asgi_client, migrated_database, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.crypto import AnswerSealer
from tellonce_submissions.deliveries.models import Delivery
from tellonce_submissions.main import create_app
from tellonce_submissions.models import Draft
from tellonce_submissions.seal_restricted import empty_counts, seal_restricted

from .conftest import SERVICE_DIR
from .registry_double import RegistryDouble

FORM = "vet-legacy"
SSN = "987654329"
ACCOUNT = "0123456789012"
SSN_POINTER = "/veteranSocialSecurityNumber"
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["firstName", "veteranSocialSecurityNumber"],
    "properties": {
        "firstName": {"type": "string", "title": "First name"},
        "veteranSocialSecurityNumber": {
            "type": "string",
            "pattern": "^[0-9]{9}$",
            "title": "Social Security number",
        },
        "bankAccount": {"type": "string", "title": "Bank account number"},
    },
}


def answers() -> dict[str, Any]:
    return {"firstName": "Victor", "veteranSocialSecurityNumber": SSN, "bankAccount": ACCOUNT}


def ssn_row(double: RegistryDouble) -> dict[str, Any]:
    return next(r for r in double.fields[(FORM, 1)] if r["pointer"] == SSN_POINTER)


@pytest.fixture
def double() -> RegistryDouble:
    """A DVA form stored before the registry inferred its unmapped SSN restricted: the bank
    account (mapped to a restricted element) is sealed from the start, the SSN is not. DSS's
    agreement names the SSN's pointer."""
    registry = RegistryDouble()
    registry.add_form(FORM, "DVA", "Veterans' benefits application (before the review)")
    registry.add_version(
        FORM,
        1,
        SCHEMA,
        {"/firstName": "person.givenName", "/bankAccount": "bank.accountNumber"},
        with_sensitivity=True,
    )
    assert ssn_row(registry)["sensitivity"] is None
    registry.agreements[FORM] = [
        {"agency": "DSS", "form": FORM, "fields": [SSN_POINTER], "purpose": "p"}
    ]
    return registry


@pytest.fixture
async def app(double: RegistryDouble, tokens: TokenFactory) -> AsyncIterator[FastAPI]:
    """A database of its own: the command goes through every row."""
    with migrated_database("submissions_seal", SERVICE_DIR) as url:
        application = create_app(
            Settings(
                database_url=url,
                retention_interval_seconds=0,
                version_status_cache_seconds=0,
                agreements_cache_seconds=0,
            ),
            verifier=static_verifier(tokens),
            registry_transport=httpx.ASGITransport(app=double.app()),
        )
        try:
            yield application
        finally:
            application.state.receipts.close()
            await application.state.registry.aclose()
            await application.state.catalog.aclose()
            await application.state.database.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


async def stored(app: FastAPI, table: str, row_id: str) -> tuple[str, bytes | None, str | None]:
    async with app.state.database.sessions() as s:
        public, sealed, key_id = (
            await s.execute(
                text(f"SELECT answers::text, sealed, key_id FROM {table} WHERE id = :id"),
                {"id": row_id},
            )
        ).one()
    return public, None if sealed is None else bytes(sealed), key_id


async def run(app: FastAPI, batch: int = 500) -> dict[str, int]:
    return await seal_restricted(
        app.state.database, app.state.registry, app.state.sealer, batch=batch
    )


async def test_clear_values_the_registry_now_restricts_are_sealed_once(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory, double: RegistryDouble
) -> None:
    me = tokens.headers("olga")
    resp = await client.post(
        "/api/v1/submissions",
        json={"form": FORM, "version": 1, "answers": answers()},
        headers={**me, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert resp.status_code == 201, resp.text
    sid = resp.json()["id"]
    resp = await client.post(
        "/api/v1/drafts", json={"form": FORM, "answers": answers()}, headers=me
    )
    assert resp.status_code == 201, resp.text
    draft_id = resp.json()["id"]
    async with app.state.database.sessions() as s:
        draft_updated = (await s.get(Draft, draft_id)).updated_at

    # as stored before the privacy review: the SSN in clear, the account sealed
    for table, row_id in (("submissions", sid), ("drafts", draft_id)):
        public, sealed, _ = await stored(app, table, row_id)
        assert SSN in public
        assert ACCOUNT not in public
        assert sealed is not None

    # the registry now infers the SSN restricted; GET masks only what is sealed
    ssn_row(double).update(sensitivity="restricted", sensitivity_source="inferred")
    shown = (await client.get(f"/api/v1/submissions/{sid}", headers=me)).json()["answers"]
    assert shown[SSN_POINTER[1:]] == SSN
    assert shown["bankAccount"] != ACCOUNT

    assert await run(app, batch=1) == {
        **empty_counts(),
        "submissions_sealed": 1,
        "drafts_sealed": 1,
        "values_sealed": 2,
    }
    before = {}
    for table, row_id in (("submissions", sid), ("drafts", draft_id)):
        public, sealed, key_id = await stored(app, table, row_id)
        assert SSN not in public
        assert ACCOUNT not in public
        assert "Victor" in public  # what is not restricted stays readable
        assert sealed is not None
        assert SSN.encode() not in sealed
        before[table] = (public, sealed, key_id)

    shown = (await client.get(f"/api/v1/submissions/{sid}", headers=me)).json()["answers"]
    assert shown == {
        "firstName": "Victor",
        "veteranSocialSecurityNumber": "\u2022" * 4 + "4329",
        "bankAccount": "\u2022" * 4 + "9012",  # sealed before: still opens, still masked
    }
    got = (await client.get(f"/api/v1/drafts/{draft_id}", headers=me)).json()
    assert got["answers"] == answers()  # the resident's own draft, to finish the form
    async with app.state.database.sessions() as s:
        assert (await s.get(Draft, draft_id)).updated_at == draft_updated
        deliveries = {
            d.agency: d.id
            for d in (
                await s.execute(select(Delivery).where(Delivery.submission_id == sid))
            ).scalars()
        }
    # the agencies entitled to it still get it in full (their shares are sealed apart)
    for agency, share in (("DVA", answers()), ("DSS", {SSN_POINTER[1:]: SSN})):
        resp = await client.get(
            f"/api/v1/deliveries/{deliveries[agency]}?include=answers",
            headers=tokens.headers(role="agency", agency=agency),
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["answers"] == share
    feed = await client.get(
        "/api/v1/deliveries", headers=tokens.headers(role="agency", agency="DVA")
    )
    assert [i["answers"] for i in feed.json()["items"]] == [answers()]

    # again: nothing left to seal, every row as it was
    assert await run(app) == {**empty_counts(), "current": 2}
    for table, row_id in (("submissions", sid), ("drafts", draft_id)):
        assert await stored(app, table, row_id) == before[table]


async def test_rows_it_cannot_seal_are_counted_and_left(app: FastAPI) -> None:
    now = datetime.now(UTC)
    stray = AnswerSealer("s9:" + base64.b64encode(os.urandom(32)).decode())
    unreadable, unknown = str(uuid.uuid4()), str(uuid.uuid4())
    blob, kid = stray.seal({"/bankAccount": ACCOUNT}, context=f"draft:{unreadable}")
    async with app.state.database.sessions() as s, s.begin():
        s.add_all(
            [
                Draft(
                    id=unreadable,
                    owner="x",
                    form=FORM,
                    version=1,
                    answers=answers(),
                    sealed=blob,
                    key_id=kid,
                    created_at=now,
                    updated_at=now,
                ),
                Draft(
                    id=unknown,
                    owner="x",
                    form="no-such-form",
                    version=1,
                    answers=answers(),
                    created_at=now,
                    updated_at=now,
                ),
            ]
        )
    counts = await run(app)
    assert counts == {**empty_counts(), "skipped": 1, "unreadable": 1}
    for row_id in (unreadable, unknown):
        public, _, _ = await stored(app, "drafts", row_id)
        assert ACCOUNT in public  # left as it was (the bank account is restricted: in clear)


async def test_a_row_holding_nothing_restricted_is_current(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    resp = await client.post(
        "/api/v1/drafts",
        json={"form": FORM, "answers": {"firstName": "Ann"}},
        headers=tokens.headers("ann"),
    )
    assert resp.status_code == 201, resp.text
    assert await run(app) == {**empty_counts(), "current": 1}
