"""Settings of the submissions service (env prefix SUBMISSIONS_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from tellonce_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUBMISSIONS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/submissions.db"
    port: int = 8003


@lru_cache
def get_settings() -> Settings:
    return Settings()
