"""The service's engine and session factory (one shared implementation)."""

from tellonce_shared.db import Database

__all__ = ["Database"]
