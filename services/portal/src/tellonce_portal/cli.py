"""Command line of the portal: migrate and seed (no-ops: the portal keeps no database),
serve."""

from __future__ import annotations

import argparse

import uvicorn

from tellonce_portal.config import get_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tellonce-portal")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="nothing to do: the portal keeps no database")
    sub.add_parser("seed", help="nothing to do: the portal keeps no data of its own")
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command in ("migrate", "seed"):
        print(f"tellonce-portal {args.command}: nothing to do (the portal keeps no database)")
    elif args.command == "serve":
        uvicorn.run(
            "tellonce_portal.main:create_app",
            factory=True,
            host=args.host,
            port=args.port or settings.port,
            log_config=None,
            access_log=False,
        )


if __name__ == "__main__":
    main()
