"""Database models of the portal service."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from tellonce_shared.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
