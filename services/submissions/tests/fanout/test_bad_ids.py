"""Ids and filters of the Deliveries routes that cannot name anything are a 4xx problem,
never a 500. A review found ``/deliveries/%00`` (and ``/ack``, and the admin's
``?submission=%00`` and ``?agency=%00``) answered 500: the NUL went into the query and
PostgreSQL refused it.

- A path id (a delivery's, an endpoint's) that is not a UUID names no delivery or
  endpoint: 404, as any unknown id (the database is not asked).
- A filter that cannot be valid is a 422 naming it (``/query/submission``: a UUID;
  ``/query/agency``: letters, digits, ``_`` and ``-``, at most 32).
- A list cursor whose position is not one of ours is a 400, as any bad cursor."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tellonce_shared.pagination import encode_cursor
from tellonce_shared.testing import TokenFactory
from tellonce_submissions.db import Database

from .conftest import agency_code, enqueue_submission

PROBLEM = "application/problem+json"
NUL = "%00"


def _problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


@pytest.mark.parametrize("bad", [NUL, "a%00b", "no-such-id", "0" * 40, uuid.uuid4().hex])
@pytest.mark.parametrize("role", ["agency", "admin"])
async def test_a_path_id_that_cannot_be_one_is_404(
    client: Any, tokens: TokenFactory, bad: str, role: str
) -> None:
    auth = (
        tokens.headers(role=role, agency="DSS") if role == "agency" else tokens.headers(role=role)
    )
    calls = [
        ("GET", f"/api/v1/deliveries/{bad}"),
        ("POST", f"/api/v1/deliveries/{bad}/replay"),
    ]
    if role == "agency":
        calls += [
            ("GET", f"/api/v1/deliveries/{bad}?include=answers"),
            ("POST", f"/api/v1/deliveries/{bad}/ack"),
            ("DELETE", f"/api/v1/deliveries/endpoints/{bad}"),
            ("POST", f"/api/v1/deliveries/endpoints/{bad}/rotate-secret"),
            ("POST", f"/api/v1/deliveries/endpoints/{bad}/enable"),
        ]
    for method, path in calls:
        answer = await client.request(method, path, headers=auth)
        _problem(answer, 404)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/deliveries", "GET"),
        ("/api/v1/deliveries/access-log", "GET"),
        ("/api/v1/deliveries/endpoints", "GET"),
        ("/api/v1/deliveries/replay", "POST"),
    ],
)
@pytest.mark.parametrize("bad", ["\x00", "DSS\x00", "a b", "D" * 33, "DSS;--"])
async def test_an_agency_filter_that_cannot_be_one_is_422(
    client: Any, tokens: TokenFactory, path: str, method: str, bad: str
) -> None:
    answer = await client.request(
        method, path, params={"agency": bad}, headers=tokens.headers(role="admin")
    )
    body = _problem(answer, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/query/agency"]


@pytest.mark.parametrize("path", ["/api/v1/deliveries", "/api/v1/deliveries/access-log"])
@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "nope", "CT-2026-7K4M-9Q2D"])
async def test_a_submission_filter_that_is_not_a_uuid_is_422(
    client: Any, tokens: TokenFactory, path: str, bad: str
) -> None:
    for role in ("admin", "auditor"):
        answer = await client.get(
            path, params={"submission": bad}, headers=tokens.headers(role=role)
        )
        body = _problem(answer, 422)
        assert [e["pointer"] for e in body["errors"]] == ["/query/submission"]


async def test_good_filters_still_find_their_deliveries(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    agency = agency_code()
    [delivery_id] = await enqueue_submission(database, [(agency, {"a": 1}, ["/a"])])
    admin = tokens.headers(role="admin")
    one = await client.get(f"/api/v1/deliveries/{delivery_id}", headers=admin)
    assert one.status_code == 200
    submission_id = one.json()["submission_id"]
    for value in (submission_id, submission_id.upper()):
        found = await client.get(
            "/api/v1/deliveries", params={"submission": value, "agency": agency}, headers=admin
        )
        assert found.status_code == 200, found.text
        assert [i["id"] for i in found.json()["items"]] == [delivery_id]


@pytest.mark.parametrize("position", ["\x00", "x", "0" * 36])
async def test_a_list_cursor_not_at_one_of_our_ids_is_400(
    client: Any, tokens: TokenFactory, position: str
) -> None:
    cursor = encode_cursor({"c": "2026-01-01T00:00:00+00:00", "i": position})
    answer = await client.get(
        "/api/v1/deliveries", params={"cursor": cursor}, headers=tokens.headers(role="admin")
    )
    _problem(answer, 400)


async def test_a_path_id_in_any_case_names_its_delivery_or_endpoint(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    """Ids are stored in canonical (lower-case) form; the routes look that form up, so an
    upper-case or braced id names the same delivery or endpoint (it used to be a 404)."""
    agency = agency_code()
    [delivery_id] = await enqueue_submission(database, [(agency, {"a": 1}, ["/a"])])
    auth = tokens.headers(role="agency", agency=agency)
    for spelling in (delivery_id.upper(), f"{{{delivery_id}}}"):
        one = await client.get(f"/api/v1/deliveries/{spelling}", headers=auth)
        assert one.status_code == 200, one.text
        assert one.json()["id"] == delivery_id
        read = await client.get(f"/api/v1/deliveries/{spelling}?include=answers", headers=auth)
        assert read.status_code == 200, read.text
        assert read.json()["answers"] == {"a": 1}
    acked = await client.post(f"/api/v1/deliveries/{delivery_id.upper()}/ack", headers=auth)
    assert acked.status_code == 200, acked.text
    created = await client.post(
        "/api/v1/deliveries/endpoints", json={"url": "http://127.0.0.1:9/hook"}, headers=auth
    )
    endpoint_id = created.json()["id"]
    rotated = await client.post(
        f"/api/v1/deliveries/endpoints/{endpoint_id.upper()}/rotate-secret", headers=auth
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["id"] == endpoint_id
    deleted = await client.delete(
        f"/api/v1/deliveries/endpoints/{{{endpoint_id.upper()}}}", headers=auth
    )
    assert deleted.status_code == 204
