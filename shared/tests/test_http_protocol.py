"""The services' HTTP protocol: an answer's head and body leave in one write."""

from __future__ import annotations

import asyncio
from typing import Any

from tellonce_shared.http_protocol import CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[list[bytes]] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append([bytes(data)])

    def writelines(self, parts: Any) -> None:
        self.writes.append([bytes(p) for p in parts])

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"extra:{name}"


HEAD = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n"


async def test_head_and_body_leave_together() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    assert real.writes == []  # held for the body
    transport.write(b"{}")
    assert real.writes == [[HEAD, b"{}"]]
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert real.writes == [[HEAD, b"{}"]]


async def test_a_head_alone_leaves_on_the_next_loop_turn_and_before_close() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    await asyncio.sleep(0)
    assert real.writes == [[HEAD]]
    transport.write(HEAD)
    transport.close()
    assert real.writes == [[HEAD], [HEAD]]
    assert real.closed


async def test_other_writes_go_straight_through_in_order() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"chunk")
    transport.write(b"HTTP/1.1 not a head")
    assert real.writes == [[b"chunk"], [b"HTTP/1.1 not a head"]]
    assert transport.get_extra_info("peername") == "extra:peername"
