"""Annotated dependency aliases used by the routers."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.config import Settings
from tellonce_identity.keys.service import Keyring
from tellonce_identity.passwords.hashing import Passwords
from tellonce_shared.db import request_session


class KeepChanges(Exception):
    """Mixin for errors after which the request's writes must still be committed (a failed
    login's audit row and rate-limit counter, a revoked refresh-token family)."""

    keep_changes = True


get_session = request_session(keep_changes_on=(KeepChanges,))
"""One session per request, committed when the route returns, rolled back if it raises
(unless the error is a :class:`KeepChanges`)."""


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


def _trusted(settings: Settings, host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    for entry in settings.trusted_proxies:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _canonical(hop: str) -> str | None:
    """A forwarded address in its one spelling (``2001:DB8:0::1`` is ``2001:db8::1``), so
    that one caller has one rate-limit count, and without an IPv6 zone (``%eth0``: it means
    nothing past one link, and its length is the sender's choice, past what the audit trail
    and the rate-limit keys hold). None if it is not an address."""
    try:
        address = ipaddress.ip_address(hop)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        address = ipaddress.IPv6Address(address.packed)
    return str(address)


def client_address(request: Request) -> str | None:
    """The caller's address: the peer, or, when the peer is a trusted proxy (the gateway),
    the nearest untrusted address in X-Forwarded-For."""
    settings: Settings = request.app.state.settings
    peer = request.client.host if request.client else None
    if peer is None or not _trusted(settings, peer):
        return peer
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded:
        return peer
    hops = [_canonical(hop.strip()) for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop is None:
            return peer  # a malformed chain is not believed
        if not _trusted(settings, hop):
            return hop
    return hops[0] if hops and hops[0] else peer


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
KeyringDep = Annotated[Keyring, Depends(get_keyring)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
AddressDep = Annotated[str | None, Depends(client_address)]
