"""Command line of the identity service: migrate, serve."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from tellonce_identity.config import get_settings
from tellonce_shared.migrations import upgrade

SERVICE_DIR = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tellonce-identity")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="alembic upgrade head")
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "migrate":
        upgrade(SERVICE_DIR, settings.database_url)
    elif args.command == "serve":
        uvicorn.run(
            "tellonce_identity.main:create_app",
            factory=True,
            host=args.host,
            port=args.port or settings.port,
            log_config=None,
            access_log=False,
        )


if __name__ == "__main__":
    main()
