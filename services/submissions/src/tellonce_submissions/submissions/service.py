"""Submitting once, delivering to many.

One transaction stores the submission (restricted values sealed), its first timeline event,
its performance facts, the resident's profile values (with consent), the idempotency record,
and one outbox row per receiving agency, each with only the fields that agency may receive.
All of them go in one statement (one round trip on PostgreSQL, see ``store.py``).
Validation happens before anything is written, so an invalid submission leaves no trace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.auth import Principal
from tellonce_shared.ids import uuid7
from tellonce_shared.pagination import decode_cursor, encode_cursor
from tellonce_shared.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    ValidationFailed,
)
from tellonce_submissions.answers import flatten, format_pointer, matches, project
from tellonce_submissions.config import Settings
from tellonce_submissions.crypto import AnswerSealer
from tellonce_submissions.deliveries.models import PENDING, Delivery
from tellonce_submissions.deliveries.outbox import delivery_rows
from tellonce_submissions.drafts.service import DraftService, check_size
from tellonce_submissions.idempotency import service as idempotency
from tellonce_submissions.ids import canonical_id
from tellonce_submissions.models import Submission, SubmissionEvent
from tellonce_submissions.performance import facts as performance_facts
from tellonce_submissions.profile import service as profile
from tellonce_submissions.reference import new_reference, normalize_reference
from tellonce_submissions.registry.client import (
    PUBLISHED,
    RETIRED,
    Agreement,
    FormVersion,
    RegistryClient,
)
from tellonce_submissions.sealing import (
    masked_answers,
    open_answers,
    seal_answers,
    submission_context,
)
from tellonce_submissions.submissions import repository
from tellonce_submissions.submissions.group_commit import GroupWriter
from tellonce_submissions.submissions.schemas import (
    DeliveryOut,
    StatusCreate,
    SubmissionCreate,
    SubmissionCreated,
    SubmissionOut,
    SubmissionPage,
    TimelineEntry,
)
from tellonce_submissions.submissions.store import Stored, SubmissionWrite, store
from tellonce_submissions.times import utc
from tellonce_submissions.validation import SchemaUnusable


class DecisionConflict(Conflict):
    slug, title = "decision-final", "The application is already decided"


SUBMITTED = "submitted"
STATUS_CREATED = 201
"""The status code of a new timeline entry (and of its replays)."""
DECISIONS = performance_facts.DECISIONS
"""Statuses only the owning agency may post: they decide the application."""
REFERENCE_DRAWS = 2
"""Numbers drawn for one submission before a taken one is answered with a 409."""
REFERENCE_INDEX = "uq_submissions_reference"


@dataclass(frozen=True)
class StatusPosted:
    """A status post's answer: the entry, and whether it replays an earlier post's."""

    entry: TimelineEntry
    status_code: int
    replayed: bool


def _reference_taken(exc: IntegrityError) -> bool:
    """The refusal was the reference's unique index (PostgreSQL names the constraint)."""
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None) == REFERENCE_INDEX


def receivers_for(
    version: FormVersion, agreements: Sequence[Agreement], answers: dict[str, Any]
) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(agency, its share of the answers, the pointers it receives): the owning agency gets
    everything; an agreement's agency gets the fields it names (pointers, or element ids
    resolved to this version's fields), and only those present in the answers."""
    owner_fields = [format_pointer((key,)) for key in answers]
    result: list[tuple[str, dict[str, Any], list[str]]] = [
        (version.owning_agency, answers, owner_fields)
    ]
    for agency, patterns in version.shares(agreements).items():
        share = project(answers, patterns)
        leaves = [leaf for leaf, _ in flatten(share, ())]
        present = sorted(
            {format_pointer(p) for p in patterns if p and any(matches(p, leaf) for leaf in leaves)}
        )
        if present:
            result.append((agency, share, present))
    return result


class SubmissionService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        registry: RegistryClient,
        sealer: AnswerSealer,
        settings: Settings,
        now: datetime,
        writer: GroupWriter | None = None,
    ) -> None:
        self.session = session
        self.registry = registry
        self.sealer = sealer
        self.settings = settings
        self.now = now
        self.writer = writer
        """PostgreSQL: submissions written by the process's group commit, on connections of
        its own; else (SQLite) in ``session``'s transaction."""

    async def check(self, owner: str, body: SubmissionCreate) -> FormVersion:
        """Everything that can refuse a submission, before anything is written."""
        version = await self.registry.version(body.form, body.version)
        if version.status == RETIRED:
            if body.draft is None:
                raise Conflict(
                    f"Version {body.version} of {body.form!r} is retired; only a draft "
                    "started on it can still be submitted (send its id as 'draft')."
                )
        elif version.status != PUBLISHED:
            raise Conflict(f"Version {body.version} of {body.form!r} is not published.")
        if body.draft is not None:
            drafts = DraftService(
                self.session,
                registry=self.registry,
                sealer=self.sealer,
                settings=self.settings,
                now=self.now,
            )
            draft = await drafts.pinned(owner, body.draft)
            if (draft.form, draft.version) != (body.form, body.version):
                raise ValidationFailed(
                    "The draft is pinned to another form or version.",
                    errors=[
                        {
                            "pointer": "/draft",
                            "message": f"draft is for {draft.form} version {draft.version}",
                        }
                    ],
                )
        check_size(body.answers, self.settings)
        if not version.compiled.is_valid(body.answers):
            raise ValidationFailed(
                f"The answers do not match {body.form} version {body.version}.",
                errors=version.compiled.errors(body.answers),
            )
        return version

    async def submit(
        self,
        principal: Principal,
        body: SubmissionCreate,
        *,
        outcome: Callable[[SubmissionCreated], dict[str, Any]] | None = None,
        outcome_lock: int | None = None,
        replace_before: datetime | None = None,
    ) -> SubmissionCreated:
        """Store and fan out, in one write. ``outcome`` turns the response into one more row
        of that write (the idempotency record), so both exist or neither does; the write
        happens only if that row can be stored (see ``idempotency``): 409 while a twin is
        writing (``outcome_lock`` held), ``KeyTaken`` when a twin has finished."""
        version = await self.check(principal.sub, body)
        agreements = await self.registry.agreements(body.form)
        receivers = receivers_for(version, agreements, body.answers)
        element_schemas = {
            f.element: await self.registry.element_schema(f.element)
            for f in version.fields
            if f.element
        }
        for attempt in range(REFERENCE_DRAWS):
            created, write = self._write(principal, body, version, receivers, element_schemas)
            if outcome is not None:
                write.outcome = outcome(created)
                write.outcome_lock = outcome_lock
                write.replace_before = replace_before
            try:
                stored = await self._store(write)
                break
            except IntegrityError as exc:
                # 31^7 references a year: two submissions drawing the same one is rare but
                # possible. Nothing was stored (one statement, its own transaction on
                # PostgreSQL), so another number is drawn. Any other refusal (or a second
                # taken number, or SQLite, where a same-key twin may win the race) is a 409
                # the client retries with the same Idempotency-Key.
                if attempt + 1 < REFERENCE_DRAWS and _reference_taken(exc):
                    continue
                raise Conflict(
                    "The submission could not be stored this time; please retry.",
                    headers={"Retry-After": "1"},
                ) from exc
        if not stored.locked:
            raise idempotency.in_flight()
        if stored.draft_gone:
            # as when the draft was gone before the check (the same draft submitted twice at
            # once, each with its own key: the first one took it)
            raise NotFound(f"There is no draft {body.draft}: it was submitted or deleted.")
        if not stored.stored:
            raise idempotency.KeyTaken()
        return created

    async def _store(self, write: SubmissionWrite) -> Stored:
        if self.writer is not None:
            return await self.writer.store(write)
        return await store(self.session, write)

    def _write(
        self,
        principal: Principal,
        body: SubmissionCreate,
        version: FormVersion,
        receivers: list[tuple[str, dict[str, Any], list[str]]],
        element_schemas: dict[str, dict[str, Any] | None],
    ) -> tuple[SubmissionCreated, SubmissionWrite]:
        """The response and every row of one submission, with a new id and reference (and
        the answers kept for the profile: those ``element_schemas`` accept)."""
        submission_id = uuid7()  # time-ordered: inserts land together in the indexes
        reference = new_reference(self.settings.reference_prefix, self.now)
        public, sealed, key_id = seal_answers(
            body.answers,
            version.compiled.restricted,
            self.sealer,
            context=submission_context(submission_id),
        )
        created = SubmissionCreated(
            id=submission_id,
            reference=reference,
            form=body.form,
            version=body.version,
            submitted_at=self.now,
            deliveries=[DeliveryOut(agency=a, fields=f, status=PENDING) for a, _, f in receivers],
        )
        write = SubmissionWrite(
            submission={
                "id": submission_id,
                "reference": reference,
                "owner": principal.sub,
                "form": body.form,
                "version": body.version,
                "owning_agency": version.owning_agency,
                "answers": public,
                "sealed": sealed,
                "key_id": key_id,
                "receivers": [{"agency": a, "fields": f} for a, _, f in receivers],
                "submitted_at": self.now,
            },
            event={"submission_id": submission_id, "at": self.now, "status": SUBMITTED},
            facts=performance_facts.submission_values(  # measures, issue 11
                submission_id=submission_id,
                form=body.form,
                owning_agency=version.owning_agency,
                submitted_at=self.now,
            ),
            deliveries=delivery_rows(
                submission_id=submission_id,
                reference=reference,
                form=body.form,
                version=body.version,
                submitted_at=self.now,
                receivers=receivers,
            ),
            owner=principal.sub,
            profile_values=profile.values_to_keep(
                principal.sub,
                version,
                body.answers,
                element_schemas=element_schemas,
                sealer=self.sealer,
                now=self.now,
            ),
            draft_id=body.draft,
        )
        return created, write

    async def find(self, principal: Principal, id_or_reference: str) -> Submission:
        """A resident's own submission, or any for an admin; 404 otherwise (ids not probed)."""
        submission = await repository.by_id_or_reference(
            self.session,
            submission_id=canonical_id(id_or_reference),
            reference=normalize_reference(id_or_reference),
        )
        if submission is None or not (
            principal.role == "admin" or submission.owner == principal.sub
        ):
            raise NotFound(f"There is no submission {id_or_reference}.")
        return submission

    async def read(self, principal: Principal, id_or_reference: str) -> SubmissionOut:
        """A submission with its timeline; its answers only for the resident who filed it.
        An admin (support, the catalog) sees where it went and its status, never the
        resident's answers: those reach agencies only through their agreements, and every
        such read is logged."""
        submission = await self.find(principal, id_or_reference)
        own = submission.owner == principal.sub
        [out] = await self._outs([submission], with_answers=own)
        return out

    async def page(self, principal: Principal, *, limit: int, cursor: str | None) -> SubmissionPage:
        after = None
        position = decode_cursor(cursor)
        if position is not None:
            try:
                after = (datetime.fromisoformat(str(position["at"])), str(position["id"]))
            except (KeyError, ValueError) as exc:
                raise BadRequest("The cursor is not valid.") from exc
            last_id = canonical_id(after[1])
            if last_id is None:  # ours always hold a submission's id
                raise BadRequest("The cursor is not valid.")
            after = (after[0], last_id)
        owner = None if principal.role == "admin" else principal.sub
        rows = await repository.page_for_owner(
            self.session, owner=owner, limit=limit + 1, after=after
        )
        items = list(rows[:limit])
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor({"at": last.submitted_at.isoformat(), "id": last.id})
        return SubmissionPage(
            items=await self._outs(items, with_answers=False), next_cursor=next_cursor
        )

    async def post_status(
        self,
        principal: Principal,
        submission_id: str,
        body: StatusCreate,
        *,
        key: str | None = None,
    ) -> StatusPosted:
        """Add the agency's entry to the timeline. With an ``Idempotency-Key`` (scoped to
        the agency and the submission), a retry gets the first post's entry back and adds
        none; without one, every post is an entry (two posts may be two messages)."""
        agency = principal.agency
        submission = await repository.by_id_or_reference(
            self.session,
            submission_id=canonical_id(submission_id),
            reference=normalize_reference(submission_id),
        )
        if (
            submission is None
            or agency is None
            or not await repository.agency_received(
                self.session, submission_id=submission.id, agency=agency
            )
        ):
            raise NotFound(f"Your agency received no submission {submission_id}.")
        if body.status in DECISIONS and agency != submission.owning_agency:
            raise Forbidden(
                f"Only the owning agency ({submission.owning_agency}) may decide this "
                f"application; your agency ({agency}) receives part of it and may post "
                "received, in_review or needs_info."
            )
        message = (body.message or "").strip() or None
        if body.status == "needs_info" and message is None:
            raise ValidationFailed(
                "Say what information is needed.",
                errors=[{"pointer": "/message", "message": "needs_info requires a message"}],
            )
        if body.reopen and message is None:
            raise ValidationFailed(
                "Say why the decision is reopened.",
                errors=[{"pointer": "/message", "message": "reopen requires a message"}],
            )
        if body.reopen and agency != submission.owning_agency:
            raise Forbidden(
                f"Only the owning agency ({submission.owning_agency}) may reopen its decision."
            )
        entry = TimelineEntry(at=self.now, agency=agency, status=body.status, message=message)
        if key is not None:
            replayed = await self._claim_status_key(key, agency, submission.id, body, entry)
            if replayed is not None:
                return replayed
        if agency == submission.owning_agency:
            await self._check_decision_final(submission, reopen=body.reopen)
        event = repository.add_event(
            self.session,
            submission_id=submission.id,
            at=self.now,
            status=body.status,
            agency=agency,
            message=message,
            actor=principal.sub,
        )
        await performance_facts.record_event(self.session, event)  # measures, issue 11
        return StatusPosted(entry=entry, status_code=STATUS_CREATED, replayed=False)

    async def _check_decision_final(self, submission: Submission, *, reopen: bool) -> None:
        """A decision is final (acceptance review: DSS posted ``approved``, then a late
        ``received``, and the resident's status went back to received): once the owning
        agency's latest status is a decision, its next post is a 409 naming the decision,
        unless it reopens it explicitly (``reopen`` with a reason). A retry with the same
        ``Idempotency-Key`` was replayed before this check; a 409 rolls back the key. The
        agencies that receive only part of the application go on posting their own handling
        (it never changes the resident's status, ``resident_status``)."""
        await repository.lock(self.session, submission.id)
        decision = await repository.owner_decision(self.session, submission, DECISIONS)
        if decision is None:
            if reopen:
                raise DecisionConflict(
                    "There is no decision to reopen: post the status without reopen.",
                    slug="no-decision-to-reopen",
                    title="No decision to reopen",
                )
            return
        if not reopen:
            decided = utc(decision.at).isoformat().replace("+00:00", "Z")
            raise DecisionConflict(
                f"This application was {decision.status} by {decision.agency} at {decided}; "
                "a decision is final. To change it, post the new status with "
                '"reopen": true and say why in message.',
                extra={"decision": {"status": decision.status, "at": decided}},
            )

    async def _claim_status_key(
        self,
        key: str,
        agency: str,
        submission_id: str,
        body: StatusCreate,
        entry: TimelineEntry,
    ) -> StatusPosted | None:
        """Store the key's outcome (this entry) before the entry is written, in the same
        transaction: ``None`` when stored (the caller writes the entry), else the first
        post's outcome to replay (same body) or a 422 (another body)."""
        owner = idempotency.status_scope(agency, submission_id)
        print_ = idempotency.fingerprint(body.document())
        retention = self.settings.idempotency_retention_hours
        stored = await idempotency.store_outcome(
            self.session,
            idempotency.Claim(owner, key, print_),
            status_code=STATUS_CREATED,
            body=entry.model_dump(mode="json"),
            now=self.now,
            retention_hours=retention,
        )
        if stored:
            return None
        claim = await idempotency.claim(
            self.session,
            owner=owner,
            key=key,
            print_=print_,
            now=self.now,
            retention_hours=retention,
        )
        if claim.replay_body is None:  # expired between the two statements: rare; retry
            raise idempotency.in_flight()
        return StatusPosted(
            entry=TimelineEntry.model_validate(claim.replay_body),
            status_code=claim.replay_status or STATUS_CREATED,
            replayed=True,
        )

    def answers_of(
        self, submission: Submission, *, masked: bool, schema: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The answers with the restricted values opened, or masked (``masked``) by the
        version's ``schema`` (None: not known, every restricted value masked whole)."""
        context = submission_context(submission.id)
        if masked:
            return masked_answers(
                submission.answers,
                submission.sealed,
                submission.key_id,
                self.sealer,
                context=context,
                schema=schema,
            )
        return open_answers(
            submission.answers, submission.sealed, submission.key_id, self.sealer, context=context
        )

    async def _schema_for_masking(self, submission: Submission) -> dict[str, Any] | None:
        """The version's schema, which tells free text from choices when masking; None when
        nothing is sealed or the registry cannot give it (then every restricted value is
        masked whole, the rest of the answers shown as ever)."""
        if submission.sealed is None:
            return None
        try:
            version = await self.registry.version(submission.form, submission.version)
        except (Problem, SchemaUnusable):
            return None
        return version.compiled.schema

    async def _outs(
        self, submissions: Sequence[Submission], *, with_answers: bool
    ) -> list[SubmissionOut]:
        ids = [s.id for s in submissions]
        events = await repository.events_for(self.session, ids)
        deliveries = await repository.deliveries_for(self.session, ids)
        result = []
        for s in submissions:
            timeline = [_timeline_entry(e) for e in events[s.id]]
            result.append(
                SubmissionOut(
                    id=s.id,
                    reference=s.reference,
                    form=s.form,
                    version=s.version,
                    submitted_at=s.submitted_at,
                    deliveries=[_delivery_out(d) for d in deliveries[s.id]],
                    status=resident_status(s, events[s.id]),
                    timeline=timeline,
                    answers=(
                        self.answers_of(s, masked=True, schema=await self._schema_for_masking(s))
                        if with_answers
                        else None
                    ),
                )
            )
        return result


def resident_status(submission: Submission, events: Sequence[SubmissionEvent]) -> str:
    """What the resident sees as the status: the latest one posted, by any agency that
    received the application (a receiving agency's ``needs_info`` is for the resident too),
    except that once the owning agency's latest status is a decision, that decision shows:
    another agency's later handling goes in the timeline and never overwrites it."""
    if not events:
        return SUBMITTED
    for event in reversed(events):
        if event.agency is None or event.agency == submission.owning_agency:
            if event.status in DECISIONS:
                return event.status
            break
    return events[-1].status


def _delivery_out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(agency=delivery.agency, fields=list(delivery.fields), status=delivery.status)


def _timeline_entry(event: SubmissionEvent) -> TimelineEntry:
    return TimelineEntry(
        at=event.at, agency=event.agency, status=event.status, message=event.message
    )
