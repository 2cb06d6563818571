"""Command line of the submissions service: migrate, seed, purge, reseal, serve, worker."""

from __future__ import annotations

import argparse
from pathlib import Path

from tellonce_shared.migrations import upgrade
from tellonce_shared.serve import add_serve_command, serve
from tellonce_submissions.config import get_settings

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
    add_serve_command(sub)
    worker = sub.add_parser("worker", help="deliver the outbox (webhooks, retries)")
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics on this port (address: SUBMISSIONS_WORKER_METRICS_HOST)",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "migrate":
        upgrade(SERVICE_DIR, settings.database_url)
    elif args.command == "seed":
        print("submissions: nothing to seed (residents create drafts and submissions)")
    elif args.command == "purge":
        import asyncio

        from tellonce_submissions.retention import purge_now

        print(asyncio.run(purge_now(settings)))
    elif args.command == "reseal":
        import asyncio

        from tellonce_submissions.deliveries.reseal import reseal_now

        print(asyncio.run(reseal_now(settings)))
    elif args.command == "worker":
        import asyncio

        from tellonce_submissions.worker import run_worker

        asyncio.run(run_worker(settings, metrics_port=args.metrics_port))
    elif args.command == "serve":
        serve("tellonce_submissions.main:create_app", args, settings.port, settings.workers)


if __name__ == "__main__":
    main()
