"""A stand-in for the gateway at the portal's outbound boundary (an ``httpx.MockTransport``):
in-memory catalog, drafts, submissions with Idempotency-Key replay, deliveries and audit,
answering in the public API's shapes so the portal's pages can be exercised end to end."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import jsonschema

PASSWORD = "correct horse battery staple"

SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["fullName", "ssn", "household"],
    "properties": {
        "fullName": {"type": "string", "minLength": 1, "x-element": "person.fullName"},
        "ssn": {"type": "string", "pattern": "^[0-9]{9}$", "x-element": "person.ssn"},
        "dateOfBirth": {"type": "string", "format": "date"},
        "household": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            },
        },
        "hasJob": {"type": "boolean"},
        "monthlyIncome": {"type": "number"},
    },
}
UI: dict[str, Any] = {
    "pages": [
        {"id": "you", "title": {"en": "About you", "es": "Sobre usted"},
         "fields": ["/fullName", "/ssn", "/dateOfBirth"]},
        {"id": "household", "title": {"en": "Your household", "es": "Su hogar"},
         "fields": ["/household", "/hasJob", "/monthlyIncome"]},
    ],
    "fields": {
        "/fullName": {"label": {"en": "Full name", "es": "Nombre completo"}},
        "/ssn": {"label": {"en": "Social Security number", "es": "Número de Seguro Social"},
                 "help": {"en": "9 digits", "es": "9 dígitos"}},
        "/hasJob": {"label": {"en": "Do you have a job?", "es": "¿Tiene trabajo?"}},
        "/monthlyIncome": {"label": {"en": "Monthly income", "es": "Ingreso mensual"},
                           "show_if": {"pointer": "/hasJob", "equals": True}},
    },
}  # fmt: skip


ELEMENTS: list[dict[str, Any]] = [
    {"id": "person.fullName", "label": {"en": "Full name", "es": "Nombre completo"},
     "sensitivity": "personal", "schema": {"type": "string", "maxLength": 200}, "aliases": [],
     "description": None},
    {"id": "person.birthDate", "label": {"en": "Date of birth", "es": "Fecha de nacimiento"},
     "sensitivity": "personal", "schema": {"type": "string", "format": "date"}, "aliases": [],
     "description": None},
    {"id": "person.ssn", "label": {"en": "Social Security number",
                                   "es": "Número de Seguro Social"},
     "sensitivity": "restricted", "schema": {"type": "string", "pattern": "^[0-9]{9}$"},
     "aliases": [], "description": "Nine digits, no dashes."},
    {"id": "person.sex", "label": {"en": "Sex", "es": "Sexo"}, "sensitivity": "personal",
     "schema": {"type": "string", "enum": ["female", "male", "unspecified"]}, "aliases": [],
     "description": None, "options": {
         "female": {"en": "Female", "es": "Femenino"}, "male": {"en": "Male", "es": "Masculino"},
         "unspecified": {"en": "Unspecified", "es": "No especificado"}}},
    {"id": "household.heatingFuel", "label": {"en": "Main heating fuel",
                                              "es": "Combustible principal de calefacción"},
     "sensitivity": "public", "aliases": [], "description": None,
     "schema": {"type": "string",
                "enum": ["oil", "natural_gas", "electric", "propane", "wood", "other"]},
     "options": {"oil": {"en": "Heating oil", "es": "Aceite de calefacción"},
                 "natural_gas": {"en": "Natural gas", "es": "Gas natural"},
                 "electric": {"en": "Electricity", "es": "Electricidad"},
                 "propane": {"en": "Propane", "es": "Gas propano"},
                 "wood": {"en": "Wood", "es": "Leña"}}},
    {"id": "person.citizenshipStatus", "label": {"en": "Citizenship or immigration status",
                                                 "es": "Ciudadanía o estatus migratorio"},
     "sensitivity": "restricted", "aliases": [], "description": None,
     "schema": {"type": "string", "enum": ["citizen", "permanent_resident", "other"]},
     "options": {"citizen": {"en": "U.S. citizen", "es": "Ciudadano(a) de los Estados Unidos"},
                 "permanent_resident": {"en": "Lawful permanent resident",
                                        "es": "Residente permanente legal"},
                 "other": {"en": "Other immigration status", "es": "Otro estatus migratorio"}}},
    {"id": "address.home", "label": {"en": "Home address", "es": "Dirección de su casa"},
     "sensitivity": "personal", "aliases": [], "description": None,
     "schema": {"type": "object", "required": ["street", "city", "postalCode"], "properties": {
         "street": {"type": "string", "maxLength": 200},
         "city": {"type": "string", "maxLength": 100},
         "state": {"type": "string", "enum": ["CT", "MA", "NY", "RI"]},
         "postalCode": {"type": "string", "pattern": "^[0-9]{5}$"}}}},
    {"id": "household.size", "label": {"en": "Number of people in the household",
                                       "es": "Número de personas en el hogar"},
     "sensitivity": "personal", "schema": {"type": "integer", "minimum": 1, "maximum": 30},
     "aliases": [], "description": None},
    {"id": "household.members", "label": {"en": "Household members", "es": "Miembros del hogar"},
     "sensitivity": "personal", "aliases": [], "description": None,
     "schema": {"type": "array", "items": {"type": "object"}}},
]  # fmt: skip
"""The data-element dictionary (``GET /api/v1/elements``, ``.../{id}``). Enum elements label
their choices (``options``, by value, as the registry's seed does); the heating fuel's
``other`` has none, on purpose (shown by its value). Elements without ``options`` leave the
field out, as a registry from before option labels would."""


OWN = frozenset({"filer", "applicant", "claimant"})
"""The *whose* readings the registry counts as the filer's own (``clustering.OWN``)."""


def _street(form: str, pointer: str, whose: str) -> dict[str, Any]:
    return {"form": form, "version": 1, "pointer": pointer, "name": pointer.rsplit("/", 1)[-1],
            "title": None, "type": "string", "whose": whose}  # fmt: skip


CLUSTERS: list[dict[str, Any]] = [
    {"id": "c1", "label": "Date of birth", "element": "person.birthDate", "forms": 3,
     "agencies": 2, "fields": [
         {"form": "snap", "version": 1, "pointer": "/dateOfBirth", "name": "dateOfBirth",
          "title": None, "type": "string", "whose": "filer"}]},
    {"id": "e-address.street", "label": "Street address", "element": "address.street",
     "forms": 3, "agencies": 2, "fields": [
         _street("snap", "/address/street", "filer"),
         _street("wic", "/applicant/address/street", "applicant"),
         _street("vba-22-1990", "/veteranAddress/street", "veteran"),
         _street("vba-22-1990", "/educationProgram/address/street", "education program"),
         _street("snap", "/spouse/address/street", "spouse")]},
    {"id": "c-address.street3", "label": "Address line 3", "element": None,
     "suggested_element": "address.street3", "forms": 1, "agencies": 1, "fields": [
         _street("vba-22-1990", "/guardian/address/street3", "guardian"),
         _street("vba-22-1990", "/educationProgram/address/street3", "education program")]},
]  # fmt: skip
"""The audit report's clusters: a date of birth, the street (the filer's, an applicant's, and
the veteran's, a school's and a spouse's) and a third address line that is nobody's own."""


def masked(value: Any) -> str:
    """A restricted value as the submissions service shows it (``answers.mask``): a fixed
    ``••••``, followed by the last 4 characters only for free text of 8 or more (the fake
    knows no element schemas, so every string counts as free text)."""
    if isinstance(value, str) and len(value) >= 8:
        return "\u2022" * 4 + value[-4:]
    return "\u2022" * 4


def _listing(request: httpx.Request, rows: list[dict[str, Any]]) -> httpx.Response:
    """A state listing of ``rows`` (oldest first, as created). With ``order=newest``, as the
    submissions service: newest first, ``limit`` a page, ``next_cursor`` (older) and
    ``prev_cursor`` (newer, ``None`` on the first page); an unknown cursor is a 400. The
    cursors name positions (1 = the oldest row): ``lt:<n>``, ``gt:<n>``."""
    params = request.url.params
    if params.get("order") != "newest":
        return httpx.Response(200, json={"items": rows, "next_cursor": None})
    limit = int(params.get("limit") or 100)
    cursor = params.get("cursor") or ""
    match = re.fullmatch(r"(lt|gt):(\d+)", cursor)
    if cursor and match is None:
        return httpx.Response(400, json={"status": 400, "detail": "The cursor is not valid."})
    numbered = list(enumerate(rows, start=1))
    if match and match.group(1) == "gt":
        above = [(n, r) for n, r in numbered if n > int(match.group(2))]
        more, page = len(above) > limit, above[:limit][::-1]
        next_cursor = f"lt:{page[-1][0]}" if page else None
        prev_cursor = f"gt:{page[0][0]}" if page and more else None
    else:
        below = [(n, r) for n, r in numbered[::-1] if not match or n < int(match.group(2))]
        more, page = len(below) > limit, below[:limit]
        next_cursor = f"lt:{page[-1][0]}" if page and more else None
        prev_cursor = f"gt:{page[0][0]}" if page and match else None
    body = {"items": [r for _, r in page], "next_cursor": next_cursor, "prev_cursor": prev_cursor}
    return httpx.Response(200, json=body)


@dataclass
class FakeGateway:
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)
    submissions: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    profile_values: dict[str, Any] = field(default_factory=lambda: {"person.fullName": "Ana Diaz"})
    profile_answers: dict[str, Any] = field(default_factory=dict)
    """Further answers a prefilled draft gets from the profile, by pointer (``/homeAddress/
    country``), as the submissions service sets each mapped element's pointer."""
    keep: bool = True
    refreshes: int = 0
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Issued refresh tokens: ``{"email", "family", "uses"}``. Like identity, every use
    rotates; a used token is accepted ``refresh_reuse_allowed`` more times (identity's reuse
    interval: once), then the whole family is revoked."""
    refresh_reuse_allowed: int = 1
    revoked_families: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    """Recorded audit decisions (``kind``, ``cluster`` and the body posted); a confirmation the
    registry refuses (422, 404) records nothing."""
    clusters: list[dict[str, Any]] = field(default_factory=lambda: deepcopy(CLUSTERS))
    """The audit report's clusters; each field carries ``whose``, as the registry's do."""
    schema: dict[str, Any] = field(default_factory=lambda: SCHEMA)
    """The published form's schema and UI document (a test may publish another form)."""
    ui: dict[str, Any] = field(default_factory=lambda: UI)
    audit_mappings: dict[str, str] = field(default_factory=dict)
    """Pointer -> element of mappings an auditor confirmed on the published form: the fields
    document lists them (``element_source: "audit"``) though the schema has no ``x-element``."""
    elements: list[dict[str, Any]] = field(default_factory=lambda: [dict(e) for e in ELEMENTS])
    api_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    """An element's schema as the submissions service checks a correction by it, when it is
    not the dictionary's (a test's way to have the API refuse what the portal accepted)."""
    corrections: list[tuple[str, Any]] = field(default_factory=list)
    """``PUT /api/v1/profile/values/{element}`` bodies' values, in order."""
    answer_reads: int = 0
    """Pages of the pull feed read (each one a logged read of resident answers)."""
    delivery_reads: list[str] = field(default_factory=list)
    """Ids of the deliveries read one at a time with ``?include=answers`` (each one logged
    read of that delivery's answers), in order."""
    added_agencies: list[dict[str, Any]] = field(default_factory=list)
    added_agreements: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    dead: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Dead deliveries by id; one with ``share_purged_at`` had its share erased under the
    retention rule, and its replay is refused with 410, as the submissions service does."""
    burden_forms: list[dict[str, Any]] = field(default_factory=lambda: [
        {"form": "snap", "agency": "DSS", "title": "Food help", "minutes": 20,
         "yearly_volume": 36000, "burden_hours": 12000.0, "prefill_hours_saved": 3400.5},
    ])  # fmt: skip
    """The audit report's burden per form (the report lists every catalog form)."""
    delivery_status: dict[str, str] = field(default_factory=dict)
    """A delivery's state (``d-<submission id>``) when it is not ``delivered``: ``acked``, say
    (the agency's system took it from the pull feed and acknowledged it)."""
    purged: dict[str, str] = field(default_factory=dict)
    """Delivered deliveries (``d-<submission id>``) whose share was erased, and when: the feed
    gives them ``"answers": null`` and ``share_purged_at``."""
    users: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "resident@demo.gov": {"sub": "r1", "email": "resident@demo.gov", "role": "resident",
                              "full_name": "Ana Diaz"},
        "staff@dss.demo.gov": {"sub": "s1", "email": "staff@dss.demo.gov", "role": "agency",
                               "agency": "DSS"},
        "staff@dol.demo.gov": {"sub": "s2", "email": "staff@dol.demo.gov", "role": "agency",
                               "agency": "DOL"},
        "auditor@demo.gov": {"sub": "a1", "email": "auditor@demo.gov", "role": "auditor"},
        "admin@demo.gov": {"sub": "ad1", "email": "admin@demo.gov", "role": "admin"},
    })  # fmt: skip

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def delivered(
        self,
        sid: str,
        reference: str,
        *,
        erased_at: str | None = None,
        owner: str = "r1",
        full_name: str = "Ana Diaz",
    ) -> None:
        """A resident's SNAP application delivered to DSS (delivery ``d-<sid>``); with
        ``erased_at``, its share was erased then under the retention rule."""
        self.submissions[sid] = {
            "id": sid, "reference": reference, "form": "snap", "version": 1,
            "submitted_at": "2026-10-01T11:00:00Z", "status": "delivered", "owner": owner,
            "deliveries": [], "timeline": [], "answers": {"fullName": full_name},
        }  # fmt: skip
        if erased_at is not None:
            self.purged[f"d-{sid}"] = erased_at

    # -- helpers --------------------------------------------------------------------------

    def _confirm(self, cluster_id: str, body: dict[str, Any]) -> httpx.Response:
        """``POST /api/v1/audit/clusters/{id}/confirm`` as the registry answers it: the fields
        named, or without ``fields`` the cluster's fields that are the filer's own (``left_out``
        the others, with why); a cluster with none of them, unnamed, is a 422 on ``/fields``."""
        cluster = next((c for c in self.clusters if c["id"] == cluster_id), None)
        if cluster is None:
            return httpx.Response(404, json={"status": 404, "detail": "no such cluster"})
        members = cluster["fields"]
        left_out: list[dict[str, str]] = []
        if body.get("fields") is None:
            mapped = [
                {"form": f["form"], "pointer": f["pointer"]} for f in members if f["whose"] in OWN
            ]
            element = body.get("element")
            left_out = [
                {"form": f["form"], "pointer": f["pointer"], "whose": f["whose"],
                 "reason": f"whose: {f['whose']}, not the filer's own: prefill would fill it"
                           f" with the resident's own {element}. Name the field to map it"
                           " anyway."}
                for f in members if f["whose"] not in OWN
            ]  # fmt: skip
            if not mapped:
                whose = ", ".join(sorted({f["whose"] for f in left_out}))
                return httpx.Response(422, json={
                    "status": 422,
                    "detail": f"Nothing was confirmed: none of the cluster's {len(left_out)}"
                              f" field(s) is the filer's own (whose: {whose}). Name the fields"
                              " to map them.",
                    "errors": [{"pointer": "/fields",
                                "message": f"{f['form']} {f['pointer']}: {f['reason']}"}
                               for f in left_out]})  # fmt: skip
        else:
            mapped = body["fields"]
            known = {(f["form"], f["pointer"]) for f in members}
            wrong = [
                {"pointer": f"/fields/{i}",
                 "message": f"{f['form']} {f['pointer']} is not a field of cluster {cluster_id}."}
                for i, f in enumerate(mapped) if (f["form"], f["pointer"]) not in known
            ]  # fmt: skip
            if wrong:
                return httpx.Response(422, json={
                    "status": 422, "detail": "Some fields are not in this cluster.",
                    "errors": wrong})  # fmt: skip
        self.decisions.append({"kind": "confirm", "cluster": cluster_id, **body})
        return httpx.Response(201, json={
            "id": len(self.decisions), "kind": "confirm", "cluster": cluster_id,
            "element": body.get("element"), "label": None, "fields": mapped,
            "note": body.get("note"), "decided_by": "auditor@demo.gov",
            "decided_at": "2026-11-26T10:00:00Z", "left_out": left_out})  # fmt: skip

    def _share(self, sub: dict[str, Any], who: dict[str, Any]) -> dict[str, Any] | None:
        """The answers of ``sub`` an agency receives: DOL only the name; ``None`` once its
        share was erased."""
        if f"d-{sub['id']}" in self.purged:
            return None
        if who.get("agency") == "DOL":
            return {"fullName": sub["answers"].get("fullName")}
        return dict(sub["answers"])

    def _one_delivery(
        self, request: httpx.Request, delivery_id: str, who: dict[str, Any]
    ) -> httpx.Response:
        """``GET /api/v1/deliveries/{id}``: its state; with ``?include=answers`` (the agency
        it is addressed to only; admins and auditors 403) its share of the answers too."""
        include = request.url.params.get("include")
        if include not in (None, "answers"):
            return httpx.Response(422, json={"status": 422, "detail": "include: answers"})
        if include and who.get("role") != "agency":
            return httpx.Response(403, json={"status": 403, "detail": "agencies only"})
        sub = self.submissions.get(delivery_id.removeprefix("d-"))
        if sub is None or not delivery_id.startswith("d-"):
            return httpx.Response(404, json={"status": 404, "detail": "no delivery"})
        state = {
            "id": delivery_id, "submission_id": sub["id"], "reference": sub["reference"],
            "agency": who.get("agency") or "DSS", "form": sub["form"], "version": 1,
            "fields": [], "status": "delivered", "attempts": 1,
            "created_at": sub["submitted_at"], "attempt_log": [],
            "share_purged_at": self.purged.get(delivery_id),
        }  # fmt: skip
        if include:
            self.delivery_reads.append(delivery_id)
            state |= {"submitted_at": sub["submitted_at"], "answers": self._share(sub, who)}
        return httpx.Response(200, json=state)

    def _who(self, request: httpx.Request) -> dict[str, Any] | None:
        auth = request.headers.get("authorization", "")
        return self.tokens.get(auth.removeprefix("Bearer "))

    def _issue(self, user: dict[str, Any], family: str | None = None) -> dict[str, Any]:
        access = "at-" + uuid.uuid4().hex
        self.tokens[access] = user
        refresh = "rt-" + uuid.uuid4().hex
        self.refresh_tokens[refresh] = {
            "email": user["email"],
            "family": family or uuid.uuid4().hex,
            "uses": 0,
        }
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": user.get("expires_in", 900),
            "refresh_token": refresh,
            "scope": "",
        }

    def _refresh(self, token: str) -> httpx.Response:
        self.refreshes += 1
        entry = self.refresh_tokens.get(token)
        if entry is None or entry["family"] in self.revoked_families:
            return httpx.Response(400, json={"error": "invalid_grant"})
        entry["uses"] += 1
        if entry["uses"] > 1 + self.refresh_reuse_allowed:
            self.revoked_families.add(entry["family"])
            return httpx.Response(400, json={"error": "invalid_grant"})
        return httpx.Response(200, json=self._issue(self.users[entry["email"]], entry["family"]))

    # -- the API --------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        method = request.method
        self.calls.append((method, path, dict(request.headers)))
        body: Any = None
        if request.content and request.headers.get("content-type", "").startswith(
            "application/json"
        ):
            body = json.loads(request.content)
        if path == "/api/v1/identity/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if form.get("client_id") != "portal":
                return httpx.Response(401, json={"error": "invalid_client"})
            if form.get("grant_type") == "password":
                user = self.users.get(form.get("username", ""))
                if user is None or form.get("password") != PASSWORD:
                    return httpx.Response(400, json={"error": "invalid_grant"})
                return httpx.Response(200, json=self._issue(user))
            if form.get("grant_type") == "refresh_token":
                return self._refresh(form.get("refresh_token", ""))
            return httpx.Response(400, json={"error": "unsupported_grant_type"})
        if path == "/api/v1/identity/residents" and method == "POST":
            if len(body.get("password", "")) < 15:
                return httpx.Response(
                    422,
                    json={"status": 422, "detail": "weak", "errors": [
                        {"pointer": "/password", "message": "Use at least 15 characters"}]},
                )  # fmt: skip
            self.users[body["email"]] = {"sub": "r-new", "email": body["email"], "role": "resident",
                                         "full_name": body["full_name"]}  # fmt: skip
            return httpx.Response(201, json={"id": "r-new", "email": body["email"]})
        if path == "/api/v1/agencies" and method == "POST":
            if (self._who(request) or {}).get("role") != "admin":
                return httpx.Response(403, json={"status": 403, "detail": "admins only"})
            if not re.fullmatch(r"[A-Z][A-Z0-9]{1,15}", body.get("code", "")):
                return httpx.Response(422, json={"status": 422, "detail": "invalid", "errors": [
                    {"pointer": "/code", "message": "2 to 16 capital letters"}]})  # fmt: skip
            self.added_agencies.append(body)
            return httpx.Response(201, json=body)
        if path == "/api/v1/forms/snap/versions" and method == "POST":
            schema = body.get("schema")
            if not isinstance(schema, dict) or "$ref" in json.dumps(schema):
                return httpx.Response(422, json={"status": 422, "detail": "bad schema", "errors": [
                    {"pointer": "/schema/properties/x/$ref",
                     "message": "The $ref resolves nowhere."}]})  # fmt: skip
            self.versions.append(body)
            return httpx.Response(201, json={
                "form": "snap", "version": 2, "status": "draft", "dialect": "2020-12",
                "breaking": True, "fields": 3, "suggestions": [], "warnings": [],
                "changes": [{"pointer": "/ssn", "kind": "removed", "breaking": True,
                             "message": "The field was removed."}]})  # fmt: skip
        if path == "/api/v1/agencies":
            return httpx.Response(200, json={"items": [
                {"code": "DSS", "name": "Department of Social Services"},
                {"code": "DOL", "name": "Department of Labor"}], "next_cursor": None})  # fmt: skip
        if path == "/api/v1/forms":
            items = [self._form()]
            q = request.url.params.get("q")
            if q and any(ord(c) < 32 or ord(c) == 127 for c in q):
                # as the registry: a search with a control character (%00, say) is a 422
                return httpx.Response(422, headers={"content-type": "application/problem+json"},
                                      json={"status": 422, "title": "Validation failed",
                                            "detail": "q: control characters are not allowed",
                                            "errors": [{"pointer": "/query/q",
                                                        "message": "control character"}],
                                            })  # fmt: skip
            if q and q.lower() not in "snap food help":
                items = []
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if path == "/api/v1/forms/snap":
            versions = [{"version": 1, "status": "published", "breaking": False,
                         "created_at": "2026-11-01T00:00:00Z",
                         "published_at": "2026-11-02T00:00:00Z", "retired_at": None}]  # fmt: skip
            return httpx.Response(200, json={**self._form(), "versions": versions})
        if re.fullmatch(r"/api/v1/forms/snap/versions/(1|latest)/fields", path):
            return httpx.Response(200, json={"form": "snap", "version": 1, "status": "published",
                                             "items": self._fields()})  # fmt: skip
        if re.fullmatch(r"/api/v1/forms/snap/versions/(1|latest)", path):
            return httpx.Response(200, json={"form": "snap", "version": 1, "status": "published",
                                             "schema": self.schema, "ui": self.ui})  # fmt: skip
        if path.startswith("/api/v1/forms/"):
            return httpx.Response(404, json={"status": 404, "detail": "no such form"})
        if path == "/api/v1/agreements" and method == "POST":
            self.added_agreements.append(body)
            return httpx.Response(201, json={"id": 2, **body})
        if path == "/api/v1/agreements":
            return httpx.Response(200, json={
                "form": "snap", "version": 1, "owner": {"agency": "DSS", "fields": "all"},
                "items": [{"id": 1, "agency": "DOL", "form": "snap", "fields": ["person.fullName"],
                           "pointers": ["/fullName", "/monthlyIncome"], "purpose": "Job matching",
                           "legal_basis": "State law 12-3", "created_at": "2026-11-25T10:00:00Z"}],
                "next_cursor": None})  # fmt: skip
        match = re.fullmatch(r"/api/v1/audit/clusters/([^/]+)/(confirm|split|reject)", path)
        if match:
            if (self._who(request) or {}).get("role") not in ("auditor", "admin"):
                return httpx.Response(403, json={"status": 403, "detail": "auditors only"})
            if match.group(2) == "confirm":
                return self._confirm(match.group(1), body)
            self.decisions.append({"kind": match.group(2), "cluster": match.group(1), **body})
            return httpx.Response(201, json={"id": len(self.decisions), **body})
        if path == "/api/v1/audit/redundancy":
            if (self._who(request) or {}).get("role") not in ("auditor", "admin"):
                return httpx.Response(403, json={"status": 403, "detail": "auditors only"})
            if request.url.params.get("format") == "csv":
                table = request.url.params.get("table", "fields")
                text = {
                    "fields": "cluster,forms\nbirth date,3\n",
                    "forms": "form,burden_hours,prefill_hours_saved\nsnap,12000,3400.5\n",
                }
                return httpx.Response(200, text=text.get(table, f"{table}\n"),
                                      headers={"content-type": "text/csv"})  # fmt: skip
            return httpx.Response(200, json={
                "clusters": deepcopy(self.clusters),
                "form_pairs": [{"a": "snap", "b": "wic", "shared": 4, "jaccard": 0.5}],
                "burden": {"total_burden_hours": 12000, "prefill_hours_saved": 3400.5,
                           "prefill_share_saved": 0.2834,
                           "forms": self.burden_forms,
                           "assumptions": {"repeat_filer_share": 0.25, "review_fraction": 0.2,
                                           "text": "(the registry's English text)"}}})  # fmt: skip
        who = self._who(request)
        if who is None:
            return httpx.Response(401, json={"status": 401, "detail": "sign in"})
        if path == "/api/v1/identity/me":
            return httpx.Response(200, json={k: v for k, v in who.items() if k != "expires_in"})
        if path == "/api/v1/drafts" and method == "POST":
            draft_id = str(uuid.uuid4())
            answers: dict[str, Any] = {}
            prefilled: list[str] = []
            if body.get("prefill") and self.keep and "person.fullName" in self.profile_values:
                answers["fullName"] = self.profile_values["person.fullName"]
                prefilled = ["/fullName"]
                for pointer, value in self.profile_answers.items():
                    *parents, last = pointer.strip("/").split("/")
                    node = answers
                    for part in parents:
                        node = node.setdefault(part, {})
                    node[last] = value
                    prefilled.append(pointer)
            self.drafts[draft_id] = {"id": draft_id, "form": body["form"], "version": 1,
                                     "answers": answers, "owner": who["sub"]}  # fmt: skip
            return httpx.Response(201, json={**self._draft(draft_id), "prefilled": prefilled})
        if path == "/api/v1/drafts" and method == "GET":
            items = [self._draft(d) for d, v in self.drafts.items() if v["owner"] == who["sub"]]
            return httpx.Response(200, json={"items": items})
        match = re.fullmatch(r"/api/v1/drafts/([^/]+)", path)
        if match:
            draft = self.drafts.get(match.group(1))
            if draft is None or draft["owner"] != who["sub"]:
                return httpx.Response(404, json={"status": 404, "detail": "no draft"})
            if method == "PATCH":
                draft["answers"] = body["answers"]
            return httpx.Response(200, json=self._draft(draft["id"]))
        if path == "/api/v1/submissions" and method == "POST":
            return self._submit(request, body, who)
        if path == "/api/v1/submissions" and method == "GET":
            items = [s for s in self.submissions.values() if s["owner"] == who["sub"]]
            return httpx.Response(200, json={"items": [self._public(s) for s in items],
                                             "next_cursor": None})  # fmt: skip
        match = re.fullmatch(r"/api/v1/submissions/([^/]+)(/receipt\.pdf|/status)?", path)
        if match:
            sub = self.submissions.get(match.group(1))
            if sub is None:
                return httpx.Response(404, json={"status": 404, "detail": "no submission"})
            if match.group(2) == "/receipt.pdf":
                if method == "HEAD":  # as the API: answered without a render
                    return httpx.Response(200, headers={"content-type": "application/pdf"})
                lang = request.url.params.get("lang", "")  # the receipt's language, echoed
                pdf = f"%PDF-1.7 receipt {sub['reference']} {lang}".encode()
                return httpx.Response(200, content=pdf, headers={"content-type": "application/pdf"})
            if match.group(2) == "/status":
                # As the API: the agency's latest decision is final unless reopened.
                own = [e for e in sub["timeline"] if e.get("agency") == who.get("agency")]
                if own and own[-1]["status"] in ("approved", "denied") and not body.get("reopen"):
                    return httpx.Response(409, json={
                        "type": "https://tellonce.example.gov/problems/decision-final",
                        "status": 409, "title": "The application is already decided",
                        "detail": "a decision is final",
                        "decision": {"status": own[-1]["status"], "at": own[-1]["at"]},
                    })  # fmt: skip
                entry = {"at": "2026-11-25T12:00:00Z", "agency": who.get("agency"), **body}
                sub["timeline"].append(entry)
                self.statuses.append(entry)
                return httpx.Response(201, json=entry)
            return httpx.Response(200, json={**self._public(sub), "answers": sub["answers"]})
        if path == "/api/v1/deliveries/endpoints" and method == "POST":
            if not body["url"].startswith("https://"):
                return httpx.Response(422, json={"status": 422, "detail": "Use an https URL."})
            endpoint = {
                "id": f"e{len(self.endpoints) + 1}",
                "agency": who.get("agency"),
                "url": body["url"],
                "status": "active",
                "disabled_reason": None,
            }
            self.endpoints[endpoint["id"]] = endpoint
            return httpx.Response(201, json={**endpoint, "secret": "whsec_" + "A" * 32})
        if path == "/api/v1/deliveries/endpoints":
            return httpx.Response(200, json={"items": list(self.endpoints.values())})
        match = re.fullmatch(r"/api/v1/deliveries/endpoints/([^/]+)(/rotate-secret)?", path)
        if match:
            if match.group(2):
                return httpx.Response(200, json={**self.endpoints[match.group(1)],
                                                 "secret": "whsec_" + "B" * 32})  # fmt: skip
            self.endpoints.pop(match.group(1), None)
            return httpx.Response(204)
        if path == "/api/v1/deliveries/replay":
            replayed = [k for k, v in self.dead.items() if not v.get("share_purged_at")]
            for key in replayed:
                self.dead.pop(key)
            return httpx.Response(200, json={"replayed": len(replayed), "ids": replayed})
        match = re.fullmatch(r"/api/v1/deliveries/([^/]+)/replay", path)
        if match:
            erased = (self.dead.get(match.group(1)) or {}).get("share_purged_at")
            if erased:
                return httpx.Response(
                    410,
                    headers={"content-type": "application/problem+json"},
                    json={"type": "https://tellonce.example/problems/delivery-share-erased",
                          "title": "The delivery's answers were erased under the retention rule",
                          "status": 410, "detail": f"Erased at {erased}.",
                          "share_purged_at": erased},
                )  # fmt: skip
            self.dead.pop(match.group(1), None)
            return httpx.Response(200, json={"id": match.group(1), "status": "pending"})
        match = re.fullmatch(r"/api/v1/deliveries/([^/]+)", path)
        if match and method == "GET":
            return self._one_delivery(request, match.group(1), who)
        order = request.url.params.get("order")
        if path == "/api/v1/deliveries" and order not in (None, "oldest", "newest"):
            return httpx.Response(422, json={"status": 422, "detail": "order: oldest, newest"})
        if path == "/api/v1/deliveries" and request.url.params.get("status") == "dead":
            return _listing(request, list(self.dead.values()))
        if path == "/api/v1/deliveries" and request.url.params.get("agency"):
            if request.url.params["agency"] != who.get("agency"):
                return httpx.Response(403, json={"status": 403, "detail": "not your agency"})
            states = [
                {"id": f"d-{s['id']}", "submission_id": s["id"], "reference": s["reference"],
                 "agency": who.get("agency"), "form": s["form"], "version": 1, "fields": [],
                 "status": self.delivery_status.get(f"d-{s['id']}", "delivered"),
                 "attempts": 1, "created_at": s["submitted_at"],
                 "share_purged_at": self.purged.get(f"d-{s['id']}")}
                for s in self.submissions.values()
            ]  # fmt: skip
            return _listing(request, states)
        if path == "/api/v1/deliveries":
            self.answer_reads += 1
            items = [
                {"id": f"d-{s['id']}", "status": "delivered", "created_at": s["submitted_at"],
                 "data": {"delivery_id": f"d-{s['id']}", "submission_id": s["id"],
                          "reference": s["reference"], "form": s["form"], "version": 1,
                          "agency": who.get("agency"), "submitted_at": s["submitted_at"],
                          "answers": self._share(s, who),
                          "share_purged_at": self.purged.get(f"d-{s['id']}")}}
                for s in self.submissions.values()
            ]  # fmt: skip
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if path == "/api/v1/elements":
            return httpx.Response(200, json={"items": self.elements, "next_cursor": None})
        match = re.fullmatch(r"/api/v1/elements/([^/]+)", path)
        if match and method == "GET":
            found = self._element(match.group(1))
            if found is None:
                return httpx.Response(404, json={"status": 404, "detail": "no such element"})
            return httpx.Response(200, json=found)
        if path == "/api/v1/profile" and method == "GET":
            return httpx.Response(200, json=self._profile())
        if path == "/api/v1/profile/consent":
            self.keep = bool(body["keep"])
            if not self.keep:
                self.profile_values.clear()
            return httpx.Response(200, json=self._profile())
        if path == "/api/v1/profile" and method == "DELETE":
            self.profile_values.clear()
            self.keep = False
            return httpx.Response(204)
        match = re.fullmatch(r"/api/v1/profile/values/([^/]+)", path)
        if match and method == "PUT":
            return self._correct(match.group(1), body)
        if match and method == "DELETE":
            if self.profile_values.pop(match.group(1), None) is None:
                return httpx.Response(404, json={"status": 404, "detail": "no value kept"})
            return httpx.Response(204)
        return httpx.Response(404, json={"status": 404, "detail": f"fake has no {path}"})

    def _fields(self) -> list[dict[str, Any]]:
        """The fields document's rows of the form's top-level questions: each ``x-element``
        (``element_source: "version"``), then the audit's confirmed mappings."""
        rows = [
            {"pointer": f"/{name}", "name": name, "element": sub.get("x-element"),
             "element_source": "version" if sub.get("x-element") else None}
            for name, sub in (self.schema.get("properties") or {}).items()
            if isinstance(sub, dict)
        ]  # fmt: skip
        for row in rows:
            if row["element"] is None and row["pointer"] in self.audit_mappings:
                row["element"] = self.audit_mappings[row["pointer"]]
                row["element_source"] = "audit"
        return rows

    def _element(self, element_id: str) -> dict[str, Any] | None:
        return next((e for e in self.elements if e["id"] == element_id), None)

    def _restricted(self, element_id: str) -> bool:
        return (self._element(element_id) or {}).get("sensitivity") == "restricted"

    def _profile(self) -> dict[str, Any]:
        """``GET /api/v1/profile``: restricted values masked, as without ``?reveal``."""
        return {"keep": self.keep, "values": [
            {"element": k, "value": masked(v) if self._restricted(k) else v,
             "masked": self._restricted(k), "source_form": "snap", "source_version": 1,
             "updated_at": "2026-11-25T10:00:00Z"}
            for k, v in self.profile_values.items()]}  # fmt: skip

    def _correct(self, element_id: str, body: Any) -> httpx.Response:
        """``PUT /api/v1/profile/values/{element}`` as the submissions service answers it:
        409 without consent, 404 for an element the dictionary lacks, 422 with errors at
        ``/value...`` for a value its schema refuses (formats asserted)."""
        if not self.keep:
            return httpx.Response(409, json={"status": 409, "detail": "Turn on keeping first."})
        found = self._element(element_id)
        if found is None:
            return httpx.Response(404, json={"status": 404, "detail": "no such element"})
        if not isinstance(body, dict) or "value" not in body:
            return httpx.Response(422, json={"status": 422, "detail": "invalid", "errors": [
                {"pointer": "/value", "message": "Field required"}]})  # fmt: skip
        schema = self.api_schemas.get(element_id, found["schema"])
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        errors = [
            {"pointer": "/value" + "".join(f"/{p}" for p in e.absolute_path),
             "message": e.message}
            for e in validator.iter_errors(body["value"])
        ]  # fmt: skip
        if errors:
            return httpx.Response(
                422,
                headers={"content-type": "application/problem+json"},
                json={"status": 422, "detail": f"The value is not a valid {element_id}.",
                      "errors": errors},
            )  # fmt: skip
        self.corrections.append((element_id, body["value"]))
        self.profile_values[element_id] = body["value"]
        return httpx.Response(200, json=self._profile())

    def _form(self) -> dict[str, Any]:
        return {"slug": "snap", "agency": "DSS", "title": "Food help (SNAP)",
                "description": "Money for groceries.", "minutes": 20, "yearly_volume": 1000,
                "burden_hours": 333.3, "priorities": [], "topic": "benefits",
                "latest_version": 1}  # fmt: skip

    def _draft(self, draft_id: str) -> dict[str, Any]:
        d = self.drafts[draft_id]
        return {"id": d["id"], "form": d["form"], "version": d["version"],
                "answers": d["answers"], "prefilled": [],
                "created_at": "2026-11-25T10:00:00Z",
                "updated_at": d.get("updated_at", "2026-11-25T10:00:00Z"),
                "expires_at": "2026-12-25T10:00:00Z"}  # fmt: skip

    def _public(self, sub: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in sub.items() if k not in ("owner", "answers")}

    def _submit(
        self, request: httpx.Request, body: dict[str, Any], who: dict[str, Any]
    ) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if not key:
            return httpx.Response(400, json={"status": 400, "detail": "Idempotency-Key missing"})
        canonical = json.dumps(body, sort_keys=True)
        if key in self.keys:
            first_body, sub_id = self.keys[key]
            if first_body != canonical:
                return httpx.Response(422, json={"status": 422, "detail": "key reused"})
            return httpx.Response(201, json=self._public(self.submissions[sub_id]))
        validator = jsonschema.Draft7Validator(
            self.schema, format_checker=jsonschema.FormatChecker()
        )
        errors = [
            {"pointer": "".join(f"/{p}" for p in e.absolute_path), "message": e.message}
            for e in validator.iter_errors(body["answers"])
        ]
        if errors:
            return httpx.Response(422, json={"status": 422, "detail": "invalid", "errors": errors})
        sub_id = str(uuid.uuid4())
        reference = f"CT-2026-{sub_id[:4].upper()}-{sub_id[4:8].upper()}"
        self.submissions[sub_id] = {
            "id": sub_id, "reference": reference, "form": body["form"], "version": 1,
            "submitted_at": "2026-11-25T11:00:00Z", "status": "delivered", "owner": who["sub"],
            "deliveries": [{"agency": "DSS", "fields": ["*"], "status": "pending"},
                           {"agency": "DOL", "fields": ["/fullName"], "status": "pending"}],
            "timeline": [{"at": "2026-11-25T11:00:00Z", "agency": None, "status": "submitted",
                          "message": None}],
            "answers": body["answers"],
        }  # fmt: skip
        self.keys[key] = (canonical, sub_id)
        self.drafts.pop(body.get("draft") or "", None)
        return httpx.Response(201, json=self._public(self.submissions[sub_id]))


@asynccontextmanager
async def portal_browser(
    transport: httpx.AsyncBaseTransport, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the portal app, whose calls to the gateway go to ``transport`` (a fake
    gateway's). ``raise_app_exceptions=False`` shows a bug as the 500 a browser would get."""
    from tellonce_portal.config import Settings
    from tellonce_portal.main import create_app

    app = create_app(Settings(gateway_url="http://gateway.test"), transport=transport)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions),
        base_url="http://portal.test",
        headers={"accept": "text/html"},
    ) as client:
        yield client
