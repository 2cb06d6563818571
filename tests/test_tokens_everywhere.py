"""Identity issue: every bad token is refused by every service itself, not only by the
gateway. Tokens are forged with the identity service's real signing key (read from its
database with the local demo key-encryption key), as an attacker who stole it partly would."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import pytest
from hubkit.harness import Hub
from hubkit.skeleton import DEMO_PASSWORD, token
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from tellonce_identity.config import Settings as IdentitySettings
from tellonce_identity.db import Database
from tellonce_identity.keys.service import Keyring

pytestmark = pytest.mark.e2e

TARGETS = [  # (process, path) each needing a valid token
    ("identity", "/api/v1/identity/me"),
    ("registry", "/api/v1/audit/redundancy"),
    ("submissions", "/api/v1/deliveries"),
    ("gateway", "/api/v1/deliveries"),
]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def real_signing_key(url: str) -> ECKey:
    settings = IdentitySettings(database_url=url)
    database = Database(url)
    try:
        async with database.sessions() as session:
            return await Keyring(settings).signing_key(session)
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def forged(hub: Hub) -> dict[str, str]:
    with httpx.Client(base_url=hub.gateway_url, timeout=30) as c:
        good = token(
            c,
            grant_type="password",
            username="auditor@demo.gov",
            password=DEMO_PASSWORD,
            client_id="portal",
        )
        jwks = c.get("/.well-known/jwks.json").json()
    head_b64, payload_b64, sig_b64 = good.split(".")
    header = json.loads(unb64(head_b64))
    claims: dict[str, Any] = json.loads(unb64(payload_b64))
    key = asyncio.run(real_signing_key(hub.env["IDENTITY_DATABASE_URL"]))
    assert key.kid == header["kid"]
    now = int(time.time())

    def signed(**over: Any) -> str:
        return jwt.encode(header, {**claims, **over}, key)

    public = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    stranger = ECKey.generate_key("P-256", parameters={"kid": header["kid"]}, private=True)
    hs_header = {**header, "alg": "HS256"}
    as_secret = OctKey.import_key(json.dumps(public).encode())
    tampered = {**claims, "role": "admin"}
    return {
        "valid": good,
        "resigned valid": signed(),
        "expired": signed(iat=now - 7200, exp=now - 3600),
        "other audience": signed(aud="some-other-api"),
        "other issuer": signed(iss="https://evil.example"),
        "unknown key": jwt.encode(header, claims, stranger),
        "alg none": ".".join(
            [b64(json.dumps({**header, "alg": "none"}).encode()), payload_b64, ""]
        ),
        "HS256 with the public key": jwt.encode(hs_header, claims, as_secret, algorithms=["HS256"]),
        "tampered payload": ".".join([head_b64, b64(json.dumps(tampered).encode()), sig_b64]),
    }


@pytest.mark.parametrize(("process", "path"), TARGETS)
def test_every_service_refuses_bad_tokens(
    hub: Hub, forged: dict[str, str], process: str, path: str
) -> None:
    with httpx.Client(base_url=hub.urls[process], timeout=30) as c:
        for name in ("valid", "resigned valid"):
            resp = c.get(path, headers={"Authorization": f"Bearer {forged[name]}"})
            assert resp.status_code == 200, (name, resp.text[:200])
        for name, bad in forged.items():
            if name in ("valid", "resigned valid"):
                continue
            resp = c.get(path, headers={"Authorization": f"Bearer {bad}"})
            assert resp.status_code == 401, (process, name, resp.status_code, resp.text[:200])
            assert resp.headers["content-type"].startswith("application/problem+json")


def test_a_refresh_token_used_twice_ends_the_sign_in(hub: Hub) -> None:
    with httpx.Client(base_url=hub.gateway_url, timeout=30) as c:
        first = c.post(
            "/api/v1/identity/token",
            data={
                "grant_type": "password",
                "username": "resident@demo.gov",
                "password": DEMO_PASSWORD,
                "client_id": "portal",
            },
        ).json()
        refresh = {
            "grant_type": "refresh_token",
            "client_id": "portal",
            "refresh_token": first["refresh_token"],
        }
        second = c.post("/api/v1/identity/token", data=refresh)
        assert second.status_code == 200
        # the one reuse allowed within IDENTITY_REFRESH_REUSE_SECONDS (two browser requests
        # refreshing at the same moment); a second reuse is theft
        assert c.post("/api/v1/identity/token", data=refresh).status_code == 200
        reuse = c.post("/api/v1/identity/token", data=refresh)
        assert reuse.status_code == 400
        assert reuse.json()["error"] == "invalid_grant"
        newest = {**refresh, "refresh_token": second.json()["refresh_token"]}
        assert c.post("/api/v1/identity/token", data=newest).status_code == 400
