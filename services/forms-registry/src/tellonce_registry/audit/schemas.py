"""Request and response models of the audit's review endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tellonce_registry.audit.models import AuditDecision

NO_NUL = r"^[^\x00]*$"
"""A text that reaches a database column: PostgreSQL refuses NUL in text, so it is a 422 here
rather than a 500 there."""


class FieldRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    pointer: str = Field(min_length=1, max_length=500, pattern=r"^/[^\x00]*$")


class ConfirmBody(BaseModel):
    """Confirm a cluster as a data element: the fields named are mapped or, when none are
    named, the cluster's fields that are the filer's own (``whose``: filer, applicant,
    claimant); the others are left out, and the answer says which and why."""

    model_config = ConfigDict(extra="forbid")

    element: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    fields: list[FieldRef] | None = Field(default=None, min_length=1, max_length=5000)
    note: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)


class SplitBody(BaseModel):
    """Move some fields of a cluster to a cluster of their own."""

    model_config = ConfigDict(extra="forbid")

    fields: list[FieldRef] = Field(min_length=1, max_length=5000)
    label: str | None = Field(default=None, min_length=1, max_length=200, pattern=NO_NUL)
    note: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)


class RejectBody(BaseModel):
    """Some fields do not hold the cluster's fact."""

    model_config = ConfigDict(extra="forbid")

    fields: list[FieldRef] = Field(min_length=1, max_length=5000)
    note: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)


class DecisionOut(BaseModel):
    id: int
    kind: str
    cluster: str
    element: str | None
    label: str | None
    fields: list[FieldRef]
    note: str | None
    decided_by: str
    decided_at: datetime

    @classmethod
    def of(cls, d: AuditDecision) -> DecisionOut:
        return cls(
            id=d.id,
            kind=d.kind,
            cluster=d.cluster_id,
            element=d.element_id,
            label=d.label,
            fields=[FieldRef(form=str(f[0]), pointer=str(f[1])) for f in d.fields],
            note=d.note,
            decided_by=d.decided_by,
            decided_at=d.decided_at,
        )


class LeftOut(BaseModel):
    """A field of the cluster a confirmation did not map, and why."""

    form: str
    pointer: str
    whose: str
    reason: str


class ConfirmOut(DecisionOut):
    """A recorded confirmation: ``fields`` are the fields mapped to ``element``; ``left_out``
    the cluster's fields it did not map (only when no fields were named: the ones that are not
    the filer's own)."""

    left_out: list[LeftOut]


class DecisionList(BaseModel):
    items: list[DecisionOut]


class MappingOut(BaseModel):
    form: str
    pointer: str
    element: str


class MappingList(BaseModel):
    items: list[MappingOut]
