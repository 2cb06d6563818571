"""What the operator commands (``migrate``, ``seed``, ``rotate-keys``, ``purge``...) print.

In production mode each result is one JSON line on stdout, in the services' log format
(``ts``, ``level``, ``service``, ``logger`` ``tellonce.cli``, ``msg``, ``command`` and the
result's own fields), so a Job's or CronJob's output is searchable like every other log; the
libraries' own log lines (alembic's "Running upgrade ...") come out as JSON lines too, and a
failure is one ``level: error`` line (with the traceback in ``exc``) and a non-zero exit. In
local mode (``make run``, a terminal) the same results are short readable sentences.

A settings error is reported by its messages only (never the values given: secrets), as a
JSON line when ``<PREFIX>MODE`` says production, and exits 2.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.exc import DBAPIError

from tellonce_shared.logging import configure_logging

LOGGER = "tellonce.cli"
SETTINGS_ERROR_EXIT = 2

S = TypeVar("S")


def settings_messages(exc: ValidationError | SettingsError, env_prefix: str) -> list[str]:
    """What is wrong, by environment variable, without any value that was given."""
    if not isinstance(exc, ValidationError):
        return [str(exc).split("\n", 1)[0]]
    messages = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        message = error["msg"].removeprefix("Value error, ")
        loc = error["loc"]
        if loc:
            variable = env_prefix + str(loc[0]).upper()
            path = "".join(f"[{part}]" for part in loc[1:])
            message = f"{variable}{path}: {message}"
        messages.append(message)
    return messages


def load_settings(service: str, env_prefix: str, load: Callable[[], S]) -> S:
    """``load()``, or exit 2 naming what is wrong with the settings (never their values)."""
    try:
        return load()
    except (ValidationError, SettingsError) as exc:
        messages = settings_messages(exc, env_prefix)
    if os.environ.get(f"{env_prefix}MODE", "").strip().lower() == "production":
        configure_logging(service)
        logging.getLogger(LOGGER).error(
            "invalid settings", extra={"errors": messages, "exit_code": SETTINGS_ERROR_EXIT}
        )
        raise SystemExit(SETTINGS_ERROR_EXIT)
    print(f"{service}: invalid settings: " + "; ".join(messages), file=sys.stderr)
    raise SystemExit(SETTINGS_ERROR_EXIT)


def _error_text(exc: BaseException) -> str:
    """The error's type and message; for a database error the driver's message only (the
    statement's parameters, which may hold personal data, are left out)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return f"{type(exc.orig).__name__}: {str(exc.orig).strip()}"
    return f"{type(exc).__name__}: {exc}"


class Console:
    """The output of one operator command: JSON lines (production) or text (local)."""

    def __init__(
        self, service: str, command: str, *, json_lines: bool, log_level: str = "INFO"
    ) -> None:
        self.service = service
        self.command = command
        self.json_lines = json_lines
        self.log = logging.getLogger(LOGGER)
        if json_lines:
            configure_logging(service, log_level)
            self.log.setLevel(logging.INFO)  # results show whatever LOG_LEVEL says

    def result(self, msg: str, text: str | Iterable[str] | None, **fields: Any) -> None:
        """One result: ``msg`` and ``fields`` as a JSON line, or ``text`` (a line or lines;
        None prints nothing) locally."""
        if self.json_lines:
            self.log.info(msg, extra={"command": self.command, **fields})
            return
        for line in [text] if isinstance(text, str) else text or ():
            print(line)

    def fail(self, msg: str, text: str, *, exit_code: int = 1, **fields: Any) -> NoReturn:
        """A refusal the operator can fix (a weak password, an existing account): an error
        line and a non-zero exit (locally: ``text`` on stderr and exit 1)."""
        if self.json_lines:
            self.log.error(msg, extra={"command": self.command, "exit_code": exit_code, **fields})
            raise SystemExit(exit_code)
        raise SystemExit(text)

    @contextmanager
    def failures(self) -> Iterator[None]:
        """In production, an unexpected error becomes one JSON error line and exit 1 (a
        traceback on stderr otherwise, as Python prints it)."""
        try:
            yield
        except Exception as exc:
            if not self.json_lines:
                raise
            self.log.error(
                "command failed",
                exc_info=True,
                extra={"command": self.command, "error": _error_text(exc), "exit_code": 1},
            )
            raise SystemExit(1) from None
