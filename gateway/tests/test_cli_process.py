"""The gateway as operators run it: ``tellonce-gateway serve`` in its own process (uvloop,
httptools), in front of the test services, for both upstream clients."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from .conftest import Stack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture(params=["native", "aiohttp"])
async def served(request: pytest.FixtureRequest, stack: Stack) -> AsyncIterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "GATEWAY_CLIENT": request.param,
        "GATEWAY_IDENTITY_URL": stack.identity.url,
        "GATEWAY_REGISTRY_URL": stack.registry.url,
        "GATEWAY_SUBMISSIONS_URL": stack.submissions.url,
        "GATEWAY_PORTAL_URL": stack.portal.url,
        "GATEWAY_ISSUER": stack.tokens.issuer,
        "GATEWAY_ROUTE_TIMEOUTS": '{"/api/v1/forms": 0.5}',
    }
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "tellonce_gateway.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as c:
            for _ in range(200):
                try:
                    if (await c.get(url + "/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the gateway did not start")
        yield url
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        assert b"Traceback" not in err, err.decode()


async def test_served_gateway_proxies_reads_writes_and_errors(stack: Stack, served: str) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        for _ in range(3):  # pooled connections get reused
            resp = await c.get(served + "/api/v1/forms/benefits")
            assert resp.status_code == 200
            assert resp.json() == {"slug": "benefits", "service": "registry"}
            assert resp.headers["x-content-type-options"] == "nosniff"
        body = os.urandom(300_000)
        resp = await c.post(
            served + "/api/v1/drafts/echo/x", content=body, headers=stack.tokens.headers("p")
        )
        assert resp.json()["sha256"] == hashlib.sha256(body).hexdigest()
        head = await c.head(served + "/api/v1/forms/echo/h")
        assert head.status_code == 200
        again = await c.get(served + "/api/v1/forms/benefits")
        assert again.status_code == 200
        slow = await c.get(served + "/api/v1/forms/slow?seconds=3")
        assert slow.status_code == 504
        assert slow.headers["content-type"] == "application/problem+json"
        big = await c.get(served + "/api/v1/forms/big?megabytes=2")
        assert len(big.content) == 2 * 16 * 65536
