"""Settings of the portal service (env prefix PORTAL_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from tellonce_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/portal.db"
    port: int = 8004


@lru_cache
def get_settings() -> Settings:
    return Settings()
