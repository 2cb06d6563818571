"""Migration 0008 erases the profile values of residents who do not consent (left by the race
between a submission and a withdrawal, fixed since) and keeps the others."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from tellonce_shared.migrations import alembic_config, sync_url
from tellonce_shared.testing import create_database, drop_database

from .conftest import SERVICE_DIR


@pytest.fixture
def at_0007() -> Iterator[str]:
    url = create_database("submissions_mig8")
    try:
        command.upgrade(alembic_config(SERVICE_DIR, url), "0007_delivery_share_retention")
        yield url
    finally:
        drop_database(url)


def test_values_without_consent_are_erased_and_the_rest_kept(at_0007: str) -> None:
    now = datetime.now(UTC)
    engine = create_engine(sync_url(at_0007))
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO profiles (owner, keep, updated_at) VALUES (:o, :k, :t)"),
                [{"o": "keeps", "k": True, "t": now}, {"o": "withdrew", "k": False, "t": now}],
            )
            conn.execute(
                text(
                    "INSERT INTO profile_values (owner, element, value, updated_at)"
                    " VALUES (:o, :e, CAST(:v AS json), :t)"
                ),
                [
                    {"o": owner, "e": element, "v": '"x"', "t": now}
                    for owner in ("keeps", "withdrew", "erased")  # "erased": no profile row
                    for element in ("person.givenName", "person.birthDate")
                ],
            )
        command.upgrade(alembic_config(SERVICE_DIR, at_0007), "head")
        with engine.connect() as conn:
            left = conn.execute(
                text("SELECT owner, element FROM profile_values ORDER BY owner, element")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in left] == [
        ("keeps", "person.birthDate"),
        ("keeps", "person.givenName"),
    ]
