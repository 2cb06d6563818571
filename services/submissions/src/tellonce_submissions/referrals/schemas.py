"""Response models of referrals (a resident's own only)."""

from __future__ import annotations

from pydantic import BaseModel

from tellonce_submissions.drafts.schemas import DraftOut
from tellonce_submissions.times import UTCDateTime


class ReferralOut(BaseModel):
    id: str
    from_form: str
    to_form: str
    source_submission_id: str
    reason: dict[str, str]
    status: str
    """suggested, started (a draft exists) or submitted."""
    created_at: UTCDateTime
    started_at: UTCDateTime | None
    draft_id: str | None
    submitted_at: UTCDateTime | None
    submission_id: str | None


class ReferralPage(BaseModel):
    items: list[ReferralOut]


class ReferralStarted(BaseModel):
    referral: ReferralOut
    draft: DraftOut
