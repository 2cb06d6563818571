"""Tell once: element values kept, with consent, to prefill the next form.

Values are keyed by data element, not by form field, so a date of birth given as
``veteranDateOfBirth`` on one form prefills ``birthDate`` on another when both map to
``person.birthDate``. Restricted elements are sealed (AES-GCM) with the owner and element
bound as associated data. Withdrawing consent erases what was kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jsonschema_rs
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.problems import Conflict, NotFound, Problem, ValidationFailed
from tellonce_submissions.answers import (
    NUL,
    WILDCARD,
    format_pointer,
    free_text_at,
    get_at,
    mask,
    set_at,
)
from tellonce_submissions.crypto import AnswerSealer
from tellonce_submissions.models import ProfileValue
from tellonce_submissions.profile import repository
from tellonce_submissions.profile.schemas import ProfileOut, ProfileValueOut
from tellonce_submissions.registry.client import FormVersion, RegistryClient
from tellonce_submissions.sealing import profile_context

_VALIDATORS: dict[str, tuple[dict[str, Any], Any]] = {}
"""Element id -> (its schema, the compiled validator or None), compiled once per schema the
registry gives (the dictionary is small and admin-made; a changed schema is compiled again)."""


def _validator(element: str, schema: dict[str, Any]) -> Any:
    """The element's compiled validator, None for a schema that does not compile (which then
    blocks nothing: the resident is not held up by a broken dictionary entry)."""
    cached = _VALIDATORS.get(element)
    if cached is None or cached[0] is not schema:
        try:
            validator = jsonschema_rs.validator_for(schema, validate_formats=True, offline=True)
        except (ValueError, jsonschema_rs.ReferencingError):
            validator = None
        cached = _VALIDATORS[element] = (schema, validator)
    return cached[1]


def value_errors(
    element: str, schema: dict[str, Any], value: Any, *, restricted: bool
) -> list[dict[str, str]]:
    """A corrected value must still be what the element says it is (a restricted value is
    not echoed back in the message)."""
    validator = _validator(element, schema)
    if validator is None:
        return []
    return [
        {
            "pointer": "/value" + format_pointer(str(t) for t in err.instance_path),
            "message": (
                f"The value does not satisfy the element's {err.kind.__class__.__name__} rule."
                if restricted
                else str(err.message)
            ),
        }
        for err in validator.iter_errors(value)
    ]


def _element_accepts(element: str, schema: dict[str, Any] | None, value: Any) -> bool:
    """Whether ``value`` is a valid value of the element (True when there is no schema to
    check it by, or one that does not compile: as :func:`value_errors`)."""
    if schema is None:
        return True
    validator = _validator(element, schema)
    return validator is None or bool(validator.is_valid(value))


def _plain(row: ProfileValue, sealer: AnswerSealer) -> Any:
    if row.sealed is not None and row.key_id is not None:
        return sealer.open(row.sealed, row.key_id, context=profile_context(row.owner, row.element))
    return row.value


async def _element_schema(registry: RegistryClient, element: str) -> dict[str, Any] | None:
    """The element's schema, to tell free text from choices when masking; None when the
    registry cannot say (then the value is masked whole)."""
    try:
        return await registry.element_schema(element)
    except Problem:
        return None


async def read(
    session: AsyncSession,
    owner: str,
    sealer: AnswerSealer,
    *,
    reveal: bool,
    registry: RegistryClient,
) -> ProfileOut:
    """Restricted values masked unless ``reveal`` (``answers.mask``: free text by the
    element's schema keeps at most its last 4 characters, anything else nothing)."""
    profile = await repository.get(session, owner)
    rows = await repository.values(session, owner)
    values = []
    for row in rows:
        sealed = row.sealed is not None
        value = _plain(row, sealer)
        if sealed and not reveal:
            schema = await _element_schema(registry, row.element)
            value = mask(value, free_text=free_text_at(schema))
        values.append(
            ProfileValueOut(
                element=row.element,
                value=value,
                masked=sealed and not reveal,
                source_form=row.source_form,
                source_version=row.source_version,
                updated_at=row.updated_at,
            )
        )
    return ProfileOut(keep=bool(profile and profile.keep), values=values)


async def set_consent(session: AsyncSession, owner: str, keep: bool, now: datetime) -> None:
    """Withdrawing (``keep: false``) also erases the kept values. The profile row is locked
    first: a submission being written at that moment either finishes first (and its values
    are erased here) or waits and then sees the withdrawal (``submissions.store``)."""
    await repository.lock(session, owner)
    await repository.set_consent(session, owner, keep, now)
    if not keep:
        await repository.delete_values(session, owner)


async def erase(session: AsyncSession, owner: str) -> None:
    """Every kept value and the consent, the profile row locked first (as ``set_consent``)."""
    await repository.lock(session, owner)
    await repository.delete_profile(session, owner)


async def correct(
    session: AsyncSession,
    owner: str,
    element: str,
    value: Any,
    *,
    sealer: AnswerSealer,
    registry: RegistryClient,
    now: datetime,
) -> None:
    profile = await repository.get(session, owner)
    if profile is None or not profile.keep:
        raise _no_consent()
    sensitivity = await registry.sensitivities()
    if element not in sensitivity:
        raise NotFound(f"There is no data element {element!r}.")
    schema = await registry.element_schema(element)
    restricted = sensitivity[element] == "restricted"
    if schema is not None:
        errors = value_errors(element, schema, value, restricted=restricted)
        if errors:
            raise ValidationFailed(f"The value is not a valid {element}.", errors=errors)
    row = _row(owner, element, value, sealer, restricted, now)
    # Consent read again, locked as a withdrawal locks it (after the registry's answers, so
    # the lock is never held over a call to it): a correction never writes a value back
    # after a withdrawal committed meanwhile, and a withdrawal that comes next erases it.
    profile = await repository.lock(session, owner)
    if profile is None or not profile.keep:
        raise _no_consent()
    await repository.upsert_values(session, [row])


def _no_consent() -> Conflict:
    return Conflict("Turn on keeping your answers (PUT /api/v1/profile/consent) first.")


async def remove_value(session: AsyncSession, owner: str, element: str) -> None:
    # no element's id holds a NUL (nor could PostgreSQL compare one): nothing to look up
    if NUL in element or await repository.delete_values(session, owner, element) == 0:
        raise NotFound(f"Your profile holds no value for {element!r}.")


def _row(
    owner: str,
    element: str,
    value: Any,
    sealer: AnswerSealer,
    restricted: bool,
    now: datetime,
    form: str | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    sealed, key_id = (None, None)
    if restricted:
        sealed, key_id = sealer.seal(value, context=profile_context(owner, element))
        value = None
    return {
        "owner": owner,
        "element": element,
        "value": value,
        "sealed": sealed,
        "key_id": key_id,
        "source_form": form,
        "source_version": version,
        "updated_at": now,
    }


def values_to_keep(
    owner: str,
    version: FormVersion,
    answers: dict[str, Any],
    *,
    element_schemas: dict[str, dict[str, Any] | None],
    sealer: AnswerSealer,
    now: datetime,
) -> list[dict[str, Any]]:
    """The profile rows of a submission's mapped answers (restricted ones sealed). The
    submission's write keeps them only if, when it runs, the resident consents. An answer
    the element's own schema (``element_schemas``) refuses is not kept: a field may take
    more than its element (free text mapped to a date, a VA date with unknown parts such as
    ``XXXX-05-XX``), and such an answer must not be prefilled as the element elsewhere."""
    restricted = {tuple(t) for t in version.compiled.restricted}
    rows: dict[str, dict[str, Any]] = {}
    for f in version.fields:
        if not f.element or WILDCARD in f.tokens or f.element in rows:
            continue
        found, value = get_at(answers, f.tokens)
        if not found or value is None or isinstance(value, dict | list):
            continue
        if not _element_accepts(f.element, element_schemas.get(f.element), value):
            continue
        rows[f.element] = _row(
            owner,
            f.element,
            value,
            sealer,
            f.tokens in restricted,
            now,
            version.form,
            version.version,
        )
    return list(rows.values())


async def prefill(
    session: AsyncSession, owner: str, version: FormVersion, sealer: AnswerSealer
) -> tuple[dict[str, Any], list[str]]:
    """Answers for a new draft from the profile: every field mapped to a known element. Only
    while the resident consents: values without consent are never used (withdrawing erases
    them, but whatever is found is not trusted to have been)."""
    kept = await repository.get(session, owner)
    if kept is None or not kept.keep:
        return {}, []
    rows = {row.element: row for row in await repository.values(session, owner)}
    answers: dict[str, Any] = {}
    filled: list[str] = []
    for f in version.fields:
        if not f.element or WILDCARD in f.tokens or not f.tokens:
            continue
        row = rows.get(f.element)
        if row is None:
            continue
        set_at(answers, f.tokens, _plain(row, sealer))
        filled.append(f.pointer)
    return answers, filled
