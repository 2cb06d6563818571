"""Command line of the submissions service: migrate, seed, purge, reseal, seal-restricted,
serve, worker."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from tellonce_shared.cli import Console, load_settings
from tellonce_shared.migrations import upgrade
from tellonce_shared.serve import add_serve_command, serve
from tellonce_submissions.config import Settings, get_settings

SERVICE_DIR = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tellonce-submissions")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="alembic upgrade head")
    sub.add_parser("seed", help="demo data (none: submissions start empty)")
    sub.add_parser(
        "purge",
        help="retention: delete drafts past 60 days and idempotency keys past 24 h, erase "
        "delivery shares final for SUBMISSIONS_DELIVERY_SHARE_RETENTION_DAYS (30)",
    )
    sub.add_parser(
        "reseal",
        help="re-seal the outbox's answers with the active answer key (after a key rotation)",
    )
    sub.add_parser(
        "seal-restricted",
        help="seal the values drafts and submissions still keep in clear that their form "
        "version's fields are restricted now (the registry's current set; once after upgrading)",
    )
    add_serve_command(sub)
    worker = sub.add_parser("worker", help="deliver the outbox (webhooks, retries)")
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics on this port (address: SUBMISSIONS_WORKER_METRICS_HOST)",
    )
    args = parser.parse_args(argv)
    settings = load_settings("submissions", "SUBMISSIONS_", get_settings)
    if args.command == "serve":
        serve("tellonce_submissions.main:create_app", args, settings.port, settings.workers)
        return
    if args.command == "worker":
        from tellonce_submissions.worker import run_worker

        asyncio.run(run_worker(settings, metrics_port=args.metrics_port))
        return
    console = Console(
        "submissions", args.command, json_lines=not settings.is_local, log_level=settings.log_level
    )
    with console.failures():
        run(args.command, settings, console)


def run(command: str, settings: Settings, console: Console) -> None:
    """One operator command; its results go to ``console``."""
    if command == "migrate":
        revision = upgrade(SERVICE_DIR, settings.database_url)
        console.result(
            "migrated", f"submissions migrate: database at {revision}", revision=revision
        )
    elif command == "seed":
        console.result(
            "nothing to seed",
            "submissions: nothing to seed (residents create drafts and submissions)",
        )
    elif command == "purge":
        from tellonce_submissions.retention import purge_now

        removed = asyncio.run(purge_now(settings))
        console.result(
            "retention purge",
            f"submissions purge: deleted {removed['drafts']} drafts and "
            f"{removed['idempotency_keys']} idempotency keys, erased "
            f"{removed['delivery_shares']} delivery shares",
            **removed,
        )
    elif command == "reseal":
        from tellonce_submissions.deliveries.reseal import reseal_now

        counts = asyncio.run(reseal_now(settings))
        console.result(
            "reseal",
            f"submissions reseal: {counts['resealed']} re-sealed with the active answer key "
            f"(outbox {counts['deliveries_resealed']}, submissions "
            f"{counts['submissions_resealed']}, drafts {counts['drafts_resealed']}, profile "
            f"values {counts['profile_values_resealed']}), {counts['current']} already "
            f"current, {counts['unreadable']} could not be opened",
            **counts,
        )
    elif command == "seal-restricted":
        from tellonce_submissions.seal_restricted import seal_restricted_now

        sealed = asyncio.run(seal_restricted_now(settings))
        console.result(
            "seal restricted",
            f"submissions seal-restricted: sealed restricted values kept in clear in "
            f"{sealed['submissions_sealed']} submissions and {sealed['drafts_sealed']} drafts "
            f"({sealed['values_sealed']} values); {sealed['current']} rows had none, "
            f"{sealed['skipped']} of versions the registry does not know and "
            f"{sealed['unreadable']} that could not be opened were left",
            **sealed,
        )


if __name__ == "__main__":
    main()
