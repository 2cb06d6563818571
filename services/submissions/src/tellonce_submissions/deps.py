"""Annotated dependency aliases used by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.db import request_session

get_session = request_session()

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""``scope="function"``: the commit happens before the response is sent, so a client never
sees a 201 for a transaction that then fails to commit (FastAPI's default runs the exit code
of yield dependencies after the response)."""
