"""From the resident's POST /api/v1/submissions (issue 12's route, with the registry
double of ../conftest.py) to signed webhooks at two agencies and the owner's pull feed:
each agency gets exactly its agreed fields."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from standardwebhooks import Webhook

from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.db import Database
from tellonce_submissions.main import create_app
from tellonce_submissions.worker import DeliveryWorker

from .conftest import Receiver, make_settings


async def test_a_submission_reaches_each_agency_with_only_its_fields(
    fresh_database_url: str,
    tokens: TokenFactory,
    registry: Any,
    cg_answers: dict[str, Any],
    receiver_factory: Callable[[], Awaitable[Receiver]],
) -> None:
    settings = make_settings(
        fresh_database_url,
        retention_interval_seconds=0,
        version_status_cache_seconds=0,
        agreements_cache_seconds=0,
    )
    app = create_app(
        settings,
        verifier=static_verifier(tokens),
        registry_transport=httpx.ASGITransport(app=registry.app()),
    )
    database = Database(fresh_database_url)
    worker = DeliveryWorker(database, settings, rng=random.Random(1), name="e2e")
    receivers = {"DSS": await receiver_factory(), "DOL": await receiver_factory()}
    try:
        async with asgi_client(app) as client:
            secrets = {}
            for agency, receiver in receivers.items():
                created = await client.post(
                    "/api/v1/deliveries/endpoints",
                    json={"url": receiver.url},
                    headers=tokens.headers(role="agency", agency=agency),
                )
                assert created.status_code == 201, created.text
                secrets[agency] = created.json()["secret"]
            headers = tokens.headers("resident-e2e")
            headers["Idempotency-Key"] = uuid.uuid4().hex
            submitted = await client.post(
                "/api/v1/submissions",
                json={"form": "10-10cg", "version": 1, "answers": cg_answers},
                headers=headers,
            )
            assert submitted.status_code == 201, submitted.text
            doc = submitted.json()
            assert await worker.run_once() == 3
            dss = receivers["DSS"].received
            dol = receivers["DOL"].received
            assert len(dss) == 1
            assert len(dol) == 1
            dss_data = Webhook(secrets["DSS"]).verify(dss[0].body, dss[0].headers)["data"]
            dol_data = Webhook(secrets["DOL"]).verify(dol[0].body, dol[0].headers)["data"]
            assert dss_data["reference"] == doc["reference"]
            assert dss_data["submission_id"] == doc["id"]
            assert dss_data["answers"] == {
                "veteran": {
                    "dateOfBirth": cg_answers["veteran"]["dateOfBirth"],
                    "address": cg_answers["veteran"]["address"],
                }
            }
            assert dol_data["answers"] == {
                "primaryCaregiver": {"fullName": cg_answers["primaryCaregiver"]["fullName"]}
            }
            # The owning agency has no endpoint: it pulls the whole form from its feed.
            feed = await client.get(
                "/api/v1/deliveries", headers=tokens.headers(role="agency", agency="DVA")
            )
            [item] = feed.json()["items"]
            assert item["answers"] == cg_answers
            assert item["reference"] == doc["reference"]
    finally:
        await worker.aclose()
        await database.dispose()
        app.state.receipts.close()
        await app.state.registry.aclose()
        await app.state.database.dispose()
