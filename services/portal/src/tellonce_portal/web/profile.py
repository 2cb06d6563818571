"""The resident's profile: the element values kept for prefill, consent, changing or removing
one kept value, and erasing everything (after a confirmation page).

A kept value is changed on a page of its own that asks the one question the element's JSON
Schema makes, drawn and read by the form engine (``forms/``) as any form's question: the
element's schema is wrapped as the property ``value`` of a small object schema, so the
question's pointer is ``/value`` (its parts ``/value/street``...), which is also where the
API's 422 errors point (``PUT /api/v1/profile/values/{element}`` takes ``{"value": ...}``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form
from starlette.responses import Response

from tellonce_portal.api import ApiError, ApiUnavailable, Element, Gateway, ProfileValue, seg
from tellonce_portal.deps import PageContext, PageDep
from tellonce_portal.forms import pointers
from tellonce_portal.forms.model import Field, FieldError
from tellonce_portal.forms.parse import parse_fields
from tellonce_portal.forms.render import FieldState, error_summary, render_fields
from tellonce_portal.forms.schema import FormDefinition
from tellonce_portal.forms.validate import from_api, message_for, on_fields, validate
from tellonce_portal.i18n import Translator
from tellonce_portal.templating import environment
from tellonce_portal.web.fill import PageMissing, merge_errors

router = APIRouter()

VALUE = "/value"
"""The pointer of the one question on a change page (the wrapper schema's property)."""
DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The registry checks element schemas as 2020-12."""


def value_path(element: str) -> str:
    """The change page of ``element`` (the id as one percent-encoded path segment)."""
    return f"/profile/values/{seg(element)}"


def question_schema(element_schema: dict[str, Any]) -> dict[str, Any]:
    """The element's schema as the one required property ``value`` of an object: what the
    form engine draws and checks, and the shape the API's ``{"value": ...}`` body has."""
    inner = {k: v for k, v in element_schema.items() if k not in ("$schema", "$id")}
    dialect = element_schema.get("$schema")
    return {
        "$schema": dialect if isinstance(dialect, str) else DIALECT,
        "type": "object",
        "properties": {"value": inner},
        "required": ["value"],
    }


def changeable(question: Field | None) -> bool:
    """Whether the page can ask for the element's value: a question was built from its
    schema (none for a schema without a ``type``, say), and it is not a list of items
    (added and removed one by one on a form's pages, not here) nor a fixed hidden value."""
    if question is None or question.kind == "hidden":
        return False
    return all(f.kind != "repeat" for f in question.walk())


@dataclass
class KeptValue:
    """One kept value and the question that changes it."""

    gateway: Gateway
    kept: ProfileValue
    element: Element
    label: str
    defn: FormDefinition
    question: Field | None
    """None: this element's value cannot be changed here (it can still be removed)."""

    @property
    def fields(self) -> list[Field]:
        return [self.question] if self.question is not None else []

    def current(self) -> dict[str, Any]:
        """The answers the page starts with: the kept value, except a masked one (what the
        API shows of a restricted value is not the value: the inputs start empty)."""
        if self.kept.masked or self.kept.value is None:
            return {}
        return self.defn.as_shown({"value": self.kept.value})


async def load_value(ctx: PageContext, element: str) -> KeptValue:
    """The resident's kept value of ``element`` and its question; a 404 page when the
    profile holds no value for it."""
    ctx.require("resident")
    gateway = await ctx.api()
    kept = (await gateway.profile()).value_of(element)
    if kept is None:
        raise PageMissing()
    try:
        found = await gateway.element(element)
    except ApiError as exc:
        if exc.status != 404:
            raise
        found = Element(id=element, label={}, schema=None)  # no longer in the dictionary
    label = found.localized_label(ctx.locale)
    hints = []
    if found.description and ctx.locale == "en":
        hints.append(found.description)  # the dictionary's descriptions are in English
    if kept.masked:
        hints.append(ctx.t("profile_masked_hint"))
    spec: dict[str, Any] = {"label": found.label or label}
    options = found.option_labels()
    if options:  # the choices by their labels in the page's language, not their raw values
        spec["options"] = options
    if hints:
        spec["hint"] = " ".join(hints)
    defn = FormDefinition(
        question_schema(found.schema or {}),
        {"fields": {VALUE: spec}},
        title=label,
        locale=ctx.locale,
    )
    question = defn.field_for(VALUE, {}) if found.schema is not None else None
    return KeptValue(
        gateway=gateway,
        kept=kept,
        element=found,
        label=label,
        defn=defn,
        question=question if changeable(question) else None,
    )


def render_value(
    ctx: PageContext,
    kv: KeptValue,
    answers: dict[str, Any],
    errors: list[FieldError],
    raw: dict[str, str],
    status: int = 200,
) -> Response:
    fields = kv.fields
    state = FieldState.build(answers, errors, raw, (), fields)
    path = value_path(kv.kept.element)
    return ctx.render(
        "profile_value.html",
        status=status,
        label=kv.label,
        changeable=bool(fields),
        fields_html=render_fields(environment(), fields, state, ctx.t),
        summary=error_summary(errors, fields, answers),
        action=path,
        remove_action=f"{path}/remove",
    )


@router.get("/profile")
async def profile(ctx: PageDep) -> Response:
    ctx.require("resident")
    gateway = await ctx.api()
    kept = await gateway.profile()
    dictionary: dict[str, Element] = {}
    if kept.values:
        try:  # each kept value named by its element's label, in the page's language
            dictionary = await gateway.elements()
        except (ApiError, ApiUnavailable):
            dictionary = {}  # the element's id and the raw value, rather than no page
    labels = {
        v.element: dictionary[v.element].localized_label(ctx.locale)
        for v in kept.values
        if v.element in dictionary
    }
    choices = {
        v.element: text
        for v in kept.values
        if (text := choice_text(v, dictionary, ctx.locale) or shown_value(v, dictionary, ctx.t))
    }
    links = {v.element: value_path(v.element) for v in kept.values}
    # In the order of what the resident reads: by label (the API's order is the elements' ids).
    kept.values.sort(key=lambda v: (labels.get(v.element) or v.element).casefold())
    return ctx.render("profile.html", profile=kept, labels=labels, choices=choices, links=links)


def shown_value(kept: ProfileValue, dictionary: dict[str, Element], t: Translator) -> str | None:
    """A kept date or number as the forms show it ("3 February 1985", "2,150.5"), by its
    element's schema; None to show the value as it is (acceptance review: "1985-02-03")."""
    element = dictionary.get(kept.element)
    schema = element.schema if element is not None else None
    if kept.masked or not isinstance(schema, dict):
        return None
    value = kept.value
    if schema.get("format") == "date" and isinstance(value, str) and value:
        return t.date(value)
    if schema.get("type") in ("number", "integer") and isinstance(value, int | float):
        return t.number(value, places=2)
    return None


def choice_text(kept: ProfileValue, dictionary: dict[str, Element], locale: str) -> str | None:
    """A kept choice as the page shows it: its option label in ``locale`` (English when it has
    none in that language); None to show the value itself (no label, not a choice, or a
    masked value: what the API shows of a restricted value is not the value)."""
    element = dictionary.get(kept.element)
    if element is None or kept.masked or isinstance(kept.value, dict | list):
        return None
    return element.option_label(kept.value, locale)


@router.get("/profile/values/{element}")
async def change_value(ctx: PageDep, element: str) -> Response:
    kv = await load_value(ctx, element)
    return render_value(ctx, kv, kv.current(), [], {})


@router.post("/profile/values/{element}")
async def save_value(ctx: PageDep, element: str) -> Response:
    kv = await load_value(ctx, element)
    fields = kv.fields
    if not fields:
        return ctx.redirect(value_path(element))
    posted = await ctx.request.form()
    data = {key: [str(v) for v in posted.getlist(key)] for key in posted if key.startswith("/")}
    # The posted question replaces the kept value whole (never merged into a masked one).
    result = parse_fields(fields, data, {}, ctx.locale)
    kv.defn.drop_other_types(result.answers, [VALUE])
    answers: dict[str, Any] = pointers.prune(result.answers)
    found = validate(kv.defn.schema, answers, fields, ctx.locale)
    errors = merge_errors(result.errors, on_fields(found, fields, ctx.locale, answers))
    if errors:
        return render_value(ctx, kv, answers, errors, result.raw, 422)
    try:
        await kv.gateway.correct_profile_value(element, answers["value"])
    except ApiError as exc:
        if exc.status == 409:  # keeping answers is turned off
            ctx.session.warning = ctx.t("profile_no_consent")
            ctx.session.dirty = True
            return ctx.redirect("/profile")
        if exc.status not in (400, 422):
            raise
        refused = on_fields(from_api(exc.errors), fields, ctx.locale, answers)
        if not refused:
            message = message_for("check", None, kv.question, VALUE, ctx.locale)
            refused = [FieldError(VALUE, message)]
        return render_value(ctx, kv, answers, refused, result.raw, 422)
    ctx.session.flash = ctx.t("profile_value_saved", label=kv.label)
    ctx.session.dirty = True
    return ctx.redirect("/profile")


@router.post("/profile/values/{element}/remove")
async def remove_value(ctx: PageDep, element: str) -> Response:
    ctx.require("resident")
    gateway = await ctx.api()
    try:
        await gateway.remove_profile_value(element)
    except ApiError as exc:
        if exc.status != 404:
            raise
        # Nothing kept for it (a second click, another tab): removed all the same.
    try:
        label = (await gateway.element(element)).localized_label(ctx.locale)
    except (ApiError, ApiUnavailable):
        label = element
    ctx.session.flash = ctx.t("profile_value_removed", label=label)
    ctx.session.dirty = True
    return ctx.redirect("/profile")


@router.post("/profile/consent")
async def consent(ctx: PageDep, keep: Annotated[str | None, Form()] = None) -> Response:
    ctx.require("resident")
    await (await ctx.api()).set_consent(keep == "yes")
    ctx.session.flash = ctx.t("consent_saved")
    ctx.session.dirty = True
    return ctx.redirect("/profile")


@router.get("/profile/erase")
async def confirm_erase(ctx: PageDep) -> Response:
    """What erasing everything does, before it is done: the page's form posts below."""
    ctx.require("resident")
    return ctx.render("profile_erase.html")


@router.post("/profile/erase")
async def erase(ctx: PageDep) -> Response:
    ctx.require("resident")
    await (await ctx.api()).erase_profile()
    ctx.session.flash = ctx.t("erased")
    ctx.session.dirty = True
    return ctx.redirect("/profile")
