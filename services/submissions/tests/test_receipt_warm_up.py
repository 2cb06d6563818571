"""The receipt workers are started and warmed at start-up (acceptance review): the pool and
WeasyPrint started on the first receipt asked for, which took 15-36 s, so the first receipt
after every start was a 503 "try again"."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tellonce_shared.migrations import upgrade
from tellonce_shared.testing import TokenFactory, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.main import create_app
from tellonce_submissions.receipts.render import WARM_UP_DATA, receipt_html

from .registry_double import RegistryDouble

SERVICE_DIR = Path(__file__).resolve().parents[1]


async def test_start_up_warms_the_receipt_workers_without_waiting(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'submissions.db'}"
    upgrade(SERVICE_DIR, url)
    app = create_app(
        Settings(database_url=url, retention_interval_seconds=0, receipt_workers=2),
        verifier=static_verifier(tokens),
        registry_transport=httpx.ASGITransport(app=RegistryDouble().app()),
    )
    renderer = app.state.receipts
    assert renderer._pool is None
    async with app.router.lifespan_context(app):
        # the pool is there at once, one warm-up a worker, and nothing waited for them
        assert renderer._pool is not None
        assert len(renderer.warming) == 2
        assert not all(f.done() for f in renderer.warming)
        # each worker has run its initializer (WeasyPrint imported, a document rendered)
        ready = await asyncio.wait_for(asyncio.gather(*renderer.warming), timeout=120)
        assert ready == [True, True]
        assert len(renderer._pool._processes) == 2
    assert renderer._pool is None  # shut down with the app


def test_the_warm_up_document_is_a_receipt() -> None:
    assert "WARM-UP" in receipt_html(WARM_UP_DATA)
