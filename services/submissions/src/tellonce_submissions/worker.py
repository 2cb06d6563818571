"""The outbox worker: ``tellonce-submissions worker``. Any number may run on PostgreSQL
(``FOR UPDATE SKIP LOCKED`` plus a lease); run exactly one on SQLite.

Each turn: claim a batch of due deliveries and lease them (one short transaction), send
them concurrently over one pooled HTTP client while a heartbeat renews their leases every
third of the lease, then record every attempt and its consequence (one short transaction,
only for the rows this worker still holds). No row lock is held while a receiver is
answering; a worker killed mid-turn leaves leases that expire, and another worker takes the
rows again (at-least-once, with the same ``webhook-id``). The worker sleeps until
LISTEN/NOTIFY says new rows were committed, a retry falls due, or the poll interval passes.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.db import is_sqlite
from tellonce_shared.logging import configure_logging
from tellonce_submissions.config import Settings
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries import metrics, repository
from tellonce_submissions.deliveries import models as states
from tellonce_submissions.deliveries.clock import Clock, SystemClock
from tellonce_submissions.deliveries.dispatch import (
    DEAD,
    DELIVERED,
    DISABLED,
    AttemptResult,
    Job,
    Target,
    attempt,
    decide,
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
            jobs = [_job(row, self.shares) for row in rows]
            endpoints = await repository.active_endpoints(session, [j.agency for j in jobs])
            targets = {agency: self._target(ep, now) for agency, ep in endpoints.items()}
        if not jobs:
            return 0
        pull_only = [j for j in jobs if targets.get(j.agency) is None]
        pushing = [j for j in jobs if targets.get(j.agency) is not None]
        held = {j.delivery_id for j in pushing}
        sent = asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeat(held, sent))
        try:
            results = await asyncio.gather(
                *(self._attempt(job, targets[job.agency]) for job in pushing)  # type: ignore[arg-type]
            )
        finally:
            sent.set()
            await heartbeat
        await self._record(results, pull_only, renewed=held)
        return len(jobs)

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
                and _aware(endpoint.previous_secret_expires_at) > now
            ):
                secrets.append(self.box.open(endpoint.previous_secret, context=endpoint.id))
        except SecretBoxError:
            log.error("webhook secret cannot be opened", extra={"endpoint": endpoint.id})
            return None
        return Target(endpoint_id=endpoint.id, url=endpoint.url, secrets=tuple(secrets))

    async def _attempt(self, job: Job, target: Target) -> AttemptResult:
        result = await attempt(self.client, job, target, started_at=self.clock.now())
        if job.first_attempt_at is None:
            lag = (datetime.now(UTC) - _aware(job.created_at)).total_seconds()
            metrics.FIRST_ATTEMPT_LAG.observe(max(lag, 0.0))
        metrics.ATTEMPT_LATENCY.observe(result.latency_ms / 1000)
        return result

    async def _record(
        self, results: Sequence[AttemptResult], pull_only: Sequence[Job], *, renewed: set[str]
    ) -> None:
        """``renewed``: the rows the heartbeat still held at its last beat (the others are
        already counted as lost)."""
        async with self.database.sessions() as session, session.begin():
            for job in sorted(pull_only, key=lambda j: j.delivery_id):
                # No active endpoint: the delivery waits in the pull feed.
                await repository.update_delivery_if_leased(
                    session,
                    job.delivery_id,
                    worker=self.name,
                    values={"next_attempt_at": None, "lease_until": None, "leased_by": None},
                )
            # The rows still ours, locked until commit so no claim can take them meanwhile.
            held = await repository.lock_held(
                session, [r.job.delivery_id for r in results], worker=self.name
            )
            self._lost(renewed - held)
            await self._record_attempts(
                session, sorted(results, key=lambda r: r.job.delivery_id), held
            )

    async def _record_attempts(
        self, session: AsyncSession, results: Sequence[AttemptResult], held: set[str]
    ) -> None:
        """Every attempt is logged (and, if it reached the receiver, the access log says
        the agency got the answers), and counts for its endpoint's health; but only the
        rows in ``held`` change state. A row another worker claimed meanwhile belongs to
        that worker's attempt, whatever this one's answer was."""
        by_endpoint: dict[str, list[tuple[AttemptResult, str, str | None]]] = defaultdict(list)
        attempts: list[DeliveryAttempt] = []
        reads: list[AnswerAccess] = []
        delivered: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for result in results:
            job = result.job
            decision = decide(result, rng=self.rng)
            by_endpoint[result.target.endpoint_id].append(
                (result, decision.outcome, decision.reason)
            )
            metrics.ATTEMPTS.labels(job.agency, decision.outcome).inc()
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
                reads.append(
                    AnswerAccess(
                        agency=job.agency,
                        submission_id=job.submission_id,
                        delivery_id=job.delivery_id,
                        fields=list(job.fields),
                        channel="webhook",
                        actor=result.target.url,
                        at=result.started_at,
                    )
                )
            if job.delivery_id not in held:
                continue
            values: dict[str, Any] = {
                "id": job.delivery_id,
                "status": PENDING,
                "attempts": job.attempts + 1,
                "next_attempt_at": None,
                "lease_until": None,
                "leased_by": None,
                "last_status_code": result.status_code,
                "last_error": result.error,
                "first_attempt_at": job.first_attempt_at or result.started_at,
                "delivered_at": None,
                "dead_at": None,
            }
            if decision.outcome == DELIVERED:
                values |= {"status": states.DELIVERED, "delivered_at": result.started_at}
                delivered.append(values)
                continue
            if decision.outcome in (DEAD, DISABLED):
                values |= {
                    "status": states.DEAD,
                    "dead_at": result.started_at,
                    "last_error": f"{decision.reason}; last error: {result.error}",
                }
            else:
                values |= {"next_attempt_at": decision.next_attempt_at}
            failed.append(values)
        await repository.record_outcomes(session, delivered + failed, leased_by=self.name)
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
            since = _aware(endpoint.failing_since)
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
        wait = (_aware(due) - self.clock.now()).total_seconds()
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


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _job(row: Delivery, box: ShareBox) -> Job:
    return Job(
        delivery_id=row.id,
        submission_id=row.submission_id,
        reference=row.reference,
        agency=row.agency,
        form=row.form,
        version=row.version,
        submitted_at=_aware(row.submitted_at),
        answers=open_answers(row, box),
        fields=list(row.fields),
        attempts=row.attempts,
        created_at=_aware(row.created_at),
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
