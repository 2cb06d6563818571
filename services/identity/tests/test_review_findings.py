"""The smaller findings of the security review of 2026-11-26: token and revocation errors
always RFC 6749 shaped, the userinfo endpoint (POST, claims by scope), a password short
before NFKC, the pointer of a weak new password, a blank full name, and a password change
to the current password. (The race of a refresh with the end of its sign-in is in
``test_revocation_race.py``.)"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from tellonce_identity.passwords.policy import MIN_LENGTH, problems

from .conftest import TOKEN_URL, bearer, fresh_address, new_resident, password_login

ME = "/api/v1/identity/me"
CHANGE = "/api/v1/identity/me/password"
RESIDENTS = "/api/v1/identity/residents"
REVOKE = "/api/v1/identity/revoke"


def assert_invalid_request(resp: httpx.Response) -> None:
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["error"] == "invalid_request", body
    assert body["error_description"]


# -- 2. RFC 6749 errors for requests the endpoints cannot read ----------------------------

UNREADABLE: dict[str, dict[str, Any]] = {
    "NUL in username": {
        "data": {
            "grant_type": "password",
            "client_id": "portal",
            "username": "a\x00b@example.org",
            "password": "x",
        }
    },
    "NUL in client_id": {
        "data": {"grant_type": "client_credentials", "client_id": "a\x00b", "client_secret": "x"}
    },
    "NUL in refresh_token": {
        "data": {"grant_type": "refresh_token", "client_id": "portal", "refresh_token": "a\x00"}
    },
    "password sent as a file part": {
        "files": {
            "grant_type": (None, "password"),
            "client_id": (None, "portal"),
            "username": (None, "x@example.org"),
            "password": ("p.txt", b"abc"),
        }
    },
    "multipart without boundary": {
        "content": b"grant_type=password",
        "headers": {"content-type": "multipart/form-data"},
    },
}


@pytest.mark.parametrize("case", UNREADABLE)
async def test_token_errors_always_carry_the_oauth_error(
    client: httpx.AsyncClient, case: str
) -> None:
    kw = dict(UNREADABLE[case])
    headers = {"X-Forwarded-For": fresh_address(), **kw.pop("headers", {})}
    assert_invalid_request(await client.post(TOKEN_URL, headers=headers, **kw))


@pytest.mark.parametrize(
    "kw",
    [
        {"data": {"client_id": "port\x00al", "token": "x"}},
        {"data": {"client_id": "portal", "token": "x\x00"}},
        {"files": {"client_id": (None, "portal"), "token": ("t.txt", b"x")}},
        {"content": b"token=x", "headers": {"content-type": "multipart/form-data"}},
    ],
)
async def test_revocation_errors_always_carry_the_oauth_error(
    client: httpx.AsyncClient, kw: dict[str, Any]
) -> None:
    assert_invalid_request(await client.post(REVOKE, **kw))


async def test_nul_in_basic_credentials_is_invalid_client(client: httpx.AsyncClient) -> None:
    basic = base64.b64encode(b"port%00al:secret").decode()
    resp = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


# -- 3. userinfo: POST, and claims by scope -----------------------------------------------


def claims(access_token: str) -> dict[str, Any]:
    payload = access_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


async def test_userinfo_answers_post_too(client: httpx.AsyncClient) -> None:
    auth = await bearer(client, "resident@demo.gov")
    got = await client.get(ME, headers=auth)
    posted = await client.post(ME, headers=auth)
    assert posted.status_code == 200, posted.text
    assert posted.json() == got.json()
    assert posted.json()["email"] == "resident@demo.gov"
    assert (await client.post(ME)).status_code == 401


@pytest.mark.parametrize(
    ("scope", "present"),
    [
        ("openid", set()),
        ("openid email", {"email"}),
        ("openid profile", {"full_name"}),
        ("openid profile email", {"email", "full_name"}),
        (None, {"email", "full_name"}),  # the default: what the portal asks for
    ],
)
async def test_userinfo_claims_follow_the_scope(
    client: httpx.AsyncClient, scope: str | None, present: set[str]
) -> None:
    extra = {"scope": scope} if scope is not None else {}
    login = await password_login(client, "resident@demo.gov", **extra)
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    for method in ("GET", "POST"):
        me = await client.request(method, ME, headers={"Authorization": f"Bearer {token}"})
        body = me.json()
        assert {"email", "full_name"} & set(body) == present
        assert body["role"] == "resident"
    assert ("email" in claims(token)) == ("email" in present)
    refreshed = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "client_id": "portal",
            "refresh_token": login.json()["refresh_token"],
        },
    )
    assert refreshed.json()["scope"] == login.json()["scope"]
    assert ("email" in claims(refreshed.json()["access_token"])) == ("email" in present)


async def test_discovery_lists_the_userinfo_claims(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/.well-known/openid-configuration")).json()
    assert {"openid", "profile", "email"} <= set(doc["scopes_supported"])
    assert {"email", "full_name"} <= set(doc["claims_supported"])


# -- 4. the length of a password before NFKC ----------------------------------------------


def test_a_password_short_before_normalizing_is_refused() -> None:
    assert problems("\ufdfa")  # one code point, 18 characters once NFKC-normalized
    assert problems("\ufdfa" * (MIN_LENGTH - 1))
    assert not problems("\ufdfa" + "lantern orbit meadow"[: MIN_LENGTH - 1])


async def test_sign_up_with_one_character_password_is_refused(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        RESIDENTS,
        json={
            "email": f"r-{uuid.uuid4().hex[:10]}@example.org",
            "password": "\ufdfa",
            "full_name": "Test Person",
        },
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["pointer"] == "/password"


# -- 5 and 7. the new password of a password change ---------------------------------------


async def test_weak_new_password_points_at_new_password(client: httpx.AsyncClient) -> None:
    email, password = await new_resident(client)
    auth = await bearer(client, email, password)
    resp = await client.post(
        CHANGE, json={"current_password": password, "new_password": "short"}, headers=auth
    )
    assert resp.status_code == 422
    assert [e["pointer"] for e in resp.json()["errors"]] == ["/new_password"]


@pytest.mark.parametrize("same", ["as typed", "NFKC-equal"])
async def test_the_current_password_is_not_a_new_one(client: httpx.AsyncClient, same: str) -> None:
    email, password = await new_resident(client)
    login = (await password_login(client, email, password)).json()
    auth = {"Authorization": f"Bearer {login['access_token']}"}
    new = password if same == "as typed" else password.replace("a", "\uff41")  # fullwidth a
    assert new != password or same == "as typed"
    resp = await client.post(
        CHANGE, json={"current_password": password, "new_password": new}, headers=auth
    )
    assert resp.status_code == 422, resp.text
    assert [e["pointer"] for e in resp.json()["errors"]] == ["/new_password"]
    still = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "client_id": "portal",
            "refresh_token": login["refresh_token"],
        },
    )
    assert still.status_code == 200, "a refused change signs nobody out"


# -- 6. a blank full name -----------------------------------------------------------------


@pytest.mark.parametrize("blank", ["   ", "\t\n", ""])
async def test_blank_full_name_is_refused(client: httpx.AsyncClient, blank: str) -> None:
    resp = await client.post(
        RESIDENTS,
        json={
            "email": f"r-{uuid.uuid4().hex[:10]}@example.org",
            "password": "lantern orbit quiet meadow",
            "full_name": blank,
        },
    )
    assert resp.status_code == 422
    assert [e["pointer"] for e in resp.json()["errors"]] == ["/full_name"]
    admin = await bearer(client, "admin@demo.gov")
    staff = await client.post(
        "/api/v1/identity/users",
        json={
            "email": f"s-{uuid.uuid4().hex[:10]}@example.org",
            "password": "lantern orbit quiet meadow",
            "full_name": blank,
            "role": "auditor",
        },
        headers=admin,
    )
    assert staff.status_code == 422
    assert [e["pointer"] for e in staff.json()["errors"]] == ["/full_name"]


async def test_full_name_is_stored_stripped(client: httpx.AsyncClient) -> None:
    email, password = f"r-{uuid.uuid4().hex[:10]}@example.org", "lantern orbit quiet meadow"
    resp = await client.post(
        RESIDENTS, json={"email": email, "password": password, "full_name": "  Ann Lee  "}
    )
    assert resp.status_code == 201
    me = await client.get(ME, headers=await bearer(client, email, password))
    assert me.json()["full_name"] == "Ann Lee"
