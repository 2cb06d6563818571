"""Settings of the identity service (env prefix IDENTITY_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from tellonce_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/identity.db"
    port: int = 8001


@lru_cache
def get_settings() -> Settings:
    return Settings()
