"""Per-process collaborators of the resident-side features, as dependency aliases: the
registry client, the answer sealer, the clock (replaceable in tests) and the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from tellonce_submissions.config import Settings
from tellonce_submissions.crypto import AnswerSealer
from tellonce_submissions.db import Database
from tellonce_submissions.receipts.render import ReceiptRenderer
from tellonce_submissions.registry.client import RegistryClient

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


async def _registry(request: Request) -> RegistryClient:
    registry: RegistryClient = request.app.state.registry
    return registry


async def _sealer(request: Request) -> AnswerSealer:
    sealer: AnswerSealer = request.app.state.sealer
    return sealer


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _receipts(request: Request) -> ReceiptRenderer:
    renderer: ReceiptRenderer = request.app.state.receipts
    return renderer


RegistryDep = Annotated[RegistryClient, Depends(_registry)]
SealerDep = Annotated[AnswerSealer, Depends(_sealer)]
ClockDep = Annotated[Clock, Depends(_clock)]
DatabaseDep = Annotated[Database, Depends(_database)]
SettingsDep = Annotated[Settings, Depends(_settings)]
ReceiptRendererDep = Depends(_receipts)
