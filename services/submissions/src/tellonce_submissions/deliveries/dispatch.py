"""One push attempt and what follows from its answer: delivered, retried on the schedule,
dead, or the endpoint disabled. Pure decisions here; the worker does the I/O around them."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson

from tellonce_submissions.deliveries.schedule import next_delay, parse_retry_after
from tellonce_submissions.deliveries.signing import sign
from tellonce_submissions.deliveries.ssrf import Refused, WebhookClient

EVENT_TYPE = "submission.created"
USER_AGENT = "TellOnce-Webhooks/1.0"
MAX_ERROR_CHARS = 500

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


async def attempt(
    client: WebhookClient, job: Job, target: Target, *, started_at: datetime
) -> AttemptResult:
    """POST the signed payload once. Signing uses the real time (receivers check it
    against theirs); ``started_at`` is the scheduler's clock."""
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
            error = f"HTTP {status}: {answer.text[:200]}"
    except (Refused, aiohttp.ClientConnectorError) as exc:
        reached = False
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    except TimeoutError:
        error = "timeout: no answer in time"
    except aiohttp.ClientError as exc:
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    except (ValueError, UnicodeError, OSError) as exc:
        # A URL the HTTP stack cannot use: recorded as a failed attempt like any other,
        # so one bad endpoint never stalls the worker's batch.
        reached = False
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
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
