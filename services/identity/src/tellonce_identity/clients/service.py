"""Agency clients: created by an admin bound to one agency, secret shown once, rotated and
revoked; plus the public client ``portal``."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.audit.repository import record
from tellonce_identity.clients import repository
from tellonce_identity.clients.secrets import digest, new_secret
from tellonce_identity.models import Client
from tellonce_shared.problems import Conflict, NotFound

CONFIDENTIAL_GRANTS = "client_credentials"
PUBLIC_GRANTS = "password refresh_token"


async def create(
    session: AsyncSession, *, agency: str, name: str, actor: str, address: str | None
) -> tuple[Client, str]:
    secret = new_secret()
    client = Client(
        client_id=f"{agency.lower()}-{secrets.token_hex(8)}",
        name=name.strip(),
        kind="confidential",
        agency=agency,
        secret_hash=digest(secret),
        grant_types=CONFIDENTIAL_GRANTS,
        created_at=datetime.now(UTC),
    )
    repository.add(session, client)
    await session.flush()
    record(
        session,
        "client.create",
        actor=actor,
        subject=client.client_id,
        address=address,
        detail={"agency": agency, "name": client.name},
    )
    return client, secret


async def _confidential(session: AsyncSession, client_id: str) -> Client:
    client = await repository.by_id(session, client_id)
    if client is None:
        raise NotFound(f"There is no client {client_id!r}.")
    if client.kind != "confidential":
        raise Conflict(f"{client_id!r} is a public client: it has no secret.")
    if client.revoked_at is not None:
        raise Conflict(f"{client_id!r} has been revoked.")
    return client


async def rotate_secret(
    session: AsyncSession, client_id: str, *, actor: str, address: str | None
) -> tuple[Client, str]:
    """A new secret replaces the old one at once (the old one stops working)."""
    client = await _confidential(session, client_id)
    secret = new_secret()
    client.secret_hash = digest(secret)
    client.secret_rotated_at = datetime.now(UTC)
    record(session, "client.rotate_secret", actor=actor, subject=client_id, address=address)
    return client, secret


async def revoke(session: AsyncSession, client_id: str, *, actor: str, address: str | None) -> None:
    client = await _confidential(session, client_id)
    client.revoked_at = datetime.now(UTC)
    client.secret_hash = None
    record(session, "client.revoke", actor=actor, subject=client_id, address=address)


async def listing(session: AsyncSession, agency: str | None) -> Sequence[Client]:
    return await repository.all_clients(session, agency)


async def ensure_portal(session: AsyncSession) -> bool:
    """The public client of the web portal; True when it was created now."""
    if await repository.by_id(session, "portal") is not None:
        return False
    repository.add(
        session,
        Client(
            client_id="portal",
            name="Tell-Once portal",
            kind="public",
            agency=None,
            secret_hash=None,
            grant_types=PUBLIC_GRANTS,
            created_at=datetime.now(UTC),
        ),
    )
    await session.flush()
    return True
