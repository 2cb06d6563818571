"""A NUL character (U+0000) in a path or query parameter or a body field is a 422 problem
naming it, never the database's refusal (review: it reached PostgreSQL and came back as the
last-line 400 "cannot be stored" without ``errors``). And the OpenAPI document says what the
routes serve: problem+json errors, the OAuth endpoints' RFC 6749 errors, an empty revocation
answer, a JWK Set."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tellonce_shared.pagination import encode_cursor

from .conftest import bearer

PROBLEM = "application/problem+json"
NUL_MESSAGE = "Text cannot hold the NUL character (U+0000)."


def assert_names(response: httpx.Response, pointer: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    errors = response.json()["errors"]
    assert {"pointer": pointer, "message": NUL_MESSAGE} in errors, errors


@pytest.mark.parametrize(
    ("method", "url", "pointer"),
    [
        ("GET", "/api/v1/identity/audit?action=sign%00in", "/query/action"),
        ("POST", "/api/v1/identity/users/u%00x/disable", "/path/user_id"),
        ("POST", "/api/v1/identity/users/u%00x/enable", "/path/user_id"),
        ("DELETE", "/api/v1/identity/clients/dss-%00", "/path/client_id"),
        ("POST", "/api/v1/identity/clients/dss-%00/rotate-secret", "/path/client_id"),
    ],
)
async def test_nul_in_a_parameter_is_422_naming_it(
    client: httpx.AsyncClient, method: str, url: str, pointer: str
) -> None:
    admin = await bearer(client, "admin@demo.gov")
    assert_names(await client.request(method, url, headers=admin), pointer)


@pytest.mark.parametrize(
    ("url", "body", "pointer"),
    [
        ("/api/v1/identity/clients", {"agency": "DSS", "name": "SNAP\x00 intake"}, "/name"),
        (
            "/api/v1/identity/users",
            {
                "email": "nul-staff@example.org",
                "password": "lantern orbit nul meadow",
                "full_name": "Ada\x00 Lovelace",
                "role": "auditor",
            },
            "/full_name",
        ),
        (
            "/api/v1/identity/residents",
            {
                "email": "nul\x00x@example.org",
                "password": "lantern orbit nul meadow",
                "full_name": "Ada Lovelace",
            },
            "/email",
        ),
        (
            "/api/v1/identity/residents",
            {
                "email": "nul-name@example.org",
                "password": "lantern orbit nul meadow",
                "full_name": "Ada\x00",
            },
            "/full_name",
        ),
    ],
)
async def test_nul_in_a_body_field_is_422_naming_it(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], pointer: str
) -> None:
    admin = await bearer(client, "admin@demo.gov")
    response = await client.post(url, json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert pointer in [e["pointer"] for e in response.json()["errors"]]


async def test_a_user_cursor_with_nul_is_an_invalid_cursor(client: httpx.AsyncClient) -> None:
    admin = await bearer(client, "admin@demo.gov")
    cursor = encode_cursor({"after": "a\x00b"})
    response = await client.get("/api/v1/identity/users", params={"cursor": cursor}, headers=admin)
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == "The cursor is not valid."


async def test_the_same_routes_still_answer_plain_values(client: httpx.AsyncClient) -> None:
    admin = await bearer(client, "admin@demo.gov")
    audit = await client.get("/api/v1/identity/audit?action=login", headers=admin)
    assert audit.status_code == 200, audit.text
    missing = await client.post("/api/v1/identity/users/no-such-user/disable", headers=admin)
    assert missing.status_code == 404, missing.text
    gone = await client.delete("/api/v1/identity/clients/dss-no-such-client", headers=admin)
    assert gone.status_code == 404, gone.text


async def test_the_document_says_what_is_served(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    paths = doc["paths"]
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]

    revoke = paths["/api/v1/identity/revoke"]["post"]["responses"]
    assert "content" not in revoke["200"]  # RFC 7009: 200 with an empty body
    token = paths["/api/v1/identity/token"]["post"]["responses"]
    for responses in (revoke, token):
        assert "422" not in responses  # bad input is a 400 invalid_request here
        for code in ("400", "401"):
            oauth = responses[code]["content"]
            assert list(oauth) == ["application/json"]
            assert oauth["application/json"]["schema"]["$ref"].endswith("/OAuthErrorBody")
        assert list(responses["503"]["content"]) == [PROBLEM]
    assert list(token["429"]["content"]) == [PROBLEM]

    jwks = paths["/.well-known/jwks.json"]["get"]["responses"]["200"]["content"]
    assert list(jwks) == ["application/jwk-set+json"]
    assert jwks["application/jwk-set+json"]["schema"]["required"] == ["keys"]

    disable = paths["/api/v1/identity/users/{user_id}/disable"]["post"]
    assert {"400", "401", "403", "404", "409", "422", "503"} <= set(disable["responses"])
    param = disable["parameters"][0]
    assert param["name"] == "user_id"
    assert param["schema"]["pattern"] == "^[^\\x00]*$"


async def test_revoke_and_jwks_serve_what_the_document_says(client: httpx.AsyncClient) -> None:
    revoked = await client.post(
        "/api/v1/identity/revoke", data={"token": "not-a-token", "client_id": "portal"}
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.content == b""
    jwks = await client.get("/.well-known/jwks.json")
    assert jwks.headers["content-type"] == "application/jwk-set+json"
    assert jwks.json()["keys"]
