"""On SQLite (``make run``) the measures answer 409 needs-postgresql, and referrals work."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from tellonce_shared.migrations import upgrade
from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.main import create_app

from ..registry_double import RegistryDouble
from .conftest import SERVICE_DIR, Catalog

RULE = {
    "id": "snap-big",
    "from_form": "snap",
    "to_form": "10-10cg",
    "condition": {"pointer": "/householdSize", "op": "gte", "value": 3},
    "reason": {"en": "Caregivers", "es": "Cuidadores"},
}


async def test_measures_need_postgresql_and_referrals_work_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'submissions.db'}"
    upgrade(Path(SERVICE_DIR), url)
    tokens = TokenFactory()
    catalog = Catalog(RegistryDouble(), rules=[RULE])
    app = create_app(
        Settings(database_url=url, retention_interval_seconds=0, catalog_cache_seconds=0),
        verifier=static_verifier(tokens),
        registry_transport=httpx.ASGITransport(app=catalog.app()),
    )
    try:
        async with asgi_client(app) as client:
            opm = tokens.headers("opm", role="auditor")
            r = await client.get("/api/v1/performance", headers=opm)
            assert r.status_code == 409
            assert r.json()["type"].endswith("needs-postgresql")
            sub = "res-" + uuid.uuid4().hex[:6]
            answers = {"applicant": {"birthDate": "1990-01-01"}, "householdSize": 3}
            r = await client.post(
                "/api/v1/submissions",
                json={"form": "snap", "version": 1, "answers": answers},
                headers={**tokens.headers(sub), "Idempotency-Key": uuid.uuid4().hex},
            )
            assert r.status_code == 201, r.text
            for _ in range(2):  # evaluated once, listed twice
                r = await client.get("/api/v1/referrals", headers=tokens.headers(sub))
                assert r.status_code == 200, r.text
                assert [i["to_form"] for i in r.json()["items"]] == ["10-10cg"]
    finally:
        app.state.receipts.close()
        await app.state.registry.aclose()
        await app.state.catalog.aclose()
        await app.state.database.dispose()
