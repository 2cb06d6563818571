"""Fixtures of the fan-out tests: a migrated PostgreSQL database, signed tokens, the app,
real webhook receivers on 127.0.0.1 and a clock the tests move by hand."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tellonce_shared.testing import TokenFactory, asgi_client, migrated_database, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.outbox import enqueue_deliveries
from tellonce_submissions.main import create_app

SERVICE_DIR = Path(__file__).resolve().parents[2]


class FakeClock:
    """The workers' scheduling clock: real time plus an offset the test moves forward (so
    rows the outbox stamps with the real time are due at once, as in production)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta

    def move_to(self, moment: datetime) -> None:
        if moment > self.now():
            self.offset += moment - self.now()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: datetime


@dataclass
class Receiver:
    """A real HTTP receiver; ``answer`` decides each response (status, headers)."""

    url: str
    received: list[Received] = field(default_factory=list)
    answer: Any = None

    def respond(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.answer = lambda _r: (status, headers or {})


async def _start_receiver() -> tuple[Receiver, web.AppRunner]:
    receiver = Receiver(url="")
    receiver.respond(204)

    async def handle(request: web.Request) -> web.Response:
        item = Received(
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.read(),
            at=datetime.now(UTC),
        )
        receiver.received.append(item)
        outcome = receiver.answer(item)
        if hasattr(outcome, "__await__"):
            outcome = await outcome
        status, headers = outcome
        return web.Response(status=status, headers=headers, text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"
    return receiver, runner


@pytest.fixture
async def receiver_factory() -> AsyncIterator[Callable[[], Awaitable[Receiver]]]:
    runners: list[web.AppRunner] = []

    async def make() -> Receiver:
        receiver, runner = await _start_receiver()
        runners.append(runner)
        return receiver

    yield make
    for runner in runners:
        await runner.cleanup()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with migrated_database("fanout_test", SERVICE_DIR) as url:
        yield url


@pytest.fixture
def fresh_database_url() -> Iterator[str]:
    """A database of its own, for tests whose workers must see no other test's rows."""
    with migrated_database("fanout_test", SERVICE_DIR) as url:
        yield url


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


def make_settings(url: str, **overrides: Any) -> Settings:
    return Settings(database_url=url, **overrides)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
async def app(settings: Settings, tokens: TokenFactory) -> AsyncIterator[Any]:
    application = create_app(settings, verifier=static_verifier(tokens))
    yield application
    await application.state.database.dispose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Any]:
    async with asgi_client(app) as c:
        yield c


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


Enqueue = Callable[..., Awaitable[list[str]]]


async def enqueue_submission(
    database: Database,
    receivers: list[tuple[str, dict[str, Any], list[str]]],
    *,
    reference: str | None = None,
) -> list[str]:
    """What the submissions service does: its own transaction writes the outbox rows."""
    submission_id = str(uuid.uuid4())
    async with database.sessions() as session, session.begin():
        rows = await enqueue_deliveries(
            session,
            submission_id=submission_id,
            reference=reference or f"CT-TEST-{submission_id[:8].upper()}",
            form="test-form",
            version=1,
            submitted_at=datetime.now(UTC),
            receivers=receivers,
        )
        return [r.id for r in rows]


def agency_code() -> str:
    return "A" + uuid.uuid4().hex[:8].upper()
