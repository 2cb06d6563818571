"""The public API, as the portal uses it through the gateway. The one module that knows the
other services' response shapes: everything else reads the small records defined here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from tellonce_shared.http import service_client


class ApiError(Exception):
    """A 4xx answer the page can explain (problem+json or RFC 6749 error)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        detail = self.body.get("detail") or self.body.get("error_description") or ""
        super().__init__(f"{status} {detail}".strip())

    @property
    def detail(self) -> str:
        return str(self.body.get("detail") or self.body.get("error_description") or "")

    @property
    def errors(self) -> list[dict[str, str]]:
        raw = self.body.get("errors")
        return [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []


class ApiUnavailable(Exception):
    """The gateway or a service behind it did not answer, or answered 5xx."""


class SignInRequired(Exception):
    """The API said 401: the session is gone or was never there."""


@dataclass
class LeftOut:
    """A field of a cluster a confirmation did not map, whose it is and why (the registry's
    words)."""

    form: str
    pointer: str
    whose: str
    reason: str


@dataclass
class Confirmation:
    """A recorded confirmation: the (form, pointer) of the fields mapped to ``element`` and the
    cluster's fields left out."""

    element: str
    fields: list[tuple[str, str]]
    left_out: list[LeftOut]


def _confirmation(body: dict[str, Any], element: str) -> Confirmation:
    def text(value: Any) -> str:
        return value if isinstance(value, str) else ""

    fields = [
        (text(f.get("form")), text(f.get("pointer")))
        for f in body.get("fields") or []
        if isinstance(f, dict)
    ]
    left_out = [
        LeftOut(
            form=text(f.get("form")),
            pointer=text(f.get("pointer")),
            whose=text(f.get("whose")),
            reason=text(f.get("reason")),
        )
        for f in body.get("left_out") or []
        if isinstance(f, dict)
    ]
    return Confirmation(
        element=text(body.get("element")) or element, fields=fields, left_out=left_out
    )


@dataclass
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_in: int


@dataclass
class Me:
    sub: str
    role: str
    email: str | None = None
    full_name: str | None = None
    agency: str | None = None


@dataclass
class Agency:
    code: str
    name: str


@dataclass
class FormSummary:
    slug: str
    agency: str
    title: str
    description: str = ""
    minutes: int | None = None
    topic: str | None = None
    latest_version: int | None = None
    title_es: str | None = None
    description_es: str | None = None

    def localized_title(self, locale: str) -> str:
        return (self.title_es if locale == "es" and self.title_es else None) or self.title

    def localized_description(self, locale: str) -> str:
        return (
            self.description_es if locale == "es" and self.description_es else None
        ) or self.description

    def title_lang(self, locale: str) -> str | None:
        """``"en"`` when :meth:`localized_title` is the catalog's English title on a page in
        another language (marked ``lang="en"``: WCAG 3.1.2), else None."""
        return None if locale == "en" or (locale == "es" and self.title_es) else "en"

    def description_lang(self, locale: str) -> str | None:
        """As :meth:`title_lang`, for :meth:`localized_description`."""
        return None if locale == "en" or (locale == "es" and self.description_es) else "en"


@dataclass
class FormVersion:
    slug: str
    version: int
    schema: dict[str, Any]
    ui: Any
    status: str = "published"


@dataclass
class Agreement:
    agency: str
    fields: list[str]
    purpose: str = ""
    legal_basis: str = ""
    form: str = ""


@dataclass
class VersionSummary:
    version: int
    status: str
    breaking: bool
    created_at: str | None
    published_at: str | None


@dataclass
class VersionReport:
    """What the registry says about a new version: the breaking-change report."""

    version: int
    status: str
    breaking: bool
    changes: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    fields: int


@dataclass
class Sharing:
    owner: str | None
    agreements: list[Agreement]


@dataclass
class Draft:
    id: str
    form: str
    version: int
    answers: dict[str, Any]
    prefilled: list[str] = field(default_factory=list)
    updated_at: str | None = None


@dataclass
class TimelineEntry:
    at: str
    agency: str | None
    status: str
    message: str | None


@dataclass
class DeliverySummary:
    agency: str
    fields: list[str]
    status: str


@dataclass
class Submission:
    id: str
    reference: str
    form: str
    version: int
    submitted_at: str
    status: str = ""
    deliveries: list[DeliverySummary] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    answers: dict[str, Any] | None = None


@dataclass
class ProfileValue:
    element: str
    value: Any
    masked: bool
    source_form: str | None


@dataclass
class Profile:
    keep: bool
    values: list[ProfileValue]

    def value_of(self, element: str) -> ProfileValue | None:
        """The kept value of ``element``, if the profile holds one."""
        return next((v for v in self.values if v.element == element), None)


@dataclass
class Element:
    """One data element of the registry's dictionary (``GET /api/v1/elements/{id}``)."""

    id: str
    label: dict[str, str]
    """``{"en": ..., "es": ...}``."""
    schema: dict[str, Any] | None
    """The element's JSON Schema (None when the registry gives none)."""
    sensitivity: str = "personal"
    description: str | None = None
    options: dict[str, dict[str, str]] = field(default_factory=dict)
    """Labels of the schema's enum values, ``{"<value>": {"en": ..., "es": ...}}``: a string
    value is its own key, any other its JSON text (``option_key``)."""

    def localized_label(self, locale: str) -> str:
        return self.label.get(locale) or self.label.get("en") or self.id

    def option_label(self, value: Any, locale: str) -> str | None:
        """The label of the choice ``value`` in ``locale`` (English when it has none in that
        language); None when the dictionary labels no such choice."""
        key = option_key(value)
        labels = self.options.get(key) if key is not None else None
        if not labels:
            return None
        return labels.get(locale) or labels.get("en")

    def option_labels(self) -> dict[str, dict[str, str]]:
        """The labels of the schema's enum values keyed as the form engine reads a UI
        document's ``options`` (``str(value)``), for the values the dictionary labels."""
        enum = (self.schema or {}).get("enum")
        if not isinstance(enum, list):
            return {}
        out: dict[str, dict[str, str]] = {}
        for value in enum:
            key = option_key(value)
            if key is not None and key in self.options:
                out[str(value)] = self.options[key]
        return out


def option_key(value: Any) -> str | None:
    """The key of an enum value in an element's ``options`` (the registry's rule): a string
    is its own key, a number, ``true``, ``false`` or ``null`` its JSON text; an object or an
    array has none."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


@dataclass
class Delivery:
    """One delivery to the staff member's agency: only the fields its agreement names."""

    id: str
    submission_id: str
    reference: str
    form: str
    version: int | None
    status: str
    submitted_at: str | None
    answers: dict[str, Any]
    share_purged_at: str | None = None
    """When the submissions service erased the agency's copy of the answers under its
    retention rule (``answers`` is then empty: there is nothing to show, not "no answers")."""


@dataclass
class Endpoint:
    id: str
    url: str
    status: str
    disabled_reason: str | None = None
    secret: str | None = None
    """Only when just created or rotated: shown once."""


@dataclass
class DeadLetter:
    id: str
    reference: str
    form: str
    attempts: int
    last_error: str | None
    created_at: str | None
    share_purged_at: str | None = None
    """Set once the share was erased: the API refuses its replay (410)."""


@dataclass
class DeliveryPage:
    items: list[Delivery]
    next_cursor: str | None
    """The next page: older deliveries."""
    prev_cursor: str | None = None
    """The page before: newer deliveries (``None`` on the first page)."""


@dataclass
class DeadLetterPage:
    items: list[DeadLetter]
    next_cursor: str | None
    prev_cursor: str | None = None


@dataclass
class Download:
    content: bytes
    media_type: str
    filename: str


def seg(value: object) -> str:
    """One path segment of an API URL from a value the user controls (a URL path parameter of
    the portal): percent-encoded whole, so ``/``, ``?``, ``#``, ``%`` or control characters
    cannot change which API path is called (nor make the HTTP client refuse the URL), and a
    ``.`` or ``..`` is sent encoded, never as a dot segment."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _cursor(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) and value else None


def _s(doc: Mapping[str, Any], key: str, default: str = "") -> str:
    value = doc.get(key)
    return default if value is None else str(value)


def _texts(value: Any) -> dict[str, str]:
    """A ``{"en": ..., "es": ...}`` label, read tolerantly (only non-empty strings)."""
    return {k: v for k, v in _obj(value).items() if isinstance(v, str) and v}


def _element(body: dict[str, Any], element: str) -> Element:
    schema = body.get("schema")
    description = body.get("description")
    options = {k: _texts(v) for k, v in _obj(body.get("options")).items()}
    return Element(
        id=_s(body, "id", element),
        label=_texts(body.get("label")),
        schema=schema if isinstance(schema, dict) else None,
        sensitivity=_s(body, "sensitivity", "personal"),
        description=description if isinstance(description, str) and description else None,
        options={k: v for k, v in options.items() if v},
    )


def _submission(doc: dict[str, Any]) -> Submission:
    return Submission(
        id=_s(doc, "id"),
        reference=_s(doc, "reference"),
        form=_s(doc, "form"),
        version=int(doc.get("version") or 0),
        submitted_at=_s(doc, "submitted_at"),
        status=_s(doc, "status"),
        deliveries=[
            DeliverySummary(
                agency=_s(d, "agency"), fields=list(d.get("fields") or []), status=_s(d, "status")
            )
            for d in doc.get("deliveries") or []
            if isinstance(d, dict)
        ],
        timeline=[
            TimelineEntry(
                at=_s(t, "at"),
                agency=t.get("agency"),
                status=_s(t, "status"),
                message=t.get("message"),
            )
            for t in doc.get("timeline") or []
            if isinstance(t, dict)
        ],
        answers=doc.get("answers") if isinstance(doc.get("answers"), dict) else None,
    )


def _draft(doc: dict[str, Any]) -> Draft:
    return Draft(
        id=_s(doc, "id"),
        form=_s(doc, "form"),
        version=int(doc.get("version") or 0),
        answers=_obj(doc.get("answers")),
        prefilled=[p for p in doc.get("prefilled") or [] if isinstance(p, str)],
        updated_at=doc.get("updated_at"),
    )


def _delivery(doc: dict[str, Any]) -> Delivery:
    data = doc.get("data") if isinstance(doc.get("data"), dict) else doc
    assert isinstance(data, dict)
    answers = data.get("answers") if isinstance(data.get("answers"), dict) else {}
    version = data.get("version")
    return Delivery(
        id=_s(doc, "id") or _s(data, "delivery_id"),
        submission_id=_s(data, "submission_id") or _s(doc, "submission_id"),
        reference=_s(data, "reference"),
        form=_s(data, "form"),
        version=int(version) if isinstance(version, int) else None,
        status=_s(doc, "status"),
        submitted_at=data.get("submitted_at") or doc.get("created_at"),
        answers=answers or {},
        share_purged_at=_purged(data) or _purged(doc),
    )


def _purged(doc: Mapping[str, Any]) -> str | None:
    value = doc.get("share_purged_at")
    return str(value) if value else None


class PublishedVersions:
    """Published form versions never change, so the portal keeps the last few it read
    (every page of a form needs its schema) instead of asking the registry each time."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self.items: dict[tuple[str, int], FormVersion] = {}

    def get(self, slug: str, version: int) -> FormVersion | None:
        return self.items.get((slug, version))

    def put(self, item: FormVersion) -> None:
        if item.status != "published":
            return
        if len(self.items) >= self.size:
            self.items.pop(next(iter(self.items)))
        self.items[(item.slug, item.version)] = item


PUBLISHED = PublishedVersions()


class Gateway:
    """Calls the gateway as one user (their bearer token), or anonymously."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        token: str | None = None,
        forwarded_for: str | None = None,
    ) -> None:
        self.client = client
        self.token = token
        self.forwarded_for = forwarded_for
        """The resident's address chain, so the gateway's per-address limits see them and not
        the portal (the gateway believes it only from a trusted proxy)."""

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.forwarded_for:
            headers["X-Forwarded-For"] = self.forwarded_for
        if extra:
            headers.update(extra)
        return headers

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
    ) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            resp = await self.client.request(
                method, path, json=json, data=data, params=clean, headers=self._headers(headers)
            )
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"{method} {path}: {exc.__class__.__name__}") from exc
        if resp.status_code == 401 and self.token:
            raise SignInRequired()
        if resp.status_code >= 500:
            raise ApiUnavailable(f"{method} {path}: {resp.status_code}")
        if 300 <= resp.status_code < 400:
            # The API redirects only a path it does not serve as written (a trailing-slash
            # redirect, say): for the page, that resource is not there.
            raise ApiError(404, {"detail": ""})
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {"detail": resp.text[:500]}
            raise ApiError(resp.status_code, body)
        if raw:
            return resp
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise ApiUnavailable(f"{method} {path}: not JSON") from exc

    # -- identity -------------------------------------------------------------------------

    async def password_grant(self, client_id: str, email: str, password: str) -> TokenSet:
        body = await self._call(
            "POST",
            "/api/v1/identity/token",
            data={
                "grant_type": "password",
                "username": email,
                "password": password,
                "client_id": client_id,
            },
        )
        return self._tokens(body)

    async def refresh_grant(self, client_id: str, refresh_token: str) -> TokenSet:
        body = await self._call(
            "POST",
            "/api/v1/identity/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
            },
        )
        return self._tokens(body)

    @staticmethod
    def _tokens(body: Any) -> TokenSet:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ApiUnavailable("the token endpoint answered without an access token")
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_in=int(body.get("expires_in") or 900),
        )

    async def revoke(self, client_id: str, refresh_token: str) -> None:
        await self._call(
            "POST",
            "/api/v1/identity/revoke",
            data={"token": refresh_token, "client_id": client_id},
        )

    async def sign_up(self, email: str, password: str, full_name: str) -> None:
        await self._call(
            "POST",
            "/api/v1/identity/residents",
            json={"email": email, "password": password, "full_name": full_name},
        )

    async def me(self) -> Me:
        body = await self._call("GET", "/api/v1/identity/me")
        return Me(
            sub=_s(body, "sub"),
            role=_s(body, "role", "resident"),
            email=body.get("email"),
            full_name=body.get("full_name"),
            agency=body.get("agency"),
        )

    # -- catalog --------------------------------------------------------------------------

    async def agencies(self) -> list[Agency]:
        body = await self._call("GET", "/api/v1/agencies", params={"limit": 100})
        return [
            Agency(code=_s(a, "code"), name=_s(a, "name"))
            for a in (body or {}).get("items") or []
            if isinstance(a, dict)
        ]

    async def forms(self, agency: str | None = None, q: str | None = None) -> list[FormSummary]:
        body = await self._call(
            "GET", "/api/v1/forms", params={"agency": agency, "q": q, "limit": 100}
        )
        return [self._form(f) for f in (body or {}).get("items") or [] if isinstance(f, dict)]

    async def form(self, slug: str) -> FormSummary:
        return self._form(_obj(await self._call("GET", f"/api/v1/forms/{seg(slug)}")))

    @staticmethod
    def _form(doc: dict[str, Any]) -> FormSummary:
        i18n = _obj(doc.get("i18n"))
        es = _obj(i18n.get("es"))
        title_es = doc.get("title_es") or es.get("title")
        return FormSummary(
            slug=_s(doc, "slug"),
            agency=_s(doc, "agency"),
            title=_s(doc, "title"),
            description=_s(doc, "description"),
            minutes=doc.get("minutes") if isinstance(doc.get("minutes"), int) else None,
            topic=doc.get("topic"),
            latest_version=doc.get("latest_version"),
            title_es=title_es if isinstance(title_es, str) else None,
            description_es=(doc.get("description_es") or es.get("description")) or None,
        )

    async def version(self, slug: str, version: int | str = "latest") -> FormVersion:
        if isinstance(version, int):
            cached = PUBLISHED.get(slug, version)
            if cached is not None:
                return cached
        body = _obj(await self._call("GET", f"/api/v1/forms/{seg(slug)}/versions/{seg(version)}"))
        raw_schema = body.get("schema")
        schema: dict[str, Any] = raw_schema if isinstance(raw_schema, dict) else {}
        found = FormVersion(
            slug=slug,
            version=int(body.get("version") or 0),
            schema=schema,
            ui=body.get("ui"),
            status=_s(body, "status", "published"),
        )
        PUBLISHED.put(found)
        return found

    async def field_elements(self, slug: str, version: int) -> dict[str, str]:
        """Pointer -> data element of the version's mapped fields (the registry's fields
        document: ``x-element`` and the mappings an auditor confirmed since, which the
        profile's prefill uses too). Never kept: a confirmation changes it."""
        body = _obj(
            await self._call("GET", f"/api/v1/forms/{seg(slug)}/versions/{seg(version)}/fields")
        )
        return {
            item["pointer"]: item["element"]
            for item in body.get("items") or []
            if isinstance(item, dict)
            and isinstance(item.get("pointer"), str)
            and isinstance(item.get("element"), str)
        }

    async def sharing(self, slug: str, version: int | None = None) -> Sharing:
        body = await self._call(
            "GET", "/api/v1/agreements", params={"form": slug, "version": version, "limit": 100}
        )
        owner = body.get("owner") if isinstance(body.get("owner"), dict) else None
        return Sharing(
            owner=_s(owner, "agency") if owner else None,
            agreements=[
                Agreement(
                    agency=_s(a, "agency"),
                    fields=list(a.get("pointers") or a.get("fields") or []),
                    purpose=_s(a, "purpose"),
                    legal_basis=_s(a, "legal_basis"),
                )
                for a in body.get("items") or []
                if isinstance(a, dict)
            ],
        )

    # -- catalog administration (admins) --------------------------------------------------

    async def add_agency(self, code: str, name: str) -> None:
        await self._call("POST", "/api/v1/agencies", json={"code": code, "name": name})

    async def all_forms(self) -> list[FormSummary]:
        body = await self._call("GET", "/api/v1/forms", params={"all": "true", "limit": 100})
        return [self._form(f) for f in _obj(body).get("items") or [] if isinstance(f, dict)]

    async def add_form(self, doc: dict[str, Any]) -> None:
        await self._call("POST", "/api/v1/forms", json=doc)

    async def form_versions(self, slug: str) -> list[VersionSummary]:
        body = _obj(await self._call("GET", f"/api/v1/forms/{seg(slug)}"))
        return [
            VersionSummary(
                version=int(v.get("version") or 0),
                status=_s(v, "status"),
                breaking=bool(v.get("breaking")),
                created_at=v.get("created_at"),
                published_at=v.get("published_at"),
            )
            for v in body.get("versions") or []
            if isinstance(v, dict)
        ]

    async def add_version(self, slug: str, schema: Any, ui: Any) -> VersionReport:
        body: dict[str, Any] = {"schema": schema}
        if ui is not None:
            body["ui"] = ui
        doc = _obj(await self._call("POST", f"/api/v1/forms/{seg(slug)}/versions", json=body))
        return VersionReport(
            version=int(doc.get("version") or 0),
            status=_s(doc, "status"),
            breaking=bool(doc.get("breaking")),
            changes=[c for c in doc.get("changes") or [] if isinstance(c, dict)],
            warnings=[w for w in doc.get("warnings") or [] if isinstance(w, dict)],
            fields=int(doc.get("fields") or 0),
        )

    async def lifecycle(self, slug: str, version: int, action: str) -> None:
        await self._call("POST", f"/api/v1/forms/{seg(slug)}/versions/{version}/{seg(action)}")

    async def agreements(self) -> list[Agreement]:
        body = _obj(await self._call("GET", "/api/v1/agreements", params={"limit": 100}))
        return [
            Agreement(
                agency=_s(a, "agency"),
                fields=list(a.get("fields") or []),
                purpose=_s(a, "purpose"),
                legal_basis=_s(a, "legal_basis"),
                form=_s(a, "form"),
            )
            for a in body.get("items") or []
            if isinstance(a, dict)
        ]

    async def add_agreement(self, doc: dict[str, Any]) -> None:
        await self._call("POST", "/api/v1/agreements", json=doc)

    # -- drafts and submissions -----------------------------------------------------------

    async def create_draft(self, form: str, version: int | None, prefill: bool) -> Draft:
        body: dict[str, Any] = {"form": form, "prefill": prefill}
        if version:
            body["version"] = version
        return _draft(await self._call("POST", "/api/v1/drafts", json=body))

    async def draft(self, draft_id: str) -> Draft:
        return _draft(await self._call("GET", f"/api/v1/drafts/{seg(draft_id)}"))

    async def drafts(self) -> list[Draft]:
        body = await self._call("GET", "/api/v1/drafts")
        return [_draft(d) for d in (body or {}).get("items") or [] if isinstance(d, dict)]

    async def save_draft(self, draft_id: str, answers: dict[str, Any]) -> Draft:
        return _draft(
            await self._call("PATCH", f"/api/v1/drafts/{seg(draft_id)}", json={"answers": answers})
        )

    async def submit(
        self, form: str, version: int, answers: dict[str, Any], draft_id: str, key: str
    ) -> Submission:
        body = await self._call(
            "POST",
            "/api/v1/submissions",
            json={"form": form, "version": version, "answers": answers, "draft": draft_id},
            headers={"Idempotency-Key": key},
        )
        return _submission(body)

    async def submissions(self) -> list[Submission]:
        body = await self._call("GET", "/api/v1/submissions", params={"limit": 100})
        return [_submission(s) for s in (body or {}).get("items") or [] if isinstance(s, dict)]

    async def submission(self, id_or_reference: str) -> Submission:
        path = f"/api/v1/submissions/{seg(id_or_reference)}"
        return _submission(await self._call("GET", path))

    async def receipt(
        self, submission_id: str, lang: str = "en", *, head: bool = False
    ) -> Download:
        """The receipt with its own words in ``lang`` (the page's language). ``head``: asked
        with a HEAD, which the API answers without rendering it (no content)."""
        resp = await self._call(
            "HEAD" if head else "GET",
            f"/api/v1/submissions/{seg(submission_id)}/receipt.pdf",
            params={"lang": lang},
            headers={"Accept": "application/pdf"},
            raw=True,
        )
        return Download(resp.content, "application/pdf", f"receipt-{submission_id}.pdf")

    async def post_status(
        self, submission_id: str, status: str, message: str | None, *, reopen: bool = False
    ) -> None:
        """A status on the application's timeline; ``reopen`` to change the owning agency's
        decision (the API refuses a later status otherwise: 409 ``decision-final``)."""
        body: dict[str, Any] = {"status": status, "message": message or None}
        if reopen:
            body["reopen"] = True
        await self._call("POST", f"/api/v1/submissions/{seg(submission_id)}/status", json=body)

    # -- profile --------------------------------------------------------------------------

    async def elements(self) -> dict[str, Element]:
        """Every data element of the dictionary (labels, option labels, schema), by id: the
        dictionary is public and small (pages of 200)."""
        found: dict[str, Element] = {}
        cursor: str | None = None
        for _ in range(50):
            params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
            body = _obj(await self._call("GET", "/api/v1/elements", params=params))
            for e in body.get("items") or []:
                if isinstance(e, dict) and isinstance(e.get("id"), str):
                    found[e["id"]] = _element(e, e["id"])
            next_cursor = body.get("next_cursor")
            if not isinstance(next_cursor, str) or not next_cursor:
                break
            cursor = next_cursor
        return found

    async def profile(self) -> Profile:
        body = await self._call("GET", "/api/v1/profile")
        return Profile(
            keep=bool(body.get("keep")),
            values=[
                ProfileValue(
                    element=_s(v, "element"),
                    value=v.get("value"),
                    masked=bool(v.get("masked")),
                    source_form=v.get("source_form"),
                )
                for v in body.get("values") or []
                if isinstance(v, dict)
            ],
        )

    async def element(self, element: str) -> Element:
        """One data element with its schema (the registry's 404 for an unknown id)."""
        return _element(_obj(await self._call("GET", f"/api/v1/elements/{seg(element)}")), element)

    async def correct_profile_value(self, element: str, value: Any) -> None:
        """Correct one kept value (409 without consent; 422 with ``errors`` at ``/value...``
        when it does not fit the element's schema)."""
        await self._call("PUT", f"/api/v1/profile/values/{seg(element)}", json={"value": value})

    async def remove_profile_value(self, element: str) -> None:
        """Erase one kept value (404 when the profile holds none for ``element``)."""
        await self._call("DELETE", f"/api/v1/profile/values/{seg(element)}")

    async def set_consent(self, keep: bool) -> None:
        await self._call("PUT", "/api/v1/profile/consent", json={"keep": keep})

    async def erase_profile(self) -> None:
        await self._call("DELETE", "/api/v1/profile")

    # -- agencies and auditors ------------------------------------------------------------

    async def delivery(self, delivery_id: str, *, answers: bool = True) -> Delivery:
        """One delivery to the staff member's agency with its answers (only the agreed
        fields; empty with ``share_purged_at`` once erased): one logged read of resident
        answers, for this delivery only (the feed would log every delivery of its pages).
        ``answers`` False: its state only (no answers, nothing logged)."""
        params = {"include": "answers"} if answers else None
        body = await self._call("GET", f"/api/v1/deliveries/{seg(delivery_id)}", params=params)
        return _delivery(_obj(body))

    @staticmethod
    def _endpoint(doc: dict[str, Any]) -> Endpoint:
        return Endpoint(
            id=_s(doc, "id"),
            url=_s(doc, "url"),
            status=_s(doc, "status"),
            disabled_reason=doc.get("disabled_reason"),
            secret=doc.get("secret"),
        )

    async def endpoints(self) -> list[Endpoint]:
        body = await self._call("GET", "/api/v1/deliveries/endpoints")
        return [self._endpoint(e) for e in _obj(body).get("items") or [] if isinstance(e, dict)]

    async def add_endpoint(self, url: str) -> Endpoint:
        return self._endpoint(
            _obj(await self._call("POST", "/api/v1/deliveries/endpoints", json={"url": url}))
        )

    async def rotate_endpoint(self, endpoint_id: str) -> Endpoint:
        path = f"/api/v1/deliveries/endpoints/{seg(endpoint_id)}/rotate-secret"
        return self._endpoint(_obj(await self._call("POST", path)))

    async def delete_endpoint(self, endpoint_id: str) -> None:
        await self._call("DELETE", f"/api/v1/deliveries/endpoints/{seg(endpoint_id)}")

    async def dead_letters(self, cursor: str | None = None, limit: int = 50) -> DeadLetterPage:
        """One page of the agency's dead letters, newest first (``order=newest``), with the
        cursors of the pages of older and newer ones."""
        body = _obj(
            await self._call(
                "GET",
                "/api/v1/deliveries",
                params={"status": "dead", "order": "newest", "cursor": cursor, "limit": limit},
            )
        )
        items = [
            DeadLetter(
                id=_s(d, "id"),
                reference=_s(d, "reference"),
                form=_s(d, "form"),
                attempts=int(d.get("attempts") or 0),
                last_error=d.get("last_error"),
                created_at=d.get("created_at"),
                share_purged_at=_purged(d),
            )
            for d in body.get("items") or []
            if isinstance(d, dict)
        ]
        return DeadLetterPage(items, _cursor(body, "next_cursor"), _cursor(body, "prev_cursor"))

    async def replay(self, delivery_id: str) -> None:
        await self._call("POST", f"/api/v1/deliveries/{seg(delivery_id)}/replay")

    async def replay_all(self) -> int:
        body = _obj(await self._call("POST", "/api/v1/deliveries/replay"))
        return int(body.get("replayed") or 0)

    async def delivery_states(
        self, agency: str, cursor: str | None = None, limit: int = 50
    ) -> DeliveryPage:
        """One page of the agency's deliveries without their answers (no read of resident
        answers, so nothing for the access log), newest first (``order=newest``, paged both
        ways by cursor): what the inbox lists."""
        body = _obj(
            await self._call(
                "GET",
                "/api/v1/deliveries",
                params={"agency": agency, "order": "newest", "cursor": cursor, "limit": limit},
            )
        )
        return DeliveryPage(
            items=[_delivery(d) for d in body.get("items") or [] if isinstance(d, dict)],
            next_cursor=_cursor(body, "next_cursor"),
            prev_cursor=_cursor(body, "prev_cursor"),
        )

    async def audit(self) -> dict[str, Any]:
        body = await self._call("GET", "/api/v1/audit/redundancy")
        return body if isinstance(body, dict) else {}

    async def confirm_cluster(
        self,
        cluster_id: str,
        element: str,
        note: str | None,
        fields: list[tuple[str, str]] | None = None,
    ) -> Confirmation:
        """Map the cluster's fields to ``element``: the ``fields`` named (the auditor's
        decision, whoever they are about) or, without them, the registry maps only the fields
        that are the filer's own and says which it left out (docs/audit.md)."""
        payload: dict[str, Any] = {"element": element, "note": note or None}
        if fields is not None:
            payload["fields"] = [{"form": form, "pointer": pointer} for form, pointer in fields]
        body = await self._call(
            "POST", f"/api/v1/audit/clusters/{seg(cluster_id)}/confirm", json=payload
        )
        return _confirmation(body if isinstance(body, dict) else {}, element)

    async def split_cluster(
        self, cluster_id: str, fields: list[tuple[str, str]], label: str | None
    ) -> None:
        await self._call(
            "POST",
            f"/api/v1/audit/clusters/{seg(cluster_id)}/split",
            json={
                "fields": [{"form": form, "pointer": pointer} for form, pointer in fields],
                "label": label or None,
            },
        )

    async def reject_cluster(self, cluster_id: str, fields: list[tuple[str, str]]) -> None:
        """The named fields do not hold the cluster's fact: take them out of it."""
        await self._call(
            "POST",
            f"/api/v1/audit/clusters/{seg(cluster_id)}/reject",
            json={"fields": [{"form": form, "pointer": pointer} for form, pointer in fields]},
        )

    async def audit_download(self, fmt: str, table: str = "fields") -> Download:
        """The audit as a file: the PDF, or one of its tables as CSV (``fields``: a row per
        cluster's field; ``clusters``, ``forms`` and ``pairs`` carry the hours)."""
        media = {"csv": "text/csv", "pdf": "application/pdf"}[fmt]
        params = {"format": fmt}
        name = f"redundancy-audit.{fmt}"
        if fmt == "csv" and table != "fields":
            params["table"] = table
            name = f"redundancy-audit-{table}.csv"
        resp = await self._call(
            "GET", "/api/v1/audit/redundancy", params=params, headers={"Accept": media}, raw=True
        )
        return Download(resp.content, media, name)


def gateway_client(
    base_url: str, timeout: float, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    """One pooled client per portal process; tests pass a MockTransport."""
    if transport is not None:
        return service_client(base_url, timeout=timeout, transport=transport)
    return service_client(base_url, timeout=timeout)
