"""The configuration reference of docs/operations.md, made from the services' settings classes
so it cannot drift from the code:

    uv run python deploy/settings_table.py           # print the tables
    uv run python deploy/settings_table.py --write   # refresh them in docs/operations.md

deploy/tests/test_settings_table.py fails when the document is out of date.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import itertools
import json
import sys
import tomllib
from pathlib import Path

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operations.md"
START = "<!-- settings-table:start (made by deploy/settings_table.py; do not edit) -->"
END = "<!-- settings-table:end -->"


def services() -> list[tuple[str, str, type[BaseModel]]]:
    """(directory name, import package, Settings class) of every process in the workspace."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for directory in sorted(ROOT.glob(pattern)):
            project_file = directory / "pyproject.toml"
            if not project_file.exists():
                continue
            scripts = tomllib.loads(project_file.read_text())["project"].get("scripts", {})
            for target in scripts.values():
                package = target.split(".")[0]
                module = importlib.import_module(f"{package}.config")
                found.append((directory.name, package, module.Settings))
    return found


COMMON = {
    "mode": "`local` (demo defaults, SQLite) or `production` (refuses demo secrets and SQLite).",
    "database_url": "`postgresql+psycopg://USER:PASSWORD@HOST:5432/DB` in production (a Secret).",
    "audience": "The `aud` every access token must carry.",
    "max_body_bytes": "Larger request bodies are refused with 413.",
    "log_level": "JSON log lines on stdout at this level and above.",
    "jwks_cache_seconds": "Seconds identity's public keys are cached (an unknown `kid` refreshes).",
    "port": "The HTTP port (the images, compose and the manifests use this default).",
}
"""Descriptions of the fields every service inherits, where the code has no docstring."""


def attribute_docs(cls: type) -> dict[str, str]:
    """The docstring under each attribute of `cls` and its bases (the house style)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            tree = ast.parse(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def default_text(name: str, info: FieldInfo) -> str:
    if info.annotation is SecretStr or isinstance(info.default, SecretStr):
        return "secret: a demo value locally, **required** in production"
    if info.default_factory is not None:
        value: object = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    if name == "database_url" and not value:
        return "none (no database)"
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return f"`{text}`" if text else '`""`'


def table() -> str:
    lines = []
    for directory, package, settings in services():
        prefix = str(settings.model_config.get("env_prefix", ""))
        docs = attribute_docs(settings)
        lines += [f"#### {directory} (`{package}.config`)", ""]
        lines += ["| variable | default | what it is |", "| --- | --- | --- |"]
        for name, info in settings.model_fields.items():
            doc = (docs.get(name) or COMMON.get(name, "")).replace("|", "\\|")
            lines.append(f"| `{prefix}{name.upper()}` | {default_text(name, info)} | {doc} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def refreshed(document: str) -> str:
    head, start, rest = document.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{DOC} has no {START} ... {END} block")
    return f"{head}{START}\n{table()}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="settings_table")
    parser.add_argument("--write", action="store_true", help=f"refresh the tables in {DOC.name}")
    args = parser.parse_args(argv)
    if args.write:
        DOC.write_text(refreshed(DOC.read_text()))
    else:
        sys.stdout.write(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
