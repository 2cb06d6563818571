"""Referral rules and their condition language.

A condition is data, never code: a leaf compares the answer at an RFC 6901 JSON pointer with a
value (``{"pointer": "/childrenCount", "op": "gt", "value": 0}``), and ``all`` / ``any`` /
``not`` combine leaves. Anything else is refused with 422, and the size is bounded (depth,
leaves, pointer and string lengths) so a rule stays cheap to evaluate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tellonce_shared.params import Text

MAX_DEPTH = 5
MAX_LEAVES = 20
Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"]
Scalar = Annotated[Text, Field(max_length=200)] | int | float | bool | None
POINTER = r"^(/([^~/\x00]|~[01])*)+$"
"""An RFC 6901 pointer (no NUL: a condition is stored as jsonb, which cannot hold one)."""
SLUG = r"^[a-z0-9][a-z0-9-]{0,99}$"


class Leaf(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pointer: str = Field(max_length=256, pattern=POINTER)
    op: Operator
    value: Scalar | list[Scalar] = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Leaf:
        v = self.value
        if self.op == "in":
            if not isinstance(v, list) or not 1 <= len(v) <= 50:
                raise ValueError("'in' needs a list of 1 to 50 values")
        elif isinstance(v, list):
            raise ValueError(f"{self.op!r} needs a single value, not a list")
        elif self.op in ("gt", "gte", "lt", "lte"):
            if isinstance(v, bool) or not isinstance(v, int | float | str):
                raise ValueError(f"{self.op!r} compares with a number or a string")
        elif self.op == "exists":
            if v is not None and not isinstance(v, bool):
                raise ValueError("'exists' takes true, false or no value")
        elif self.op == "contains" and v is None:
            raise ValueError("'contains' needs a value")
        return self


class AllOf(BaseModel):
    model_config = ConfigDict(extra="forbid")

    all: list[Condition] = Field(min_length=1, max_length=MAX_LEAVES)


class AnyOf(BaseModel):
    model_config = ConfigDict(extra="forbid")

    any: list[Condition] = Field(min_length=1, max_length=MAX_LEAVES)


class Not(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    not_: Condition = Field(alias="not")


Condition = Leaf | AllOf | AnyOf | Not


def _shape(node: Condition, depth: int = 1) -> tuple[int, int]:
    """(depth, leaves) of a condition."""
    if isinstance(node, Leaf):
        return depth, 1
    children = (
        [node.not_]
        if isinstance(node, Not)
        else (node.all if isinstance(node, AllOf) else node.any)
    )
    shapes = [_shape(c, depth + 1) for c in children]
    return max(d for d, _ in shapes), sum(n for _, n in shapes)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    en: Text = Field(min_length=1, max_length=500)
    es: Text = Field(min_length=1, max_length=500)


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_form: str = Field(pattern=SLUG)
    to_form: str = Field(pattern=SLUG)
    condition: Condition
    reason: Reason
    enabled: bool = True

    @model_validator(mode="after")
    def _bounded(self) -> RuleIn:
        if self.from_form == self.to_form:
            raise ValueError("a rule refers a resident to another form")
        depth, leaves = _shape(self.condition)
        if depth > MAX_DEPTH:
            raise ValueError(f"the condition nests deeper than {MAX_DEPTH}")
        if leaves > MAX_LEAVES:
            raise ValueError(f"the condition has more than {MAX_LEAVES} comparisons")
        return self

    def condition_json(self) -> dict[str, Any]:
        return dict(self.condition.model_dump(by_alias=True, exclude_unset=True))


class RuleCreate(RuleIn):
    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    """A readable id (``snap-children-care4kids``); generated when omitted."""


class RuleOut(BaseModel):
    id: str
    from_form: str
    to_form: str
    condition: dict[str, Any]
    reason: dict[str, str]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class RulePage(BaseModel):
    items: list[RuleOut]
    next_cursor: str | None
