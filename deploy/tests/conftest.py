"""Fixtures of the deployment checks; the helpers live in deploykit.py beside this file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploykit import OVERLAYS, Obj, render

_RENDERED: dict[str, list[Obj]] = {}


@pytest.fixture(params=OVERLAYS, scope="session")
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def rendered(overlay: str) -> list[Obj]:
    if overlay not in _RENDERED:
        _RENDERED[overlay] = render(overlay)
    return _RENDERED[overlay]
