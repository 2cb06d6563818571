"""The pull feed: each agency reads only its deliveries and only its fields, oldest first,
page after page, and never misses one even when writers commit out of order; ack; the
access log records every read."""

from __future__ import annotations

import asyncio
import base64
import random
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.outbox import enqueue_deliveries

from .conftest import agency_code, enqueue_submission


async def read_all(
    client: Any, auth: dict[str, str], cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["after"] = cursor
        page = await client.get("/api/v1/deliveries", params=params, headers=auth)
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if not body["items"]:
            return items, cursor


async def test_feed_shows_only_own_fields_in_order_and_ack(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    owner, other = agency_code(), agency_code()
    refs = []
    for n in range(5):
        await enqueue_submission(
            database,
            [
                (
                    owner,
                    {"name": f"N{n}", "ssn": "123-45-6789", "income": n},
                    ["/name", "/ssn", "/income"],
                ),
                (other, {"income": n}, ["/income"]),
            ],
            reference=f"CT-FEED-{n}",
        )
        refs.append(f"CT-FEED-{n}")
    # At rest the answers (an SSN among them) are sealed, never in clear.
    async with database.sessions() as session:
        raw = (
            await session.execute(
                text("SELECT answers, sealed_answers FROM deliveries WHERE agency = :a"),
                {"a": owner},
            )
        ).all()
    assert len(raw) == 5
    for answers, sealed in raw:
        assert answers in ({}, "{}")
        assert "123-45-6789" not in sealed
        # Quoted: a sealed blob is base64, which may contain N0 by chance but never a quote.
        assert '"N0"' not in sealed
    auth_other = tokens.headers(role="agency", agency=other)
    items, cursor = await read_all(client, auth_other, None, limit=2)
    # Every one, once. Positions follow creation only as far as the numbering can: a row a
    # worker holds locked at that moment (recording, renewing a lease) is skipped and numbered
    # next time, after later ones; readers still never miss it (see number_feed).
    assert sorted(i["reference"] for i in items) == refs
    assert all(set(i["answers"]) == {"income"} for i in items)
    assert all(i["agency"] == other for i in items)
    assert all(i["fields"] == ["/income"] for i in items)

    # Nothing new: the same cursor comes back and an empty page.
    again = await client.get("/api/v1/deliveries", params={"after": cursor}, headers=auth_other)
    assert again.json() == {"items": [], "next_cursor": cursor}

    # A new one appears after the cursor.
    await enqueue_submission(
        database, [(other, {"income": 99}, ["/income"])], reference="CT-FEED-NEW"
    )
    newer = await client.get("/api/v1/deliveries", params={"after": cursor}, headers=auth_other)
    assert [i["reference"] for i in newer.json()["items"]] == ["CT-FEED-NEW"]
    alias = await client.get("/api/v1/deliveries", params={"cursor": cursor}, headers=auth_other)
    assert alias.json() == newer.json()

    acked = await client.post(f"/api/v1/deliveries/{items[0]['id']}/ack", headers=auth_other)
    assert acked.status_code == 200
    assert acked.json()["status"] == "acked"
    twice = await client.post(f"/api/v1/deliveries/{items[0]['id']}/ack", headers=auth_other)
    assert twice.status_code == 200
    assert twice.json()["acked_at"] == acked.json()["acked_at"]
    # The owner cannot ack (or see) the other agency's delivery.
    auth_owner = tokens.headers(role="agency", agency=owner)
    denied = await client.post(f"/api/v1/deliveries/{items[1]['id']}/ack", headers=auth_owner)
    assert denied.status_code == 404
    owner_items, _ = await read_all(client, auth_owner, None, limit=100)
    assert {i["answers"]["ssn"] for i in owner_items} == {"123-45-6789"}
    assert all(i["agency"] == owner for i in owner_items)

    # Every feed read of answers is in the access log, with the fields read.
    log = await client.get(
        "/api/v1/deliveries/access-log",
        params={"agency": other, "limit": 500},
        headers=tokens.headers(role="auditor"),
    )
    assert log.status_code == 200
    entries = log.json()["items"]
    assert {e["delivery_id"] for e in entries} >= {i["id"] for i in items}
    assert all(e["channel"] == "feed" and e["fields"] == ["/income"] for e in entries)


async def test_feed_bad_cursor_and_roles(client: Any, tokens: TokenFactory) -> None:
    auth = tokens.headers(role="agency", agency=agency_code())
    bad = await client.get("/api/v1/deliveries", params={"after": "!!notacursor"}, headers=auth)
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    too_big = await client.get("/api/v1/deliveries", params={"limit": 100000}, headers=auth)
    assert too_big.status_code == 422
    resident = await client.get("/api/v1/deliveries", headers=tokens.headers(role="resident"))
    assert resident.status_code == 403
    unknown = await client.get(
        "/api/v1/deliveries", params={"status": "lost"}, headers=tokens.headers(role="admin")
    )
    assert unknown.status_code == 422
    missing = await client.post("/api/v1/deliveries/nope/ack", headers=auth)
    assert missing.status_code == 404


async def test_cursors_past_their_column_range_are_400_not_500(
    client: Any, tokens: TokenFactory
) -> None:
    """Found by review after a schemathesis run: a hand-made cursor may carry up to 2**64 - 1;
    past the column's range the database failed (PostgreSQL "integer out of range" for the
    access log's ``Integer`` id, SQLite past 64 bits), a 500."""

    def crafted(key: str, value: str) -> str:
        return base64.urlsafe_b64encode(f'{{"{key}":{value}}}'.encode()).decode()

    async def status(path: str, params: dict[str, str], headers: dict[str, str]) -> int:
        resp = await client.get(path, params=params, headers=headers)
        if resp.status_code >= 400:
            assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.status_code != 500, resp.text
        return int(resp.status_code)

    agency = tokens.headers(role="agency", agency=agency_code())
    auditor = tokens.headers(role="auditor")
    feed, log = "/api/v1/deliveries", "/api/v1/deliveries/access-log"
    for value in ("18446744073709551615", "9223372036854775808", "-1", "true"):
        assert await status(feed, {"after": crafted("f", value)}, agency) == 400, value
    for value in ("18446744073709551615", "2147483648", "-1", "true"):
        assert await status(log, {"cursor": crafted("a", value)}, auditor) == 400, value
    # the largest positions each column holds are fine: nothing after them
    assert await status(feed, {"after": crafted("f", str(2**63 - 1))}, agency) == 200
    assert await status(log, {"cursor": crafted("a", str(2**31 - 1))}, auditor) == 200


async def test_feed_never_skips_under_concurrent_out_of_order_commits(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    """Writers hold their transactions open for random times, so rows created (and
    sequenced by time) early commit late; a reader pages all along. Every delivery must be
    read exactly once."""
    agency = agency_code()
    auth = tokens.headers(role="agency", agency=agency)
    rng = random.Random(6)
    expected: set[str] = set()
    writing = True

    async def writer(n: int) -> None:
        async with database.sessions() as session, session.begin():
            rows = await enqueue_deliveries(
                session,
                submission_id=f"sub-{n}",
                reference=f"CT-CONC-{n}",
                form="f",
                version=1,
                submitted_at=datetime.now(UTC),
                receivers=[(agency, {"n": n}, ["/n"])],
            )
            await asyncio.sleep(rng.uniform(0, 0.3))
            expected.update(r.id for r in rows)

    seen: list[str] = []

    async def reader() -> None:
        cursor: str | None = None
        while True:
            finished = not writing
            params: dict[str, Any] = {"limit": 7}
            if cursor:
                params["after"] = cursor
            page = await client.get("/api/v1/deliveries", params=params, headers=auth)
            assert page.status_code == 200, page.text
            body = page.json()
            seen.extend(i["id"] for i in body["items"])
            cursor = body["next_cursor"]
            if finished and not body["items"]:
                return
            await asyncio.sleep(0.01)

    reading = asyncio.create_task(reader())
    for wave in range(8):
        await asyncio.gather(*(writer(wave * 10 + k) for k in range(10)))
    writing = False
    await reading
    assert len(seen) == len(set(seen)), "a delivery was read twice"
    assert set(seen) == expected
    assert len(expected) == 80
