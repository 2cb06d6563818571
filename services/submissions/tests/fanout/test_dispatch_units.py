"""What a receiver sends back is read without ever raising, and stored only as text
PostgreSQL takes: ``Retry-After`` bounded to 24 hours whatever its form, error text without
control characters, the answer's body never (only its status)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tellonce_submissions.deliveries.dispatch import (
    MAX_ERROR_CHARS,
    clean_text,
    describe_error,
    describe_status,
)
from tellonce_submissions.deliveries.repository import is_id
from tellonce_submissions.deliveries.schedule import MAX_RETRY_AFTER, next_delay, parse_retry_after

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("99999999999999", MAX_RETRY_AFTER),  # once an OverflowError that lost the batch
        ("9" * 5000, MAX_RETRY_AFTER),  # longer than int() takes
        ("86401", MAX_RETRY_AFTER),
        ("000000000000000000000000000120", timedelta(seconds=120)),
        ("  120 ", timedelta(seconds=120)),
        ("0", timedelta(0)),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),  # the date form, capped alike
        ("Wed, 25 Nov 2026 12:10:00 GMT", timedelta(minutes=10)),
        ("Wed, 25 Nov 2026 12:10:00", timedelta(minutes=10)),  # no zone: UTC
        ("Mon, 01 Jan 0001 00:00:00 GMT", timedelta(0)),  # in the past
        ("Mon, 01 Jan 0001 00:00:00 +9999", None),  # an offset no datetime takes
        ("Wed, 32 Nov 2026 12:10:00 GMT", None),
        ("\u00b2", None),  # a digit to str.isdigit, not to int()
        ("-5", None),
        ("1e9", None),
        ("\x00", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_never_raises_and_never_exceeds_a_day(
    value: str | None, expected: timedelta | None
) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_the_capped_retry_after_makes_a_schedulable_delay() -> None:
    retry_after = parse_retry_after("99999999999999", NOW)
    delay = next_delay(1, retry_after=retry_after, rng=random.Random(1))
    assert delay == MAX_RETRY_AFTER
    assert NOW + delay == NOW + timedelta(hours=24)


def test_clean_text_keeps_what_postgresql_stores() -> None:
    assert clean_text("a\x00b") == "a\ufffdb"
    assert clean_text("bell\x07 del\x7f surrogate\ud800") == "bell\ufffd del\ufffd surrogate\ufffd"
    assert clean_text("line\nnext\ttab\r") == "line\nnext\ttab\r"
    assert clean_text("é ü 漢字 🙂") == "é ü 漢字 🙂"
    assert len(clean_text("x" * 10_000)) == MAX_ERROR_CHARS
    assert clean_text("abcdef", 3) == "abc"
    clean_text("\ud800").encode("utf-8")  # encodable: no lone surrogate left


def test_errors_describe_the_status_never_the_body() -> None:
    assert describe_status(500) == "HTTP 500 Internal Server Error"
    assert describe_status(429) == "HTTP 429 Too Many Requests"
    assert describe_status(799) == "HTTP 799 non-standard status"
    described = describe_error(RuntimeError("x\x00" * 1000))
    assert described.startswith("RuntimeError: x\ufffd")
    assert len(described) == MAX_ERROR_CHARS


def test_only_canonical_uuids_are_ids() -> None:
    assert is_id("01a217e3-3c22-79c4-97a5-9eb42414116c")
    for value in (
        "",
        "\x00",
        "01a217e3-3c22-79c4-97a5-9eb42414116c\x00",
        "01A217E3-3C22-79C4-97A5-9EB42414116C",  # never stored so
        "01a217e33c2279c497a59eb42414116c",
        "{01a217e3-3c22-79c4-97a5-9eb42414116c}",
        "nope",
    ):
        assert not is_id(value), value


def test_a_failed_connection_says_where_and_why_without_ssl_default() -> None:
    """Acceptance review: an endpoint on a closed port showed aiohttp's "Cannot connect to
    host 127.0.0.1:9 ssl:default [...]" for an http address, which reads as a TLS problem."""
    import aiohttp
    from aiohttp.client_reqrep import ConnectionKey

    key = ConnectionKey("127.0.0.1", 9, False, True, None, None, None, None)
    refused = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))
    described = describe_error(refused)
    assert described == "ClientConnectorError: cannot connect to 127.0.0.1:9: Connection refused"
    assert "ssl" not in described
