"""Data-sharing agreements: an agency receives named fields of a form, for a stated purpose and
legal basis. Checked against the form's fields; the owning agency always receives everything,
so it needs none."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.agencies import repository as agencies
from tellonce_registry.agreements import repository
from tellonce_registry.agreements.schemas import AgreementCreate, AgreementOut
from tellonce_registry.forms import repository as forms
from tellonce_registry.models import Agreement, FormField, FormVersion, as_utc
from tellonce_shared.problems import Conflict, NotFound, ValidationFailed


def resolve(names: Iterable[str], fields: list[FormField]) -> list[str]:
    """Agreement entries as pointers of one version (element ids -> their mapped fields)."""
    pointers = {f.pointer for f in fields}
    by_element: dict[str, list[str]] = {}
    for f in fields:
        if f.element_id:
            by_element.setdefault(f.element_id, []).append(f.pointer)
    out: list[str] = []
    for name in names:
        found = (
            ([name] if name in pointers else [])
            if name.startswith("/")
            else by_element.get(name, [])
        )
        for pointer in found:
            if pointer not in out:
                out.append(pointer)
    return out


def to_out(agreement: Agreement, slug: str, pointers: list[str] | None) -> AgreementOut:
    return AgreementOut(
        id=agreement.id,
        agency=agreement.agency_code,
        form=slug,
        fields=list(agreement.fields),
        pointers=pointers,
        purpose=agreement.purpose,
        legal_basis=agreement.legal_basis,
        created_at=as_utc(agreement.created_at) or agreement.created_at,
    )


async def _reference_version(session: AsyncSession, form_id: int) -> FormVersion | None:
    return await forms.latest_published(session, form_id) or await forms.newest_version(
        session, form_id
    )


async def create(session: AsyncSession, data: AgreementCreate) -> AgreementOut:
    errors: list[dict[str, str]] = []
    if await agencies.get(session, data.agency) is None:
        errors.append({"pointer": "/agency", "message": f"No agency {data.agency}."})
    form = await forms.get_form(session, data.form)
    if form is None:
        errors.append({"pointer": "/form", "message": f"No form {data.form}."})
    if errors or form is None:
        raise ValidationFailed("The agreement names what does not exist.", errors=errors)
    if form.agency_code == data.agency:
        raise ValidationFailed(
            "The owning agency always receives the whole form.",
            errors=[
                {
                    "pointer": "/agency",
                    "message": f"{data.agency} owns {form.slug}; it needs no agreement.",
                }
            ],
        )
    version = await _reference_version(session, form.id)
    if version is None:
        raise ValidationFailed(
            "The form has no version to check the fields against.",
            errors=[{"pointer": "/form", "message": f"{form.slug} has no version yet."}],
        )
    fields = await forms.fields_of(session, version.id)
    pointers = {f.pointer for f in fields}
    elements = {f.element_id for f in fields if f.element_id}
    for i, name in enumerate(data.fields):
        if name.startswith("/"):
            if name not in pointers:
                errors.append(
                    {
                        "pointer": f"/fields/{i}",
                        "message": f"Version {version.number} of {form.slug} has no field"
                        f" {name!r}.",
                    }
                )
        elif name not in elements:
            errors.append(
                {
                    "pointer": f"/fields/{i}",
                    "message": f"No field of {form.slug} version {version.number} is mapped to"
                    f" the element {name!r}.",
                }
            )
    if len(set(data.fields)) != len(data.fields):
        errors.append({"pointer": "/fields", "message": "A field is named twice."})
    if errors:
        raise ValidationFailed("The agreement names fields the form does not have.", errors=errors)
    if await repository.find(session, form.id, data.agency) is not None:
        raise Conflict(f"{data.agency} already has an agreement on {form.slug}.")
    agreement = Agreement(
        agency_code=data.agency,
        form_id=form.id,
        fields=list(data.fields),
        purpose=data.purpose,
        legal_basis=data.legal_basis,
    )
    repository.add(session, agreement)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{data.agency} already has an agreement on {form.slug}.") from exc
    return to_out(agreement, form.slug, resolve(agreement.fields, fields))


async def page(
    session: AsyncSession,
    *,
    form_slug: str | None,
    agency: str | None,
    version_number: int | None,
    after: int | None,
    limit: int,
    public_only: bool = False,
) -> tuple[list[AgreementOut], str | None, int | None]:
    """Agreements (``limit + 1`` fetched), the owning agency and the version resolved against.
    ``public_only`` (anyone but an admin): only agreements on forms residents can see, those
    with a published or retired version; a form with drafts only is a 404, as it is at
    ``GET /forms/{slug}``."""
    form_id = None
    fields: list[FormField] | None = None
    owner = None
    resolved_version = None
    if form_slug is not None:
        form = await forms.get_form(session, form_slug)
        if form is None or (public_only and not await repository.form_is_public(session, form.id)):
            raise NotFound(f"No form {form_slug}.")
        form_id, owner = form.id, form.agency_code
        if version_number is not None:
            version = await forms.get_version(session, form.id, version_number)
            if version is None or version.status == "draft":
                raise NotFound(f"The form {form_slug} has no published version {version_number}.")
        else:
            version = await forms.latest_published(session, form.id)
        if version is not None:
            fields = await forms.fields_of(session, version.id)
            resolved_version = version.number
    rows = await repository.page(
        session,
        form_id=form_id,
        agency=agency,
        after=after,
        limit=limit + 1,
        public_only=public_only,
    )
    items = [
        to_out(a, slug, resolve(a.fields, fields) if fields is not None else None)
        for a, slug in rows
    ]
    return items, owner, resolved_version


async def get(
    session: AsyncSession, agreement_id: int, *, public_only: bool = False
) -> AgreementOut:
    agreement = await repository.get(session, agreement_id)
    if agreement is None or (
        public_only and not await repository.form_is_public(session, agreement.form_id)
    ):
        raise NotFound(f"No agreement {agreement_id}.")
    form = await forms.get_form_by_id(session, agreement.form_id)
    return to_out(agreement, form.slug, None)


async def delete(session: AsyncSession, agreement_id: int) -> None:
    agreement = await repository.get(session, agreement_id, for_update=True)
    if agreement is None:
        raise NotFound(f"No agreement {agreement_id}.")
    await repository.delete(session, agreement)
