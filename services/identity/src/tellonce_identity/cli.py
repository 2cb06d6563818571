"""Command line of the identity service: migrate, seed, serve, rotate-keys, keys, prune,
create-admin."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from tellonce_identity.config import Settings, get_settings
from tellonce_identity.seed import (
    run_create_admin,
    run_list_keys,
    run_prune,
    run_rewrap,
    run_rotate,
    run_seed,
)
from tellonce_shared.cli import Console, load_settings
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
    settings = load_settings("identity", "IDENTITY_", get_settings)
    if args.command == "serve":
        serve("tellonce_identity.main:create_app", args, settings.port, settings.workers)
        return
    console = Console(
        "identity", args.command, json_lines=not settings.is_local, log_level=settings.log_level
    )
    with console.failures():
        run(args, settings, console)


def _key_line(key: dict[str, Any]) -> str:
    created = f"created {key['created_at']:%Y-%m-%d %H:%M}Z"
    if key["state"] == "signing":
        state = "signing"
    else:
        published = "still published" if key["published"] else "unpublished"
        state = f"retired {key['retired_at']:%Y-%m-%d %H:%M}Z, {published}"
    return f"{key['kid']}  {key['alg']}  {created}  {state}"


def run(args: argparse.Namespace, settings: Settings, console: Console) -> None:
    """One operator command; its results go to ``console``."""
    if args.command == "migrate":
        revision = upgrade(SERVICE_DIR, settings.database_url)
        console.result("migrated", f"identity migrate: database at {revision}", revision=revision)
    elif args.command == "seed":
        done = asyncio.run(run_seed(settings))
        lines = [f"identity seed: {line}" for line in done]
        if not done:
            lines.append("identity seed: nothing to do (already seeded)")
        if not settings.is_local:
            lines.append("identity seed: production mode: demo accounts are not seeded")
        console.result("seeded", lines, done=done, demo_accounts=settings.is_local)
    elif args.command == "rotate-keys":
        days = args.if_older_than_days
        max_age = timedelta(days=days) if days is not None else None
        rotated = asyncio.run(run_rotate(settings, max_age=max_age))
        if rotated is None:
            console.result(
                "signing key not rotated",
                f"identity: the signing key is younger than {days} days; not rotated",
                rotated=False,
                if_older_than_days=days,
            )
            return
        kid, retired = rotated
        published = settings.access_token_seconds + settings.key_publish_grace_seconds
        console.result(
            "signing key rotated",
            [f"identity: new signing key {kid}"]
            + [
                f"identity: retired {old}; it stays in the JWKS for {published} s"
                for old in retired
            ],
            rotated=True,
            kid=kid,
            retired=retired,
            retired_published_seconds=published,
        )
    elif args.command == "keys":
        keys = asyncio.run(run_list_keys(settings))
        console.result("signing keys", [_key_line(key) for key in keys], keys=keys)
    elif args.command == "rewrap-keys":
        rewrapped = asyncio.run(run_rewrap(settings))
        console.result(
            "signing keys rewrapped",
            f"identity: re-encrypted {len(rewrapped)} signing keys under the current key",
            rewrapped=len(rewrapped),
            kids=rewrapped,
        )
    elif args.command == "prune":
        deleted = asyncio.run(run_prune(settings))
        console.result(
            "pruned",
            [f"identity prune: deleted {n} rows of {table}" for table, n in deleted.items()],
            deleted=deleted,
        )
    elif args.command == "create-admin":
        password = os.environ.get("IDENTITY_ADMIN_PASSWORD") or getpass.getpass("Password: ")
        try:
            user_id = asyncio.run(run_create_admin(settings, args.email, args.full_name, password))
        except Problem as exc:
            messages = "; ".join(e["message"] for e in exc.errors or []) or exc.detail
            console.fail(
                "admin not created",
                f"identity create-admin: {messages}",
                email=args.email,
                reason=messages,
            )
        console.result(
            "admin created",
            f"identity: created admin {args.email} ({user_id})",
            email=args.email,
            user_id=user_id,
        )


if __name__ == "__main__":
    main()
