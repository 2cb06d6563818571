"""``GET /api/v1/deliveries?order=newest``: the state listing newest first (the portal's
inbox), paged both ways with ``next_cursor`` (older) and ``prev_cursor`` (newer), read
backwards along the agency's feed index, never a sort of its rows; the pull feed stays
oldest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tellonce_shared.pagination import encode_cursor
from tellonce_shared.testing import TokenFactory
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries import repository

from .conftest import agency_code, enqueue_submission


async def _page(
    client: Any, auth: dict[str, str], cursor: str | None = None, **params: Any
) -> dict[str, Any]:
    query: dict[str, Any] = {"order": "newest", "limit": 3, **params}
    if cursor:
        query["cursor"] = cursor
    response = await client.get("/api/v1/deliveries", params=query, headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refs(body: dict[str, Any]) -> list[str]:
    return [item["reference"] for item in body["items"]]


async def test_newest_first_pages_both_ways_and_the_feed_stays_oldest_first(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    mine, other = agency_code(), agency_code()
    for n in range(7):
        await enqueue_submission(
            database,
            [(mine, {"n": n}, ["/n"]), (other, {"n": n}, ["/n"])],
            reference=f"CT-NEW-{n}",
        )
    auth = tokens.headers(role="agency", agency=mine)

    first = await _page(client, auth, agency=mine)
    assert _refs(first) == ["CT-NEW-6", "CT-NEW-5", "CT-NEW-4"]
    assert first["prev_cursor"] is None
    assert all("answers" not in item for item in first["items"])  # states only
    second = await _page(client, auth, first["next_cursor"], agency=mine)
    assert _refs(second) == ["CT-NEW-3", "CT-NEW-2", "CT-NEW-1"]
    last = await _page(client, auth, second["next_cursor"], agency=mine)
    assert _refs(last) == ["CT-NEW-0"]
    assert last["next_cursor"] is None

    # Back up: the page before the last, then the first (no page before it).
    back = await _page(client, auth, last["prev_cursor"], agency=mine)
    assert _refs(back) == ["CT-NEW-3", "CT-NEW-2", "CT-NEW-1"]
    top = await _page(client, auth, back["prev_cursor"], agency=mine)
    assert _refs(top) == ["CT-NEW-6", "CT-NEW-5", "CT-NEW-4"]
    assert top["prev_cursor"] is None
    assert _refs(await _page(client, auth, top["next_cursor"], agency=mine)) == _refs(second)

    # A new delivery comes first; the agency's own listing needs no ?agency=.
    await enqueue_submission(database, [(mine, {"n": 7}, ["/n"])], reference="CT-NEW-7")
    assert _refs(await _page(client, auth))[:2] == ["CT-NEW-7", "CT-NEW-6"]
    # Admins see any agency's, with ?status= too; another agency's is refused.
    admin = tokens.headers(role="admin")
    assert _refs(await _page(client, admin, agency=other, limit=2)) == ["CT-NEW-6", "CT-NEW-5"]
    assert _refs(await _page(client, admin, agency=mine, status="dead")) == []
    refused = await client.get(
        "/api/v1/deliveries", params={"order": "newest", "agency": other}, headers=auth
    )
    assert refused.status_code == 403

    # The pull feed is untouched: oldest first, with the answers.
    feed = await client.get("/api/v1/deliveries", params={"limit": 2}, headers=auth)
    assert [i["reference"] for i in feed.json()["items"]] == ["CT-NEW-0", "CT-NEW-1"]
    assert feed.json()["items"][0]["answers"] == {"n": 0}
    explicit = await client.get(
        "/api/v1/deliveries", params={"limit": 2, "order": "oldest"}, headers=auth
    )
    assert explicit.json() == feed.json()


async def test_bad_order_and_cursors_are_refused(client: Any, tokens: TokenFactory) -> None:
    auth = tokens.headers(role="agency", agency=agency_code())
    bad = await client.get("/api/v1/deliveries", params={"order": "sideways"}, headers=auth)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/query/order"
    oldest_cursor = encode_cursor({"c": "2026-01-01T00:00:00+00:00", "i": "x"})
    for cursor in (
        oldest_cursor,
        encode_cursor({"lt": -1}),
        encode_cursor({"lt": True}),
        encode_cursor({"gt": 2**63}),
        encode_cursor({"lt": 5, "gt": 1}),
        "not a cursor",
    ):
        response = await client.get(
            "/api/v1/deliveries", params={"order": "newest", "cursor": cursor}, headers=auth
        )
        assert response.status_code == 400, cursor
    # A newest-first cursor means nothing to the oldest-first listing either.
    other = await client.get(
        "/api/v1/deliveries",
        params={"status": "dead", "cursor": encode_cursor({"lt": 5})},
        headers=auth,
    )
    assert other.status_code == 400


async def test_newest_first_reads_the_index_backwards_not_a_sort(database: Database) -> None:
    """With sorting priced out, PostgreSQL still finds no sort to do: the order comes from
    the index, read backwards (a sort of every row of the agency is what the inbox did)."""
    for older_than in (None, 1000):
        stmt = repository.by_feed_statement(
            agency="DSS",
            status=None,
            submission_id=None,
            older_than=older_than,
            newer_than=None,
            limit=51,
        )
        async with database.sessions() as session, session.begin():
            dialect = session.get_bind().dialect
            sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            for setting in ("enable_sort", "enable_seqscan", "enable_bitmapscan"):
                await session.execute(text(f"SET LOCAL {setting} = off"))
            plan = "\n".join(
                row[0] for row in (await session.execute(text("EXPLAIN " + sql))).all()
            )
        assert "Index Scan Backward using ix_deliveries_agency_feed" in plan, plan
        assert "Sort" not in plan, plan
