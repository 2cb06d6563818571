"""Referrals across programs: after a resident submits form X, the catalog's rules for X are
evaluated against the answers and matching ones become referrals to form Y; the resident can
start Y in one click with a draft prefilled from what they already told.

Evaluation is lazy: it runs when the resident lists their referrals (which the portal does
right after a submission), for every own submission not evaluated yet. So the submission
path never waits on the registry for rules, and "suggested" in the funnel means a referral
the resident was shown. A registry outage only postpones the evaluation to the next visit.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.problems import NotFound, ServiceUnavailable
from tellonce_submissions.answers import get_at, set_at
from tellonce_submissions.config import Settings
from tellonce_submissions.crypto import AnswerSealer
from tellonce_submissions.drafts.schemas import DraftCreate
from tellonce_submissions.drafts.service import DraftService
from tellonce_submissions.ids import canonical_id
from tellonce_submissions.models import Submission
from tellonce_submissions.performance.catalog import CatalogClient
from tellonce_submissions.referrals import repository
from tellonce_submissions.referrals.conditions import evaluate
from tellonce_submissions.referrals.models import (
    STARTED,
    SUGGESTED,
    Referral,
    ReferralCheck,
)
from tellonce_submissions.referrals.schemas import ReferralOut, ReferralPage, ReferralStarted
from tellonce_submissions.registry.client import FormVersion, RegistryClient
from tellonce_submissions.sealing import open_answers, submission_context

log = logging.getLogger("tellonce.referrals")

EVALUATE_AT_ONCE = 20
"""At most this many not-yet-evaluated submissions per listing (the newest first)."""
_NAMESPACE = uuid.UUID("6f1b0c2e-7a51-4b1e-9a8e-0c7f1d2b3a44")


def referral_id(submission_id: str, rule_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{submission_id}:{rule_id}"))


def carried_answers(
    source: FormVersion, answers: dict[str, Any], target: FormVersion
) -> dict[str, Any]:
    """The target form's answers that the source answers already give, matched by data
    element (the catalog's shared vocabulary), never by field name."""
    out: dict[str, Any] = {}
    for f in target.fields:
        if not f.element or not f.tokens or "*" in f.tokens:
            continue
        for tokens in source.element_pointers(f.element):
            if "*" in tokens:
                continue
            found, value = get_at(answers, tokens)
            if found and value is not None:
                set_at(out, f.tokens, value)
                break
    return out


class ReferralService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        catalog: CatalogClient,
        registry: RegistryClient,
        sealer: AnswerSealer,
        settings: Settings,
        now: datetime,
    ) -> None:
        self.session = session
        self.catalog = catalog
        self.registry = registry
        self.sealer = sealer
        self.settings = settings
        self.now = now

    def _answers(self, submission: Submission) -> dict[str, Any]:
        return open_answers(
            submission.answers,
            submission.sealed,
            submission.key_id,
            self.sealer,
            context=submission_context(submission.id),
        )

    async def evaluate_pending(self, owner: str) -> None:
        pending = await repository.unchecked_submissions(
            self.session, owner, limit=EVALUATE_AT_ONCE
        )
        referrals: list[dict[str, Any]] = []
        checks: list[dict[str, Any]] = []
        # a form the resident has already sent is never suggested (acceptance review: CEAP
        # was suggested after sending CEAP, then SNAP); a draft of it does not count
        sent = await repository.submitted_forms(self.session, owner) if pending else set()
        for submission in pending:
            try:
                rules = await self.catalog.rules(submission.form)
            except ServiceUnavailable:
                log.warning("referral rules unavailable; evaluation postponed", exc_info=True)
                break
            answers = self._answers(submission) if rules else {}
            for rule in rules:
                if rule.to_form in sent or not evaluate(rule.condition, answers):
                    continue
                referrals.append(
                    {
                        "id": referral_id(submission.id, rule.id),
                        "owner": owner,
                        "rule_id": rule.id,
                        "source_submission_id": submission.id,
                        "from_form": submission.form,
                        "to_form": rule.to_form,
                        "reason": rule.reason,
                        "status": SUGGESTED,
                        "created_at": self.now,
                    }
                )
            checks.append({"submission_id": submission.id, "owner": owner, "checked_at": self.now})
        await repository.insert_ignoring_conflicts(self.session, Referral.__table__, referrals)
        await repository.insert_ignoring_conflicts(self.session, ReferralCheck.__table__, checks)

    async def list_own(self, owner: str, *, evaluate: bool = True) -> ReferralPage:
        """``evaluate`` False (a HEAD: nothing is shown) leaves unlisted submissions for the
        next listing: ``suggested`` counts the referrals shown to residents."""
        if evaluate:
            await self.evaluate_pending(owner)
        await repository.mark_submitted(self.session, owner, self.now)
        rows = await repository.own(self.session, owner)
        # a suggestion made before the resident sent that form on their own is not shown
        # again (it stays counted as suggested: it was shown once)
        sent = await repository.submitted_forms(self.session, owner) if rows else set()
        shown = [r for r in rows if not (r.status == SUGGESTED and r.to_form in sent)]
        return ReferralPage(items=[_out(r) for r in shown])

    async def start(self, owner: str, referral_id: str) -> ReferralStarted:
        """A draft of the referred form, prefilled from the source submission (by data
        element) and from the resident's profile; starting twice gives the same draft, also
        when the starts run at once: the referral's row stays locked from this read to the
        commit, so a second start waits, then finds the first one's draft."""
        canonical = canonical_id(referral_id)  # ours are UUIDs: anything else names none
        referral = (
            None
            if canonical is None
            else await repository.get_own(self.session, owner, canonical, lock=True)
        )
        if referral is None:
            raise NotFound(f"There is no referral {referral_id}.")
        drafts = DraftService(
            self.session,
            registry=self.registry,
            sealer=self.sealer,
            settings=self.settings,
            now=self.now,
        )
        if referral.draft_id is not None:
            try:
                draft = await drafts.get(owner, referral.draft_id)
            except NotFound:
                draft = None
            if draft is not None:
                return ReferralStarted(referral=_out(referral), draft=draft)
        source = await repository.submission(self.session, referral.source_submission_id)
        answers: dict[str, Any] = {}
        number = await self.registry.latest_version(referral.to_form)
        if source is not None:
            source_version = await self.registry.version(source.form, source.version)
            target = await self.registry.version(referral.to_form, number)
            answers = carried_answers(source_version, self._answers(source), target)
        draft = await drafts.create(
            owner,
            DraftCreate(form=referral.to_form, version=number, answers=answers, prefill=True),
        )
        referral.draft_id = draft.id
        if referral.status == SUGGESTED:
            referral.status = STARTED
            referral.started_at = self.now
        await self.session.flush()
        return ReferralStarted(referral=_out(referral), draft=draft)


def _out(r: Referral) -> ReferralOut:
    return ReferralOut(
        id=r.id,
        from_form=r.from_form,
        to_form=r.to_form,
        source_submission_id=r.source_submission_id,
        reason={str(k): str(v) for k, v in (r.reason or {}).items()},
        status=r.status,
        created_at=r.created_at,
        started_at=r.started_at,
        draft_id=r.draft_id,
        submitted_at=r.submitted_at,
        submission_id=r.submission_id,
    )
