"""Admins list, disable and enable accounts; users change their password. Both end every
sign-in of the user (a password change the caller's own too)."""

from __future__ import annotations

import httpx

from .conftest import TOKEN_URL, bearer, new_resident, password_login

USERS = "/api/v1/identity/users"


async def test_list_users_with_filters_and_pages(client: httpx.AsyncClient) -> None:
    admin = await bearer(client, "admin@demo.gov")
    staff = await client.get(USERS, params={"role": "agency", "agency": "DSS"}, headers=admin)
    assert staff.status_code == 200
    emails = [u["email"] for u in staff.json()["items"]]
    assert "staff@dss.demo.gov" in emails
    assert all(u["agency"] == "DSS" and u["role"] == "agency" for u in staff.json()["items"])
    assert "password_hash" not in staff.text

    first = await client.get(USERS, params={"limit": 2}, headers=admin)
    page = first.json()
    assert len(page["items"]) == 2
    second = await client.get(
        USERS, params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin
    )
    assert second.json()["items"][0]["email"] > page["items"][-1]["email"]
    resident = await bearer(client, "resident@demo.gov")
    assert (await client.get(USERS, headers=resident)).status_code == 403


async def test_disable_signs_out_and_blocks_then_enable(client: httpx.AsyncClient) -> None:
    admin = await bearer(client, "admin@demo.gov")
    email, password = await new_resident(client)
    tokens = (await password_login(client, email, password)).json()
    me = await client.get(
        "/api/v1/identity/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    user_id = me.json()["sub"]

    disabled = await client.post(f"{USERS}/{user_id}/disable", headers=admin)
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True
    assert (await password_login(client, email, password)).status_code == 400
    refresh = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "client_id": "portal",
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert refresh.status_code == 400

    enabled = await client.post(f"{USERS}/{user_id}/enable", headers=admin)
    assert enabled.json()["disabled"] is False
    assert (await password_login(client, email, password)).status_code == 200

    assert (await client.post(f"{USERS}/nope/disable", headers=admin)).status_code == 404
    admin_id = (await client.get("/api/v1/identity/me", headers=admin)).json()["sub"]
    assert (await client.post(f"{USERS}/{admin_id}/disable", headers=admin)).status_code == 409


async def test_change_password(client: httpx.AsyncClient) -> None:
    email, password = await new_resident(client)
    tokens = (await password_login(client, email, password)).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    url = "/api/v1/identity/me/password"
    new = "seventeen quiet harbor lamps"

    wrong = await client.post(
        url, json={"current_password": "not it at all", "new_password": new}, headers=auth
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["pointer"] == "/current_password"
    weak = await client.post(
        url, json={"current_password": password, "new_password": "password123"}, headers=auth
    )
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["pointer"] == "/new_password"  # the member it names

    ok = await client.post(
        url, json={"current_password": password, "new_password": new}, headers=auth
    )
    assert ok.status_code == 204
    assert (await password_login(client, email, password)).status_code == 400
    assert (await password_login(client, email, new)).status_code == 200
    old_refresh = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "client_id": "portal",
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert old_refresh.status_code == 400


async def test_agency_systems_have_no_password(client: httpx.AsyncClient) -> None:
    admin = await bearer(client, "admin@demo.gov")
    creds = (
        await client.post(
            "/api/v1/identity/clients", json={"agency": "DOL", "name": "x"}, headers=admin
        )
    ).json()
    token = (
        await client.post(
            TOKEN_URL,
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
        )
    ).json()["access_token"]
    resp = await client.post(
        "/api/v1/identity/me/password",
        json={"current_password": "x", "new_password": "y"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 403
