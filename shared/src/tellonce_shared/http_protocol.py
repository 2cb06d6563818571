"""uvicorn's httptools protocol with one change: a response head and the body written right
after it leave in one ``writev`` instead of two ``write`` calls. Every service is served
with it (``tellonce_shared.serve``).

uvicorn writes the status line and headers when the application sends
``http.response.start`` and the body when it sends ``http.response.body``: two system calls
and two TCP segments for every answer. Profiled under load on the gateway
(docs/gateway.md), the socket writes were a third of its CPU, most of it on loopback
delivering each segment to the reader. Passed to uvicorn as its ``http`` protocol class (a
documented setting)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HEAD_START = b"HTTP/1.1 "
_HEAD_END = b"\r\n\r\n"


class CoalescingTransport:
    """Holds a write that is a whole response head until the next write (joined with it) or
    the next turn of the event loop (alone), whichever comes first; everything else goes
    straight through, in order. Every other attribute is the real transport's."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, data))
            return
        if (
            isinstance(data, bytes)
            and data.startswith(_HEAD_START)
            and data.endswith(_HEAD_END)
            and not self._transport.is_closing()
        ):
            self._held = data
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    # Called for every request by uvicorn: spelled out rather than found by __getattr__.
    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing: Any = CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)
