"""One push attempt and what follows from its answer: delivered, retried on the schedule,
dead, or the endpoint disabled. Pure decisions here; the worker does the I/O around them."""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import aiohttp
import orjson

from tellonce_submissions.deliveries.schedule import next_delay, parse_retry_after
from tellonce_submissions.deliveries.signing import sign
from tellonce_submissions.deliveries.ssrf import Refused, WebhookClient

log = logging.getLogger("tellonce.worker")

EVENT_TYPE = "submission.created"
USER_AGENT = "TellOnce-Webhooks/1.0"
MAX_ERROR_CHARS = 500
"""At most this many characters of an error are stored (attempt log, ``last_error``)."""

DELIVERED = "delivered"
RETRY = "retry"
DEAD = "dead"
DISABLED = "disabled"


@dataclass(frozen=True)
class Target:
    """An agency's active endpoint with its secrets opened (current first)."""

    endpoint_id: str
    url: str
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Job:
    """A claimed delivery, detached from the database session."""

    delivery_id: str
    submission_id: str
    reference: str
    agency: str
    form: str
    version: int
    submitted_at: datetime
    answers: dict[str, Any]
    fields: list[str]
    attempts: int
    created_at: datetime
    first_attempt_at: datetime | None


@dataclass(frozen=True)
class AttemptResult:
    job: Job
    target: Target
    started_at: datetime
    latency_ms: int
    status_code: int | None
    error: str | None
    retry_after: timedelta | None
    reached_receiver: bool
    """The request was written to the receiver (the agency may have read the answers)."""
    local: bool = False
    """The attempt failed on this side before anything was sent (a payload or signature
    that could not be made, a secret that cannot be opened): logged and retried on the
    schedule like any failure, but it says nothing of the receiver, so it does not count
    against the endpoint's health."""


@dataclass(frozen=True)
class Decision:
    outcome: str
    next_attempt_at: datetime | None
    reason: str | None


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def payload(job: Job, *, timestamp: datetime) -> bytes:
    """The body of API.md: ``{type, timestamp, data}`` with only the agency's answers."""
    return orjson.dumps(
        {
            "type": EVENT_TYPE,
            "timestamp": iso(timestamp),
            "data": {
                "delivery_id": job.delivery_id,
                "submission_id": job.submission_id,
                "reference": job.reference,
                "form": job.form,
                "version": job.version,
                "agency": job.agency,
                "submitted_at": iso(job.submitted_at),
                "answers": job.answers,
            },
        }
    )


_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` fit to store and show: control characters (NUL above all, which PostgreSQL
    refuses in text, failing the whole transaction) and lone surrogates (which cannot be
    encoded) become U+FFFD, and it is cut to ``limit`` characters."""
    return _UNSTORABLE.sub("\ufffd", text[:limit])


def describe_status(status: int) -> str:
    """What the attempt log says of an answer: its status code and the standard reason
    phrase, never the receiver's body (it may echo the resident's answers, and it would be
    stored in clear while the answers are sealed)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "non-standard status"
    return f"HTTP {status} {phrase}"


def describe_error(exc: BaseException) -> str:
    """An exception as the attempt log stores it: its type and message, cleaned, bounded. A
    failed connection says where and why in plain words (aiohttp's own text says
    ``ssl:default`` even for an ``http`` address, which reads as a TLS problem)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or str(exc.os_error) or type(exc.os_error).__name__
        return clean_text(
            f"{type(exc).__name__}: cannot connect to {exc.host}:{exc.port}: {reason}"
        )
    return clean_text(f"{type(exc).__name__}: {exc}")


def failed(
    job: Job,
    target: Target,
    *,
    started_at: datetime,
    error: str,
    reached: bool,
    local: bool,
    latency_ms: int = 0,
    status: int | None = None,
) -> AttemptResult:
    """A failed attempt as the worker records it (retried on the schedule)."""
    return AttemptResult(
        job=job,
        target=target,
        started_at=started_at,
        latency_ms=latency_ms,
        status_code=status,
        error=clean_text(error),
        retry_after=None,
        reached_receiver=reached,
        local=local,
    )


async def attempt(
    client: WebhookClient, job: Job, target: Target, *, started_at: datetime
) -> AttemptResult:
    """POST the signed payload once. Signing uses the real time (receivers check it
    against theirs); ``started_at`` is the scheduler's clock.

    Never raises (but for cancellation): whatever goes wrong, before, during or after the
    request, is a failed attempt, so one delivery can never cost the worker its batch."""
    try:
        wall = time.time()
        timestamp = int(wall)
        body = payload(job, timestamp=datetime.fromtimestamp(wall, UTC))
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": job.delivery_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(target.secrets, job.delivery_id, timestamp, body),
        }
    except Exception as exc:  # nothing was sent: a failed attempt
        log.exception("webhook could not be prepared", extra={"delivery": job.delivery_id})
        return failed(
            job,
            target,
            started_at=started_at,
            error=f"the webhook could not be prepared: {describe_error(exc)}",
            reached=False,
            local=True,
        )
    began = time.perf_counter()
    status: int | None = None
    error: str | None = None
    retry_after: timedelta | None = None
    reached = True
    try:
        answer = await client.post(target.url, body=body, headers=headers)
        status = answer.status
        retry_after = parse_retry_after(answer.headers.get("Retry-After"), started_at)
        if not 200 <= status < 300:
            error = describe_status(status)
    except (Refused, aiohttp.ClientConnectorError) as exc:
        reached = False
        error = describe_error(exc)
    except TimeoutError:
        error = "timeout: no answer in time"
    except aiohttp.ClientError as exc:
        error = describe_error(exc)
    except (ValueError, UnicodeError, OSError) as exc:
        # A URL the HTTP stack cannot use: recorded as a failed attempt like any other,
        # so one bad endpoint never stalls the worker's batch.
        reached = False
        error = describe_error(exc)
    except Exception as exc:  # anything else: a failed attempt, not a lost batch
        # Whether the request went out is unknown: the access log says it may have.
        log.exception("webhook attempt failed unexpectedly", extra={"delivery": job.delivery_id})
        error = describe_error(exc)
    latency = int((time.perf_counter() - began) * 1000)
    return AttemptResult(
        job=job,
        target=target,
        started_at=started_at,
        latency_ms=latency,
        status_code=status,
        error=error,
        retry_after=retry_after,
        reached_receiver=reached,
    )


def decide(result: AttemptResult, *, rng: random.Random | None = None) -> Decision:
    """2xx ends it; 410 disables the endpoint; other 4xx (but 408 and 429) are dead at
    once; 429, 408, 3xx, 5xx and transport errors are retried on the schedule."""
    status = result.status_code
    attempts_done = result.job.attempts + 1
    if status is not None and 200 <= status < 300:
        return Decision(DELIVERED, None, None)
    if status == 410:
        return Decision(DISABLED, None, "the endpoint answered 410 Gone")
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return Decision(DEAD, None, f"the endpoint refused it with HTTP {status}")
    delay = next_delay(attempts_done, retry_after=result.retry_after, rng=rng)
    if delay is None:
        return Decision(DEAD, None, f"no success after {attempts_done} attempts")
    return Decision(RETRY, result.started_at + delay, None)
