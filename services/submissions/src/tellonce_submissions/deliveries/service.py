"""Decisions of the Deliveries routes: who may see or change which delivery or endpoint,
and what each action does to the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.auth import Principal
from tellonce_shared.pagination import (
    MAX_BIG_INTEGER,
    cursor_position,
    decode_cursor,
    encode_cursor,
)
from tellonce_shared.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    ValidationFailed,
)
from tellonce_submissions.config import Settings
from tellonce_submissions.deliveries import metrics, repository
from tellonce_submissions.deliveries.clock import Clock, SystemClock, aware, aware_or_none
from tellonce_submissions.deliveries.models import (
    ACKED,
    DEAD,
    DELIVERED,
    DELIVERY_STATES,
    ENDPOINT_ACTIVE,
    ENDPOINT_DISABLED,
    PENDING,
    AnswerAccess,
    Delivery,
    DeliveryAttempt,
    WebhookEndpoint,
)
from tellonce_submissions.deliveries.outbox import (
    ShareBox,
    notify_workers,
    open_answers,
    share_box,
    webhook_secret_box,
)
from tellonce_submissions.deliveries.schemas import (
    AccessEntry,
    AccessLog,
    AckResult,
    AgencyCounts,
    AttemptPublic,
    DeliveryList,
    DeliveryPublic,
    DeliveryWithAnswers,
    EndpointList,
    EndpointPublic,
    EndpointWithSecret,
    Feed,
    FeedItem,
    ReplayResult,
    Summary,
)
from tellonce_submissions.deliveries.signing import new_secret
from tellonce_submissions.deliveries.ssrf import UnsafeURL, check_url

STAFF_ROLES = ("admin", "auditor")
MAX_REPLAY_ALL = 10_000


class ShareErased(Gone):
    """A delivery whose share of the answers the retention job has erased: nothing is left
    to send again."""

    slug = "delivery-share-erased"
    title = "The delivery's answers were erased under the retention rule"


def is_parked(row: Delivery) -> bool:
    """Pending with no push scheduled: it was claimed while its agency had no active
    endpoint, and waits in the agency's pull feed."""
    return row.status == PENDING and row.next_attempt_at is None and row.share_purged_at is None


def _check_replayable(row: Delivery) -> None:
    """409 unless dead (a parked delivery is checked apart); 410 once the retention job
    erased its share."""
    if row.status == PENDING and row.next_attempt_at is not None:
        due = aware(row.next_attempt_at).isoformat()
        raise Conflict(
            "Only dead deliveries, and pending ones waiting in the pull feed, are replayed; "
            f"this one is pending, its next push due at {due}."
        )
    if row.status != DEAD:
        raise Conflict(
            "Only dead deliveries, and pending ones waiting in the pull feed, are replayed; "
            f"this one is {row.status}."
        )
    if row.share_purged_at is not None:
        purged = aware(row.share_purged_at).isoformat()
        raise ShareErased(
            f"This delivery's answers were erased at {purged} under the retention rule "
            "(a dead delivery keeps them for SUBMISSIONS_DELIVERY_SHARE_RETENTION_DAYS), "
            "so it cannot be replayed. The submission itself remains the record.",
            extra={"share_purged_at": purged},
        )


def agency_of(principal: Principal) -> str:
    """The agency an agency-role caller acts for (403 if the token names none)."""
    if principal.role != "agency" or not principal.agency:
        raise Forbidden("This needs an agency token (role agency with an agency claim).")
    return principal.agency


def scope_agency(principal: Principal, requested: str | None) -> str | None:
    """Agencies see only their own deliveries; admins and auditors see every agency's (or
    the one they ask for)."""
    if principal.role in STAFF_ROLES:
        return requested
    own = agency_of(principal)
    if requested and requested != own:
        raise Forbidden("An agency sees only its own deliveries.")
    return own


class DeliveryService:
    def __init__(
        self, session: AsyncSession, settings: Settings, clock: Clock | None = None
    ) -> None:
        self.session = session
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.box = webhook_secret_box(settings)
        self.shares = share_box(settings)

    # --- endpoints ---------------------------------------------------------------------

    async def create_endpoint(self, principal: Principal, url: str) -> EndpointWithSecret:
        agency = agency_of(principal)
        url = url.strip()
        try:
            await check_url(url, production=not self.settings.is_local)
        except UnsafeURL as exc:
            raise ValidationFailed(
                f"This URL cannot be a webhook endpoint: {exc}.",
                errors=[{"pointer": "/url", "message": str(exc)}],
            ) from exc
        # One registration per agency at a time, so "one active endpoint" holds.
        await repository.lock_agency(self.session, agency)
        existing = await repository.lock_agency_endpoints(self.session, agency)
        if any(e.status == ENDPOINT_ACTIVE for e in existing):
            raise Conflict(
                "This agency already has an active webhook endpoint; delete it first or "
                "rotate its secret."
            )
        secret = new_secret()
        endpoint_id = str(uuid.uuid4())
        endpoint = WebhookEndpoint(
            id=endpoint_id,
            agency=agency,
            url=url,
            secret=self.box.seal(secret, context=endpoint_id),
            status=ENDPOINT_ACTIVE,
            created_at=self.clock.now(),
        )
        self.session.add(endpoint)
        await self.session.flush()
        return EndpointWithSecret(**_endpoint(endpoint).model_dump(), secret=secret)

    async def list_endpoints(self, principal: Principal, agency: str | None) -> EndpointList:
        scope = scope_agency(principal, agency)
        rows = await repository.list_endpoints(self.session, scope)
        return EndpointList(items=[_endpoint(e) for e in rows])

    async def _own_endpoint(
        self, principal: Principal, endpoint_id: str, *, lock: bool = True
    ) -> WebhookEndpoint:
        agency = agency_of(principal)
        endpoint = await repository.get_endpoint(self.session, endpoint_id, lock=lock)
        if endpoint is None or endpoint.agency != agency:
            raise NotFound("No webhook endpoint with this id belongs to your agency.")
        return endpoint

    async def delete_endpoint(self, principal: Principal, endpoint_id: str) -> None:
        endpoint = await self._own_endpoint(principal, endpoint_id)
        await self.session.delete(endpoint)
        await self.session.flush()

    async def rotate_secret(self, principal: Principal, endpoint_id: str) -> EndpointWithSecret:
        """The new secret signs from now on; the old one keeps signing alongside it for the
        overlap (24 h), so a receiver can switch without losing a delivery."""
        endpoint = await self._own_endpoint(principal, endpoint_id)
        now = self.clock.now()
        secret = new_secret()
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timedelta(
            hours=self.settings.secret_rotation_overlap_hours
        )
        endpoint.secret = self.box.seal(secret, context=endpoint.id)
        await self.session.flush()
        return EndpointWithSecret(**_endpoint(endpoint).model_dump(), secret=secret)

    async def enable_endpoint(self, principal: Principal, endpoint_id: str) -> EndpointPublic:
        """Turn a disabled endpoint back on, and push what waited for it: every pending
        delivery of the agency parked in its pull feed meanwhile (including those caught
        mid-retry when the endpoint was disabled) is made due now with a fresh round of
        attempts, and scheduled retries are brought forward, as when a failing endpoint
        recovers. Acked deliveries are not touched: the agency has them.

        The URL is checked again first (a DNS lookup in production, bounded by
        ``ssrf.RESOLVE_TIMEOUT_SECONDS``), holding no lock, as registering does. Then the
        agency's endpoint lock is taken, which a worker parking the agency's deliveries
        also takes (shared, without waiting: ``DeliveryWorker._park``), so a delivery
        cannot be parked just after this pushed the others, and the endpoint is read
        again under it: enabled or deleted meanwhile, or another one active, is decided
        on what is there now. The lock is held only for the few statements that follow:
        held across the lookup, it stalled every worker whose batch held one of the
        agency's deliveries (review of 2026-11-26)."""
        endpoint = await self._own_endpoint(principal, endpoint_id, lock=False)
        if endpoint.status != ENDPOINT_DISABLED:
            return _endpoint(endpoint)
        try:
            await check_url(endpoint.url, production=not self.settings.is_local)
        except UnsafeURL as exc:
            raise ValidationFailed(f"The endpoint's URL is no longer acceptable: {exc}.") from exc
        # An endpoint's URL never changes (no route changes it): the one checked is its URL.
        await repository.lock_agency(self.session, endpoint.agency)
        endpoint = await self._own_endpoint(principal, endpoint_id)
        if endpoint.status != ENDPOINT_DISABLED:
            return _endpoint(endpoint)  # another enabling came first
        others = await repository.lock_agency_endpoints(self.session, endpoint.agency)
        if any(e.status == ENDPOINT_ACTIVE and e.id != endpoint.id for e in others):
            raise Conflict("This agency already has another active webhook endpoint.")
        endpoint.status = ENDPOINT_ACTIVE
        endpoint.failing_since = None
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
        await self.session.flush()
        now = self.clock.now()
        pushed = await repository.push_parked(self.session, endpoint.agency, now)
        brought = await repository.pull_retries_forward(self.session, endpoint.agency, now)
        if pushed or brought:
            await notify_workers(self.session)
        return _endpoint(endpoint)

    # --- the pull feed -----------------------------------------------------------------

    async def feed(
        self, principal: Principal, after: str | None, limit: int, *, disclosed: bool = True
    ) -> Feed:
        """An agency's feed page. ``disclosed`` False (a HEAD: the page is not sent) writes
        no access-log entries."""
        agency = agency_of(principal)
        position = _feed_position(after)
        await repository.number_feed(self.session)
        rows = await repository.feed_page(self.session, agency=agency, after=position, limit=limit)
        if disclosed:
            await self._log_reads(principal, agency, rows, channel="feed")
        last = rows[-1].feed_seq if rows else position
        return Feed(
            items=[_feed_item(row, self.shares if disclosed else None) for row in rows],
            next_cursor=encode_cursor({"f": last}),
        )

    async def read(
        self, principal: Principal, delivery_id: str, *, disclosed: bool = True
    ) -> DeliveryWithAnswers | DeliveryPublic:
        """One delivery with its share of the answers, for the agency it is addressed to
        only: one access-log entry (channel ``read``), none when the share was erased or
        when the answers are not sent (``disclosed`` False: a HEAD).
        Admins and auditors never read answers here (403); another agency's delivery is a
        404, as without answers."""
        if principal.role in STAFF_ROLES:
            raise Forbidden(
                "Only the agency a delivery is addressed to reads its answers; admins and "
                "auditors see its state without them (leave out include=answers)."
            )
        agency = agency_of(principal)  # a resident: 403, as before looking the id up
        row = await self._visible(principal, delivery_id)
        if not disclosed:
            # A HEAD: its length must not measure the answers either, so it is the length of
            # the delivery's state alone (RFC 9110 lets a HEAD's length differ from the GET's).
            return await self._public(row)
        await self._log_reads(principal, agency, [row], channel="read")
        return DeliveryWithAnswers(
            **(await self._public(row)).model_dump(),
            submitted_at=aware(row.submitted_at),
            answers=_share(row, self.shares),
        )

    async def _log_reads(
        self, principal: Principal, agency: str, rows: Sequence[Delivery], *, channel: str
    ) -> None:
        """Write one access-log entry per delivery whose answers this read discloses to
        ``agency``: a row whose share was erased discloses none, so it is not logged."""
        now = self.clock.now()
        await repository.log_access(
            self.session,
            [
                AnswerAccess(
                    agency=agency,
                    submission_id=row.submission_id,
                    delivery_id=row.id,
                    fields=list(row.fields),
                    channel=channel,
                    actor=principal.sub,
                    at=now,
                )
                for row in rows
                if row.share_purged_at is None
            ],
        )

    async def ack(self, principal: Principal, delivery_id: str) -> AckResult:
        agency = agency_of(principal)
        row = await repository.get_delivery(self.session, delivery_id, lock=True)
        if row is None or row.agency != agency:
            raise NotFound("No delivery with this id is addressed to your agency.")
        if row.status != ACKED:
            row.status = ACKED
            row.acked_at = self.clock.now()
            row.next_attempt_at = None
            row.lease_until = None
            row.leased_by = None
            await self.session.flush()
        return AckResult(id=row.id, status=row.status, acked_at=aware_or_none(row.acked_at))

    # --- state, dead letters and replay ------------------------------------------------

    async def list(
        self,
        principal: Principal,
        *,
        status: str | None,
        agency: str | None,
        submission_id: str | None,
        cursor: str | None,
        limit: int,
        newest_first: bool = False,
    ) -> DeliveryList:
        if status is not None and status not in DELIVERY_STATES:
            raise ValidationFailed(
                f"status must be one of {', '.join(DELIVERY_STATES)}.",
                errors=[{"pointer": "/query/status", "message": "unknown status"}],
            )
        scope = scope_agency(principal, agency)
        if newest_first:
            return await self._newest(scope, status, submission_id, cursor, limit)
        after = _list_position(cursor)
        rows = await repository.list_deliveries(
            self.session,
            agency=scope,
            status=status,
            submission_id=submission_id,
            after=after,
            limit=limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        attempts = await repository.attempts_of(self.session, [r.id for r in rows])
        items = [_delivery(r, attempts[r.id]) for r in rows]
        next_cursor = None
        if more and rows:
            last = rows[-1]
            next_cursor = encode_cursor({"c": aware(last.created_at).isoformat(), "i": last.id})
        return DeliveryList(items=items, next_cursor=next_cursor)

    async def _newest(
        self,
        agency: str | None,
        status: str | None,
        submission_id: str | None,
        cursor: str | None,
        limit: int,
    ) -> DeliveryList:
        """``?order=newest``: the states newest first by feed position (the order the
        deliveries became visible to their agency), read backwards along the agency's feed
        index (``ix_deliveries_agency_feed``), never sorting the agency's rows. Rows are
        numbered first, as for a feed read, so only one committed this very moment (while
        another transaction numbers) waits for the next page load. ``next_cursor`` goes to
        older deliveries, ``prev_cursor`` to newer ones (``null`` on the first page)."""
        older_than, newer_than = _newest_position(cursor)
        await repository.number_feed(self.session)
        rows = list(
            await repository.list_by_feed(
                self.session,
                agency=agency,
                status=status,
                submission_id=submission_id,
                older_than=older_than,
                newer_than=newer_than,
                limit=limit + 1,
            )
        )
        more = len(rows) > limit
        rows = rows[:limit]
        if newer_than is not None:
            rows.reverse()  # read oldest first from the cursor up; shown newest first
        attempts = await repository.attempts_of(self.session, [r.id for r in rows])
        items = [_delivery(r, attempts[r.id]) for r in rows]
        seqs = [r.feed_seq for r in rows if r.feed_seq is not None]
        next_cursor = prev_cursor = None
        if seqs:
            # Older ones exist past this page when the read found more, or when the page was
            # reached going up (the page it came from is older).
            if more if newer_than is None else True:
                next_cursor = encode_cursor({"lt": seqs[-1]})
            if (older_than is not None) if newer_than is None else more:
                prev_cursor = encode_cursor({"gt": seqs[0]})
        elif older_than is not None:
            prev_cursor = encode_cursor({"gt": older_than - 1})
        elif newer_than is not None:
            next_cursor = encode_cursor({"lt": newer_than + 1})
        return DeliveryList(items=items, next_cursor=next_cursor, prev_cursor=prev_cursor)

    async def get(self, principal: Principal, delivery_id: str) -> DeliveryPublic:
        return await self._public(await self._visible(principal, delivery_id))

    async def _visible(self, principal: Principal, delivery_id: str) -> Delivery:
        """The delivery, when the caller may see it: staff any, an agency its own; 404
        otherwise (ids not probed)."""
        row = await repository.get_delivery(self.session, delivery_id)
        if row is None or (
            principal.role not in STAFF_ROLES and row.agency != agency_of(principal)
        ):
            raise NotFound("No delivery with this id is visible to you.")
        return row

    async def _public(self, row: Delivery) -> DeliveryPublic:
        """The delivery's state with its attempts (no answers)."""
        attempts = await repository.attempts_of(self.session, [row.id])
        return _delivery(row, attempts[row.id])

    async def replay(self, principal: Principal, delivery_id: str) -> DeliveryPublic:
        row = await repository.get_delivery(self.session, delivery_id, lock=True)
        if row is None or (principal.role != "admin" and row.agency != agency_of(principal)):
            raise NotFound("No delivery with this id is visible to you.")
        now = self.clock.now()
        if is_parked(row):
            await self._push_parked(row, now)
        else:
            _check_replayable(row)
            if not await repository.revive(self.session, [row.id], now):
                await self.session.refresh(row)  # changed since it was read: say how
                _check_replayable(row)
        await self.session.refresh(row)
        await notify_workers(self.session)
        return await self._public(row)

    async def _push_parked(self, row: Delivery, now: datetime) -> None:
        """Replay a delivery waiting in the pull feed: due now, if its agency has an
        active endpoint to push it to (409 otherwise: it would only be parked again)."""
        if not await repository.agencies_with_active_endpoint(self.session, [row.agency]):
            raise Conflict(
                "This delivery waits in the pull feed because its agency has no active "
                "webhook endpoint. Enable (or register) one, then replay it; or pull and ack "
                "it."
            )
        pushed = await repository.push_parked(
            self.session, row.agency, now, delivery_ids=[row.id], replay=True
        )
        if not pushed:
            await self.session.refresh(row)  # changed since it was read: say how
            _check_replayable(row)

    async def replay_all(self, principal: Principal, agency: str | None) -> ReplayResult:
        scope = agency if principal.role == "admin" else scope_agency(principal, agency)
        rows = await repository.dead_for_replay(self.session, agency=scope, limit=MAX_REPLAY_ALL)
        revived = await repository.revive(self.session, [r.id for r in rows], self.clock.now())
        if revived:
            await notify_workers(self.session)
        ids = [r.id for r in rows if r.id in revived]
        return ReplayResult(replayed=len(ids), ids=ids)

    async def summary(self, principal: Principal) -> Summary:
        scope = scope_agency(principal, None)
        now = self.clock.now()
        counts = await repository.counts_by_state(self.session)
        endpoints = await repository.list_endpoints(self.session, scope)
        status_of: dict[str, str] = {}
        for e in endpoints:
            if status_of.get(e.agency) != ENDPOINT_ACTIVE:
                status_of[e.agency] = e.status
        agencies = sorted({a for a, _ in counts} | set(status_of))
        if scope is not None:
            agencies = [a for a in agencies if a == scope]
        # The gauges (this process's /metrics) are of every agency; the answer is of the
        # caller's scope: an agency sees only its own backlog's age.
        oldest_all = await repository.oldest_due(self.session, now)
        metrics.refresh_from(counts, now, oldest_all)
        oldest = (
            oldest_all
            if scope is None
            else await repository.oldest_due(self.session, now, agency=scope)
        )
        return Summary(
            agencies=[
                AgencyCounts(
                    agency=a,
                    pending=counts.get((a, PENDING), 0),
                    delivered=counts.get((a, DELIVERED), 0),
                    acked=counts.get((a, ACKED), 0),
                    dead=counts.get((a, DEAD), 0),
                    endpoint_status=status_of.get(a),
                )
                for a in agencies
            ],
            oldest_due_age_seconds=(
                max((now - aware(oldest)).total_seconds(), 0.0) if oldest else 0.0
            ),
        )

    async def access_log(
        self,
        principal: Principal,
        *,
        agency: str | None,
        submission_id: str | None,
        cursor: str | None,
        limit: int,
    ) -> AccessLog:
        scope = scope_agency(principal, agency)
        decoded = decode_cursor(cursor) or {}
        after_id = cursor_position(decoded.get("a", 0))
        rows = await repository.access_log_page(
            self.session,
            agency=scope,
            submission_id=submission_id,
            after_id=after_id,
            limit=limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return AccessLog(
            items=[
                AccessEntry(
                    id=r.id,
                    agency=r.agency,
                    submission_id=r.submission_id,
                    delivery_id=r.delivery_id,
                    fields=list(r.fields),
                    channel=r.channel,
                    actor=r.actor,
                    at=aware(r.at),
                )
                for r in rows
            ],
            next_cursor=encode_cursor({"a": rows[-1].id}) if more and rows else None,
        )


def _feed_position(after: str | None) -> int:
    decoded = decode_cursor(after)
    if decoded is None:
        return 0
    return cursor_position(decoded.get("f"), maximum=MAX_BIG_INTEGER)


def _newest_position(cursor: str | None) -> tuple[int | None, int | None]:
    """(older than, newer than) the feed position a ``?order=newest`` cursor names; a cursor
    of the other order, or a hand-made one, is a 400."""
    decoded = decode_cursor(cursor)
    if decoded is None:
        return None, None
    if set(decoded) == {"lt"}:
        return cursor_position(decoded["lt"], maximum=MAX_BIG_INTEGER), None
    if set(decoded) == {"gt"}:
        return None, cursor_position(decoded["gt"], maximum=MAX_BIG_INTEGER)
    raise BadRequest("The cursor is not valid.")


def _list_position(cursor: str | None) -> tuple[datetime, str] | None:
    decoded = decode_cursor(cursor)
    if decoded is None:
        return None
    try:
        at, last_id = datetime.fromisoformat(str(decoded["c"])), str(decoded["i"])
    except (KeyError, ValueError) as exc:
        raise BadRequest("The cursor is not valid.") from exc
    if not repository.is_id(last_id):
        # Never a delivery id of ours (and a NUL in it would fail the query).
        raise BadRequest("The cursor is not valid.")
    return at, last_id


def _endpoint(e: WebhookEndpoint) -> EndpointPublic:
    return EndpointPublic(
        id=e.id,
        agency=e.agency,
        url=e.url,
        status=e.status,
        disabled_reason=e.disabled_reason,
        disabled_at=aware_or_none(e.disabled_at),
        failing_since=aware_or_none(e.failing_since),
        previous_secret_expires_at=aware_or_none(e.previous_secret_expires_at),
        created_at=aware(e.created_at),
    )


def _delivery(d: Delivery, attempts: list[DeliveryAttempt]) -> DeliveryPublic:
    return DeliveryPublic(
        id=d.id,
        submission_id=d.submission_id,
        reference=d.reference,
        agency=d.agency,
        form=d.form,
        version=d.version,
        fields=list(d.fields),
        status=d.status,
        attempts=len(attempts),
        next_attempt_at=aware_or_none(d.next_attempt_at),
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=aware(d.created_at),
        first_attempt_at=aware_or_none(d.first_attempt_at),
        delivered_at=aware_or_none(d.delivered_at),
        acked_at=aware_or_none(d.acked_at),
        dead_at=aware_or_none(d.dead_at),
        replays=d.replays,
        share_purged_at=aware_or_none(d.share_purged_at),
        attempt_log=[
            AttemptPublic(
                at=aware(a.started_at),
                url=a.url,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                error=a.error,
                outcome=a.outcome,
            )
            for a in attempts
        ],
    )


def _share(d: Delivery, box: ShareBox) -> dict[str, Any] | None:
    """The delivery's answers, or ``None`` once its share was erased (never ``{}``)."""
    return None if d.share_purged_at is not None else open_answers(d, box)


def _feed_item(d: Delivery, box: ShareBox | None) -> FeedItem:
    """One delivery on a feed page; ``box`` None (a HEAD's page, which sends no answers and
    must not measure them by its length): without its answers."""
    data = None if box is None else _share(d, box)
    return FeedItem(
        id=d.id,
        delivery_id=d.id,
        submission_id=d.submission_id,
        reference=d.reference,
        form=d.form,
        version=d.version,
        agency=d.agency,
        submitted_at=aware(d.submitted_at),
        answers=data,
        fields=list(d.fields),
        status=d.status,
        acked_at=aware_or_none(d.acked_at),
        created_at=aware(d.created_at),
        share_purged_at=aware_or_none(d.share_purged_at),
    )


async def purge_expired_shares(
    session: AsyncSession, *, now: datetime, retention_days: int, batch: int
) -> int:
    """One batch of the retention job for the outbox: erase the share of the answers of up
    to ``batch`` deliveries final (delivered, acked or dead) for ``retention_days``; the
    caller commits, and calls again while a full batch came back. ``retention_days`` of 0 or
    less keeps every share (returns 0)."""
    if retention_days <= 0:
        return 0
    return await repository.purge_shares(
        session, cutoff=now - timedelta(days=retention_days), now=now, limit=batch
    )
