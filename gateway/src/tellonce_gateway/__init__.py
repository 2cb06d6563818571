"""gateway (the public entry point)."""
