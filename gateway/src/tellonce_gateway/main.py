"""create_app() for the gateway: the plain ASGI Gateway with its settings and verifier."""

from __future__ import annotations

from tellonce_gateway.app import Gateway
from tellonce_gateway.config import Settings, get_settings
from tellonce_shared.app import build_verifier
from tellonce_shared.auth import TokenVerifier
from tellonce_shared.logging import configure_logging


def create_app(settings: Settings | None = None, verifier: TokenVerifier | None = None) -> Gateway:
    settings = settings or get_settings()
    configure_logging("gateway", settings.log_level)
    return Gateway(settings, verifier or build_verifier(settings))
