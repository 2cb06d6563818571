"""The service's engine and session factory (one shared implementation), and the flush of a
new row that may race a twin."""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.db import Database
from tellonce_shared.problems import Conflict

__all__ = ["Database", "flush_new"]


async def flush_new(session: AsyncSession, already: str) -> None:
    """Flush a new row whose key was checked free a moment ago: a twin request that inserted
    the same key in between (the check could not see it) makes this the 409 ``already`` that
    a duplicate sent later gets, not a 500. The transaction is rolled back by the caller."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(already) from exc
