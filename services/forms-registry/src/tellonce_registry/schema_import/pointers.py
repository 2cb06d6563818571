"""RFC 6901 JSON pointers."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

ANY_ITEM = "*"
"""The segment that stands for every item of an array in a field pointer."""


def escape(segment: str | int) -> str:
    return str(segment).replace("~", "~0").replace("/", "~1")


def unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def join(base: str, *segments: str | int) -> str:
    return base + "".join("/" + escape(s) for s in segments)


def split(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"{pointer!r} is not a JSON pointer")
    return [unescape(p) for p in pointer[1:].split("/")]


def resolve(document: Any, pointer: str) -> Any:
    """The value at ``pointer`` in ``document``; ``KeyError`` when there is none."""
    node = document
    for raw in split(pointer):
        if isinstance(node, dict) and raw in node:
            node = node[raw]
        elif isinstance(node, list) and raw.isascii() and raw.isdigit() and int(raw) < len(node):
            node = node[int(raw)]
        else:
            raise KeyError(pointer)
    return node


def fragment_pointer(fragment: str) -> str:
    """A URI fragment (``/definitions/a%20b``) as a plain JSON pointer."""
    return unquote(fragment)
