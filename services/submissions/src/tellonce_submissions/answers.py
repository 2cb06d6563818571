"""Pure functions over an answers document: JSON pointers (RFC 6901, with ``*`` for any
array item as the registry writes them), size limits, per-agency projection, and taking
restricted values out for sealing and putting them back."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, ValidationError
from pydantic_core import PydanticCustomError

from tellonce_shared.schema_branches import resolve

WILDCARD = "*"


def clone(doc: Any) -> Any:
    """A deep copy of JSON data (several times faster than ``copy.deepcopy``)."""
    if isinstance(doc, dict | list):
        return orjson.loads(orjson.dumps(doc))
    return doc


class AnswersTooLarge(ValueError):
    """More values or deeper nesting than the service accepts."""


MIN_INT, MAX_INT = -(2**63), 2**63 - 1

NUL = "\x00"
"""U+0000, which PostgreSQL cannot store in ``text`` or ``jsonb``."""

MAX_NUL_ERRORS = 100
"""NUL characters listed in one 422 at most (a 1 MiB body could carry 170,000)."""


def unstorable(text: str) -> str | None:
    """What in ``text`` cannot be stored, or None: the NUL character (PostgreSQL cannot store
    it in ``text`` or ``jsonb``), or a lone surrogate (``"\\ud800"`` in JSON: not a
    character, so it has no UTF-8 form, and orjson, which copies and stores answers, refuses
    it)."""
    if NUL in text:
        return "the NUL character (U+0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate (U+D800 to U+DFFF)"
    return None


def check_storable(doc: Any) -> Any:
    """Refuse JSON the service cannot store or sign: whole numbers past 64 bits (orjson,
    which copies, fingerprints and stores answers, raises on them), the ``NaN``/``Infinity``
    that Python's JSON parser lets through, and text that cannot be stored (:func:`unstorable`:
    a NUL character or a lone surrogate) in a value or a member name. Without recursion. Such
    text is reported at its own pointer (``/answers/a/b``; a member name's at the object
    holding it), every one of them."""
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if unstorable(value):
                raise _text_errors(doc)
        elif isinstance(value, dict):
            if unstorable("".join(value)):  # the member names (JSON's are always strings)
                raise _text_errors(doc)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int) and not MIN_INT <= value <= MAX_INT:
            raise ValueError("Whole numbers must fit in 64 bits (at most 19 digits).")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError("Numbers must be finite (no NaN or Infinity).")
    return doc


def _text_errors(doc: Any) -> ValidationError:
    """Every place of ``doc`` holding text that cannot be stored, as pydantic errors whose
    locations are relative to the validated field: pydantic puts the field's own location in
    front, so the 422's pointers lead to each one. The text itself is never echoed."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), doc)]
    while stack and len(found) < MAX_NUL_ERRORS:
        path, value = stack.pop()
        if isinstance(value, str):
            reason = unstorable(value)
            if reason:
                found.append((path, f"Text cannot hold {reason}."))
        elif isinstance(value, dict):
            reason = next(filter(None, map(unstorable, value)), None)
            if reason:
                found.append((path, f"A member name cannot hold {reason}."))
            stack.extend(((*path, k), v) for k, v in reversed(value.items()) if not unstorable(k))
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(value))))
    return ValidationError.from_exception_data(
        "Text that cannot be stored",
        [
            {"type": PydanticCustomError("unstorable_text", message), "loc": path, "input": None}
            for path, message in found
        ],
    )


def check_text(text: str) -> str:
    """Refuse a plain text field holding text that cannot be stored (a 422 at its pointer)."""
    reason = unstorable(text)
    if reason:
        raise ValueError(f"Text cannot hold {reason}.")
    return text


StorableJson = AfterValidator(check_storable)
"""Put on request fields that carry answers: refused with a 422 at the request's edge."""
Answers = Annotated[dict[str, Any], StorableJson]
Text = Annotated[str, AfterValidator(check_text)]
"""A free-text request field (PostgreSQL cannot store a NUL in it)."""


def parse_pointer(pointer: str) -> tuple[str, ...]:
    if pointer in ("", "/"):
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/"))


def format_pointer(tokens: Iterable[str | int]) -> str:
    parts = [str(t).replace("~", "~0").replace("/", "~1") for t in tokens]
    return "/" + "/".join(parts) if parts else ""


def check_limits(doc: Any, *, max_values: int, max_depth: int) -> None:
    """Count every value (containers included) and the nesting depth, without recursion."""
    count = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > max_values:
            raise AnswersTooLarge(f"The answers hold more than {max_values} values.")
        if depth > max_depth:
            raise AnswersTooLarge(f"The answers are nested deeper than {max_depth} levels.")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def expand(doc: Any, tokens: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every concrete (tokens, value) a pattern matches in ``doc`` (``*`` = each item)."""
    if not tokens:
        yield (), doc
        return
    head, rest = tokens[0], tokens[1:]
    if isinstance(doc, dict):
        if head in doc:
            for sub, value in expand(doc[head], rest):
                yield (head, *sub), value
    elif isinstance(doc, list):
        if head == WILDCARD:
            indexes: Iterable[int] = range(len(doc))
        elif head.isdigit() and int(head) < len(doc):
            indexes = (int(head),)
        else:
            indexes = ()
        for i in indexes:
            for sub, value in expand(doc[i], rest):
                yield (str(i), *sub), value


def get_at(doc: Any, tokens: tuple[str, ...]) -> tuple[bool, Any]:
    """(found, value) for a concrete pointer."""
    for found_tokens, value in expand(doc, tokens):
        if found_tokens == tokens:
            return True, value
    return False, None


def set_at(doc: dict[str, Any], tokens: tuple[str, ...], value: Any) -> None:
    """Set a concrete pointer, making the objects on the way (arrays must already exist)."""
    if not tokens:
        raise ValueError("cannot replace the whole document")
    node: Any = doc
    for token in tokens[:-1]:
        if isinstance(node, list):
            node = node[int(token)]
            continue
        nxt = node.get(token)
        if not isinstance(nxt, dict | list):
            nxt = {}
            node[token] = nxt
        node = nxt
    last = tokens[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def delete_at(doc: Any, tokens: tuple[str, ...]) -> None:
    node = doc
    for token in tokens[:-1]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    if isinstance(node, dict):
        node.pop(tokens[-1], None)


def matches(pattern: tuple[str, ...], concrete: tuple[str, ...]) -> bool:
    """Whether ``concrete`` lies at or under ``pattern`` (``*`` matches any index)."""
    if len(pattern) > len(concrete):
        return False
    pairs = zip(pattern, concrete[: len(pattern)], strict=True)
    return all(p == c or (p == WILDCARD and c.isdigit()) for p, c in pairs)


def project(doc: dict[str, Any], patterns: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """A new document holding only what the patterns reach: an agency's share."""
    result: dict[str, Any] = {}
    for pattern in patterns:
        if not pattern:
            whole: dict[str, Any] = clone(doc)
            return whole
        for tokens, value in expand(doc, pattern):
            _graft(result, doc, tokens, value)
    return result


def _graft(target: Any, source: Any, tokens: tuple[str, ...], value: Any) -> None:
    """Copy ``value`` into ``target`` at ``tokens``, shaping containers like ``source``."""
    node_t, node_s = target, source
    for token in tokens[:-1]:
        if isinstance(node_s, list):
            idx = int(token)
            while len(node_t) <= idx:
                node_t.append(None)
            child_s = node_s[idx]
            if node_t[idx] is None:
                node_t[idx] = [] if isinstance(child_s, list) else {}
            node_t, node_s = node_t[idx], child_s
        else:
            child_s = node_s[token]
            if token not in node_t:
                node_t[token] = [] if isinstance(child_s, list) else {}
            node_t, node_s = node_t[token], child_s
    last = tokens[-1]
    if isinstance(node_s, list):
        idx = int(last)
        while len(node_t) <= idx:
            node_t.append(None)
        node_t[idx] = clone(value)
    else:
        node_t[last] = clone(value)


def flatten(doc: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Leaves in document order; a list of scalars counts as one leaf (shown as one line)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from flatten(value, (*prefix, key))
    elif isinstance(doc, list) and any(isinstance(v, dict | list) for v in doc):
        for i, value in enumerate(doc):
            yield from flatten(value, (*prefix, str(i)))
    else:
        yield prefix, doc


def take_out(
    doc: dict[str, Any], patterns: Iterable[tuple[str, ...]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(a copy without the matched values, {concrete pointer: value} of what was taken)."""
    public = clone(doc)
    taken: dict[str, Any] = {}
    for pattern in patterns:
        if not pattern:
            continue
        for tokens, value in list(expand(public, pattern)):
            taken[format_pointer(tokens)] = value
            delete_at(public, tokens)
    return public, taken


def put_back(public: dict[str, Any], taken: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = clone(public)
    for pointer, value in taken.items():
        set_at(doc, parse_pointer(pointer), value)
    return doc


MASK = "\u2022" * 4
"""A restricted value shown: four dots, whatever the value's length."""
KEEP_LAST_FROM = 8
"""A free-text restricted value of at least this many characters also shows its last 4 (an
SSN, an account number: the usual practice); a shorter one would give most of itself away."""
NOT_FREE_FORMATS = frozenset({"date", "date-time", "time"})
"""String formats whose last 4 characters are most of the value (a date's month and day)."""
MAX_SCHEMA_NODES = 2_000
"""How many schema nodes one :func:`free_text_at` may visit. A schema that refers back to itself
through ``anyOf`` branches is valid (the registry accepts it, jsonschema-rs validates against
it at once) and was walked branch by branch for minutes, on the event loop, at every masked
read; each reference is now followed once per walk, and past this bound the value counts as
not free text (masked whole)."""


def mask(value: Any, *, free_text: bool) -> str:
    """A restricted value as the resident is shown it (API, profile, receipt): ``MASK``, plus
    the last 4 characters of a string of ``KEEP_LAST_FROM`` or more characters when it is
    ``free_text`` (see :func:`free_text_at`). Anything else shows nothing of itself, not even
    its length: a choice among listed values (``citizen``), a boolean, a number, a date, an
    array or an object, a short string."""
    if free_text and isinstance(value, str) and len(value) >= KEEP_LAST_FROM:
        return MASK + value[-4:]
    return MASK


def free_text_at(schema: Any, tokens: Sequence[str] = ()) -> bool:
    """Whether the value at ``tokens`` of a document described by ``schema`` (a form's
    schema, or an element's with no tokens) is free text: every schema that describes it
    (through ``properties``, ``items``, ``allOf``/``anyOf``/``oneOf``, ``if``/``then``/
    ``else`` and local ``$ref``) allows strings, lists no values (``enum``, ``const``) and
    names no date or time format. False when nothing is known of it (no schema, a pointer
    the schema does not describe, a reference that cannot be followed, a schema too large to
    read within ``MAX_SCHEMA_NODES``): better too little shown than a choice given away."""
    walk = _Walk(schema)
    try:
        found = walk.describing([schema])
        for token in tokens:
            deeper: list[Any] = []
            for node in found:
                if not isinstance(node, Mapping):
                    deeper.append(None)
                    continue
                properties = node.get("properties")
                if isinstance(properties, Mapping) and token in properties:
                    deeper.append(properties[token])
                elif token.isdigit():
                    prefix = node.get("prefixItems")
                    if isinstance(prefix, list) and int(token) < len(prefix):
                        deeper.append(prefix[int(token)])
                    elif isinstance(node.get("items"), Mapping | bool):
                        deeper.append(node["items"])
                if isinstance(node.get("additionalProperties"), Mapping) and not (
                    isinstance(properties, Mapping) and token in properties
                ):
                    deeper.append(node["additionalProperties"])
            found = walk.describing(deeper)
    except _TooLarge:
        return False
    return bool(found) and all(_free(node) for node in found)


class _TooLarge(Exception):
    """The walk reached ``MAX_SCHEMA_NODES``."""


class _Walk:
    """One :func:`free_text_at`'s walk of a schema, with its budget of nodes."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.steps = 0

    def describing(self, nodes: list[Any]) -> list[Any]:
        """The nodes and the schemas they apply to the same value, flat, each schema object
        once, local ``$ref`` followed (None for one that cannot be followed)."""
        found: list[Any] = []
        seen: set[int] = set()
        stack = list(reversed(nodes))
        while stack:
            raw = stack.pop()
            if isinstance(raw, Mapping | list):
                if id(raw) in seen:  # a branch met again: a reference back, or a shared one
                    continue
                seen.add(id(raw))
            self.steps += 1
            if self.steps > MAX_SCHEMA_NODES:
                raise _TooLarge
            node = resolve(self.root, raw)
            if not isinstance(node, Mapping):
                found.append(node if isinstance(node, bool) else None)
                continue
            found.append(node)
            branches: list[Any] = []
            for key in ("allOf", "anyOf", "oneOf"):
                listed = node.get(key)
                if isinstance(listed, list):
                    branches += listed
            branches += [node[key] for key in ("then", "else") if key in node]
            stack += reversed(branches)
        return found


def _free(node: Any) -> bool:
    if node is True:
        return True
    if not isinstance(node, Mapping) or "enum" in node or "const" in node:
        return False
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in NOT_FREE_FORMATS:
        return False
    kind = node.get("type")
    kinds = [kind] if isinstance(kind, str) else kind
    return kinds is None or (isinstance(kinds, list) and "string" in kinds)
