"""Settings of the submissions service (env prefix SUBMISSIONS_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from tellonce_shared.keyring import KeyRing, KeyRingError
from tellonce_shared.settings import ServiceSettings

# A demo key for local mode only: its id says so, and production mode refuses it.
DEMO_ANSWER_KEYS = "local-only-1:dGVsbC1vbmNlIGxvY2FsLW9ubHkgZGVtbyBrZXkgISE="
# The same for the keys that encrypt agencies' webhook secrets (fan-out, issue 6).
DEMO_WEBHOOK_SECRET_KEYS = "local-only-wh1:dGVsbC1vbmNlIHdlYmhvb2sgbG9jYWwtb25seSBrZXk="


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUBMISSIONS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/submissions.db"
    port: int = 8003
    registry_url: str = "http://127.0.0.1:8002"
    """Where the forms registry answers (form versions, fields, agreements)."""
    registry_timeout_seconds: float = 5.0
    agreements_cache_seconds: float = 30.0
    """Agreements can change; published versions and their fields never do."""
    catalog_cache_seconds: float = 60.0
    """Forms' priorities and referral rules (performance management, issue 11)."""
    version_status_cache_seconds: float = 60.0
    """How long a version's lifecycle status (published/retired) is trusted from cache."""
    answer_keys: SecretStr = SecretStr(DEMO_ANSWER_KEYS)
    """AES-256-GCM keys for restricted values, ``kid:base64key`` comma-separated; the first
    one encrypts, every one decrypts (so keys rotate without re-encrypting at once)."""
    reference_prefix: str = "CT"
    draft_retention_days: int = 60
    idempotency_retention_hours: int = 24
    retention_interval_seconds: int = 3600
    """How often the serve process runs the retention job (expired drafts and keys, delivered
    agency shares; 0: never; use the CLI)."""
    receipt_workers: int = 1
    max_answer_values: int = 10_000
    max_answer_depth: int = 32

    # Fan-out (issue 6): webhook secrets, workers, outbound HTTP. See docs/fan-out.md.
    webhook_secret_keys: SecretStr = SecretStr(DEMO_WEBHOOK_SECRET_KEYS)
    """AES-256-GCM keys that encrypt webhook secrets at rest, ``kid:base64key``
    comma-separated; the first encrypts, every one decrypts."""
    delivery_lease_seconds: float = 30.0
    """How long a claimed delivery belongs to one worker; the worker renews it every third
    of this while sending, and a killed worker's deliveries are retaken after it."""
    delivery_poll_seconds: float = 0.5
    """The longest a worker sleeps between looks at the outbox (LISTEN/NOTIFY wakes it
    sooner on PostgreSQL)."""
    delivery_batch_size: int = 64
    """Deliveries one worker claims and sends concurrently at a time."""
    delivery_timeout_seconds: float = 15.0
    delivery_max_connections: int = 200
    endpoint_disable_after_days: float = 5.0
    """An endpoint failing for this long without one success is disabled."""
    secret_rotation_overlap_hours: float = 24.0
    delivery_share_retention_days: int = 30
    """Days a delivery keeps its agency's share of the answers once it is final (delivered,
    acked or dead, counted from ``delivered_at``/``acked_at``/``dead_at``); the retention
    job then erases the share and keeps the row's metadata. 0 or negative: keep for ever.
    See docs/fan-out.md, "Retention of delivered shares"."""
    delivery_share_purge_batch: int = Field(default=500, ge=1)
    """Rows the retention job erases per transaction (each batch commits on its own)."""
    worker_metrics_host: str = "127.0.0.1"
    """The address the worker's ``--metrics-port`` listens on: the loopback locally;
    ``0.0.0.0`` in a pod, so Prometheus in another pod can scrape it."""

    def secrets_to_check(self) -> dict[str, SecretStr | str | None]:
        return {"answer_keys": self.answer_keys, "webhook_secret_keys": self.webhook_secret_keys}

    @model_validator(mode="after")
    def _keyrings_parse(self) -> Settings:
        """Both keyrings are read at start-up (every command, every process), so a malformed
        ring or one naming a key id twice stops the service with the id, never the key."""
        rings = (
            ("SUBMISSIONS_ANSWER_KEYS", self.answer_keys, "answer key"),
            ("SUBMISSIONS_WEBHOOK_SECRET_KEYS", self.webhook_secret_keys, "webhook secret key"),
        )
        for variable, ring, what in rings:
            try:
                KeyRing(ring.get_secret_value(), what=what)
            except KeyRingError as exc:
                raise ValueError(f"{variable}: {exc}") from None
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
