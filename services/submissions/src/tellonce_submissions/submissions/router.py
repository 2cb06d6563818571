"""Submissions routes: parse, authorize, hand over to the service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.auth import Principal, principal_with_role, require_roles
from tellonce_shared.body import json_body
from tellonce_shared.middleware import head_answer, head_only
from tellonce_shared.problems import Problem
from tellonce_submissions.config import Settings
from tellonce_submissions.context import (
    ClockDep,
    ReceiptRendererDep,
    RegistryDep,
    SealerDep,
    SettingsDep,
)
from tellonce_submissions.deps import SessionDep
from tellonce_submissions.idempotency import service as idempotency
from tellonce_submissions.receipts.render import ReceiptRenderer
from tellonce_submissions.receipts.service import receipt_data
from tellonce_submissions.submissions import repository
from tellonce_submissions.submissions.schemas import (
    StatusCreate,
    SubmissionCreate,
    SubmissionCreated,
    SubmissionOut,
    SubmissionPage,
    TimelineEntry,
)
from tellonce_submissions.submissions.service import SubmissionService

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"])

Resident = Annotated[Principal, require_roles("resident")]
ResidentOrAdmin = Annotated[Principal, require_roles("resident", "admin")]
Agency = Annotated[Principal, require_roles("agency")]


def _json(body: object, *, status_code: int, headers: dict[str, str]) -> Response:
    return Response(
        orjson.dumps(body), status_code=status_code, media_type="application/json", headers=headers
    )


def _service(
    session: SessionDep,
    registry: RegistryDep,
    sealer: SealerDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> SubmissionService:
    return SubmissionService(
        session, registry=registry, sealer=sealer, settings=settings, now=clock()
    )


_CREATE_DOCS: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SubmissionCreate.model_json_schema()}},
    },
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "description": "One key per submission: a retry with the same key and body "
            "replays the first answer (IETF httpapi Idempotency-Key draft).",
            "schema": {"type": "string", "maxLength": idempotency.MAX_KEY_LENGTH},
        }
    ],
}


@router.post(
    "",
    status_code=201,
    response_model=SubmissionCreated,
    responses={400: {}, 401: {}, 403: {}, 409: {}, 413: {}, 422: {}},
    openapi_extra=_CREATE_DOCS,
)
async def create_submission(request: Request) -> Response:
    """Validate, store and fan out once per ``Idempotency-Key``.

    The service's busiest route takes no FastAPI dependencies or parameters (each one costs
    every request; measured in docs/submissions.md): it checks the caller, reads the body and
    opens its session itself, in the order FastAPI would (token, body, then the key), with
    the same answers. Its request body and header are documented by ``_CREATE_DOCS``."""
    principal = await principal_with_role(request, "resident")
    body = await json_body(request, SubmissionCreate)
    key = idempotency.check_key(request.headers.get("idempotency-key"))
    state = request.app.state
    async with state.database.sessions() as session:
        # PostgreSQL: the write goes through the process's group commit (state.writer), on
        # connections of its own; the session only reads (a draft, a replayed outcome), and
        # holds no connection unless it does. SQLite: the write is the session's.
        try:
            response = await _create(session, principal, key, body, state)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    return response


async def _create(
    session: AsyncSession, principal: Principal, key: str, body: SubmissionCreate, state: Any
) -> Response:
    settings: Settings = state.settings
    now: datetime = state.clock()
    print_ = idempotency.fingerprint(body.document())

    async def look_up() -> idempotency.Claim:
        return await idempotency.claim(
            session,
            owner=principal.sub,
            key=key,
            print_=print_,
            now=now,
            retention_hours=settings.idempotency_retention_hours,
        )

    async def replay(problem: Exception) -> idempotency.Claim:
        """The key's stored outcome, if it has one (a retry of a request that succeeded,
        whatever has changed since, e.g. a retired version); else the problem stands."""
        claim = await look_up()
        if not claim.is_replay:
            raise problem
        return claim

    # Optimistic: the write itself stores the outcome only if the key has none, so a first
    # request (nearly all of them) costs one round trip; the key is looked up only when the
    # write stored nothing or a check refused the request.
    service = SubmissionService(
        session,
        registry=state.registry,
        sealer=state.sealer,
        settings=settings,
        now=now,
        writer=state.writer,
    )
    payloads: list[dict[str, Any]] = []

    def remember_outcome(created: SubmissionCreated) -> dict[str, Any]:
        # Called once per reference drawn; the last one is the one stored.
        payloads.append(created.model_dump(mode="json"))
        claim = idempotency.Claim(principal.sub, key, print_)
        return idempotency.record(claim, status_code=201, body=payloads[-1], now=now)

    try:
        created = await service.submit(
            principal,
            body,
            outcome=remember_outcome,
            outcome_lock=idempotency.lock_id(principal.sub, key),
            replace_before=idempotency.replace_before(now, settings.idempotency_retention_hours),
        )
    except idempotency.KeyTaken:  # a twin finished first: its outcome is the answer
        claim = await replay(idempotency.in_flight())
    except Problem as problem:
        claim = await replay(problem)
    else:
        return _json(
            payloads[-1], status_code=201, headers={"Location": f"{router.prefix}/{created.id}"}
        )
    return _json(
        claim.replay_body,
        status_code=claim.replay_status or 201,
        headers={"Idempotent-Replayed": "true"},
    )


@router.get("", response_model=SubmissionPage)
async def list_submissions(
    principal: ResidentOrAdmin,
    session: SessionDep,
    registry: RegistryDep,
    sealer: SealerDep,
    settings: SettingsDep,
    clock: ClockDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> SubmissionPage:
    """A resident's own submissions, newest first (an admin sees all)."""
    service = _service(session, registry, sealer, settings, clock)
    return await service.page(principal, limit=limit, cursor=cursor)


@router.get("/{id_or_reference}", response_model=SubmissionOut)
async def get_submission(
    id_or_reference: str,
    principal: ResidentOrAdmin,
    session: SessionDep,
    registry: RegistryDep,
    sealer: SealerDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> SubmissionOut:
    """By id or by reference (any case, dashes optional), with the timeline."""
    service = _service(session, registry, sealer, settings, clock)
    return await service.read(principal, id_or_reference)


@router.get(
    "/{submission_id}/receipt.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def get_receipt(
    request: Request,
    submission_id: str,
    principal: Resident,
    session: SessionDep,
    registry: RegistryDep,
    sealer: SealerDep,
    settings: SettingsDep,
    clock: ClockDep,
    renderer: Annotated[ReceiptRenderer, ReceiptRendererDep],
    lang: Annotated[Literal["en", "es"], Query()] = "en",
) -> Response:
    """The PDF receipt, rendered in a worker process, in ``lang``: its own words, and the
    form's title, questions and choices where the version's UI document has them in it. A
    HEAD is answered without rendering it (a render takes a worker for a second or more, and
    a HEAD's content is dropped): the same status and fields, but no ``Content-Length``,
    which only the render would know (RFC 9110 9.3.2 lets a HEAD leave it out)."""
    service = _service(session, registry, sealer, settings, clock)
    submission = await service.find(principal, submission_id)
    fields = {
        "Content-Disposition": f'inline; filename="receipt-{submission.reference}.pdf"',
        "Cache-Control": "private, no-store",
    }
    if head_only(request):
        return head_answer("application/pdf", fields)
    version = await registry.version(submission.form, submission.version)
    answers = service.answers_of(submission, masked=False)
    deliveries = await repository.deliveries_for(session, [submission.id])
    data = receipt_data(
        submission,
        answers,
        version,
        lang,
        ui=version.ui,
        deliveries={d.agency: d.status for d in deliveries[submission.id]},
    )
    pdf = await renderer.render(data)
    return Response(pdf, media_type="application/pdf", headers=fields)


@router.post(
    "/{submission_id}/status",
    status_code=201,
    response_model=TimelineEntry,
    responses={400: {}, 403: {}, 404: {}, 409: {}, 422: {}},
)
async def post_status(
    submission_id: str,
    body: StatusCreate,
    principal: Agency,
    session: SessionDep,
    registry: RegistryDep,
    sealer: SealerDep,
    settings: SettingsDep,
    clock: ClockDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Optional: a retry with the same key and body (same agency, same "
            "submission) replays the first answer and adds no second entry; another body "
            "is a 422.",
        ),
    ] = None,
) -> TimelineEntry:
    """An agency that received the submission reports where it stands."""
    key = idempotency.optional_key(idempotency_key)
    service = _service(session, registry, sealer, settings, clock)
    posted = await service.post_status(principal, submission_id, body, key=key)
    response.status_code = posted.status_code
    if posted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return posted.entry
