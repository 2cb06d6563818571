"""identity (OAuth 2.0 / OpenID Connect provider)."""
