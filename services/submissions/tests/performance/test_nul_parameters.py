"""A NUL character (U+0000) in a performance route's parameter is a 422 problem naming it,
never the database's refusal (review: ``?form=%00``, ``?agency=%00`` and
``/performance/targets/%00`` reached PostgreSQL and came back as the last-line 400 "cannot
be stored", without ``errors``)."""

from __future__ import annotations

import httpx
import pytest

from tellonce_shared.testing import TokenFactory

PROBLEM = "application/problem+json"
NUL_MESSAGE = "Text cannot hold the NUL character (U+0000)."
TARGET = {"days": 30, "share": 0.9}


@pytest.mark.parametrize(
    ("method", "url", "pointer"),
    [
        ("GET", "/api/v1/performance?form=snap%00", "/query/form"),
        ("GET", "/api/v1/performance?agency=DSS%00", "/query/agency"),
        ("GET", "/api/v1/performance?group_by=agency&agency=%00", "/query/agency"),
        ("PUT", "/api/v1/performance/targets/snap%00", "/path/form"),
        ("DELETE", "/api/v1/performance/targets/snap%00", "/path/form"),
        ("GET", "/api/v1/performance/referrals?period=2026%00", "/query/period"),
    ],
)
async def test_nul_in_a_parameter_is_422_naming_it(
    perf_client: httpx.AsyncClient,
    perf_tokens: TokenFactory,
    method: str,
    url: str,
    pointer: str,
) -> None:
    admin = perf_tokens.headers("opm-nul", role="admin")
    body = TARGET if method == "PUT" else None
    response = await perf_client.request(method, url, json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    pointers = [e["pointer"] for e in response.json()["errors"]]
    assert pointer in pointers
    if pointer != "/query/period":
        assert {"pointer": pointer, "message": NUL_MESSAGE} in response.json()["errors"]


async def test_the_routes_still_answer_plain_values(
    perf_client: httpx.AsyncClient, perf_tokens: TokenFactory
) -> None:
    admin = perf_tokens.headers("opm-nul", role="admin")
    listed = await perf_client.get(
        "/api/v1/performance", params={"agency": "DSS", "form": "none"}, headers=admin
    )
    assert listed.status_code == 200, listed.text
    gone = await perf_client.delete("/api/v1/performance/targets/no-such-form", headers=admin)
    assert gone.status_code == 404, gone.text


async def test_the_document_shows_the_rule_and_the_problems(
    perf_client: httpx.AsyncClient,
) -> None:
    doc = (await perf_client.get("/openapi.json")).json()
    put = doc["paths"]["/api/v1/performance/targets/{form}"]["put"]
    assert put["parameters"][0]["schema"]["pattern"] == "^[^\\x00]*$"
    assert {"400", "401", "403", "404", "409", "413", "422", "503"} <= set(put["responses"])
    for code in ("404", "422"):
        assert list(put["responses"][code]["content"]) == [PROBLEM]
    assert "HTTPValidationError" not in doc["components"]["schemas"]


@pytest.mark.parametrize("period", ["2026-13", "Q3", "last-x"])
async def test_an_unknown_period_is_422_pointing_at_the_query_parameter(
    perf_client: httpx.AsyncClient, perf_tokens: TokenFactory, period: str
) -> None:
    """Like every other parameter's error (``/query/<name>``), so a client can show it by
    the field it came from."""
    admin = perf_tokens.headers("opm-period", role="admin")
    for path in ("/api/v1/performance", "/api/v1/performance/referrals"):
        response = await perf_client.get(path, params={"period": period}, headers=admin)
        assert response.status_code == 422, response.text
        errors = response.json()["errors"]
        assert [e["pointer"] for e in errors] == ["/query/period"], errors
