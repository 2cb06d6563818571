"""The token endpoint (RFC 6749): password, client_credentials, refresh_token rotation with
family revocation on reuse, RFC 7009 revocation, and the access token's RFC 9068 shape,
verified with the TokenVerifier every service uses."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jws

from tellonce_identity.config import Settings
from tellonce_shared.auth import TokenVerifier
from tellonce_shared.problems import Unauthorized

from .conftest import ISSUER, TOKEN_URL, bearer, new_resident, password_login

ME = "/api/v1/identity/me"


def shared_verifier(client: httpx.AsyncClient) -> TokenVerifier:
    """Exactly what another service builds: TokenVerifier on identity's JWKS URL."""
    return TokenVerifier(
        jwks_url="https://testserver/.well-known/jwks.json",
        issuer=ISSUER,
        audience="tellonce",
        client=client,
    )


async def agency_client(client: httpx.AsyncClient, agency: str = "DSS") -> tuple[str, str]:
    admin = await bearer(client, "admin@demo.gov")
    resp = await client.post(
        "/api/v1/identity/clients", json={"agency": agency, "name": "Case system"}, headers=admin
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    return body["client_id"], body["client_secret"]


async def test_password_grant_issues_rfc9068_token_that_shared_verifier_accepts(
    client: httpx.AsyncClient,
) -> None:
    resp = await password_login(client, "staff@dss.demo.gov")
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "openid profile email"
    assert body["refresh_token"]
    header = jws.extract_compact(body["access_token"].encode()).headers()
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"]

    principal = await shared_verifier(client).verify(body["access_token"])
    claims = principal.claims
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "tellonce"
    assert principal.role == "agency"
    assert principal.agency == "DSS"
    assert principal.email == "staff@dss.demo.gov"
    assert claims["client_id"] == "portal"
    assert 880 <= claims["exp"] - int(time.time()) <= 900
    assert claims["exp"] - claims["iat"] == 900
    assert len(claims["jti"]) >= 16
    assert set(principal.scope) == {"openid", "profile", "email"}


async def test_me_for_each_demo_role(client: httpx.AsyncClient) -> None:
    expected = {
        "admin@demo.gov": ("admin", None),
        "auditor@demo.gov": ("auditor", "OPM"),
        "staff@dol.demo.gov": ("agency", "DOL"),
        "resident@demo.gov": ("resident", None),
    }
    for email, (role, agency) in expected.items():
        resp = await client.get(ME, headers=await bearer(client, email))
        assert resp.status_code == 200, resp.text
        me = resp.json()
        assert me["email"] == email
        assert me["role"] == role
        assert me.get("agency") == agency
        assert me["full_name"]


async def test_me_without_token_is_401_problem(client: httpx.AsyncClient) -> None:
    resp = await client.get(ME)
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"


async def test_wrong_password_and_unknown_account_answer_the_same(
    client: httpx.AsyncClient,
) -> None:
    email, _ = await new_resident(client)
    wrong = await password_login(client, email, "not the password at all")
    unknown = await password_login(client, "nobody-here@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.headers["content-type"] == "application/json"
    for resp in (wrong, unknown):
        body = resp.json()
        body.pop("instance")
        assert body["error"] == "invalid_grant"
    assert wrong.json() == unknown.json()


async def test_wrong_password_and_unknown_account_take_similar_time(
    client: httpx.AsyncClient,
) -> None:
    email, _ = await new_resident(client)

    async def median(username: str) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            resp = await password_login(client, username, "definitely wrong password")
            times.append(time.perf_counter() - started)
            assert resp.status_code == 400
        return sorted(times)[2]

    known = await median(email)
    unknown = await median("ghost-account@example.org")
    # Without the dummy hash an unknown account answers ~30x faster; allow noise on 2 cores.
    assert 1 / 3 < known / unknown < 3, (known, unknown)


async def test_client_credentials_in_body_and_basic(client: httpx.AsyncClient) -> None:
    client_id, secret = await agency_client(client, "DOL")
    body_resp = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert body_resp.status_code == 200, body_resp.text
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    basic_resp = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert basic_resp.status_code == 200, basic_resp.text
    for resp in (body_resp, basic_resp):
        body = resp.json()
        assert "refresh_token" not in body
        principal = await shared_verifier(client).verify(body["access_token"])
        assert principal.sub == client_id
        assert principal.role == "agency"
        assert principal.agency == "DOL"
        assert principal.email is None
    me = await client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {
        "sub": client_id,
        "full_name": "Case system",
        "role": "agency",
        "agency": "DOL",
    }


async def test_client_credentials_wrong_secret_is_invalid_client_401(
    client: httpx.AsyncClient,
) -> None:
    client_id, secret = await agency_client(client)
    for data in (
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret + "x"},
        {"grant_type": "client_credentials", "client_id": client_id},
        {"grant_type": "client_credentials", "client_id": "no-such-client", "client_secret": "x"},
    ):
        resp = await client.post(TOKEN_URL, data=data)
        assert resp.status_code == 401, data
        assert resp.json()["error"] == "invalid_client"
        assert resp.headers["www-authenticate"].startswith("Basic")


async def test_grant_not_allowed_for_client(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        TOKEN_URL, data={"grant_type": "client_credentials", "client_id": "portal"}
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "unauthorized_client"
    client_id, secret = await agency_client(client)
    resp = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": "resident@demo.gov",
            "password": "tell-once-demo-password",
            "client_id": client_id,
            "client_secret": secret,
        },
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        (
            {"grant_type": "authorization_code", "client_id": "portal"},
            400,
            "unsupported_grant_type",
        ),
        ({"grant_type": "password", "client_id": "portal"}, 400, "invalid_request"),
        ({"grant_type": "password", "username": "a@b.org", "password": "x"}, 401, "invalid_client"),
        ({"grant_type": "refresh_token", "client_id": "portal"}, 400, "invalid_request"),
        (
            {"grant_type": "refresh_token", "client_id": "portal", "refresh_token": "nope"},
            400,
            "invalid_grant",
        ),
        (
            {
                "grant_type": "password",
                "client_id": "portal",
                "username": "resident@demo.gov",
                "password": "tell-once-demo-password",
                "scope": "openid admin",
            },
            400,
            "invalid_scope",
        ),
    ],
)
async def test_token_errors_follow_rfc6749(
    client: httpx.AsyncClient, data: dict[str, str], status: int, error: str
) -> None:
    resp = await client.post(TOKEN_URL, data=data)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == error
    assert resp.json()["error_description"]


async def test_json_body_is_rejected_cleanly(client: httpx.AsyncClient) -> None:
    resp = await client.post(TOKEN_URL, json={"grant_type": "password"})
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"


async def test_refresh_rotates_and_reuse_revokes_the_family(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    from sqlalchemy import update

    from tellonce_identity.models import RefreshToken

    email, password = await new_resident(client)
    first = (await password_login(client, email, password)).json()
    refresh = {"grant_type": "refresh_token", "client_id": "portal"}

    second = await client.post(TOKEN_URL, data={**refresh, "refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert (await shared_verifier(client).verify(rotated["access_token"])).email == email

    # Past the reuse interval (the rotation moved back in time rather than waiting).
    rotated_at = datetime.now(UTC) - timedelta(seconds=settings.refresh_reuse_seconds + 1)
    async with app.state.database.sessions() as session:
        await session.execute(
            update(RefreshToken)
            .values(used_at=rotated_at)
            .where(
                RefreshToken.token_hash
                == hashlib.sha256(first["refresh_token"].encode()).hexdigest()
            )
        )
        await session.commit()

    # The first token, used a second time: refused, and the whole sign-in is revoked.
    reuse = await client.post(TOKEN_URL, data={**refresh, "refresh_token": first["refresh_token"]})
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    assert "already used" in reuse.json()["error_description"]
    after = await client.post(
        TOKEN_URL, data={**refresh, "refresh_token": rotated["refresh_token"]}
    )
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"

    # A new sign-in is unaffected.
    fresh = (await password_login(client, email, password)).json()
    ok = await client.post(TOKEN_URL, data={**refresh, "refresh_token": fresh["refresh_token"]})
    assert ok.status_code == 200


async def test_refresh_token_is_bound_to_its_client(client: httpx.AsyncClient) -> None:
    email, password = await new_resident(client)
    first = (await password_login(client, email, password)).json()
    client_id, secret = await agency_client(client)
    resp = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": client_id,
            "client_secret": secret,
        },
    )
    assert resp.status_code == 400
    assert resp.json()["error"] in ("unauthorized_client", "invalid_grant")


async def test_revoke_refresh_token_rfc7009(client: httpx.AsyncClient) -> None:
    email, password = await new_resident(client)
    tokens = (await password_login(client, email, password)).json()
    resp = await client.post(
        "/api/v1/identity/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": "portal",
        },
    )
    assert resp.status_code == 200
    again = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "client_id": "portal",
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    # Unknown tokens answer 200 too (RFC 7009 2.2); access tokens are not revocable.
    unknown = await client.post(
        "/api/v1/identity/revoke", data={"token": "zzz", "client_id": "portal"}
    )
    assert unknown.status_code == 200
    access = await client.post(
        "/api/v1/identity/revoke", data={"token": tokens["access_token"], "client_id": "portal"}
    )
    assert access.status_code == 400
    assert access.json()["error"] == "unsupported_token_type"
    anonymous = await client.post("/api/v1/identity/revoke", data={"token": "zzz"})
    assert anonymous.status_code == 401


async def test_rehash_on_login_when_parameters_change(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    from argon2 import PasswordHasher

    from tellonce_identity.accounts import repository

    email, password = await new_resident(client)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)
    async with app.state.database.sessions() as session:
        user = await repository.by_email(session, email)
        assert user is not None
        user.password_hash = weak
        await session.commit()
    assert (await password_login(client, email, password)).status_code == 200
    async with app.state.database.sessions() as session:
        user = await repository.by_email(session, email)
        assert user is not None
        assert user.password_hash != weak
        assert f"m={settings.argon2_memory_kib},t={settings.argon2_time_cost}" in user.password_hash
    assert (await password_login(client, email, password)).status_code == 200


async def test_verifier_rejects_garbage(client: httpx.AsyncClient) -> None:
    with pytest.raises(Unauthorized):
        await shared_verifier(client).verify("not-a-token")


async def test_client_authentication_edge_cases(client: httpx.AsyncClient) -> None:
    client_id, secret = await agency_client(client)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    both = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "client_secret": secret},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert both.status_code == 400
    assert both.json()["error"] == "invalid_request"
    garbled = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic !!!not-base64"},
    )
    assert garbled.status_code == 401
    # The public client has no secret: one sent with it is refused.
    public_with_secret = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "client_id": "portal",
            "client_secret": "guess",
            "username": "resident@demo.gov",
            "password": "tell-once-demo-password",
        },
    )
    assert public_with_secret.status_code == 401


async def test_expired_refresh_token_and_disabled_account(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    from sqlalchemy import update

    from tellonce_identity.models import RefreshToken, User

    email, password = await new_resident(client)
    first = (await password_login(client, email, password)).json()
    second = (await password_login(client, email, password)).json()
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with app.state.database.sessions() as session:
        await session.execute(
            update(RefreshToken)
            .values(expires_at=past)
            .where(
                RefreshToken.token_hash
                == hashlib.sha256(first["refresh_token"].encode()).hexdigest()
            )
        )
        await session.commit()
    data = {"grant_type": "refresh_token", "client_id": "portal"}
    expired = await client.post(TOKEN_URL, data={**data, "refresh_token": first["refresh_token"]})
    assert expired.status_code == 400
    assert "expired" in expired.json()["error_description"]

    async with app.state.database.sessions() as session:
        await session.execute(update(User).where(User.email == email).values(disabled=True))
        await session.commit()
    refused = await client.post(TOKEN_URL, data={**data, "refresh_token": second["refresh_token"]})
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    login = await password_login(client, email, password)
    assert login.status_code == 400
    assert login.json()["error_description"] == "The email address or password is not correct."
    me = await client.get(ME, headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 401
