"""Unit tests: signatures (checked by the standardwebhooks package), secret encryption,
the retry schedule, the decision table and the SSRF guard."""

from __future__ import annotations

import asyncio
import base64
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tellonce_submissions.deliveries import dispatch, ssrf
from tellonce_submissions.deliveries.schedule import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    next_delay,
    parse_retry_after,
)
from tellonce_submissions.deliveries.signing import SecretBox, SecretBoxError, new_secret, sign
from tellonce_submissions.deliveries.ssrf import UnsafeURL, check_url, is_public

KEYS = "k1:" + base64.b64encode(b"0" * 32).decode()


def test_secret_has_prefix_and_at_least_24_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert new_secret() != secret


def test_signature_verifies_with_standardwebhooks_and_both_secrets_during_rotation() -> None:
    old, new = new_secret(), new_secret()
    ts = int(datetime.now(UTC).timestamp())
    body = b'{"type":"submission.created"}'
    header = sign([new, old], "msg-1", ts, body)
    assert len(header.split(" ")) == 2
    headers = {"webhook-id": "msg-1", "webhook-timestamp": str(ts), "webhook-signature": header}
    assert Webhook(new).verify(body, headers) == {"type": "submission.created"}
    assert Webhook(old).verify(body, headers) == {"type": "submission.created"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body + b" ", headers)


def test_secret_box_round_trip_and_binding() -> None:
    box = SecretBox(KEYS)
    sealed = box.seal("whsec_abc", context="endpoint-1")
    assert "whsec_abc" not in sealed
    assert box.open(sealed, context="endpoint-1") == "whsec_abc"
    with pytest.raises(SecretBoxError):
        box.open(sealed, context="endpoint-2")
    rotated = SecretBox("k2:" + base64.b64encode(b"1" * 32).decode() + "," + KEYS)
    assert rotated.open(sealed, context="endpoint-1") == "whsec_abc"
    assert rotated.seal("x", context="e").startswith("k2:")
    with pytest.raises(SecretBoxError):
        SecretBox("k1:short")


def test_shared_answers_are_sealed_with_the_answer_ring_and_old_rows_still_open() -> None:
    from tellonce_submissions.deliveries.outbox import ShareBox

    answer_keys = "a1:" + base64.b64encode(b"2" * 32).decode()
    shares = ShareBox(answer_keys, legacy_keys=KEYS)
    sealed = shares.seal('{"ssn": "123456789"}', context="d1")
    assert sealed.startswith("a1:")
    assert ShareBox(answer_keys).open(sealed, context="d1") == '{"ssn": "123456789"}'
    with pytest.raises(SecretBoxError):
        SecretBox(KEYS).open(sealed, context="d1")  # the webhook-secret ring cannot open it
    # a row sealed before the rings were separated, with the webhook-secret ring
    legacy = SecretBox(KEYS).seal('{"ssn": "987654321"}', context="d2")
    assert shares.open(legacy, context="d2") == '{"ssn": "987654321"}'
    with pytest.raises(SecretBoxError):
        ShareBox(answer_keys).open(legacy, context="d2")  # no fallback given: refused
    with pytest.raises(SecretBoxError):
        shares.open(legacy, context="another row")  # still bound to its own row


def test_the_webhook_secret_box_is_made_once_per_key_ring() -> None:
    """Every Deliveries request builds a DeliveryService: its webhook-secret box comes from
    a cache keyed by the ring (as the answers' ``share_box``), not parsed again each time."""
    from typing import Any, cast

    from tellonce_submissions.config import Settings
    from tellonce_submissions.deliveries.service import DeliveryService

    no_session = cast(Any, None)
    first = DeliveryService(no_session, Settings(webhook_secret_keys=KEYS))
    second = DeliveryService(no_session, Settings(webhook_secret_keys=KEYS))
    assert first.box is second.box
    other = "k2:" + base64.b64encode(b"3" * 32).decode()
    rotated = DeliveryService(no_session, Settings(webhook_secret_keys=f"{other},{KEYS}"))
    assert rotated.box is not first.box  # a changed ring gets its own box
    sealed = first.box.seal("whsec_x", context="e1")
    assert SecretBox(KEYS).open(sealed, context="e1") == "whsec_x"
    assert rotated.box.open(sealed, context="e1") == "whsec_x"


def test_schedule_is_the_standard_webhooks_one_with_bounded_jitter() -> None:
    assert [d.total_seconds() for d in RETRY_DELAYS] == [
        5,
        300,
        1800,
        7200,
        18000,
        36000,
        50400,
        72000,
        86400,
    ]
    assert MAX_ATTEMPTS == 10
    rng = random.Random(1)
    for done, base in enumerate(RETRY_DELAYS, start=1):
        delay = next_delay(done, rng=rng)
        assert delay is not None
        assert base * 0.9 <= delay <= base * 1.1
    assert next_delay(10, rng=rng) is None
    # Retry-After longer than the schedule wins; shorter does not shorten it.
    assert next_delay(1, retry_after=timedelta(minutes=2), rng=rng) == timedelta(minutes=2)
    slow = next_delay(2, retry_after=timedelta(seconds=1), rng=rng)
    assert slow is not None
    assert slow >= timedelta(minutes=4, seconds=30)


def test_retry_after_parsing() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == timedelta(seconds=120)
    assert parse_retry_after("Wed, 25 Nov 2026 12:10:00 GMT", now) == timedelta(minutes=10)
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def _result(status: int | None, attempts: int = 0) -> dispatch.AttemptResult:
    now = datetime.now(UTC)
    job = dispatch.Job(
        delivery_id="d",
        submission_id="s",
        reference="r",
        agency="A",
        form="f",
        version=1,
        submitted_at=now,
        answers={},
        fields=[],
        attempts=attempts,
        created_at=now,
        first_attempt_at=None,
    )
    return dispatch.AttemptResult(
        job=job,
        target=dispatch.Target("e", "http://x", ("whsec_x",)),
        started_at=now,
        latency_ms=1,
        status_code=status,
        error=None if status else "ConnectError",
        retry_after=None,
        reached_receiver=status is not None,
    )


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (410, "disabled"),
        (400, "dead"),
        (401, "dead"),
        (404, "dead"),
        (429, "retry"),
        (408, "retry"),
        (500, "retry"),
        (503, "retry"),
        (302, "retry"),
        (None, "retry"),
    ],
)
def test_decision_table(status: int | None, outcome: str) -> None:
    assert dispatch.decide(_result(status)).outcome == outcome


def test_tenth_failure_is_dead() -> None:
    assert dispatch.decide(_result(503, attempts=8)).outcome == "retry"
    assert dispatch.decide(_result(503, attempts=9)).outcome == "dead"


def test_public_addresses() -> None:
    assert is_public("8.8.8.8")
    for address in (
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.0.1",
        "169.254.169.254",
        "::1",
        "fc00::1",
        "100.64.0.1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ):
        assert not is_public(address), address


async def test_ssrf_guard_in_production_and_local() -> None:
    await check_url("http://127.0.0.1:9000/hook", production=False)
    await check_url("https://10.0.0.5/hook", production=False)
    for url in (
        "http://8.8.8.8/hook",  # not https
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://[::1]/hook",
        "https://localhost/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://user:pw@8.8.8.8/hook",
        "ftp://8.8.8.8/",
    ):
        with pytest.raises(UnsafeURL):
            await check_url(url, production=True)
    await check_url("https://8.8.8.8/hook", production=True)
    for bad in ("http://exa mple.test/x", "http://127.0.0.1/x\r\nX-Injected: 1"):
        with pytest.raises(UnsafeURL):
            await check_url(bad, production=False)


async def test_the_url_check_waits_a_bounded_time_for_the_name_to_resolve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Registering and enabling resolve the host; a resolver that never answers is an
    unacceptable URL after ``RESOLVE_TIMEOUT_SECONDS``, not a request that hangs."""
    loop = asyncio.get_running_loop()
    looked_up: list[str] = []

    async def never_answers(host: str, *_args: Any, **_kwargs: Any) -> Any:
        looked_up.append(host)
        await asyncio.Event().wait()

    monkeypatch.setattr(loop, "getaddrinfo", never_answers)
    monkeypatch.setattr(ssrf, "RESOLVE_TIMEOUT_SECONDS", 0.2)
    started = time.monotonic()
    with pytest.raises(UnsafeURL, match=r"did not resolve within 0\.2 s"):
        await asyncio.wait_for(check_url("https://hooks.example.org/x", production=True), 10)
    assert looked_up == ["hooks.example.org"]
    assert time.monotonic() - started < 5
