"""Annotated dependency aliases used by the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tellonce_registry.config import Settings
from tellonce_registry.db import Database
from tellonce_registry.forms.cache import PublishedCache
from tellonce_shared.auth import require_roles
from tellonce_shared.db import request_session

get_session = request_session()


class LazySession:
    """A session opened only when a route first needs it: the hot cached reads of published
    versions then never touch the pool. Opened, committed and closed by the dependency."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._session: AsyncSession | None = None

    def get(self) -> AsyncSession:
        if self._session is None:
            self._session = self._database.sessions()
        return self._session

    async def finish(self, ok: bool) -> None:
        if self._session is None:
            return
        try:
            if ok:
                await self._session.commit()
            else:
                await self._session.rollback()
        finally:
            await self._session.close()


async def get_lazy_session(request: Request) -> AsyncIterator[LazySession]:
    lazy = LazySession(request.app.state.database)
    try:
        yield lazy
    except BaseException:
        await lazy.finish(ok=False)
        raise
    await lazy.finish(ok=True)


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run ``action`` once the request's transaction has committed (and not if it rolls back).
    Cache drops belong there: dropped before the commit, a concurrent read could store the old
    rows again."""

    def run(_: Session) -> None:
        action()

    event.listen(session.sync_session, "after_commit", run, once=True)


# Dependencies are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker
# thread, which costs more than the whole cached read of a published version.
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_cache(request: Request) -> PublishedCache:
    cache: PublishedCache = request.app.state.published_cache
    return cache


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
LazySessionDep = Annotated[LazySession, Depends(get_lazy_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CacheDep = Annotated[PublishedCache, Depends(get_cache)]
AdminOnly = require_roles("admin")
