"""A question revealed by an answer whose value holds a ``|`` (``data-show-values`` is a JSON
array, not a ``|``-joined list): in Chromium, choosing that answer shows the question."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from .fake_gateway import FakeGateway
from .test_browser import CHROMIUM, chromium_tab, served_portal, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
    ),
]

SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "plan": {"type": "string", "enum": ["Basic", "Gold|Plus"]},
        "planNote": {"type": "string"},
    },
}
UI: dict[str, Any] = {
    "pages": [{"id": "plan", "title": "Your plan", "fields": ["/plan", "/planNote"]}],
    "fields": {
        "/plan": {"label": "Plan"},
        "/planNote": {"label": "Why Gold", "show_if": {"pointer": "/plan", "equals": "Gold|Plus"}},
    },
}


@pytest.fixture(scope="module")
def fake() -> FakeGateway:
    return FakeGateway(schema=SCHEMA, ui=UI)


@pytest.fixture(scope="module")
def portal_url(fake: FakeGateway) -> Iterator[str]:
    yield from served_portal(fake)


@pytest.fixture(scope="module")
def page(portal_url: str) -> Iterator[Any]:
    yield from chromium_tab(portal_url)


def test_a_value_with_a_bar_reveals_its_question(page: Any) -> None:
    sign_in(page, "resident@demo.gov")
    page.goto("/forms/snap")
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url(re.compile(r"/pages/1$"))
    note = page.get_by_label("Why Gold")
    assert not note.is_visible(), "no plan chosen yet"
    page.get_by_label("Basic").check()
    assert not note.is_visible()
    page.get_by_label("Gold|Plus").check()
    assert note.is_visible()
