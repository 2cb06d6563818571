"""The access log: one JSON line per request, in the same shape as every other log line
(tellonce_shared.logging.JSONFormatter). When logging is configured the usual way (one JSON
handler on the root logger), the line is written straight to that handler's stream, which
costs a fraction of building a LogRecord; otherwise it goes through ``logging``."""

from __future__ import annotations

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

    def request(self, fields: dict[str, Any]) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        direct = self._direct()
        if direct is None:
            self.logger.info("request", extra=fields)
            return
        stream, service = direct
        now = time.time()
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
        rid = request_id_var.get()
        if rid:
            doc["request_id"] = rid
        doc.update(fields)
        with contextlib.suppress(OSError, ValueError):  # a closed stdout must not fail it
            stream.write(orjson.dumps(doc, default=str).decode() + "\n")
