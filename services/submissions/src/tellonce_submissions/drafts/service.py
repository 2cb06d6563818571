"""Drafts: save and resume, pinned to one form version, kept 60 days after the last change.

A draft is pinned to the version it was started on, so a version retired meanwhile can still
be submitted from it. Drafts are not validated against the schema (they are unfinished) but
the size limits apply, and restricted values are sealed like in submissions.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from tellonce_shared.problems import Conflict, NotFound, ValidationFailed
from tellonce_submissions.answers import AnswersTooLarge, check_limits
from tellonce_submissions.config import Settings
from tellonce_submissions.crypto import AnswerSealer
from tellonce_submissions.drafts import repository
from tellonce_submissions.drafts.schemas import DraftCreate, DraftOut
from tellonce_submissions.ids import canonical_id
from tellonce_submissions.models import Draft
from tellonce_submissions.profile import service as profile
from tellonce_submissions.registry.client import PUBLISHED, RegistryClient
from tellonce_submissions.sealing import draft_context, open_answers, seal_answers


def check_size(answers: dict[str, Any], settings: Settings) -> None:
    try:
        check_limits(
            answers, max_values=settings.max_answer_values, max_depth=settings.max_answer_depth
        )
    except AnswersTooLarge as exc:
        raise ValidationFailed(
            str(exc), errors=[{"pointer": "/answers", "message": str(exc)}]
        ) from exc


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` wins; objects are merged key by key (what the resident typed beats prefill)."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class DraftService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        registry: RegistryClient,
        sealer: AnswerSealer,
        settings: Settings,
        now: datetime,
    ) -> None:
        self.session = session
        self.registry = registry
        self.sealer = sealer
        self.settings = settings
        self.now = now

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.settings.draft_retention_days)

    async def create(self, owner: str, body: DraftCreate) -> DraftOut:
        number = body.version or await self.registry.latest_version(body.form)
        version = await self.registry.version(body.form, number)
        if version.status != PUBLISHED:
            raise Conflict(
                f"Version {number} of {body.form!r} is {version.status}, not published: "
                "a new draft needs a published version."
            )
        answers = body.answers or {}
        filled: list[str] = []
        if body.prefill:
            from_profile, filled = await profile.prefill(self.session, owner, version, self.sealer)
            answers = _merge(from_profile, answers)
        check_size(answers, self.settings)
        draft = Draft(
            id=str(uuid.uuid4()),
            owner=owner,
            form=body.form,
            version=number,
            created_at=self.now,
            updated_at=self.now,
        )
        self._store(draft, answers, version.compiled.restricted)
        self.session.add(draft)
        return self._out(draft, answers, filled)

    async def get(self, owner: str, draft_id: str) -> DraftOut:
        draft = await self._own(owner, draft_id)
        return self._out(draft, self.answers_of(draft))

    async def list_own(self, owner: str) -> list[DraftOut]:
        drafts = await repository.list_live(self.session, owner, self.now - self.retention)
        return [self._out(d, self.answers_of(d)) for d in drafts]

    async def update(self, owner: str, draft_id: str, answers: dict[str, Any]) -> DraftOut:
        draft = await self._own(owner, draft_id)
        check_size(answers, self.settings)
        version = await self.registry.version(draft.form, draft.version)
        self._store(draft, answers, version.compiled.restricted)
        draft.updated_at = self.now
        try:
            # written now: a DELETE that committed since the read leaves no row to update
            await self.session.flush()
        except StaleDataError as exc:
            raise NotFound(f"There is no draft {draft_id}.") from exc
        return self._out(draft, answers)

    async def delete(self, owner: str, draft_id: str) -> None:
        draft = await self._own(owner, draft_id)
        await repository.remove(self.session, draft.id)

    async def pinned(self, owner: str, draft_id: str) -> Draft:
        return await self._own(owner, draft_id)

    def answers_of(self, draft: Draft) -> dict[str, Any]:
        return open_answers(
            draft.answers, draft.sealed, draft.key_id, self.sealer, context=draft_context(draft.id)
        )

    async def _own(self, owner: str, draft_id: str) -> Draft:
        # A draft's id is a UUID: anything else names no draft, and is never looked up (a
        # NUL, say, cannot even be sent to PostgreSQL). A 404 like any id of no draft of
        # theirs, as for submissions, so the portal shows its "not found" page.
        canonical = canonical_id(draft_id)
        if canonical is None:
            raise NotFound(f"There is no draft {draft_id}.")
        draft = await repository.get_live(self.session, canonical, owner, self.now - self.retention)
        if draft is None:
            raise NotFound(f"There is no draft {draft_id}.")
        return draft

    def _store(
        self, draft: Draft, answers: dict[str, Any], restricted: list[tuple[str, ...]]
    ) -> None:
        public, sealed, key_id = seal_answers(
            answers, restricted, self.sealer, context=draft_context(draft.id)
        )
        draft.answers, draft.sealed, draft.key_id = public, sealed, key_id

    def _out(
        self, draft: Draft, answers: dict[str, Any], filled: list[str] | None = None
    ) -> DraftOut:
        return DraftOut(
            id=draft.id,
            form=draft.form,
            version=draft.version,
            answers=answers,
            prefilled=filled or [],
            created_at=draft.created_at,
            updated_at=draft.updated_at,
            expires_at=draft.updated_at + self.retention,
        )


async def purge_expired(session: AsyncSession, *, now: datetime, retention_days: int) -> int:
    """The retention job: delete drafts untouched for ``retention_days``."""
    return await repository.purge_older_than(session, now - timedelta(days=retention_days))
