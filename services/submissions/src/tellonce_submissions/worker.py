"""The outbox worker: ``tellonce-submissions worker``. Any number may run on PostgreSQL
(``FOR UPDATE SKIP LOCKED`` plus a lease); run exactly one on SQLite.

Each turn: claim a batch of due deliveries and lease them (one short transaction), start a
heartbeat that renews the leases of the rows to send every third of the lease, park those
whose agency has no active endpoint (they wait in its pull feed; one short transaction that
waits for no lock), send the others concurrently over one pooled HTTP client, then record
every attempt and its consequence (one short transaction, only for the rows this worker
still holds; should it fail, one transaction per attempt, so one bad row never costs the
batch its outcomes: see ``_record``). An attempt never raises: whatever goes wrong is a
failed attempt. No row lock is held while a receiver is answering; a worker killed mid-turn
leaves leases that expire, and another worker takes the rows again (at-least-once, with the
same ``webhook-id``). The worker sleeps until LISTEN/NOTIFY says new rows were committed, a
retry falls due, or the poll interval passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import logging
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from wsgiref.simple_server import WSGIServer

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.db import is_sqlite
from tellonce_shared.logging import configure_logging
from tellonce_submissions.config import Settings
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries import metrics, repository
from tellonce_submissions.deliveries import models as states
from tellonce_submissions.deliveries.clock import Clock, SystemClock, aware
from tellonce_submissions.deliveries.dispatch import (
    DEAD,
    DELIVERED,
    DISABLED,
    AttemptResult,
    Decision,
    Job,
    Target,
    attempt,
    clean_text,
    decide,
    describe_error,
    failed,
)
from tellonce_submissions.deliveries.models import (
    ENDPOINT_DISABLED,
    PENDING,
    AnswerAccess,
    Delivery,
    DeliveryAttempt,
    WebhookEndpoint,
)
from tellonce_submissions.deliveries.outbox import (
    NOTIFY_CHANNEL,
    ShareBox,
    open_answers,
    share_box,
    webhook_secret_box,
)
from tellonce_submissions.deliveries.signing import SecretBoxError
from tellonce_submissions.deliveries.ssrf import WebhookClient, webhook_client

log = logging.getLogger("tellonce.worker")

FEED_NUMBERING_SECONDS = 1.0
GAUGE_SECONDS = 10.0

UNSTORED_ERROR = "the error could not be stored (see the worker's log at this time)"
"""An attempt's error when its text made recording fail (step 2 of ``_record_alone``)."""
UNRECORDABLE = (
    "the worker could not record this delivery's attempt (see the worker's log); it was "
    "made dead rather than sent again and again: replay it once the cause is fixed"
)
UNOPENABLE_SHARE = (
    "the delivery's share of the answers cannot be opened with the answer keys "
    "(SUBMISSIONS_ANSWER_KEYS); nothing was sent: replay it once the key ring is fixed"
)
UNOPENABLE_SECRET = (
    "the endpoint's signing secret cannot be opened with the webhook secret keys "
    "(SUBMISSIONS_WEBHOOK_SECRET_KEYS); nothing was sent"
)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class DeliveryWorker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        clock: Clock | None = None,
        client: WebhookClient | None = None,
        name: str | None = None,
        rng: random.Random | None = None,
        renew_every: float | None = None,
    ) -> None:
        """``renew_every``: real seconds between lease renewals while a batch is being sent
        (default: a third of ``delivery_lease_seconds``)."""
        self.database = database
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.name = name or worker_name()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not crypto
        self.box = webhook_secret_box(settings)
        self.shares = share_box(settings)
        self._own_client = client is None
        self.client = client or webhook_client(
            production=not settings.is_local,
            timeout=settings.delivery_timeout_seconds,
            max_connections=settings.delivery_max_connections,
        )
        self.postgres = database.engine.dialect.name == "postgresql"
        self._wake = asyncio.Event()
        self._numbered_at = 0.0
        self._gauges_at = 0.0
        self.renew_every = renew_every or settings.delivery_lease_seconds / 3
        self.leases_lost = 0
        """How many claimed deliveries this worker no longer held when renewing or recording
        (the process-wide metric is ``tellonce_delivery_leases_lost_total``)."""

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    # --- one turn ----------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim, send and record one batch; returns how many deliveries were claimed."""
        now = self.clock.now()
        lease_until = now + timedelta(seconds=self.settings.delivery_lease_seconds)
        async with self.database.sessions() as session, session.begin():
            rows = await repository.claim_due(
                session,
                now=now,
                lease_until=lease_until,
                worker=self.name,
                limit=self.settings.delivery_batch_size,
            )
            jobs, unopenable = self._jobs(rows)
            if unopenable:
                await repository.mark_unopenable(
                    session, sorted(unopenable), now=now, reason=UNOPENABLE_SHARE
                )
            endpoints = await repository.active_endpoints(session, [j.agency for j in jobs])
        if not rows:
            return 0
        pull_only = [j for j in jobs if j.agency not in endpoints]
        pushing: list[tuple[Job, Target]] = []
        results: list[AttemptResult] = []
        for job in jobs:
            endpoint = endpoints.get(job.agency)
            if endpoint is None:
                continue
            target = self._target(endpoint, now)
            if target is None:
                # Pushed unsigned it must never be; parked it would wait for nothing (the
                # endpoint is active). A failed attempt on the schedule, visible in the log.
                unsigned = Target(endpoint_id=endpoint.id, url=endpoint.url, secrets=())
                results.append(
                    failed(
                        job,
                        unsigned,
                        started_at=now,
                        error=UNOPENABLE_SECRET,
                        reached=False,
                        local=True,
                    )
                )
            else:
                pushing.append((job, target))
        # The heartbeat covers the rows to send and record from here on, parking included:
        # whatever the parking meets, their leases are renewed. The rows being parked are
        # not renewed: parking changes only rows still leased to this worker, and renewing
        # them meanwhile would have two transactions lock the same rows in different orders.
        held = {j.delivery_id for j, _ in pushing} | {r.job.delivery_id for r in results}
        sent = asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeat(held, sent))
        try:
            if pull_only:
                await self._park(pull_only)
            results.extend(
                await asyncio.gather(*(self._attempt(job, target) for job, target in pushing))
            )
        finally:
            sent.set()
            await heartbeat
        await self._record(results, renewed=held)
        return len(rows)

    def _jobs(self, rows: Sequence[Delivery]) -> tuple[list[Job], set[str]]:
        """The claimed rows as jobs, and the ids of those whose share cannot be opened (a
        key missing from ``answer_keys``, a damaged row): claimed again and again they
        would fail every batch they fall in, so they are made dead (replayable once the key
        ring is fixed) and logged."""
        jobs: list[Job] = []
        unopenable: set[str] = set()
        for row in rows:
            try:
                jobs.append(_job(row, self.shares))
            except (SecretBoxError, ValueError, TypeError) as exc:
                log.error(
                    "delivery share cannot be opened; the delivery is made dead",
                    extra={"delivery": row.id, "error": describe_error(exc)},
                )
                unopenable.add(row.id)
        return jobs, unopenable

    async def _park(self, jobs: Sequence[Job]) -> None:
        """Deliveries of agencies with no active endpoint wait in the pull feed: no push is
        scheduled (``next_attempt_at`` NULL) until the agency enables its endpoint or
        replays them. Each agency is checked again here, under its endpoint lock taken
        shared (``repository.try_lock_agency_shared``): an endpoint enabled since the
        claim, whose enabling has already pushed the agency's parked deliveries, must not
        see these parked after it; they are released due instead, and go with the next
        turn.

        The lock is only tried, never waited for: when a registering or an enabling of
        the agency holds it (or waits for it), that agency's rows are released without
        being parked, due again ``delivery_poll_seconds`` later: a later turn pushes them
        if the enabling has committed, parks them if not. Waiting instead stalled
        the whole batch, the other agencies' rows included, with their leases not renewed
        (review of 2026-11-26). The delay bounds what a lock held for long costs: each such
        row is claimed once per poll interval, not again at once in a loop."""
        agencies = sorted({j.agency for j in jobs})
        retry_at = self.clock.now() + timedelta(seconds=self.settings.delivery_poll_seconds)
        try:
            async with self.database.sessions() as session, session.begin():
                locked: list[str] = []
                for agency in agencies:
                    if await repository.try_lock_agency_shared(session, agency):
                        locked.append(agency)
                active = await repository.agencies_with_active_endpoint(session, locked)
                for job in sorted(jobs, key=lambda j: j.delivery_id):
                    values: dict[str, Any] = {"lease_until": None, "leased_by": None}
                    if job.agency not in locked:
                        values["next_attempt_at"] = retry_at
                    elif job.agency not in active:
                        values["next_attempt_at"] = None
                    await repository.update_delivery_if_leased(
                        session, job.delivery_id, worker=self.name, values=values
                    )
        except Exception as exc:
            # Their leases run out and they are claimed, and parked, again; meanwhile the
            # rest of the batch is sent.
            log.warning("parking deliveries failed", extra={"error": _first_line(exc)})
            return
        busy = [a for a in agencies if a not in locked]
        if busy:
            log.info(
                "agency endpoint lock busy (an endpoint being registered or enabled): its "
                "deliveries are released due a little later instead of parked",
                extra={"agencies": busy, "retry_at": retry_at.isoformat()},
            )
        if active:
            self._wake.set()

    async def _heartbeat(self, held: set[str], sent: asyncio.Event) -> None:
        """Every ``renew_every`` seconds until ``sent`` is set, extend the leases of the
        deliveries being sent, so a slow receiver never lets another worker take a row
        this worker is still sending. ``held`` shrinks to what the renewals return: a row
        missing from it was claimed by another worker after this one's lease ran out (a
        renewal that failed or came late), and is lost to this worker."""
        while held:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sent.wait(), self.renew_every)
            if sent.is_set():
                return
            lease_until = self.clock.now() + timedelta(seconds=self.settings.delivery_lease_seconds)
            try:
                async with self.database.sessions() as session, session.begin():
                    renewed = await repository.renew_leases(
                        session, sorted(held), worker=self.name, lease_until=lease_until
                    )
            except (SQLAlchemyError, OSError) as exc:
                # Try again next beat; if the lease runs out meanwhile and another worker
                # claims the row, recording checks who holds it.
                log.warning("lease renewal failed", extra={"error": repr(exc)})
                continue
            except Exception:
                # A bug here must not cost the batch its recorded outcomes.
                log.exception("lease renewal failed unexpectedly")
                continue
            self._lost(held - renewed)
            held &= renewed

    def _lost(self, delivery_ids: set[str]) -> None:
        if not delivery_ids:
            return
        self.leases_lost += len(delivery_ids)
        metrics.LEASES_LOST.inc(len(delivery_ids))
        log.warning(
            "lease lost (another worker claimed the delivery, or the agency acknowledged "
            "it); its state is left alone",
            extra={"worker": self.name, "deliveries": sorted(delivery_ids)},
        )

    def _target(self, endpoint: WebhookEndpoint, now: datetime) -> Target | None:
        try:
            secrets = [self.box.open(endpoint.secret, context=endpoint.id)]
            if (
                endpoint.previous_secret
                and endpoint.previous_secret_expires_at is not None
                and aware(endpoint.previous_secret_expires_at) > now
            ):
                secrets.append(self.box.open(endpoint.previous_secret, context=endpoint.id))
        except SecretBoxError:
            log.error("webhook secret cannot be opened", extra={"endpoint": endpoint.id})
            return None
        return Target(endpoint_id=endpoint.id, url=endpoint.url, secrets=tuple(secrets))

    async def _attempt(self, job: Job, target: Target) -> AttemptResult:
        started_at = self.clock.now()
        try:
            result = await attempt(self.client, job, target, started_at=started_at)
        except Exception as exc:
            # ``attempt`` does not raise; should it ever, the batch is still recorded.
            log.exception("webhook attempt raised", extra={"delivery": job.delivery_id})
            result = failed(
                job,
                target,
                started_at=started_at,
                error=describe_error(exc),
                reached=True,  # unknown: the access log says the agency may have read it
                local=False,
            )
        if job.first_attempt_at is None:
            lag = (datetime.now(UTC) - aware(job.created_at)).total_seconds()
            metrics.FIRST_ATTEMPT_LAG.observe(max(lag, 0.0))
        metrics.ATTEMPT_LATENCY.observe(result.latency_ms / 1000)
        return result

    async def _record(self, results: Sequence[AttemptResult], *, renewed: set[str]) -> None:
        """Record every attempt and its consequence, in one transaction. ``renewed``: the
        rows the heartbeat still held at its last beat (the others are already counted as
        lost).

        Should that transaction fail for anything but an unreachable database (a value
        PostgreSQL refuses, a deadlock, a bug), the attempts are recorded one by one, each
        in its own transaction (:meth:`_record_alone`), so one bad row never costs the
        others their outcome: unrecorded, every row of the batch would be claimed and sent
        again when its lease ran out, for ever."""
        if not results:
            return
        decided = [
            (result, decide(result, rng=self.rng))
            for result in sorted(results, key=lambda r: r.job.delivery_id)
        ]
        for result, decision in decided:
            metrics.ATTEMPTS.labels(result.job.agency, decision.outcome).inc()
        try:
            async with self.database.sessions() as session, session.begin():
                # The rows still ours, locked until commit so no claim can take them meanwhile.
                held = await repository.lock_held(
                    session, [r.job.delivery_id for r, _ in decided], worker=self.name
                )
                await self._record_attempts(session, decided, held)
        except Exception as exc:
            if database_unreachable(exc):
                raise  # the leases run out and the rows are sent again (at least once)
            metrics.RECORD_FAILURES.labels("batch").inc()
            log.warning(
                "recording a batch failed; recording its attempts one by one",
                extra={"error": _first_line(exc), "deliveries": len(decided)},
            )
            lost: set[str] = set()
            for result, decision in decided:
                if not await self._record_alone(result, decision):
                    lost.add(result.job.delivery_id)
            self._lost(renewed & lost)
            return
        self._lost(renewed - held)

    async def _record_alone(self, result: AttemptResult, decision: Decision) -> bool:
        """Record one attempt in transactions of its own, each step storing less than the
        one before, until one commits (an unreachable database stops it, raising):

        1. everything, as :meth:`_record_attempts` does for a batch;
        2. the same without any text that came from outside (the error becomes
           :data:`UNSTORED_ERROR`);
        3. the row's state alone: delivered if it was, otherwise **dead** with
           :data:`UNRECORDABLE` (listed under ``?status=dead`` and replayable), then,
           apart, its access-log entry. A delivery whose attempts cannot be recorded is
           thus sent at most once more per claim, never for ever;
        4. nothing could be written: logged as an error, counted in
           ``tellonce_delivery_record_failures_total{stage="state"}``; the lease runs out
           and the row is claimed again.

        Returns ``False`` when the row was no longer this worker's (a lost lease)."""
        job = result.job
        for stage in ("row", "bare", "state"):
            try:
                async with self.database.sessions() as session, session.begin():
                    held = await repository.lock_held(session, [job.delivery_id], worker=self.name)
                    if stage == "row":
                        await self._record_attempts(session, [(result, decision)], held)
                    elif stage == "bare":
                        await self._record_attempts(session, [(_bare(result), decision)], held)
                    else:
                        await self._record_state_only(session, result, decision, held)
            except Exception as exc:
                if database_unreachable(exc):
                    raise
                metrics.RECORD_FAILURES.labels(stage).inc()
                log.error(
                    "recording a delivery attempt failed",
                    extra={"delivery": job.delivery_id, "stage": stage, "error": _first_line(exc)},
                )
                continue
            if stage == "state" and result.reached_receiver:
                await self._log_read_alone(result)
            return bool(held)
        return True

    async def _record_state_only(
        self,
        session: AsyncSession,
        result: AttemptResult,
        decision: Decision,
        held: set[str],
    ) -> None:
        job = result.job
        if job.delivery_id not in held:
            return
        values = _outcome_values(result, decision, error=UNSTORED_ERROR if result.error else None)
        if values["status"] != states.DELIVERED:
            values |= {
                "status": states.DEAD,
                "next_attempt_at": None,
                "dead_at": result.started_at,
                "last_error": UNRECORDABLE,
            }
        await repository.record_outcomes(session, [values], leased_by=self.name)

    async def _log_read_alone(self, result: AttemptResult) -> None:
        try:
            async with self.database.sessions() as session, session.begin():
                await repository.log_access(session, [_read(result)])
        except Exception as exc:
            if database_unreachable(exc):
                raise
            log.error(
                "the access-log entry of a webhook could not be written",
                extra={"delivery": result.job.delivery_id, "error": _first_line(exc)},
            )

    async def _record_attempts(
        self,
        session: AsyncSession,
        decided: Sequence[tuple[AttemptResult, Decision]],
        held: set[str],
    ) -> None:
        """Every attempt is logged (and, if it reached the receiver, the access log says
        the agency got the answers), and counts for its endpoint's health; but only the
        rows in ``held`` change state. A row another worker claimed meanwhile belongs to
        that worker's attempt, whatever this one's answer was."""
        by_endpoint: dict[str, list[tuple[AttemptResult, str, str | None]]] = defaultdict(list)
        attempts: list[DeliveryAttempt] = []
        reads: list[AnswerAccess] = []
        outcomes: list[dict[str, Any]] = []
        for result, decision in decided:
            job = result.job
            if not result.local:
                by_endpoint[result.target.endpoint_id].append(
                    (result, decision.outcome, decision.reason)
                )
            attempts.append(
                DeliveryAttempt(
                    delivery_id=job.delivery_id,
                    endpoint_id=result.target.endpoint_id,
                    url=result.target.url,
                    started_at=result.started_at,
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    error=result.error,
                    outcome=decision.outcome,
                    worker=self.name,
                )
            )
            if result.reached_receiver:
                reads.append(_read(result))
            if job.delivery_id in held:
                outcomes.append(_outcome_values(result, decision, error=result.error))
        await repository.record_outcomes(session, outcomes, leased_by=self.name)
        await repository.add_attempts(session, attempts)
        await repository.log_access(session, reads)
        await self._endpoint_health(session, by_endpoint)

    async def _endpoint_health(
        self,
        session: AsyncSession,
        by_endpoint: dict[str, list[tuple[AttemptResult, str, str | None]]],
    ) -> None:
        """A success clears the failure streak; a 410 disables at once; an endpoint failing
        without one success for ``endpoint_disable_after_days`` is disabled."""
        limit = timedelta(days=self.settings.endpoint_disable_after_days)
        for endpoint_id in sorted(by_endpoint):
            outcomes = by_endpoint[endpoint_id]
            endpoint = await repository.get_endpoint(session, endpoint_id, lock=True)
            if endpoint is None or endpoint.status == ENDPOINT_DISABLED:
                continue
            now = max(r.started_at for r, _, _ in outcomes)
            gone = [reason for _, outcome, reason in outcomes if outcome == DISABLED]
            if gone:
                endpoint.status = ENDPOINT_DISABLED
                endpoint.disabled_at = now
                endpoint.disabled_reason = f"{gone[0]} at {now.isoformat()}"
                continue
            if any(outcome == DELIVERED for _, outcome, _ in outcomes):
                if endpoint.failing_since is not None:
                    # The receiver is back: retries scheduled for later go now, so a
                    # backlog drains in minutes instead of waiting out the schedule.
                    await repository.pull_retries_forward(session, endpoint.agency, now)
                    self._wake.set()
                endpoint.failing_since = None
                continue
            first_failure = min(r.started_at for r, _, _ in outcomes)
            if endpoint.failing_since is None:
                endpoint.failing_since = first_failure
            since = aware(endpoint.failing_since)
            if now - since >= limit:
                endpoint.status = ENDPOINT_DISABLED
                endpoint.disabled_at = now
                endpoint.disabled_reason = (
                    f"no successful delivery since {since.isoformat()} "
                    f"({self.settings.endpoint_disable_after_days:g} days); last error: "
                    f"{outcomes[-1][0].error}"
                )

    # --- housekeeping ------------------------------------------------------------------

    async def housekeeping(self) -> None:
        """Number the pull feed (so reads find positions ready) and refresh the gauges."""
        mono = time.monotonic()
        if mono - self._numbered_at >= FEED_NUMBERING_SECONDS:
            self._numbered_at = mono
            async with self.database.sessions() as session, session.begin():
                await repository.number_feed(session)
        if mono - self._gauges_at >= GAUGE_SECONDS:
            self._gauges_at = mono
            async with self.database.sessions() as session:
                await metrics.refresh_gauges(session, self.clock.now())

    async def seconds_to_next_due(self) -> float:
        async with self.database.sessions() as session:
            due = await repository.next_due_at(session)
        if due is None:
            return self.settings.delivery_poll_seconds
        wait = (aware(due) - self.clock.now()).total_seconds()
        return min(max(wait, 0.0), self.settings.delivery_poll_seconds)

    # --- the loop ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listen(stop)) if self.postgres else None
        log.info("worker started", extra={"worker": self.name})
        try:
            while not stop.is_set():
                self._wake.clear()
                claimed = 0
                try:
                    claimed = await self.run_once()
                    await self.housekeeping()
                    if claimed >= self.settings.delivery_batch_size:
                        continue
                    timeout = await self.seconds_to_next_due()
                except (SQLAlchemyError, OSError) as exc:
                    log.warning("worker turn failed", extra={"error": repr(exc)})
                    timeout = 1.0
                except Exception:
                    # A bug must not stop delivery for everyone: log it, back off, go on
                    # (the claimed rows' leases expire and they are tried again).
                    log.exception("worker turn failed unexpectedly")
                    timeout = 1.0
                await _wait_any(self._wake, stop, timeout)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            log.info("worker stopped", extra={"worker": self.name})

    async def _listen(self, stop: asyncio.Event) -> None:
        """Wake the loop on every NOTIFY; reconnect with a pause if the connection drops
        (the poll keeps deliveries moving meanwhile)."""
        dsn = libpq_url(self.database.url)
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    async for _ in conn.notifies():
                        self._wake.set()
            except psycopg.Error as exc:
                log.warning("LISTEN connection lost", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)


async def _wait_any(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.create_task(wake.wait()), asyncio.create_task(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waiters:
            task.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


def database_unreachable(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (no point in recording
    row by row: the rows' leases run out and they are claimed again), as opposed to one it
    answered with an error (a refused value, a deadlock, a bug), where smaller
    transactions may succeed."""
    if isinstance(exc, (OSError, PoolTimeout)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, (OperationalError, InterfaceError)):
            code = getattr(exc.orig, "sqlstate", None)
            # No SQLSTATE: the client failed; 08: connection; 53: resources; 57P: shutdown.
            return code is None or str(code).startswith(("08", "53", "57P"))
    return False


def _first_line(exc: BaseException) -> str:
    """An exception for the log: its type and first line, never the statement's
    parameters (they may hold answers)."""
    return clean_text(f"{type(exc).__name__}: {str(exc).split(chr(10), 1)[0]}", 300)


def _bare(result: AttemptResult) -> AttemptResult:
    """The attempt without text from outside: what is recorded when its error could not be."""
    return dataclasses.replace(result, error=UNSTORED_ERROR if result.error else None)


def _read(result: AttemptResult) -> AnswerAccess:
    """The access-log entry of a webhook that reached the receiver."""
    job = result.job
    return AnswerAccess(
        agency=job.agency,
        submission_id=job.submission_id,
        delivery_id=job.delivery_id,
        fields=list(job.fields),
        channel="webhook",
        actor=result.target.url,
        at=result.started_at,
    )


def _outcome_values(
    result: AttemptResult, decision: Decision, *, error: str | None
) -> dict[str, Any]:
    """The row's new state after the attempt (``repository.record_outcomes``)."""
    job = result.job
    values: dict[str, Any] = {
        "id": job.delivery_id,
        "status": PENDING,
        "attempts": job.attempts + 1,
        "next_attempt_at": None,
        "lease_until": None,
        "leased_by": None,
        "last_status_code": result.status_code,
        "last_error": error,
        "first_attempt_at": job.first_attempt_at or result.started_at,
        "delivered_at": None,
        "dead_at": None,
    }
    if decision.outcome == DELIVERED:
        values |= {"status": states.DELIVERED, "delivered_at": result.started_at}
    elif decision.outcome in (DEAD, DISABLED):
        values |= {
            "status": states.DEAD,
            "dead_at": result.started_at,
            "last_error": clean_text(f"{decision.reason}; last error: {error}"),
        }
    else:
        values |= {"next_attempt_at": decision.next_attempt_at}
    return values


def _job(row: Delivery, box: ShareBox) -> Job:
    return Job(
        delivery_id=row.id,
        submission_id=row.submission_id,
        reference=row.reference,
        agency=row.agency,
        form=row.form,
        version=row.version,
        submitted_at=aware(row.submitted_at),
        answers=open_answers(row, box),
        fields=list(row.fields),
        attempts=row.attempts,
        created_at=aware(row.created_at),
        first_attempt_at=row.first_attempt_at,
    )


def serve_metrics(settings: Settings, port: int) -> WSGIServer:
    """Serve the process's Prometheus metrics on ``worker_metrics_host:port`` from a
    daemon thread; returns the server (its address, and ``shutdown`` for tests)."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=settings.worker_metrics_host)
    log.info(
        "worker metrics served",
        extra={"host": settings.worker_metrics_host, "port": server.server_address[1]},
    )
    return server


async def run_worker(settings: Settings, *, metrics_port: int | None = None) -> None:
    """Entry point of the CLI: run until SIGTERM or SIGINT."""
    import signal

    configure_logging("submissions-worker", settings.log_level)
    if metrics_port:
        serve_metrics(settings, metrics_port)
    guard = sqlite_single_worker(settings.database_url)
    database = Database(settings.database_url)
    worker = DeliveryWorker(database, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await worker.run(stop)
    finally:
        await worker.aclose()
        await database.dispose()
        if guard is not None:
            guard.close()


class AnotherWorkerRuns(SystemExit):
    pass


def sqlite_single_worker(url: str) -> IO[bytes] | None:
    """On SQLite only one worker may run (no SKIP LOCKED): hold an exclusive lock on
    ``<database>.worker.lock`` for the process's life, and refuse to start without it."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    handle = Path(database + ".worker.lock").open("wb")  # noqa: SIM115 - held for life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AnotherWorkerRuns(
            "another worker already runs on this SQLite database; run one (or use PostgreSQL)"
        ) from None
    return handle
