"""Discovery and JWKS validated against the specs with authlib's validators, and the three
grants performed by authlib's OAuth 2.0 client against the service."""

from __future__ import annotations

import warnings

import httpx
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata
from fastapi import FastAPI
from joserfc.jwk import KeySet

from tellonce_shared.auth import TokenVerifier

from .conftest import ISSUER, bearer

with warnings.catch_warnings():
    # authlib prefers the httpx2 fork and warns when it falls back to httpx (which we use).
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError


async def discovery(client: httpx.AsyncClient) -> dict[str, object]:
    resp = await client.get("/.well-known/openid-configuration")
    assert resp.status_code == 200
    data: dict[str, object] = resp.json()
    return data


async def test_discovery_validates_as_rfc8414_and_oidc_metadata(client: httpx.AsyncClient) -> None:
    doc = await discovery(client)
    AuthorizationServerMetadata(doc).validate()
    oidc = OpenIDProviderMetadata(doc)
    for name in dir(oidc):
        # The one deviation: OIDC Discovery wants RS256 among the ID-token algorithms, but
        # this provider issues no ID tokens (access tokens only, ES256). See docs/identity.md.
        if (
            name.startswith("validate_")
            and name != "validate_id_token_signing_alg_values_supported"
        ):
            getattr(oidc, name)()
    with pytest.raises(ValueError, match="RS256"):
        oidc.validate_id_token_signing_alg_values_supported()
    assert doc["issuer"] == ISSUER
    assert doc["token_endpoint"] == f"{ISSUER}/api/v1/identity/token"
    assert doc["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert doc["revocation_endpoint"] == f"{ISSUER}/api/v1/identity/revoke"
    grants = doc["grant_types_supported"]
    assert isinstance(grants, list)
    assert set(grants) == {
        "password",
        "client_credentials",
        "refresh_token",
    }


async def test_jwks_is_a_public_es256_key_set(client: httpx.AsyncClient) -> None:
    resp = await client.get("/.well-known/jwks.json")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/jwk-set+json")
    data = resp.json()
    assert data["keys"]
    for jwk in data["keys"]:
        assert jwk["kty"] == "EC"
        assert jwk["crv"] == "P-256"
        assert jwk["alg"] == "ES256"
        assert jwk["use"] == "sig"
        assert jwk["kid"]
        assert "d" not in jwk, "a private key member is published"
    keys = KeySet.import_key_set(data)
    assert all(not key.is_private for key in keys.keys)


def oauth_client(app: FastAPI, **kwargs: object) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver", **kwargs
    )


async def token_endpoint(client: httpx.AsyncClient) -> str:
    # The issuer is the public gateway URL; in-process the same path answers on testserver.
    endpoint = str((await discovery(client))["token_endpoint"])
    return endpoint.replace(ISSUER, "https://testserver")


async def test_authlib_password_and_refresh_flow(app: FastAPI, client: httpx.AsyncClient) -> None:
    url = await token_endpoint(client)
    async with oauth_client(app, client_id="portal", token_endpoint_auth_method="none") as oauth:
        token = await oauth.fetch_token(
            url,
            grant_type="password",
            username="resident@demo.gov",
            password="tell-once-demo-password",
        )
        assert token["token_type"] == "Bearer"
        me = await oauth.get("/api/v1/identity/me")
        assert me.status_code == 200
        assert me.json()["email"] == "resident@demo.gov"

        refreshed = await oauth.refresh_token(url, refresh_token=token["refresh_token"])
        assert refreshed["access_token"] != token["access_token"]
        assert refreshed["refresh_token"] != token["refresh_token"]

        # Once more within the reuse interval (as a concurrent refresh would): a fresh sibling.
        sibling = await oauth.refresh_token(url, refresh_token=token["refresh_token"])
        assert sibling["refresh_token"] not in (token["refresh_token"], refreshed["refresh_token"])
        # A second reuse is theft.
        with pytest.raises(OAuthError) as reused:
            await oauth.refresh_token(url, refresh_token=token["refresh_token"])
        assert reused.value.error == "invalid_grant"

        revoke = await oauth.revoke_token(
            url.replace("/token", "/revoke"), token=refreshed["refresh_token"]
        )
        assert revoke.status_code == 200


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_authlib_client_credentials_flow(
    app: FastAPI, client: httpx.AsyncClient, method: str
) -> None:
    admin = await bearer(client, "admin@demo.gov")
    created = await client.post(
        "/api/v1/identity/clients", json={"agency": "DSS", "name": "Eligibility"}, headers=admin
    )
    creds = created.json()
    url = await token_endpoint(client)
    async with oauth_client(
        app,
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        token_endpoint_auth_method=method,
    ) as oauth:
        token = await oauth.fetch_token(url, grant_type="client_credentials")
        assert "refresh_token" not in token
        verifier = TokenVerifier(
            jwks_url="https://testserver/.well-known/jwks.json",
            issuer=ISSUER,
            audience="tellonce",
            client=client,
        )
        principal = await verifier.verify(token["access_token"])
        assert principal.sub == creds["client_id"]
        assert principal.agency == "DSS"
        assert principal.role == "agency"
