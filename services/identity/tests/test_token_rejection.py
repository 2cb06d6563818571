"""Tokens that must be refused by /me (and by every service: this is the shared
TokenVerifier's path): expired, another audience, an unknown key, ``alg: none``, HS256 signed
with the public key, a tampered payload, a wrong issuer, a missing ``typ``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey

from .conftest import ISSUER, password_login

ME = "/api/v1/identity/me"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def signing_key(app: FastAPI) -> ECKey:
    async with app.state.database.sessions() as session:
        key: ECKey = await app.state.keyring.signing_key(session)
        await session.commit()
    return key


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": "tellonce",
        "sub": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "role": "admin",
        "scope": "",
        "client_id": "portal",
    }
    base.update(overrides)
    return base


def sign(key: ECKey, payload: dict[str, Any], **header: Any) -> str:
    head = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid, **header}
    return jwt.encode(head, payload, key)


async def assert_refused(client: httpx.AsyncClient, token: str) -> None:
    resp = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"] == "application/problem+json"


async def test_a_well_formed_token_from_the_real_key_is_accepted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The control: the forgeries below differ from this only in what they break."""
    resp = await password_login(client, "admin@demo.gov")
    token = resp.json()["access_token"]
    ok = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200


async def test_expired_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    key = await signing_key(app)
    now = int(time.time())
    await assert_refused(client, sign(key, claims(iat=now - 1000, exp=now - 120)))


async def test_token_for_another_audience(app: FastAPI, client: httpx.AsyncClient) -> None:
    key = await signing_key(app)
    await assert_refused(client, sign(key, claims(aud="another-api")))


async def test_token_from_another_issuer(app: FastAPI, client: httpx.AsyncClient) -> None:
    key = await signing_key(app)
    await assert_refused(client, sign(key, claims(iss="https://evil.example.com")))


async def test_token_signed_with_unknown_key(client: httpx.AsyncClient) -> None:
    stranger = ECKey.generate_key("P-256", parameters={"kid": "stranger"}, private=True)
    await assert_refused(client, sign(stranger, claims()))


async def test_token_signed_with_unknown_key_reusing_a_known_kid(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    real = await signing_key(app)
    assert real.kid is not None
    stranger = ECKey.generate_key("P-256", parameters={"kid": real.kid}, private=True)
    await assert_refused(client, sign(stranger, claims()))


async def test_alg_none(app: FastAPI, client: httpx.AsyncClient) -> None:
    key = await signing_key(app)
    header = b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": key.kid}).encode())
    body = b64(json.dumps(claims()).encode())
    await assert_refused(client, f"{header}.{body}.")


async def test_hs256_signed_with_the_public_key(app: FastAPI, client: httpx.AsyncClient) -> None:
    key = await signing_key(app)
    jwks = (await client.get("/.well-known/jwks.json")).json()
    public_json = json.dumps(next(k for k in jwks["keys"] if k["kid"] == key.kid)).encode()
    public_pem = key.as_pem(private=False)
    for secret in (public_json, public_pem):
        header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": key.kid}).encode())
        body = b64(json.dumps(claims()).encode())
        mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        await assert_refused(client, f"{header}.{body}.{b64(mac)}")


async def test_tampered_payload(client: httpx.AsyncClient) -> None:
    resp = await password_login(client, "resident@demo.gov")
    header, body, signature = resp.json()["access_token"].split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["role"] = "admin"
    forged = f"{header}.{b64(json.dumps(payload).encode())}.{signature}"
    await assert_refused(client, forged)


@pytest.mark.parametrize("typ", [None, "JWT"])
async def test_token_that_is_not_an_access_token(
    app: FastAPI, client: httpx.AsyncClient, typ: str | None
) -> None:
    key = await signing_key(app)
    head: dict[str, Any] = {"alg": "ES256", "kid": key.kid}
    if typ is not None:
        head["typ"] = typ
    await assert_refused(client, jwt.encode(head, claims(), key))
