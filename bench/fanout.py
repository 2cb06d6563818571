"""Fan-out benchmark (issue 6), one run, on PostgreSQL:

1. deliveries per second for one worker to a local receiver (a separate process);
2. commit-to-first-attempt latency p50/p95 with a worker woken by LISTEN/NOTIFY;
3. time to drain the backlog of a 10-minute receiver outage (simulated on a fake clock,
   real time flowing too), as a multiple of the outage.

Run: ``uv run python -m bench.fanout`` (PostgreSQL on 127.0.0.1:5432, user postgres).
Prints JSON and writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from bench.common import free_port
from tellonce_shared.auth import Principal
from tellonce_shared.logging import configure_logging
from tellonce_shared.migrations import upgrade
from tellonce_shared.testing import create_database, drop_database
from tellonce_submissions.config import Settings
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.models import Delivery
from tellonce_submissions.deliveries.outbox import enqueue_deliveries
from tellonce_submissions.deliveries.service import DeliveryService
from tellonce_submissions.worker import DeliveryWorker

ROOT = Path(__file__).resolve().parents[1]
SERVICE_DIR = ROOT / "services" / "submissions"
RECEIVER = """
import sys
from aiohttp import web
async def handle(request):
    await request.read()
    return web.Response(status=204)
app = web.Application()
app.router.add_post("/{tail:.*}", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""
ANSWERS = {
    "name": "Ada Lovelace",
    "income": 1234,
    "address": {"line1": "1 Main St", "zip": "06103"},
}


class OffsetClock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def register(db: Database, settings: Settings, agency: str, url: str) -> None:
    async with db.sessions() as session, session.begin():
        principal = Principal(sub="bench", role="agency", agency=agency)
        await DeliveryService(session, settings).create_endpoint(principal, url)


async def enqueue(db: Database, agency: str, n: int, per_tx: int = 1) -> None:
    for start in range(0, n, per_tx):
        async with db.sessions() as session, session.begin():
            for k in range(start, min(start + per_tx, n)):
                await enqueue_deliveries(
                    session,
                    submission_id=f"s-{agency}-{k}",
                    reference=f"CT-BENCH-{k}",
                    form="bench",
                    version=1,
                    submitted_at=datetime.now(UTC),
                    receivers=[(agency, ANSWERS, ["/name", "/income", "/address"])],
                )


async def throughput(db: Database, settings: Settings, url: str, n: int) -> dict[str, Any]:
    await register(db, settings, "THRU", url)
    await enqueue(db, "THRU", n, per_tx=100)
    worker = DeliveryWorker(db, settings, name="bench-thru")
    began = time.perf_counter()
    done = 0
    while True:
        claimed = await worker.run_once()
        if not claimed:
            break
        done += claimed
    seconds = time.perf_counter() - began
    await worker.aclose()
    return {"deliveries": done, "seconds": round(seconds, 2), "per_second": round(done / seconds)}


async def latency(db: Database, settings: Settings, url: str, n: int) -> dict[str, Any]:
    await register(db, settings, "LAT", url)
    worker = DeliveryWorker(db, settings, name="bench-lat")
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(1.0)  # LISTEN is up
    for _ in range(n):
        await enqueue(db, "LAT", 1)
        await asyncio.sleep(0.02)
    async with db.sessions() as session:
        while True:
            pending = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.agency == "LAT", Delivery.first_attempt_at.is_(None))
            )
            await session.rollback()
            if not pending:
                break
            await asyncio.sleep(0.1)
        rows = (
            await session.execute(
                select(Delivery.created_at, Delivery.first_attempt_at).where(
                    Delivery.agency == "LAT"
                )
            )
        ).all()
    stop.set()
    await running
    await worker.aclose()
    lags = sorted((f - c).total_seconds() for c, f in rows if f is not None)
    assert len(lags) == len(rows), "a delivery was never attempted"
    p = statistics.quantiles(lags, n=100)
    return {
        "submissions": len(lags),
        "p50_ms": round(p[49] * 1000, 1),
        "p95_ms": round(p[94] * 1000, 1),
        "max_ms": round(lags[-1] * 1000, 1),
    }


async def outage(db: Database, settings: Settings, minutes: int, rate: int) -> dict[str, Any]:
    """The receiver answers 503 for ``minutes`` of simulated time while ``rate``
    submissions a second arrive; then it recovers. Drain = from recovery until every
    delivery made during the outage has arrived."""
    up = False

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=204 if up else 503)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await register(db, settings, "OUT", f"http://127.0.0.1:{port}/hook")
    clock = OffsetClock()
    worker = DeliveryWorker(db, settings, clock=clock, name="bench-outage")
    start = clock.now()
    step = timedelta(seconds=1)
    outage_len = timedelta(minutes=minutes)
    recovered_at: datetime | None = None
    made_during = 0
    while True:
        now = clock.now()
        if recovered_at is None and now - start >= outage_len:
            up = True
            recovered_at = now
        await enqueue(db, "OUT", rate, per_tx=rate)
        if recovered_at is None:
            made_during += rate
        while await worker.run_once() >= settings.delivery_batch_size:
            pass
        if recovered_at is not None:
            async with db.sessions() as session:
                left = await session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(
                        Delivery.agency == "OUT",
                        Delivery.status != "delivered",
                        Delivery.created_at < recovered_at - clock.offset,
                    )
                )
            if not left:
                break
        clock.offset += step
    drained = clock.now() - recovered_at if recovered_at else timedelta(0)
    await worker.aclose()
    await runner.cleanup()
    return {
        "outage_minutes": minutes,
        "deliveries_during_outage": made_during,
        "drain_seconds": round(drained.total_seconds(), 1),
        "drain_over_outage": round(drained / outage_len, 3),
    }


def start_receiver(port: int) -> subprocess.Popen[bytes]:
    """The receiver runs in its own process so it does not share the worker's CPU."""
    return subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])


async def main() -> None:
    configure_logging("bench", "WARNING")
    url = create_database("fanout_bench")
    port = free_port()
    receiver = start_receiver(port)
    try:
        await asyncio.to_thread(upgrade, SERVICE_DIR, url)
        settings = Settings(
            database_url=url, delivery_batch_size=int(os.environ.get("BATCH", "64"))
        )
        db = Database(url)
        await asyncio.sleep(1.0)
        receiver_url = f"http://127.0.0.1:{port}/hook"
        results = {
            "throughput_one_worker": await throughput(db, settings, receiver_url, 5000),
            "commit_to_first_attempt": await latency(db, settings, receiver_url, 300),
            "outage_drain": await outage(db, settings, minutes=10, rate=2),
        }
        await db.dispose()
        print(json.dumps(results, indent=2))
        write_section(results, settings.delivery_batch_size)
    finally:
        receiver.terminate()
        receiver.wait()
        drop_database(url)


def write_section(results: dict[str, Any], batch: int) -> None:
    thru = results["throughput_one_worker"]
    lat = results["commit_to_first_attempt"]
    out = results["outage_drain"]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    section = "\n".join(
        [
            "<!-- fanout:begin -->",
            "## Fan-out (issue 6): `uv run python -m bench.fanout`",
            "",
            f"Measured {when} on {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"PostgreSQL on the same machine; load average {load:.1f} when written (shared "
            f"machine). One worker, batch {batch}, aiohttp receiver answering 204 in its own "
            "process on 127.0.0.1. Design and reasoning: docs/fan-out.md.",
            "",
            "| measure | result | target |",
            "| --- | --- | --- |",
            f"| deliveries/s, one worker ({thru['deliveries']} queued) | {thru['per_second']} "
            "| >= 300 |",
            f"| outbox commit -> first attempt, {lat['submissions']} submissions at ~50/s, "
            f"LISTEN/NOTIFY | p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, max "
            f"{lat['max_ms']} ms | p95 < 1 s |",
            f"| drain after a {out['outage_minutes']}-min receiver outage (fake clock, "
            f"{out['deliveries_during_outage']} deliveries queued) | {out['drain_seconds']} s "
            f"({out['drain_over_outage']} x the outage) | <= 2 x |",
            "<!-- fanout:end -->",
        ]
    )
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n\n"
    if "<!-- fanout:begin -->" in text:
        text = re.sub(r"<!-- fanout:begin -->.*?<!-- fanout:end -->", section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(text)


if __name__ == "__main__":
    asyncio.run(main())
