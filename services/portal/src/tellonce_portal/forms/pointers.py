"""RFC 6901 JSON pointers over an answers document: the form's field names are pointers, so an
API error's ``pointer`` names the field it belongs to with no translation table."""

from __future__ import annotations

from typing import Any

_MISSING = object()


def escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def split(pointer: str) -> list[str]:
    if not pointer:
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return [unescape(p) for p in pointer[1:].split("/")]


def join(base: str, part: str | int) -> str:
    return f"{base}/{escape(part)}"


def get(doc: Any, pointer: str, default: Any = None) -> Any:
    node = doc
    for part in split(pointer):
        if isinstance(node, dict):
            if part not in node:
                return default
            node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return default
            node = node[int(part)]
        else:
            return default
    return node


def set_value(doc: dict[str, Any], pointer: str, value: Any) -> None:
    """Set a value, creating the objects and arrays on the way (arrays when the next part is
    an index)."""
    parts = split(pointer)
    if not parts:
        raise ValueError("cannot replace the whole document")
    node: Any = doc
    for i, part in enumerate(parts[:-1]):
        nxt_is_index = parts[i + 1].isdigit()
        if isinstance(node, list):
            idx = int(part)
            while len(node) <= idx:
                node.append({})
            if not isinstance(node[idx], (dict, list)):
                node[idx] = [] if nxt_is_index else {}
            node = node[idx]
        else:
            child = node.get(part)
            if not isinstance(child, (dict, list)):
                child = [] if nxt_is_index else {}
                node[part] = child
            node = child
    last = parts[-1]
    if isinstance(node, list):
        idx = int(last)
        while len(node) <= idx:
            node.append({})
        node[idx] = value
    else:
        node[last] = value


def delete(doc: dict[str, Any], pointer: str) -> None:
    parts = split(pointer)
    if not parts:
        return
    parent = get(doc, "/" + "/".join(escape(p) for p in parts[:-1])) if parts[:-1] else doc
    last = parts[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        parent.pop(int(last))


def is_within(pointer: str, ancestor: str) -> bool:
    return pointer == ancestor or pointer.startswith(ancestor + "/")


def prune(doc: Any, *, keep_items: bool = True) -> Any:
    """Drop empty strings, empty objects and empty lists from objects (answers the resident
    left blank). Objects inside arrays are kept so an added, still empty, item stays on the
    page."""
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for key, value in doc.items():
            pruned = prune(value, keep_items=keep_items)
            if pruned in ("", None, {}, []):
                continue
            out[key] = pruned
        return out
    if isinstance(doc, list):
        items = [prune(v, keep_items=keep_items) for v in doc]
        if keep_items:
            return [v for v in items if v not in ("", None)]
        return [v for v in items if v not in ("", None, {}, [])]
    return doc
