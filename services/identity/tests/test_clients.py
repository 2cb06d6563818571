"""Agency clients: created by an admin, secret shown once, rotated and revoked."""

from __future__ import annotations

import httpx

from .conftest import TOKEN_URL, bearer

CLIENTS = "/api/v1/identity/clients"


async def cc(client: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )


async def test_client_lifecycle(client: httpx.AsyncClient) -> None:
    admin = await bearer(client, "admin@demo.gov")
    created = await client.post(
        CLIENTS, json={"agency": "DSS", "name": "SNAP intake"}, headers=admin
    )
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    creds = created.json()
    assert creds["client_id"].startswith("dss-")
    assert creds["client_secret"]
    assert (await cc(client, creds["client_id"], creds["client_secret"])).status_code == 200

    listing = await client.get(CLIENTS, params={"agency": "DSS"}, headers=admin)
    assert listing.status_code == 200
    assert creds["client_secret"] not in listing.text
    mine = [c for c in listing.json()["items"] if c["client_id"] == creds["client_id"]]
    assert len(mine) == 1
    assert mine[0]["agency"] == "DSS"
    assert mine[0]["revoked_at"] is None

    rotated = await client.post(f"{CLIENTS}/{creds['client_id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    assert new_secret != creds["client_secret"]
    assert (await cc(client, creds["client_id"], creds["client_secret"])).status_code == 401
    assert (await cc(client, creds["client_id"], new_secret)).status_code == 200

    revoked = await client.delete(f"{CLIENTS}/{creds['client_id']}", headers=admin)
    assert revoked.status_code == 204
    assert (await cc(client, creds["client_id"], new_secret)).status_code == 401
    again = await client.post(f"{CLIENTS}/{creds['client_id']}/rotate-secret", headers=admin)
    assert again.status_code == 409


async def test_clients_need_an_admin(client: httpx.AsyncClient) -> None:
    body = {"agency": "DSS", "name": "x"}
    assert (await client.post(CLIENTS, json=body)).status_code == 401
    staff = await bearer(client, "staff@dss.demo.gov")
    assert (await client.post(CLIENTS, json=body, headers=staff)).status_code == 403
    assert (await client.get(CLIENTS, headers=staff)).status_code == 403


async def test_client_bad_input(client: httpx.AsyncClient) -> None:
    admin = await bearer(client, "admin@demo.gov")
    bad = await client.post(CLIENTS, json={"agency": "not an agency!", "name": "x"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/agency"
    extra = await client.post(
        CLIENTS, json={"agency": "DSS", "name": "x", "secret": "mine"}, headers=admin
    )
    assert extra.status_code == 422
    missing = await client.post(f"{CLIENTS}/nope-123/rotate-secret", headers=admin)
    assert missing.status_code == 404
    portal = await client.delete(f"{CLIENTS}/portal", headers=admin)
    assert portal.status_code == 409
