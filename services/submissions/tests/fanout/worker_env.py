"""Helpers of the worker tests that need a database of their own: the app and one worker on
a fake clock (``worker_env``), a webhook client that answers as the test says
(``ScriptedClient``), and a receiver whose answer body the test chooses
(``raw_receiver``)."""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import select

from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.models import (
    AnswerAccess,
    Delivery,
    DeliveryAttempt,
    WebhookEndpoint,
)
from tellonce_submissions.deliveries.ssrf import Answer, WebhookClient
from tellonce_submissions.main import create_app
from tellonce_submissions.worker import DeliveryWorker

from .conftest import FakeClock, make_settings


@dataclass
class WorkerEnv:
    database: Database
    settings: Settings
    clock: FakeClock
    worker: DeliveryWorker
    client: Any
    tokens: TokenFactory

    def auth(self, agency: str) -> dict[str, str]:
        return self.tokens.headers(role="agency", agency=agency)

    async def register(self, agency: str, url: str) -> dict[str, Any]:
        answer = await self.client.post(
            "/api/v1/deliveries/endpoints", json={"url": url}, headers=self.auth(agency)
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def delivery(self, delivery_id: str) -> Delivery:
        async with self.database.sessions() as session:
            row = await session.get(Delivery, delivery_id)
            assert row is not None
            return row

    async def endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        async with self.database.sessions() as session:
            row = await session.get(WebhookEndpoint, endpoint_id)
            assert row is not None
            return row

    async def attempts(self, delivery_id: str) -> list[DeliveryAttempt]:
        async with self.database.sessions() as session:
            rows = await session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)
            )
            return list(rows)

    async def reads(self, delivery_id: str) -> list[AnswerAccess]:
        async with self.database.sessions() as session:
            rows = await session.scalars(
                select(AnswerAccess)
                .where(AnswerAccess.delivery_id == delivery_id)
                .order_by(AnswerAccess.id)
            )
            return list(rows)


@asynccontextmanager
async def worker_env(
    url: str, tokens: TokenFactory, *, client: WebhookClient | None = None
) -> AsyncIterator[WorkerEnv]:
    settings = make_settings(url)
    database = Database(url)
    clock = FakeClock()
    worker = DeliveryWorker(
        database, settings, clock=clock, client=client, rng=random.Random(6), name="w-test"
    )
    app = create_app(settings, verifier=static_verifier(tokens))
    app.state.delivery_clock = clock
    try:
        async with asgi_client(app) as http:
            yield WorkerEnv(database, settings, clock, worker, http, tokens)
    finally:
        await worker.aclose()
        await app.state.database.dispose()
        await database.dispose()


Script = Callable[[str], Answer]
"""What the scripted client does for a URL: answer, or raise."""


class ScriptedClient(WebhookClient):
    """A webhook client that sends nothing: each URL's script answers (or raises)."""

    def __init__(self, scripts: Mapping[str, Script]) -> None:
        super().__init__(production=False)
        self.scripts = dict(scripts)
        self.posted: list[str] = []

    async def post(self, url: str, *, body: bytes, headers: Mapping[str, str]) -> Answer:
        self.posted.append(url)
        return self.scripts[url](url)


def answers(status: int, headers: dict[str, str] | None = None) -> Script:
    return lambda _url: Answer(status, headers or {}, "")


def raises(exc: BaseException) -> Script:
    def script(_url: str) -> Answer:
        raise exc

    return script


@dataclass
class RawReceiver:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    received: list[bytes] = field(default_factory=list)


@asynccontextmanager
async def raw_receiver(
    status: int, body: bytes, headers: dict[str, str] | None = None
) -> AsyncIterator[RawReceiver]:
    """A real receiver on 127.0.0.1 answering ``status`` with exactly ``body``."""
    receiver = RawReceiver(url="", status=status, headers=headers or {}, body=body)

    async def handle(request: web.Request) -> web.Response:
        receiver.received.append(await request.read())
        return web.Response(status=receiver.status, headers=receiver.headers, body=receiver.body)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"
    try:
        yield receiver
    finally:
        await runner.cleanup()
