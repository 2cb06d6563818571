"""``make run`` uses SQLite: the resident flow works there too (PostgreSQL is production)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from tellonce_shared.migrations import upgrade
from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.main import create_app

from .registry_double import RegistryDouble

SERVICE_DIR = Path(__file__).resolve().parents[1]


async def test_resident_flow_on_sqlite(
    tmp_path: Path, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'submissions.db'}"
    upgrade(SERVICE_DIR, url)
    app = create_app(
        Settings(database_url=url, retention_interval_seconds=0),
        verifier=static_verifier(tokens),
        registry_transport=httpx.ASGITransport(app=RegistryDouble().app()),
    )
    try:
        async with asgi_client(app) as client:
            me = tokens.headers("sqlite-resident")
            r = await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)
            assert r.status_code == 200
            key = uuid.uuid4().hex
            payload = {"form": "10-10cg", "version": 1, "answers": cg_answers}
            first = await client.post(
                "/api/v1/submissions", json=payload, headers={**me, "Idempotency-Key": key}
            )
            assert first.status_code == 201, first.text
            again = await client.post(
                "/api/v1/submissions", json=payload, headers={**me, "Idempotency-Key": key}
            )
            assert again.json() == first.json()
            ref = first.json()["reference"]
            shown = await client.get(f"/api/v1/submissions/{ref.lower()}", headers=me)
            assert shown.status_code == 200
            assert shown.json()["answers"]["veteran"]["ssnOrTin"].endswith("7893")
            dva = tokens.headers("s", role="agency", agency="DVA")  # the 10-10cg's owner decides
            # a status post with a key, retried (upper-case id): one entry, the first replayed
            dva_key = {**dva, "Idempotency-Key": uuid.uuid4().hex}
            decided = []
            for path_id in (first.json()["id"], first.json()["id"].upper()):
                r = await client.post(
                    f"/api/v1/submissions/{path_id}/status",
                    json={"status": "approved", "message": "Done"},
                    headers=dva_key,
                )
                assert r.status_code == 201, r.text
                decided.append(r)
            assert decided[1].json() == decided[0].json()
            assert decided[1].headers["idempotent-replayed"] == "true"
            other = await client.post(
                f"/api/v1/submissions/{first.json()['id']}/status",
                json={"status": "denied"},
                headers=dva_key,
            )
            assert other.status_code == 422
            shown = await client.get(f"/api/v1/submissions/{ref}", headers=me)
            assert [e["status"] for e in shown.json()["timeline"]] == ["submitted", "approved"]
            draft = await client.post(
                "/api/v1/drafts", json={"form": "snap", "prefill": True}, headers=me
            )
            assert draft.json()["answers"]["applicant"]["birthDate"] == "1990-07-03"
            listed = await client.get("/api/v1/submissions", headers=me)
            assert listed.json()["items"][0]["status"] == "approved"
    finally:
        await app.state.registry.aclose()
        await app.state.database.dispose()
