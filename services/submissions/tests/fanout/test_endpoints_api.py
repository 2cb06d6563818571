"""The webhook endpoint routes: registration (SSRF guard), secrets shown once and stored
encrypted, rotation, deletion, and who may do what."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select

from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.models import WebhookEndpoint
from tellonce_submissions.main import create_app

from .conftest import agency_code, make_settings

PROBLEM = "application/problem+json"


async def test_register_list_rotate_delete(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    agency = agency_code()
    auth = tokens.headers(role="agency", agency=agency)
    created = await client.post(
        "/api/v1/deliveries/endpoints", json={"url": "http://127.0.0.1:9/hook"}, headers=auth
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert body["url"] == "http://127.0.0.1:9/hook"
    assert body["status"] == "active"

    # Stored encrypted: the column never holds the secret or its key material.
    async with database.sessions() as session:
        row = (
            await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id == body["id"]))
        ).one()
    assert secret not in row.secret
    assert secret.removeprefix("whsec_") not in row.secret

    # A second active endpoint for the same agency is a conflict.
    again = await client.post(
        "/api/v1/deliveries/endpoints", json={"url": "http://127.0.0.1:10/hook"}, headers=auth
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith(PROBLEM)

    listed = await client.get("/api/v1/deliveries/endpoints", headers=auth)
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["items"]] == [body["id"]]
    assert "secret" not in listed.json()["items"][0]

    rotated = await client.post(
        f"/api/v1/deliveries/endpoints/{body['id']}/rotate-secret", headers=auth
    )
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != secret
    assert rotated.json()["previous_secret_expires_at"] is not None

    # Another agency sees none of it and cannot touch it.
    other = tokens.headers(role="agency", agency=agency_code())
    assert (await client.get("/api/v1/deliveries/endpoints", headers=other)).json()["items"] == []
    stranger = await client.delete(f"/api/v1/deliveries/endpoints/{body['id']}", headers=other)
    assert stranger.status_code == 404

    # Admins see every agency's endpoints.
    admin = tokens.headers(role="admin")
    everyone = await client.get(f"/api/v1/deliveries/endpoints?agency={agency}", headers=admin)
    assert [e["id"] for e in everyone.json()["items"]] == [body["id"]]

    deleted = await client.delete(f"/api/v1/deliveries/endpoints/{body['id']}", headers=auth)
    assert deleted.status_code == 204
    assert (await client.get("/api/v1/deliveries/endpoints", headers=auth)).json()["items"] == []


async def test_bad_input_gets_clear_problems(client: Any, tokens: TokenFactory) -> None:
    auth = tokens.headers(role="agency", agency=agency_code())
    url = "/api/v1/deliveries/endpoints"
    extra = await client.post(url, json={"url": "http://127.0.0.1/x", "x": 1}, headers=auth)
    assert extra.status_code == 422
    assert extra.headers["content-type"].startswith(PROBLEM)
    missing = await client.post(url, json={}, headers=auth)
    assert missing.status_code == 422
    malformed = await client.post(
        url, content=b"{not json", headers={**auth, "content-type": "application/json"}
    )
    assert malformed.status_code in (400, 422)
    ftp = await client.post(url, json={"url": "ftp://127.0.0.1/x"}, headers=auth)
    assert ftp.status_code == 422
    assert ftp.json()["errors"][0]["pointer"] == "/url"
    nohost = await client.post(url, json={"url": "http:///x"}, headers=auth)
    assert nohost.status_code == 422
    resident = await client.post(
        url, json={"url": "http://127.0.0.1/x"}, headers=tokens.headers(role="resident")
    )
    assert resident.status_code == 403
    anonymous = await client.post(url, json={"url": "http://127.0.0.1/x"})
    assert anonymous.status_code == 401
    no_claim = await client.post(
        url, json={"url": "http://127.0.0.1/x"}, headers=tokens.headers(role="agency")
    )
    assert no_claim.status_code == 403


async def test_production_mode_refuses_loopback_private_and_plain_http(
    database_url: str, tokens: TokenFactory
) -> None:
    keys = "prod1:" + base64.b64encode(b"p" * 32).decode()
    settings = make_settings(
        database_url,
        mode="production",
        answer_keys=keys,
        webhook_secret_keys=keys,
    )
    app = create_app(settings, verifier=static_verifier(tokens))
    auth = tokens.headers(role="agency", agency=agency_code())
    try:
        async with asgi_client(app) as client:
            for url in (
                "http://8.8.8.8/hook",
                "https://127.0.0.1/hook",
                "https://10.0.0.7/hook",
                "https://[::1]/hook",
                "https://localhost:8443/hook",
            ):
                answer = await client.post(
                    "/api/v1/deliveries/endpoints", json={"url": url}, headers=auth
                )
                assert answer.status_code == 422, url
                assert answer.headers["content-type"].startswith(PROBLEM)
    finally:
        await app.state.database.dispose()
