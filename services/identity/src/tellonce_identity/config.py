"""Settings of the identity service (env prefix IDENTITY_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from tellonce_shared.settings import ServiceSettings

DEMO_KEY_ENCRYPTION_KEY = "local-only-demo-key-encryption-key-change-me"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/identity.db"
    port: int = 8001

    key_encryption_key: SecretStr = SecretStr(DEMO_KEY_ENCRYPTION_KEY)
    """Encrypts the signing keys' private halves at rest (AES-256-GCM, key derived by HKDF)."""
    previous_key_encryption_keys: list[SecretStr] = []
    """Older key-encryption keys still accepted for decryption while ``rewrap-keys``
    re-encrypts every signing key under the current one (JSON list)."""

    access_token_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_seconds: int = Field(default=14 * 24 * 3600, ge=300)
    """Idle lifetime of one refresh token; every use rotates it and restarts this clock."""
    refresh_family_seconds: int = Field(default=30 * 24 * 3600, ge=300)
    """Absolute lifetime of a sign-in: no refresh extends a session past this."""
    refresh_reuse_seconds: int = Field(default=30, ge=0, le=300)
    """Reuse interval: a refresh token presented again this soon after its rotation (two
    tabs refreshing at once) is accepted once more instead of ending the sign-in; 0 disables."""
    key_publish_grace_seconds: int = Field(default=120, ge=0)
    """How long past the last token lifetime a retired key stays in the JWKS (clock skew)."""

    login_window_seconds: int = Field(default=900, ge=1)
    """The sliding window over which failed sign-ins (and wrong current passwords) count."""
    login_max_failures_per_account_address: int = Field(default=10, ge=1)
    """Failed sign-ins at one account from one address in the window, then that address
    alone gets 429 for that account: the owner still signs in from elsewhere."""
    login_max_failures_per_account: int = Field(default=100, ge=1)
    """Failed sign-ins at one account from all addresses together in the window, then 429
    for every caller but the account's known callers (NIST SP 800-63B allows at most 100):
    caps guessing spread over many addresses."""
    login_max_failures_per_address: int = Field(default=100, ge=1)
    """Failed sign-ins from one address at all accounts together in the window, then 429
    for that address."""
    login_known_caller_days: int = Field(default=30, ge=1)
    """An address (an IPv6 address's /64) from which an account signed in, or refreshed a
    sign-in, in this many days is a known caller of that account: the account-wide limit
    does not lock it out (its own two limits still apply), so guessing spread over many
    addresses cannot lock the owner out of the places they use."""
    password_change_max_failures: int = Field(default=5, ge=1)
    """Wrong current passwords allowed on ``POST /me/password`` per account in
    ``login_window_seconds``, then 429. Counted apart from sign-in failures: they never lock
    the account's sign-in, and sign-in failures never block a signed-in user's change."""
    trusted_proxies: list[str] = ["127.0.0.1/32", "::1/128"]
    """Peers (addresses or CIDR blocks) whose X-Forwarded-For header is believed: the
    gateway's addresses (in Kubernetes, the pod network)."""

    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19_456, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)

    def secrets_to_check(self) -> dict[str, SecretStr | str | None]:
        return {"IDENTITY_KEY_ENCRYPTION_KEY": self.key_encryption_key}

    @model_validator(mode="after")
    def _strong_key_in_production(self) -> Settings:
        if self.mode == "production" and len(self.key_encryption_key.get_secret_value()) < 32:
            raise ValueError("IDENTITY_KEY_ENCRYPTION_KEY needs at least 32 characters")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
