"""One delivery read with its answers (``GET /api/v1/deliveries/{id}?include=answers``): only
the agency it is addressed to, one access-log entry per read (none once the share was
erased), 403 for admins and auditors, 404 for another agency; without ``include`` the route
is what it was (no answers, nothing logged)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.models import AnswerAccess, Delivery

from .conftest import agency_code, enqueue_submission

PROBLEM = "application/problem+json"
ANSWERS = {"name": "Ana Diaz", "ssn": "123-45-6789"}


async def _logged(database: Database, delivery_id: str) -> list[AnswerAccess]:
    async with database.sessions() as session:
        rows = (
            await session.scalars(
                select(AnswerAccess)
                .where(AnswerAccess.delivery_id == delivery_id)
                .order_by(AnswerAccess.id)
            )
        ).all()
        session.expunge_all()
    return list(rows)


async def _two_agencies(database: Database) -> tuple[str, str, str, str]:
    """A submission delivered to ``owner`` (name and SSN) and to ``other`` (the name):
    (owner, its delivery, other, its delivery)."""
    owner, other = agency_code(), agency_code()
    mine, theirs = await enqueue_submission(
        database, [(owner, ANSWERS, ["/name", "/ssn"]), (other, {"name": "Ana Diaz"}, ["/name"])]
    )
    return owner, mine, other, theirs


async def test_one_read_returns_the_share_and_logs_exactly_one_entry(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    owner, mine, _, _ = await _two_agencies(database)
    auth = tokens.headers("staff-1", role="agency", agency=owner)
    read = await client.get(f"/api/v1/deliveries/{mine}?include=answers", headers=auth)
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["id"] == mine
    assert body["agency"] == owner
    assert body["answers"] == ANSWERS
    assert body["fields"] == ["/name", "/ssn"]
    assert body["share_purged_at"] is None
    assert body["submitted_at"]
    assert body["status"] == "pending"
    assert body["attempt_log"] == []
    logged = await _logged(database, mine)
    assert len(logged) == 1, "one read, one access-log entry"
    (entry,) = logged
    assert entry.agency == owner
    assert entry.submission_id == body["submission_id"]
    assert entry.fields == ["/name", "/ssn"]
    assert entry.channel == "read"
    assert entry.actor == "staff-1"
    # The agency sees its read in the access log API too.
    log = await client.get(
        "/api/v1/deliveries/access-log",
        params={"submission": body["submission_id"]},
        headers=auth,
    )
    assert [(e["delivery_id"], e["channel"]) for e in log.json()["items"]] == [(mine, "read")]
    # A second read is a second entry.
    again = await client.get(
        f"/api/v1/deliveries/{mine}", params={"include": "answers"}, headers=auth
    )
    assert again.status_code == 200
    assert len(await _logged(database, mine)) == 2


async def test_a_partner_agency_gets_only_its_fields(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    _, _, other, theirs = await _two_agencies(database)
    auth = tokens.headers(role="agency", agency=other)
    read = await client.get(f"/api/v1/deliveries/{theirs}?include=answers", headers=auth)
    assert read.status_code == 200, read.text
    assert read.json()["answers"] == {"name": "Ana Diaz"}
    assert [e.fields for e in await _logged(database, theirs)] == [["/name"]]


async def test_an_erased_share_reads_as_null_and_is_not_logged(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    owner, mine, _, _ = await _two_agencies(database)
    erased = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    async with database.sessions() as session, session.begin():
        # What the retention job leaves (repository.purge_shares).
        await session.execute(
            update(Delivery)
            .where(Delivery.id == mine)
            .values(
                status="delivered",
                delivered_at=erased,
                answers={},
                sealed_answers=None,
                share_purged_at=erased,
            )
        )
    auth = tokens.headers(role="agency", agency=owner)
    read = await client.get(f"/api/v1/deliveries/{mine}?include=answers", headers=auth)
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["answers"] is None, "null, never an empty object standing for answers"
    assert datetime.fromisoformat(body["share_purged_at"]) == erased
    assert body["fields"] == ["/name", "/ssn"]
    assert await _logged(database, mine) == [], "an erased share disclosed nothing"


async def test_admins_and_auditors_never_get_answers(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    _, mine, _, _ = await _two_agencies(database)
    for role in ("admin", "auditor"):
        denied = await client.get(
            f"/api/v1/deliveries/{mine}?include=answers", headers=tokens.headers(role=role)
        )
        assert denied.status_code == 403, (role, denied.text)
        assert denied.headers["content-type"].startswith(PROBLEM)
        assert "answers" not in denied.json()
        # Without include they still see its state.
        state = await client.get(f"/api/v1/deliveries/{mine}", headers=tokens.headers(role=role))
        assert state.status_code == 200
    resident = await client.get(
        f"/api/v1/deliveries/{mine}?include=answers", headers=tokens.headers(role="resident")
    )
    assert resident.status_code == 403
    assert await _logged(database, mine) == []


async def test_another_agencys_delivery_is_404(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    _, mine, other, _ = await _two_agencies(database)
    auth = tokens.headers(role="agency", agency=other)
    missing = await client.get(f"/api/v1/deliveries/{mine}?include=answers", headers=auth)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith(PROBLEM)
    assert "Ana" not in missing.text
    unknown = await client.get("/api/v1/deliveries/no-such-id?include=answers", headers=auth)
    assert unknown.status_code == 404
    assert await _logged(database, mine) == []


async def test_an_unknown_include_is_422(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    owner, mine, _, _ = await _two_agencies(database)
    auth = tokens.headers(role="agency", agency=owner)
    for value in ("attempts", "answers,attempts", "ANSWERS", ""):
        bad = await client.get(
            f"/api/v1/deliveries/{mine}", params={"include": value}, headers=auth
        )
        assert bad.status_code == 422, (value, bad.text)
        assert bad.headers["content-type"].startswith(PROBLEM)
    assert await _logged(database, mine) == []


async def test_without_include_nothing_changes_and_nothing_is_logged(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    owner, mine, _, _ = await _two_agencies(database)
    auth = tokens.headers(role="agency", agency=owner)
    plain = await client.get(f"/api/v1/deliveries/{mine}", headers=auth)
    assert plain.status_code == 200, plain.text
    body = plain.json()
    assert "answers" not in body
    assert "submitted_at" not in body
    assert set(body) == {
        "id", "submission_id", "reference", "agency", "form", "version", "fields", "status",
        "attempts", "next_attempt_at", "last_status_code", "last_error", "created_at",
        "first_attempt_at", "delivered_at", "acked_at", "dead_at", "replays", "attempt_log",
        "share_purged_at",
    }  # fmt: skip
    assert "123-45-6789" not in plain.text
    assert await _logged(database, mine) == []


async def test_head_on_a_read_or_the_feed_discloses_nothing_so_logs_nothing(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    """HEAD runs as the GET it asks about (every service answers HEAD wherever GET), but
    its answer carries no content: no answers are disclosed, so no access-log entry is
    written, for one delivery's read or for a feed page; and its Content-Length is not the
    GET's, which would measure the answers unlogged (review finding): it is the length of
    the delivery's state alone, and of the feed page without answers."""
    owner, mine, _, _ = await _two_agencies(database)
    auth = tokens.headers("staff-1", role="agency", agency=owner)
    one = await client.head(f"/api/v1/deliveries/{mine}?include=answers", headers=auth)
    assert one.status_code == 200
    assert one.content == b""
    assert one.headers["content-type"] == "application/json"
    feed = await client.head("/api/v1/deliveries", headers=auth)
    assert feed.status_code == 200
    assert feed.content == b""
    assert await _logged(database, mine) == []
    state = await client.get(f"/api/v1/deliveries/{mine}", headers=auth)
    assert one.headers["content-length"] == str(len(state.content))
    # The same reads as GET are logged, one entry each.
    read = await client.get(f"/api/v1/deliveries/{mine}?include=answers", headers=auth)
    assert read.json()["answers"] == ANSWERS
    assert one.headers["content-length"] != str(len(read.content))
    page = await client.get("/api/v1/deliveries", headers=auth)
    assert mine in [item["id"] for item in page.json()["items"]]
    assert int(feed.headers["content-length"]) < len(page.content)
    assert [e.channel for e in await _logged(database, mine)] == ["read", "feed"]
    # A HEAD by someone who may not read answers is refused as the GET is.
    admin = tokens.headers("admin-1", role="admin")
    refused = await client.head(f"/api/v1/deliveries/{mine}?include=answers", headers=admin)
    assert refused.status_code == 403
