"""Request and response models of submissions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tellonce_submissions.answers import Answers, Text
from tellonce_submissions.drafts.schemas import DraftId
from tellonce_submissions.registry.client import FORM_SLUG, MAX_VERSION
from tellonce_submissions.times import UTCDateTime

AgencyStatus = Literal["received", "in_review", "needs_info", "approved", "denied"]


class SubmissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form: str = Field(min_length=1, max_length=128, pattern=FORM_SLUG)
    version: int = Field(ge=1, le=MAX_VERSION)
    answers: Answers
    draft: DraftId | None = Field(
        default=None,
        description="The draft these answers come from; it is deleted once submitted. "
        "Needed to submit against a version retired since the draft was started.",
    )

    def document(self) -> dict[str, Any]:
        """The request as JSON data (what ``model_dump(mode="json")`` gives, without copying
        the answers, which came from JSON): the idempotency fingerprint's input."""
        return {
            "form": self.form,
            "version": self.version,
            "answers": self.answers,
            "draft": self.draft,
        }


class StatusCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: AgencyStatus
    message: Text | None = Field(default=None, max_length=4000)
    reopen: bool = Field(
        default=False,
        description="The owning agency reopens its decision (a reconsideration, an appeal, "
        "a correction), saying why in ``message``. Without it, a status posted by the owning "
        "agency after its decision is a 409: a decision is final.",
    )

    def document(self) -> dict[str, Any]:
        """The idempotency fingerprint's input: ``reopen`` only when set, so a post without
        it has the fingerprint it had before the field existed (a retry across a deploy)."""
        document = self.model_dump(mode="json")
        if not self.reopen:
            del document["reopen"]
        return document


class DeliveryOut(BaseModel):
    agency: str
    fields: list[str]
    status: str


class TimelineEntry(BaseModel):
    at: UTCDateTime
    agency: str | None
    status: str
    message: str | None


class SubmissionCreated(BaseModel):
    id: str
    reference: str
    form: str
    version: int
    submitted_at: UTCDateTime
    deliveries: list[DeliveryOut]


class SubmissionOut(SubmissionCreated):
    status: str
    """The latest status on the timeline."""
    timeline: list[TimelineEntry]
    answers: dict[str, Any] | None = None
    """Included for the resident (restricted values masked); omitted in lists."""


class SubmissionPage(BaseModel):
    items: list[SubmissionOut]
    next_cursor: str | None
