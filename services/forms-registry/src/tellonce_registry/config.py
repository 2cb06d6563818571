"""Settings of the forms registry service (env prefix REGISTRY_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from tellonce_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/registry.db"
    port: int = 8002


@lru_cache
def get_settings() -> Settings:
    return Settings()
