"""The ledger: per-request bookkeeping done a moment later, in order, in batches."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tellonce_gateway.accesslog import AccessLog
from tellonce_gateway.ledger import Ledger
from tellonce_shared.logging import JSONFormatter
from tellonce_shared.testing import json_logging


async def test_entries_wait_then_are_done_in_order_in_one_batch() -> None:
    done: list[int] = []
    ledger = Ledger(hold_seconds=0.05)
    for n in range(5):
        ledger.add(done.append, n)
    await asyncio.sleep(0)
    assert done == []  # held: nothing on the requests' way out
    assert len(ledger) == 5
    await asyncio.sleep(0.2)
    assert done == [0, 1, 2, 3, 4]
    assert len(ledger) == 0


async def test_a_full_batch_is_settled_at_once() -> None:
    done: list[int] = []
    ledger = Ledger(hold_seconds=60, max_entries=3)
    for n in range(7):
        ledger.add(done.append, n)
    assert done == [0, 1, 2, 3, 4, 5]
    ledger.settle()
    assert done == list(range(7))


async def test_a_batch_waiting_on_the_running_loop_is_joined_without_asking_for_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    done: list[int] = []
    ledger = Ledger(hold_seconds=60)
    asked: list[int] = []
    real = asyncio.get_running_loop

    def counted() -> asyncio.AbstractEventLoop:
        asked.append(1)
        return real()

    monkeypatch.setattr(asyncio, "get_running_loop", counted)
    ledger.add(done.append, 1)  # starts the batch: which loop runs is asked once
    for n in range(2, 6):
        ledger.add(done.append, n)
    monkeypatch.undo()
    assert asked == [1]
    assert done == []
    ledger.settle()
    assert done == [1, 2, 3, 4, 5]


def test_outside_an_event_loop_the_work_is_done_at_once() -> None:
    done: list[str] = []
    Ledger(hold_seconds=60).add(done.append, "now")
    assert done == ["now"]


async def test_one_failing_entry_does_not_lose_the_others(caplog: pytest.LogCaptureFixture) -> None:
    done: list[int] = []

    def fail(_: int) -> None:
        raise ValueError("broken entry")

    ledger = Ledger(hold_seconds=60)
    ledger.add(done.append, 1)
    ledger.add(fail, 2)
    ledger.add(done.append, 3)
    with caplog.at_level(logging.ERROR, logger="tellonce.gateway"):
        ledger.settle()
    assert done == [1, 3]
    assert "request bookkeeping failed" in caplog.text


def test_a_failing_entry_is_logged_as_nobodys_request() -> None:
    from tellonce_shared.logging import request_id_var

    def fail(_: int) -> None:
        raise ValueError("broken entry")

    ledger = Ledger(hold_seconds=60)
    seen: list[str | None] = []

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(request_id_var.get())

    spy = Spy()
    logging.getLogger("tellonce.gateway").addHandler(spy)
    token = request_id_var.set("rid-of-another-request")
    try:
        ledger.add(fail, 1)  # outside a loop: settled now, inside this request's context
    finally:
        request_id_var.reset(token)
        logging.getLogger("tellonce.gateway").removeHandler(spy)
    assert seen == [None]


def test_an_interrupted_batch_keeps_what_it_had_not_done() -> None:
    done: list[int] = []

    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    ledger = Ledger(hold_seconds=60, max_entries=1000)

    async def note() -> None:
        for work, arg in ((done.append, 1), (interrupt, 2), (done.append, 3), (done.append, 4)):
            ledger.add(work, arg)

    asyncio.run(note())
    with pytest.raises(KeyboardInterrupt):
        ledger.settle()
    assert done == [1]
    assert len(ledger) == 2
    ledger.settle()
    assert done == [1, 3, 4]


def test_a_batch_left_by_a_loop_that_has_gone_is_done_by_the_next_loop() -> None:
    done: list[str] = []
    ledger = Ledger(hold_seconds=60)

    async def note(what: str) -> None:
        ledger.add(done.append, what)

    asyncio.run(note("first loop"))  # its timer never fires: the loop is closed
    assert done == []
    asyncio.run(note("second loop"))
    assert done == ["first loop"]
    ledger.settle()
    assert done == ["first loop", "second loop"]


def test_a_line_written_later_keeps_its_request_id_and_time() -> None:
    at = 1_790_000_000.25  # 2026-09-21T14:13:20.250Z
    log = AccessLog()
    collected: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            collected.append(JSONFormatter("gateway").format(record))

    with json_logging("gateway") as stream:
        log.request({"status": 200}, request_id="rid-later-0001", at=at)  # the direct path
        assert stream.writes == 1
        handler = Collect()
        logging.getLogger("tellonce.access").addHandler(handler)  # now through logging
        try:
            log.request({"status": 201}, request_id="rid-later-0002", at=at)
        finally:
            logging.getLogger("tellonce.access").removeHandler(handler)
    direct = json.loads(stream.getvalue().splitlines()[0])
    via_logging = json.loads(collected[0])
    assert direct["ts"] == via_logging["ts"] == "2026-09-21T14:13:20.250Z"
    assert (direct["request_id"], via_logging["request_id"]) == ("rid-later-0001", "rid-later-0002")
