"""Request and response bodies of the Deliveries routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tellonce_submissions.times import UTCDateTime


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048)


class EndpointPublic(BaseModel):
    id: str
    agency: str
    url: str
    status: str
    disabled_reason: str | None
    disabled_at: UTCDateTime | None
    failing_since: UTCDateTime | None
    previous_secret_expires_at: UTCDateTime | None
    """While set and in the future, webhooks carry a second signature (the old secret)."""
    created_at: UTCDateTime


class EndpointWithSecret(EndpointPublic):
    secret: str
    """``whsec_...``: shown once, at creation and at rotation."""


class EndpointList(BaseModel):
    items: list[EndpointPublic]


class AttemptPublic(BaseModel):
    at: UTCDateTime
    url: str
    status_code: int | None
    latency_ms: int
    error: str | None
    outcome: str


class DeliveryPublic(BaseModel):
    """A delivery's state, without the resident's answers (admins, auditors, dead letters)."""

    id: str
    submission_id: str
    reference: str
    agency: str
    form: str
    version: int
    fields: list[str]
    status: str
    attempts: int
    next_attempt_at: UTCDateTime | None
    last_status_code: int | None
    last_error: str | None
    created_at: UTCDateTime
    first_attempt_at: UTCDateTime | None
    delivered_at: UTCDateTime | None
    acked_at: UTCDateTime | None
    dead_at: UTCDateTime | None
    replays: int
    attempt_log: list[AttemptPublic] | None = None
    share_purged_at: UTCDateTime | None = None
    """When the retention job erased the agency's share of the answers (the delivery can
    no longer be replayed); ``None`` while they are held."""


class DeliveryWithAnswers(DeliveryPublic):
    """One delivery read by the agency it is addressed to, with its share of the answers
    (``GET /api/v1/deliveries/{id}?include=answers``; one access-log entry per read)."""

    submitted_at: UTCDateTime
    answers: dict[str, Any] | None
    """The agency's answers (only its agreed fields); ``None`` once the retention job has
    erased them (see ``share_purged_at``), never an empty object standing for them."""


class DeliveryList(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None
    prev_cursor: str | None = None
    """``?order=newest`` only: the page of newer deliveries before this one (``null`` on the
    first page)."""


class FeedItem(BaseModel):
    """One pulled delivery: the same ``data`` a webhook carries, plus its state."""

    id: str
    delivery_id: str
    submission_id: str
    reference: str
    form: str
    version: int
    agency: str
    submitted_at: UTCDateTime
    answers: dict[str, Any] | None
    """The agency's answers; ``None`` once the retention job has erased them (see
    ``share_purged_at``), never an empty object standing for them."""
    fields: list[str]
    status: str
    acked_at: UTCDateTime | None
    created_at: UTCDateTime
    share_purged_at: UTCDateTime | None = None
    """Set when the answers were erased under the retention rule: this service no longer
    holds them (the submission itself is the record)."""


class Feed(BaseModel):
    items: list[FeedItem]
    next_cursor: str
    """Pass it as ``after`` to read on; it is the same cursor when nothing new has come."""


class AckResult(BaseModel):
    id: str
    status: str
    acked_at: UTCDateTime | None


class ReplayResult(BaseModel):
    replayed: int
    ids: list[str]


class AccessEntry(BaseModel):
    id: int
    agency: str
    submission_id: str
    delivery_id: str
    fields: list[str]
    channel: str
    actor: str | None
    at: UTCDateTime


class AccessLog(BaseModel):
    items: list[AccessEntry]
    next_cursor: str | None


class AgencyCounts(BaseModel):
    agency: str
    pending: int
    delivered: int
    acked: int
    dead: int
    endpoint_status: str | None
    """``active``, ``disabled`` or ``None`` (the agency pulls)."""


class Summary(BaseModel):
    """Delivery health at a glance (admins and auditors; an agency sees its own row)."""

    agencies: list[AgencyCounts]
    oldest_due_age_seconds: float
    """How long the oldest due push has waited past its due time (0: no backlog)."""
