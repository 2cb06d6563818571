"""Command line of the forms registry service: migrate, seed, import, serve."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from tellonce_registry.config import Settings, get_settings
from tellonce_registry.db import Database
from tellonce_registry.seeding import Report, import_files, seed
from tellonce_shared.cli import Console, load_settings
from tellonce_shared.migrations import upgrade
from tellonce_shared.serve import add_serve_command, serve

SERVICE_DIR = Path(__file__).resolve().parents[2]


async def _run_seed(settings: Settings) -> Report:
    database = Database(settings.database_url)
    try:
        return await seed(database, settings)
    finally:
        await database.dispose()


async def _run_import(settings: Settings, files: list[Path], agency: str, publish: bool) -> Report:
    database = Database(settings.database_url)
    try:
        return await import_files(database, settings, files, agency, publish=publish)
    finally:
        await database.dispose()


def _report(console: Console, msg: str, report: Report) -> None:
    """The report's lines (one JSON line holding them in production); exit 1 when any item
    failed."""
    if report.failed and console.json_lines:
        console.fail(f"{msg} with failures", "", lines=report.lines, failed=report.failed)
    console.result(msg, report.lines, lines=report.lines, failed=report.failed)
    raise SystemExit(1 if report.failed else 0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tellonce-registry")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="alembic upgrade head")
    sub.add_parser(
        "seed",
        help="add agencies and the element dictionary; in local mode also the demo catalog"
        " (idempotent)",
    )
    imp = sub.add_parser("import", help="import JSON Schema files as draft versions")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE", help="schema files or folders")
    imp.add_argument("--agency", required=True, help="the owning agency's code, e.g. DVA")
    imp.add_argument("--publish", action="store_true", help="publish each imported version")
    add_serve_command(sub)
    args = parser.parse_args(argv)
    settings = load_settings("registry", "REGISTRY_", get_settings)
    if args.command == "serve":
        serve("tellonce_registry.main:create_app", args, settings.port, settings.workers)
        return
    console = Console(
        "registry", args.command, json_lines=not settings.is_local, log_level=settings.log_level
    )
    with console.failures():
        if args.command == "migrate":
            revision = upgrade(SERVICE_DIR, settings.database_url)
            console.result(
                "migrated", f"registry migrate: database at {revision}", revision=revision
            )
        elif args.command == "seed":
            _report(console, "seeded", asyncio.run(_run_seed(settings)))
        elif args.command == "import":
            report = asyncio.run(_run_import(settings, args.files, args.agency, args.publish))
            _report(console, "imported", report)


if __name__ == "__main__":
    main()
