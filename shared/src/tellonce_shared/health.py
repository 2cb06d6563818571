"""/healthz (the process is alive) and /readyz (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import orjson
from fastapi import APIRouter
from starlette.responses import Response

Check = Callable[[], Awaitable[None]]


class NotReady(Exception):
    """A check's own answer for why the service is not ready; /readyz shows its message
    (other exceptions show their type only)."""


def health_router(checks: Mapping[str, Check]) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @router.get("/readyz")
    async def readyz() -> Response:
        results: dict[str, str] = {}
        ok = True
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=3)
                results[name] = "ok"
            except NotReady as exc:
                ok = False
                results[name] = f"not ready: {exc}"
            except Exception as exc:  # a failed dependency is the answer, not an error
                ok = False
                results[name] = f"unavailable: {type(exc).__name__}"
        body = {"status": "ok" if ok else "unavailable", "checks": results}
        return Response(
            orjson.dumps(body),
            status_code=200 if ok else 503,
            media_type="application/json",
        )

    return router
