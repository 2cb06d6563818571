"""``GET /api/v1/deliveries/summary`` with an agency's token is about that agency only:
its row, and the age of its own oldest due push (review of the agency integration: the age
was computed over every agency's deliveries). An admin still sees every agency's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.models import Delivery

from .conftest import agency_code, enqueue_submission

BACKLOG = timedelta(hours=6)


async def test_an_agency_sees_only_its_own_backlog_age(
    client: Any, tokens: TokenFactory, database: Database
) -> None:
    late, idle = agency_code(), agency_code()
    [due] = await enqueue_submission(database, [(late, {"a": 1}, ["/a"])])
    async with database.sessions() as session, session.begin():
        # due six hours ago and still not pushed (its receiver is slow, or down)
        await session.execute(
            update(Delivery)
            .where(Delivery.id == due)
            .values(next_attempt_at=datetime.now(UTC) - BACKLOG)
        )

    def summary(agency: str | None) -> Any:
        auth = (
            tokens.headers(role="agency", agency=agency) if agency else tokens.headers(role="admin")
        )
        return client.get("/api/v1/deliveries/summary", headers=auth)

    mine = await summary(late)
    assert mine.status_code == 200, mine.text
    assert [a["agency"] for a in mine.json()["agencies"]] == [late]
    assert mine.json()["oldest_due_age_seconds"] >= BACKLOG.total_seconds()

    other = await summary(idle)
    assert other.status_code == 200, other.text
    assert other.json() == {"agencies": [], "oldest_due_age_seconds": 0.0}

    admin = await summary(None)
    assert late in {a["agency"] for a in admin.json()["agencies"]}
    assert admin.json()["oldest_due_age_seconds"] >= BACKLOG.total_seconds()
    # the gauge on /metrics stays every agency's, whoever read the summary last
    await summary(idle)
    scraped = (await client.get("/metrics")).text
    [gauge] = [
        line
        for line in scraped.splitlines()
        if line.startswith("tellonce_delivery_oldest_due_age_seconds ")
    ]
    assert float(gauge.split()[1]) >= BACKLOG.total_seconds()
