"""Command line of the identity service: migrate, seed, serve, rotate-keys, keys, prune,
create-admin."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from datetime import timedelta
from pathlib import Path

from tellonce_identity.config import get_settings
from tellonce_identity.seed import (
    run_create_admin,
    run_list_keys,
    run_prune,
    run_rewrap,
    run_rotate,
    run_seed,
)
from tellonce_shared.migrations import upgrade
from tellonce_shared.problems import Problem
from tellonce_shared.serve import add_serve_command, serve

SERVICE_DIR = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tellonce-identity")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="alembic upgrade head")
    sub.add_parser(
        "seed",
        help="the portal client and a signing key; the demo accounts in local mode only",
    )
    rotate = sub.add_parser("rotate-keys", help="add a signing key and retire the current one")
    rotate.add_argument(
        "--if-older-than-days",
        type=float,
        default=None,
        help="rotate only when the signing key is older than this (for a scheduled job)",
    )
    sub.add_parser(
        "rewrap-keys",
        help="re-encrypt the signing keys under IDENTITY_KEY_ENCRYPTION_KEY (after changing it; "
        "the old one in IDENTITY_PREVIOUS_KEY_ENCRYPTION_KEYS)",
    )
    sub.add_parser("keys", help="list signing keys and whether they are published")
    sub.add_parser(
        "prune", help="delete dead refresh tokens, old login failures and old known callers"
    )
    admin = sub.add_parser(
        "create-admin",
        help="create an admin account (password from IDENTITY_ADMIN_PASSWORD or a prompt)",
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--full-name", required=True)
    add_serve_command(sub)
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "migrate":
        upgrade(SERVICE_DIR, settings.database_url)
    elif args.command == "seed":
        done = asyncio.run(run_seed(settings))
        for line in done:
            print(f"identity seed: {line}")
        if not done:
            print("identity seed: nothing to do (already seeded)")
        if not settings.is_local:
            print("identity seed: production mode: demo accounts are not seeded")
    elif args.command == "rotate-keys":
        days = args.if_older_than_days
        max_age = timedelta(days=days) if days is not None else None
        rotated = asyncio.run(run_rotate(settings, max_age=max_age))
        if rotated is None:
            print(f"identity: the signing key is younger than {days} days; not rotated")
            return
        kid, retired = rotated
        print(f"identity: new signing key {kid}")
        for old in retired:
            print(
                f"identity: retired {old}; it stays in the JWKS for "
                f"{settings.access_token_seconds + settings.key_publish_grace_seconds} s"
            )
    elif args.command == "keys":
        for line in asyncio.run(run_list_keys(settings)):
            print(line)
    elif args.command == "rewrap-keys":
        rewrapped = asyncio.run(run_rewrap(settings))
        print(f"identity: re-encrypted {len(rewrapped)} signing keys under the current key")
    elif args.command == "prune":
        for table, n in asyncio.run(run_prune(settings)).items():
            print(f"identity prune: deleted {n} rows of {table}")
    elif args.command == "create-admin":
        password = os.environ.get("IDENTITY_ADMIN_PASSWORD") or getpass.getpass("Password: ")
        try:
            user_id = asyncio.run(run_create_admin(settings, args.email, args.full_name, password))
        except Problem as exc:
            messages = "; ".join(e["message"] for e in exc.errors or []) or exc.detail
            sys.exit(f"identity create-admin: {messages}")
        print(f"identity: created admin {args.email} ({user_id})")
    elif args.command == "serve":
        serve("tellonce_identity.main:create_app", args, settings.port, settings.workers)


if __name__ == "__main__":
    main()
