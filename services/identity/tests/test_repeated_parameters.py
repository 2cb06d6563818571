"""RFC 6749 3.1/3.2: request parameters MUST NOT be included more than once. /token and
/revoke refuse a repeated parameter of theirs (in the body, in the query string, or once in
each) with ``invalid_request`` naming it, before anything is checked or changed; parameters
they do not know are ignored, repeated or not."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tellonce_identity.models import AuditEvent, LoginFailure
from tellonce_identity.seed import DEMO_PASSWORD
from tellonce_identity.tokens.router import REVOKE_PARAMETERS, TOKEN_PARAMETERS

from .conftest import TOKEN_URL, fresh_address, new_resident

REVOKE_URL = "/api/v1/identity/revoke"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def login_pairs(email: str, password: str = DEMO_PASSWORD) -> list[tuple[str, str]]:
    return [
        ("grant_type", "password"),
        ("username", email),
        ("password", password),
        ("client_id", "portal"),
    ]


async def post(
    client: httpx.AsyncClient, url: str, pairs: list[tuple[str, str]], query: str = ""
) -> httpx.Response:
    return await client.post(
        f"{url}?{query}" if query else url,
        content=urlencode(pairs),
        headers={**FORM, "X-Forwarded-For": fresh_address()},
    )


def twice(pairs: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    """``pairs`` with ``name`` in it twice (once more if it is there, else twice)."""
    present = name in dict(pairs)
    return [*pairs, *[(name, dict(pairs).get(name, value))] * (1 if present else 2)]


def assert_repeated(resp: httpx.Response, *names: str) -> None:
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["cache-control"] == "no-store"
    body: dict[str, Any] = resp.json()
    assert body["error"] == "invalid_request"
    assert "more than once: " + ", ".join(names) in body["error_description"]


async def test_the_control_request_is_accepted(client: httpx.AsyncClient) -> None:
    """The requests below differ from this one only in the repeated parameter."""
    resp = await post(client, TOKEN_URL, login_pairs("resident@demo.gov"))
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("name", TOKEN_PARAMETERS)
async def test_token_refuses_a_parameter_sent_twice_in_the_body(
    client: httpx.AsyncClient, name: str
) -> None:
    resp = await post(client, TOKEN_URL, twice(login_pairs("resident@demo.gov"), name, "x"))
    assert_repeated(resp, name)


async def test_token_refuses_differing_values_and_names_every_repeated_one(
    client: httpx.AsyncClient,
) -> None:
    """The case the rule is for: two values, of which a proxy reads one and the server
    another. The password here is wrong first, right second (the last used to count)."""
    pairs = login_pairs("resident@demo.gov", "a wrong password entirely")
    resp = await post(
        client,
        TOKEN_URL,
        [*pairs, ("password", DEMO_PASSWORD), ("scope", "openid"), ("scope", "email")],
    )
    assert_repeated(resp, "password, scope")


async def test_an_empty_repeat_is_a_repeat(client: httpx.AsyncClient) -> None:
    pairs = login_pairs("resident@demo.gov")
    resp = await post(client, TOKEN_URL, [*pairs, ("scope", "openid"), ("scope", "")])
    assert_repeated(resp, "scope")


async def test_token_refuses_a_parameter_repeated_in_the_query_string(
    client: httpx.AsyncClient,
) -> None:
    pairs = login_pairs("resident@demo.gov")
    resp = await post(client, TOKEN_URL, pairs, query="scope=openid&scope=email")
    assert_repeated(resp, "scope")


async def test_token_refuses_a_parameter_in_the_query_string_and_the_body(
    client: httpx.AsyncClient,
) -> None:
    pairs = login_pairs("resident@demo.gov")
    resp = await post(client, TOKEN_URL, pairs, query="client_id=portal")
    assert_repeated(resp, "client_id")


async def test_unknown_parameters_are_ignored_even_repeated(client: httpx.AsyncClient) -> None:
    pairs = login_pairs("resident@demo.gov")
    resp = await post(client, TOKEN_URL, [*pairs, ("state", "a"), ("state", "b")], query="x=1&x=2")
    assert resp.status_code == 200, resp.text


async def test_a_multipart_body_with_a_repeated_parameter(client: httpx.AsyncClient) -> None:
    files = [(name, (None, value)) for name, value in login_pairs("resident@demo.gov")]
    files.append(("grant_type", (None, "password")))
    resp = await client.post(TOKEN_URL, files=files, headers={"X-Forwarded-For": fresh_address()})
    assert_repeated(resp, "grant_type")


async def attempts(app: FastAPI, email: str) -> tuple[int, int]:
    """The account's sign-in audit events and counted failures."""
    async with app.state.database.sessions() as session:
        events = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.subject == email, AuditEvent.action == "login")
        )
        failures = await session.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.key.contains(email))
        )
    return int(events or 0), int(failures or 0)


async def test_a_refused_sign_in_is_not_an_attempt(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Refused before the grant runs: no audit event, no failure counted."""
    email, _ = await new_resident(client)
    wrong = login_pairs(email, "a wrong password entirely")
    for _ in range(3):
        assert_repeated(await post(client, TOKEN_URL, [*wrong, ("username", email)]), "username")
    assert await attempts(app, email) == (0, 0)
    # the control: the same wrong password sent once is an attempt, audited and counted
    assert (await post(client, TOKEN_URL, wrong)).status_code == 400
    events, failures = await attempts(app, email)
    assert events == 1
    assert failures > 0


async def _refresh_token(client: httpx.AsyncClient) -> str:
    email, password = await new_resident(client)
    resp = await post(client, TOKEN_URL, login_pairs(email, password))
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["refresh_token"]
    return token


async def _still_works(client: httpx.AsyncClient, refresh: str) -> bool:
    pairs = [("grant_type", "refresh_token"), ("client_id", "portal"), ("refresh_token", refresh)]
    return (await post(client, TOKEN_URL, pairs)).status_code == 200


@pytest.mark.parametrize("name", REVOKE_PARAMETERS)
async def test_revoke_refuses_a_parameter_sent_twice_and_revokes_nothing(
    client: httpx.AsyncClient, name: str
) -> None:
    refresh = await _refresh_token(client)
    pairs = [("token", refresh), ("client_id", "portal")]
    resp = await post(client, REVOKE_URL, twice(pairs, name, "refresh_token"))
    assert_repeated(resp, name)
    assert await _still_works(client, refresh)


async def test_revoke_refuses_a_token_in_the_query_string_and_the_body(
    client: httpx.AsyncClient,
) -> None:
    refresh = await _refresh_token(client)
    resp = await post(
        client,
        REVOKE_URL,
        [("token", refresh), ("client_id", "portal")],
        query=urlencode({"token": "another"}),
    )
    assert_repeated(resp, "token")
    assert await _still_works(client, refresh)
    # the control: once, it is revoked
    resp = await post(client, REVOKE_URL, [("token", refresh), ("client_id", "portal")])
    assert resp.status_code == 200, resp.text
    assert not await _still_works(client, refresh)


@pytest.mark.parametrize(
    ("path", "names"), [(TOKEN_URL, TOKEN_PARAMETERS), (REVOKE_URL, REVOKE_PARAMETERS)]
)
async def test_every_parameter_of_the_endpoint_is_checked(
    client: httpx.AsyncClient, path: str, names: tuple[str, ...]
) -> None:
    """The checked names are the endpoint's form fields, as its OpenAPI document lists
    them, so a field added later is not left out of the rule."""
    spec = (await client.get("/openapi.json")).json()
    body = spec["paths"][path]["post"]["requestBody"]["content"]
    (media,) = body.values()
    ref = media["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(spec["components"]["schemas"][ref]["properties"]) == set(names)
