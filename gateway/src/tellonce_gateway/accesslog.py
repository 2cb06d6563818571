"""The access log: one JSON line per request, in the same shape as every other log line
(tellonce_shared.logging.JSONFormatter). When logging is configured the usual way (one JSON
handler on the root logger), the line is written straight to that handler's stream, which
costs a fraction of building a LogRecord; otherwise it goes through ``logging``.

Direct lines written inside the event loop are gathered and written together at the end of
the loop's current turn: with ``PYTHONUNBUFFERED=1`` (the images set it) every write to
stdout is a system call, so under load many requests' lines cost one call instead of one
each. A line is never held past that turn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, TextIO

import orjson

from tellonce_shared.logging import JSONFormatter, request_id_var

LOGGER_NAME = "tellonce.access"


class AccessLog:
    def __init__(self) -> None:
        self.logger = logging.getLogger(LOGGER_NAME)
        self._second = -1
        self._stamp = ""
        self._pending: list[str] = []
        self._pending_stream: TextIO | None = None

    def _direct(self) -> tuple[TextIO, str] | None:
        logger = self.logger
        if logger.handlers or not logger.propagate or logger.disabled:
            return None
        handlers = logging.getLogger().handlers
        if len(handlers) != 1:
            return None
        handler = handlers[0]
        formatter = handler.formatter
        if type(handler) is not logging.StreamHandler or not isinstance(formatter, JSONFormatter):
            return None
        return handler.stream, formatter.service

    def request(
        self, fields: dict[str, Any], *, request_id: str | None = None, at: float | None = None
    ) -> None:
        """One request's line. ``request_id`` and ``at`` (a ``time.time()``) say which request
        and when it finished, for a line written later (tellonce_gateway.ledger); by default,
        the current request id and now."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        direct = self._direct()
        if direct is None:
            self._via_logging(fields, request_id, at)
            return
        stream, service = direct
        now = time.time() if at is None else at
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        doc: dict[str, Any] = {
            "ts": f"{self._stamp}.{int((now - second) * 1000):03d}Z",
            "level": "info",
            "service": service,
            "logger": LOGGER_NAME,
            "msg": "request",
        }
        rid = request_id_var.get() if request_id is None else request_id
        if rid:
            doc["request_id"] = rid
        doc.update(fields)
        line = orjson.dumps(doc, default=str).decode() + "\n"
        if self._pending:
            if stream is self._pending_stream:
                self._pending.append(line)
                return
            self.flush()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside the server (a script, a test): write it now
            _write(stream, line)
            return
        self._pending.append(line)
        self._pending_stream = stream
        loop.call_soon(self.flush)

    def _via_logging(
        self, fields: dict[str, Any], request_id: str | None, at: float | None
    ) -> None:
        logger = self.logger
        record = logger.makeRecord(
            logger.name, logging.INFO, __file__, 0, "request", (), None, extra=fields
        )
        if at is not None:
            record.created = at
            record.msecs = (at - int(at)) * 1000
        token = None if request_id is None else request_id_var.set(request_id)
        try:
            logger.handle(record)
        finally:
            if token is not None:
                request_id_var.reset(token)

    def flush(self) -> None:
        """Write the lines gathered in this turn of the event loop."""
        pending, stream = self._pending, self._pending_stream
        if pending and stream is not None:
            self._pending = []
            _write(stream, pending[0] if len(pending) == 1 else "".join(pending))


def _write(stream: TextIO, text: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # a closed stdout must not fail it
        stream.write(text)
