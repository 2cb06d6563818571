"""Command line of the portal: migrate and seed (no-ops: the portal keeps no database),
serve."""

from __future__ import annotations

import argparse

from tellonce_portal.config import get_settings
from tellonce_shared.cli import Console, load_settings
from tellonce_shared.serve import add_serve_command, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tellonce-portal")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="nothing to do: the portal keeps no database")
    sub.add_parser("seed", help="nothing to do: the portal keeps no data of its own")
    add_serve_command(sub)
    args = parser.parse_args(argv)
    settings = load_settings("portal", "PORTAL_", get_settings)
    if args.command in ("migrate", "seed"):
        Console("portal", args.command, json_lines=not settings.is_local).result(
            "nothing to do",
            f"tellonce-portal {args.command}: nothing to do (the portal keeps no database)",
        )
    elif args.command == "serve":
        serve("tellonce_portal.main:create_app", args, settings.port, settings.workers)


if __name__ == "__main__":
    main()
