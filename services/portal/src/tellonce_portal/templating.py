"""The Jinja2 environment: templates and static files ship inside the package, nothing is
fetched at run time."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["field_links"] = field_links
    env.filters["error_for"] = error_for
    return env


def field_links(errors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(field name, message) pairs as error-summary links to ``#f-<name>``."""
    return [(f"#f-{name}", message) for name, message in errors]


def error_for(errors: list[tuple[str, str]], name: str) -> str:
    """The first message for field ``name`` in (field name, message) pairs, or ""."""
    return next((message for field, message in errors or [] if field == name), "")
