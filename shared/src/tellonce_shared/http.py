"""Outbound HTTP between services: the current request id goes on every call."""

from __future__ import annotations

import httpx

from tellonce_shared.logging import request_id_var


async def _add_request_id(request: httpx.Request) -> None:
    rid = request_id_var.get()
    if rid and "x-request-id" not in request.headers:
        request.headers["x-request-id"] = rid


def service_client(
    base_url: str = "", timeout: float = 10.0, **kwargs: object
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that carries ``X-Request-ID`` into the next service."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        event_hooks={"request": [_add_request_id]},
        **kwargs,  # type: ignore[arg-type]
    )
