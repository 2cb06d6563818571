"""Production refuses a weak portal session secret (it encrypts the session cookie)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from tellonce_portal.config import Settings


def test_production_needs_a_session_secret_of_32_characters() -> None:
    for weak in ("Zq7", "Zq7" + "w" * 28):
        with pytest.raises(ValidationError, match="PORTAL_SESSION_SECRET needs at least 32") as e:
            Settings(mode="production", session_secret=SecretStr(weak))
        assert "Zq7" not in str(e.value)
    assert Settings(mode="production", session_secret=SecretStr("x" * 32)).mode == "production"
    assert Settings(session_secret=SecretStr("a")).is_local  # local mode: any value
