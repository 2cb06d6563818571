"""End-to-end fixtures: the whole hub as real processes on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hubkit.harness import Hub, start_hub

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """Every process on fresh PostgreSQL databases; identity seeded with the demo accounts,
    the catalog empty (tests build what they need through the API)."""
    h = start_hub(backend="postgres", workdir=tmp_path_factory.mktemp("hub"))
    yield h
    h.stop()


@pytest.fixture(scope="session")
def demo_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """Every process on PostgreSQL, seeded like `make run` (demo accounts and catalog)."""
    h = start_hub(backend="postgres", workdir=tmp_path_factory.mktemp("demo"), seed_catalog=True)
    yield h
    h.stop()
