"""Test helpers every service uses: a fresh PostgreSQL database per test run built with
``alembic upgrade head``, a token factory that signs real access tokens, and a free port
for a server a test starts."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from tellonce_shared.logging import JSONFormatter
from tellonce_shared.migrations import upgrade

if TYPE_CHECKING:
    import httpx

ADMIN_URL_ENV = "TELLONCE_TEST_ADMIN_URL"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (the OS picks it; a process started
    right after can bind it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


def create_database(prefix: str) -> str:
    """Create an empty PostgreSQL database with a unique name; return its async URL."""
    name = f"{prefix}_{secrets.token_hex(4)}".lower().replace("-", "_")
    engine = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url()).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    engine = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@contextmanager
def empty_database(prefix: str) -> Iterator[str]:
    """A fresh, empty database (never migrated), dropped afterwards."""
    url = create_database(prefix)
    try:
        yield url
    finally:
        drop_database(url)


@contextmanager
def migrated_database(prefix: str, service_dir: Path) -> Iterator[str]:
    """A fresh database at ``alembic upgrade head``, dropped afterwards."""
    with empty_database(prefix) as url:
        upgrade(service_dir, url)
        yield url


def upgrade_statements(service_dir: Path, url: str) -> list[str]:
    """``alembic upgrade head`` on ``url``, returning every SQL statement it sent (to check
    how a migration builds something, e.g. an index ``CONCURRENTLY``)."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        upgrade(service_dir, url)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    return statements


class TokenFactory:
    """Signs RFC 9068 access tokens with a throwaway key, exactly as identity does, so API
    tests exercise the real verification path without running the identity service."""

    def __init__(self, issuer: str = "http://127.0.0.1:8000", audience: str = "tellonce") -> None:
        self.issuer = issuer
        self.audience = audience
        self.key = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex}, private=True)

    @property
    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.key]).as_dict(private=False))

    def token(
        self,
        sub: str | None = None,
        *,
        role: str = "resident",
        agency: str | None = None,
        lifetime: int = 900,
        **extra: Any,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub or uuid.uuid4().hex,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "role": role,
            "scope": "",
            **extra,
        }
        if agency is not None:
            claims["agency"] = agency
        header = {"alg": "ES256", "typ": "at+jwt", "kid": self.key.kid}
        return jwt.encode(header, claims, self.key)

    def headers(self, sub: str | None = None, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, **kw)}"}


def asgi_client(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that calls the ASGI app in-process (no lifespan)."""
    import httpx

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
        **kwargs,
    )


def static_verifier(tokens: TokenFactory) -> Any:
    """A verifier that trusts only the factory's key, with the same checks as production."""
    from tellonce_shared.auth import TokenVerifier

    return TokenVerifier(
        jwks_url=None, issuer=tokens.issuer, audience=tokens.audience, static_keys=tokens.jwks
    )


def migration_diff(url: str, metadata: Any) -> list[Any]:
    """What autogenerate would change to make the database at ``url`` match ``metadata``:
    empty when the models and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tellonce_shared.migrations import sync_url

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


async def eventually(check: Callable[[], object], seconds: float = 5.0) -> None:
    """Wait until ``check()`` is true (polled every 10 ms), for what happens a moment after an
    answer (the gateway's access lines); fails with AssertionError after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"still not true after {seconds} s: {check}")
        await asyncio.sleep(0.01)


class CountingStream(io.StringIO):
    """A log stream that counts the writes made to it."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@contextmanager
def json_logging(service: str) -> Iterator[CountingStream]:
    """Logging as the services configure it (one JSON handler on the root logger, at INFO),
    onto a stream the test reads, for the ``with`` block; the earlier configuration restored
    after. Used inside a test's body: pytest adds a capturing handler of its own to the root
    logger once the body starts, and code that writes to the JSON handler's stream directly
    (the gateway's access log) does so only when that handler is the root's only one."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers, root.level
    stream = CountingStream()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter(service))
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.handlers, root.level = saved_handlers, saved_level
