"""The gateway's bookkeeping of finished requests (the access line, the request metrics, the
upstream latency), done in batches a moment later instead of on each request's way out.

Why: measured one request at a time (docs/gateway.md, "Bookkeeping off the request's
path"), writing the access line and updating the Prometheus children right after each answer
cost about 40 us of CPU per request, most of it because that code ran cold after the event
loop had slept; on a machine with few cores that work also competed with the client and the
service for the CPU while the next request was on its way. Gathered, a batch runs warm, and
its lines leave in one write.

What it changes for readers: an access line and the metrics of a request follow the answer by
at most ``HOLD_SECONDS`` (or sooner, when ``MAX_ENTRIES`` requests are waiting). The line keeps
the time the request finished, not the time it was written. ``/metrics`` settles the ledger
before it renders, so a scrape always sees every request answered before it; shutdown settles
it too, so no line is lost on a clean stop. (A crash loses at most the last ``HOLD_SECONDS`` of
lines, as with any buffered access log: nginx's ``buffer=``/``flush=``, Envoy's file flush
interval of one second.)

The ledger is process-wide, as what it writes to is: the Prometheus registry and the log
stream."""

from __future__ import annotations

import asyncio
import atexit
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from tellonce_shared.logging import request_id_var

log = logging.getLogger("tellonce.gateway")

HOLD_SECONDS = 0.02
"""How long the first entry of a batch waits for others."""
MAX_ENTRIES = 128
"""A batch this long is settled at once (its work then takes well under a millisecond, so the
requests behind it hardly wait)."""

T = TypeVar("T")


class Ledger:
    """Work noted now and done a moment later, in order, in batches."""

    def __init__(self, hold_seconds: float = HOLD_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.hold_seconds = hold_seconds
        self.max_entries = max_entries
        self._entries: list[tuple[Callable[[Any], None], Any]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, work: Callable[[T], None], arg: T) -> None:
        """Note ``work(arg)``, to be done at the latest ``hold_seconds`` from now (at once
        outside an event loop: a script, a test without a server)."""
        waiting_on = self._loop
        if self._timer is not None and waiting_on is not None and waiting_on.is_running():
            # The usual case: a batch waits on the running loop (the ledger is used from the
            # loop's thread only), so join it without asking which loop runs (Python 3.11's
            # asyncio.get_running_loop() makes a getpid() system call each time).
            self._entries.append((work, arg))
            if len(self._entries) >= self.max_entries:
                self.settle()
            return
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._timer is not None and self._loop is not loop:
            self.settle()  # a batch left by a loop that has gone (tests run one loop each)
        entries = self._entries
        entries.append((work, arg))
        if loop is None or len(entries) >= self.max_entries:
            self.settle()
        elif self._timer is None:
            self._loop = loop
            self._timer = loop.call_later(self.hold_seconds, self.settle)

    def settle(self) -> None:
        """Do every waiting entry now, in the order they were noted."""
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()
        entries = self._entries
        if not entries:
            return
        self._entries = []
        done = 0
        try:
            for work, arg in entries:
                done += 1
                try:
                    work(arg)
                except Exception:  # one entry's failure must not lose the others
                    # logged as nobody's request: the one current now is not the entry's
                    token = request_id_var.set(None)
                    try:
                        log.exception("request bookkeeping failed")
                    finally:
                        request_id_var.reset(token)
        finally:
            if done < len(entries):  # interrupted (a cancellation, an exit): keep the rest
                self._entries[:0] = entries[done:]


LEDGER = Ledger()
"""The process's ledger (the gateway's app, its proxy and its ``/metrics`` share it). Noted
and settled from the event loop's thread only (it is not thread-safe); what is still waiting
when the interpreter exits (a request finished after the gateway's shutdown settled it, on a
loop that stopped before the timer fired) is settled then."""
atexit.register(LEDGER.settle)
