"""Every page of a form has its own document title (WCAG 2.4.2, "Page Titled"): a page
whose heading is the form's own title (a run of single questions) or another page's gets its
number in the title."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tellonce_portal.forms.model import Page
from tellonce_portal.forms.schema import FormDefinition

from .fake_gateway import FakeGateway, portal_browser
from .test_pages import post, sign_in

EZ = json.loads((Path(__file__).parent / "data" / "10-10EZ-schema.json").read_text())
TITLE = re.compile(r"<title>(.*?)</title>", re.S)


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway(schema=EZ, ui={})


@pytest.fixture
async def browser(fake: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_browser(fake.transport()) as client:
        yield client


async def test_every_page_of_10_10ez_has_a_title_of_its_own(browser: httpx.AsyncClient) -> None:
    await sign_in(browser)
    started = await post(browser, "/forms/snap", {"version": "1"}, "/forms/snap/start")
    assert started.status_code == 303, started.text
    draft = started.headers["location"].split("/")[2]
    first = await browser.get(f"/drafts/{draft}/pages/1")
    total = int(re.search(r"Page 1 of (\d+)", first.text).group(1))  # type: ignore[union-attr]
    titles = []
    for n in range(1, total + 1):
        page = await browser.get(f"/drafts/{draft}/pages/{n}")
        assert page.status_code == 200, (n, page.text[:300])
        titles.append(" ".join(TITLE.search(page.text).group(1).split()))  # type: ignore[union-attr]
    assert total > 10
    repeated = {t for t in titles if titles.count(t) > 1}
    assert not repeated, repeated
    assert any(re.search(rf": Page \d+ of {total} - ", t) for t in titles), titles


def test_a_page_is_named_alone_only_by_a_title_no_other_page_has() -> None:
    defn = FormDefinition(
        {"type": "object", "properties": {"a": {"type": "string"}}}, title="Benefits"
    )
    defn._all_pages = [  # the pages of a UI document, as the definition keeps them
        Page(id="p1", title="Benefits", pointers=["/a"]),
        Page(id="p2", title="Address", pointers=["/b"]),
        Page(id="p3", title="Address", pointers=["/c"]),
        Page(id="p4", title="Income", pointers=["/d"]),
    ]
    alone = [defn.names_page_alone(p) for p in defn.all_pages()]
    assert alone == [False, False, False, True]
