"""The Deliveries routes of API.md: webhook endpoints, the pull feed and ack, dead letters
and replay, and every delivery's state for admins and auditors."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from tellonce_shared.auth import Principal, PrincipalDep, require_roles
from tellonce_shared.middleware import head_only
from tellonce_shared.problems import Forbidden
from tellonce_submissions.config import Settings
from tellonce_submissions.deliveries.clock import Clock, SystemClock
from tellonce_submissions.deliveries.schemas import (
    AccessLog,
    AckResult,
    DeliveryList,
    DeliveryPublic,
    DeliveryWithAnswers,
    EndpointCreate,
    EndpointList,
    EndpointPublic,
    EndpointWithSecret,
    Feed,
    ReplayResult,
    Summary,
)
from tellonce_submissions.deliveries.service import DeliveryService
from tellonce_submissions.deps import SessionDep

router = APIRouter(prefix="/api/v1/deliveries", tags=["deliveries"])

AgencyOnly = Annotated[Principal, require_roles("agency")]
AgencyOrAdmin = Annotated[Principal, require_roles("agency", "admin")]
Anyone = Annotated[Principal, require_roles("agency", "admin", "auditor")]
Limit = Annotated[int, Query(ge=1, le=500)]
AgencyFilter = Annotated[
    str | None,
    Query(max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="An agency code, e.g. DSS."),
]
"""Letters, digits, ``_`` and ``-``: anything else is a 422 (a NUL once was a 500)."""
SubmissionFilter = Annotated[uuid.UUID | None, Query(description="A submission id (a UUID).")]
Order = Annotated[
    Literal["oldest", "newest"],
    Query(
        description="The state listing's order: ``oldest`` first (by creation, the default) "
        "or ``newest`` first (by feed position, paged both ways with ``next_cursor`` and "
        "``prev_cursor``). The pull feed is always oldest first."
    ),
]


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def get_service(request: Request, session: SessionDep) -> DeliveryService:
    settings: Settings = request.app.state.settings
    clock: Clock = getattr(request.app.state, "delivery_clock", None) or SystemClock()
    return DeliveryService(session, settings, clock)


ServiceDep = Annotated[DeliveryService, Depends(get_service)]


@router.post("/endpoints", status_code=201, response_model=EndpointWithSecret)
async def create_endpoint(
    body: EndpointCreate, principal: AgencyOnly, service: ServiceDep
) -> EndpointWithSecret:
    """Register the agency's webhook receiver; the ``whsec_`` secret is shown only here."""
    return await service.create_endpoint(principal, body.url)


@router.get("/endpoints", response_model=EndpointList)
async def list_endpoints(
    principal: Anyone, service: ServiceDep, agency: AgencyFilter = None
) -> EndpointList:
    return await service.list_endpoints(principal, agency)


@router.delete("/endpoints/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: str, principal: AgencyOnly, service: ServiceDep) -> Response:
    await service.delete_endpoint(principal, endpoint_id)
    return Response(status_code=204)


@router.post("/endpoints/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret)
async def rotate_secret(
    endpoint_id: str, principal: AgencyOnly, service: ServiceDep
) -> EndpointWithSecret:
    return await service.rotate_secret(principal, endpoint_id)


@router.post("/endpoints/{endpoint_id}/enable", response_model=EndpointPublic)
async def enable_endpoint(
    endpoint_id: str, principal: AgencyOnly, service: ServiceDep
) -> EndpointPublic:
    """Turn a disabled endpoint back on once the agency has fixed its receiver."""
    return await service.enable_endpoint(principal, endpoint_id)


@router.get("", response_model=Feed | DeliveryList)
async def deliveries(
    request: Request,
    principal: PrincipalDep,
    service: ServiceDep,
    limit: Limit = 100,
    after: str | None = None,
    status: str | None = None,
    agency: AgencyFilter = None,
    submission: SubmissionFilter = None,
    cursor: str | None = None,
    order: Order = "oldest",
) -> Feed | DeliveryList:
    """For an agency without ``status``: its pull feed, oldest first, never skipping one
    (``?after=<next_cursor>``). With ``?status=`` (e.g. ``dead``), ``?agency=``,
    ``?order=newest``, or for admins and auditors: delivery states and attempts, without
    answers."""
    if (
        principal.role == "agency"
        and status is None
        and agency is None
        and submission is None
        and order == "oldest"
    ):
        # ``cursor`` is accepted too, as on every other list endpoint. A HEAD sends no
        # answers, so it is not logged as a read.
        return await service.feed(
            principal, after or cursor, limit, disclosed=not head_only(request)
        )
    if principal.role not in ("agency", "admin", "auditor"):
        raise Forbidden("Deliveries are visible to agencies, admins and auditors.")
    return await service.list(
        principal,
        status=status,
        agency=agency,
        submission_id=_text(submission),
        cursor=cursor,
        limit=limit,
        newest_first=order == "newest",
    )


@router.post("/replay", response_model=ReplayResult)
async def replay_all(
    principal: AgencyOrAdmin, service: ServiceDep, agency: AgencyFilter = None
) -> ReplayResult:
    """Replay every dead delivery of the agency (admins: of every agency, or ``?agency=``)."""
    return await service.replay_all(principal, agency)


@router.get("/summary", response_model=Summary)
async def summary(principal: Anyone, service: ServiceDep) -> Summary:
    """Deliveries by agency and state, each agency's endpoint status, and the age of the
    oldest due push (also refreshes this process's delivery gauges on /metrics)."""
    return await service.summary(principal)


@router.get("/access-log", response_model=AccessLog)
async def access_log(
    principal: Annotated[Principal, require_roles("admin", "auditor", "agency")],
    service: ServiceDep,
    limit: Limit = 100,
    agency: AgencyFilter = None,
    submission: SubmissionFilter = None,
    cursor: str | None = None,
) -> AccessLog:
    """Every read of resident answers by an agency: webhook sent, feed page read or one
    delivery read with ``?include=answers``."""
    return await service.access_log(
        principal, agency=agency, submission_id=_text(submission), cursor=cursor, limit=limit
    )


@router.get("/{delivery_id}", response_model=DeliveryWithAnswers | DeliveryPublic)
async def get_delivery(
    request: Request,
    delivery_id: str,
    principal: Anyone,
    service: ServiceDep,
    include: Annotated[
        Literal["answers"] | None,
        Query(description="``answers``: the agency's share of the answers (agency only)."),
    ] = None,
) -> DeliveryWithAnswers | DeliveryPublic:
    """One delivery's state and attempts, without answers. With ``?include=answers``, for
    the agency it is addressed to only: also ``submitted_at`` and its share of the answers
    (``null`` with ``share_purged_at`` once erased), written to the access log as one read;
    admins and auditors get 403. A HEAD sends no answers, so it is not logged."""
    if include == "answers":
        return await service.read(principal, delivery_id, disclosed=not head_only(request))
    return await service.get(principal, delivery_id)


@router.post("/{delivery_id}/ack", response_model=AckResult)
async def ack(delivery_id: str, principal: AgencyOnly, service: ServiceDep) -> AckResult:
    return await service.ack(principal, delivery_id)


@router.post("/{delivery_id}/replay", response_model=DeliveryPublic)
async def replay(delivery_id: str, principal: AgencyOrAdmin, service: ServiceDep) -> DeliveryPublic:
    return await service.replay(principal, delivery_id)
