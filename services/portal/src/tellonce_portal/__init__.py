"""portal (web frontend)."""
