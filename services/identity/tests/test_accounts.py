"""Resident sign-up (NIST SP 800-63B rules) and admin-created accounts."""

from __future__ import annotations

import uuid

import httpx
import pytest

from .conftest import bearer, password_login

RESIDENTS = "/api/v1/identity/residents"
USERS = "/api/v1/identity/users"
GOOD = "copper kettle under the lemon tree"


def email() -> str:
    return f"a-{uuid.uuid4().hex[:10]}@example.org"


async def test_sign_up_then_sign_in(client: httpx.AsyncClient) -> None:
    address = email()
    resp = await client.post(
        RESIDENTS, json={"email": address.upper(), "password": GOOD, "full_name": "Mia Ng"}
    )
    assert resp.status_code == 201
    body = resp.json()
    assert body["email"] == address
    assert body["id"]
    login = await password_login(client, address, GOOD)
    assert login.status_code == 200
    me = await client.get(
        "/api/v1/identity/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json() == {
        "sub": body["id"],
        "email": address,
        "full_name": "Mia Ng",
        "role": "resident",
    }


async def test_sign_up_taken_email_is_409(client: httpx.AsyncClient) -> None:
    address = email()
    first = await client.post(
        RESIDENTS, json={"email": address, "password": GOOD, "full_name": "A"}
    )
    assert first.status_code == 201
    again = await client.post(
        RESIDENTS, json={"email": address.title(), "password": GOOD + " x", "full_name": "B"}
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "password",
    [
        "short-but-ok",  # 12 characters
        "passwordpassword",  # blocklisted
        "password12345678!",  # a common word with digits around it
        "aaaaaaaaaaaaaaaaaaaa",  # repetitive
        "abcdefghijklmnopq",  # sequential
        "123456789012345",
        "correct horse battery staple",
    ],
)
async def test_weak_passwords_are_422_naming_the_field(
    client: httpx.AsyncClient, password: str
) -> None:
    address = email()
    resp = await client.post(
        RESIDENTS, json={"email": address, "password": password, "full_name": "Weak"}
    )
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert problem["errors"][0]["pointer"] == "/password"
    assert problem["errors"][0]["message"]
    # Nothing was half-written: the address is still free.
    ok = await client.post(RESIDENTS, json={"email": address, "password": GOOD, "full_name": "W"})
    assert ok.status_code == 201


async def test_password_built_from_the_email_is_refused(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        RESIDENTS,
        json={
            "email": "maria.gonzalez@example.org",
            "password": "Maria.Gonzalez2024",
            "full_name": "M",
        },
    )
    assert resp.status_code == 422


async def test_no_composition_rules(client: httpx.AsyncClient) -> None:
    """All lowercase, no digit, no symbol: fine when it is long and not common."""
    resp = await client.post(
        RESIDENTS,
        json={"email": email(), "password": "purple giraffes dance quietly", "full_name": "N"},
    )
    assert resp.status_code == 201


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"email": "not-an-email", "password": GOOD, "full_name": "X"}, "/email"),
        ({"email": "x@example.org", "password": GOOD}, "/full_name"),
        ({"email": "x@example.org", "password": GOOD, "full_name": "X", "role": "admin"}, "/role"),
    ],
)
async def test_sign_up_bad_input_is_422(
    client: httpx.AsyncClient, body: dict[str, str], pointer: str
) -> None:
    resp = await client.post(RESIDENTS, json=body)
    assert resp.status_code == 422
    assert pointer in [e["pointer"] for e in resp.json()["errors"]]


async def test_sign_up_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        RESIDENTS, content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/problem+json"


async def test_admin_creates_staff_and_auditor(client: httpx.AsyncClient) -> None:
    admin = await bearer(client, "admin@demo.gov")
    staff = email()
    resp = await client.post(
        USERS,
        json={
            "email": staff,
            "password": GOOD,
            "full_name": "Sam",
            "role": "agency",
            "agency": "dmv",
        },
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["agency"] == "DMV"
    login = await password_login(client, staff, GOOD)
    assert login.status_code == 200
    me = await client.get(
        "/api/v1/identity/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json()["role"] == "agency"
    assert me.json()["agency"] == "DMV"

    auditor = await client.post(
        USERS,
        json={"email": email(), "password": GOOD, "full_name": "Aud", "role": "auditor"},
        headers=admin,
    )
    assert auditor.status_code == 201


async def test_agency_staff_need_an_agency(client: httpx.AsyncClient) -> None:
    admin = await bearer(client, "admin@demo.gov")
    resp = await client.post(
        USERS,
        json={"email": email(), "password": GOOD, "full_name": "S", "role": "agency"},
        headers=admin,
    )
    assert resp.status_code == 422


async def test_only_admins_create_users(client: httpx.AsyncClient) -> None:
    body = {"email": email(), "password": GOOD, "full_name": "S", "role": "admin"}
    anonymous = await client.post(USERS, json=body)
    assert anonymous.status_code == 401
    for who in ("resident@demo.gov", "auditor@demo.gov", "staff@dss.demo.gov"):
        resp = await client.post(USERS, json=body, headers=await bearer(client, who))
        assert resp.status_code == 403, who
    assert (await password_login(client, body["email"], GOOD)).status_code == 400
