"""Evaluating a referral rule's condition against a resident's answers.

The language (validated by the registry when a rule is written, see
docs/performance-management.md): a leaf ``{"pointer": "/household/children", "op": "gt",
"value": 0}`` or ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``. Nothing is ever
evaluated as code; a condition this evaluator does not understand, a missing answer or a type
mismatch is simply false (a rule never matches by accident)."""

from __future__ import annotations

import operator
from typing import Any

from tellonce_submissions.answers import get_at, parse_pointer

MAX_DEPTH = 8


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(a: Any, b: Any) -> bool:
    return (_number(a) and _number(b)) or (isinstance(a, str) and isinstance(b, str))


def _leaf(condition: dict[str, Any], answers: dict[str, Any]) -> bool:
    pointer, op = condition.get("pointer"), condition.get("op")
    if not isinstance(pointer, str) or not isinstance(op, str):
        return False
    try:
        tokens = parse_pointer(pointer)
    except ValueError:
        return False
    found, actual = get_at(answers, tokens) if tokens else (False, None)
    expected = condition.get("value")
    if op == "exists":
        return found is (expected is not False)
    if not found:
        return False
    if op == "eq":
        return bool(actual == expected and type(actual) is type(expected)) or (
            _number(actual) and _number(expected) and actual == expected
        )
    if op == "ne":
        return not (actual == expected and (_number(actual) == _number(expected)))
    if op in ("gt", "gte", "lt", "lte"):
        if not _comparable(actual, expected):
            return False
        compare = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
        left: Any = actual
        right: Any = expected
        return bool(compare[op](left, right))
    if op == "in":
        return isinstance(expected, list) and any(
            actual == v and _number(actual) == _number(v) for v in expected
        )
    if op == "contains":
        if isinstance(actual, list):
            return any(a == expected and _number(a) == _number(expected) for a in actual)
        return isinstance(actual, str) and isinstance(expected, str) and expected in actual
    return False


def evaluate(condition: Any, answers: dict[str, Any], depth: int = 0) -> bool:
    if not isinstance(condition, dict) or depth > MAX_DEPTH:
        return False
    if "all" in condition:
        parts = condition["all"]
        return (
            isinstance(parts, list)
            and bool(parts)
            and all(evaluate(p, answers, depth + 1) for p in parts)
        )
    if "any" in condition:
        parts = condition["any"]
        return isinstance(parts, list) and any(evaluate(p, answers, depth + 1) for p in parts)
    if "not" in condition:
        return not evaluate(condition["not"], answers, depth + 1)
    return _leaf(condition, answers)
