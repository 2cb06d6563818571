"""What submissions needs from the forms registry, read over HTTP and cached.

A published version never changes, so its schema, fields and compiled validator are kept
for the life of the process; only its lifecycle status (published -> retired) is re-read
after ``version_status_cache_seconds``. Agreements and element sensitivities can change and
are kept for a short while only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from tellonce_shared.problems import NotFound, ServiceUnavailable
from tellonce_submissions.answers import parse_pointer
from tellonce_submissions.validation import CompiledSchema

log = logging.getLogger("tellonce.submissions.registry")

PUBLISHED = "published"
RETIRED = "retired"
RESTRICTED = "restricted"

FORM_SLUG = r"^[a-z0-9][a-z0-9-]*$"
"""What a form named in a request may look like: the registry's slugs are lower-case letters,
digits and hyphens. Anything else names no form, and would change the registry URL it goes
into (``?``, ``#``, ``/``, ``..``)."""

MAX_VERSION = 999_999_999
"""The registry reads at most nine digits as a version number (and refuses more with a 422)."""


def _segment(value: str) -> str:
    """One path segment of a registry URL, escaped (request models check the shape first)."""
    return quote(value, safe="")


@dataclass(frozen=True)
class FieldInfo:
    pointer: str
    tokens: tuple[str, ...]
    name: str
    title: str
    element: str | None
    declared: bool = True
    """Whether ``element`` was mapped on the version itself (``x-element``, or mapped on the
    draft before an admin published it), not by an auditor confirming a redundancy-audit
    cluster afterwards (the registry's ``element_source: "audit"``)."""
    restricted: bool = False
    """Whether the field's values are restricted (sealed at rest, masked when shown): its
    element is, or, with no element, the registry says the field is anyway (its fields
    document's ``sensitivity: "restricted"``, ``sensitivity_source: "inferred"``: an
    unmapped Social Security number)."""


@dataclass
class FormVersion:
    """One version of a form as submissions uses it."""

    form: str
    version: int
    status: str
    owning_agency: str
    form_title: str
    fields: list[FieldInfo]
    compiled: CompiledSchema
    fetched_at: float = field(default=0.0)
    ui: dict[str, Any] | None = None
    """The version's UI document (labels and choice labels per language; the receipt's
    words in Spanish), as the registry gave it; None when it gave none."""
    _shares: dict[tuple[Agreement, ...], dict[str, list[tuple[str, ...]]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def element_pointers(self, element: str, declared_only: bool = False) -> list[tuple[str, ...]]:
        """The fields mapped to ``element``; with ``declared_only``, only those mapped on the
        version itself."""
        return [
            f.tokens
            for f in self.fields
            if f.element == element and (f.declared or not declared_only)
        ]

    def shares(self, agreements: Sequence[Agreement]) -> dict[str, list[tuple[str, ...]]]:
        """Per receiving agency other than the owner, the field patterns its agreements name
        (pointers as given, element ids resolved to this version's fields). Worked out once
        per set of agreements (the registry client keeps both while they are fresh).

        An element id resolves only to fields the version itself maps to it, never to a
        mapping an auditor confirmed in the redundancy audit since: what an agency receives
        is what an admin agreed and what the resident was shown (the registry resolves the
        agreements it lists the same way); an auditor's confirmation reaches prefill and the
        audit, never another agency."""
        key = tuple(agreements)
        wanted = self._shares.get(key)
        if wanted is None:
            wanted = {}
            for agreement in key:
                if agreement.agency == self.owning_agency:
                    continue
                patterns = wanted.setdefault(agreement.agency, [])
                for name in agreement.fields:
                    if name.startswith("/"):
                        patterns.append(parse_pointer(name))
                    else:
                        patterns.extend(self.element_pointers(name, declared_only=True))
            if len(self._shares) < 64:
                self._shares[key] = wanted
        return wanted

    def label(self, tokens: tuple[str, ...]) -> str:
        """The field's title for a concrete pointer (array indexes matched by ``*``)."""
        for f in self.fields:
            if len(f.tokens) == len(tokens) and all(
                p == c or (p == "*" and c.isdigit()) for p, c in zip(f.tokens, tokens, strict=True)
            ):
                return f.title or f.name
        return tokens[-1] if tokens else ""


@dataclass(frozen=True)
class Agreement:
    agency: str
    fields: tuple[str, ...]
    purpose: str


def _items(body: Any, *keys: str) -> list[Any]:
    """Lists come bare or wrapped (``{"items": [...]}``); accept both."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("items", *keys):
            value = body.get(key)
            if isinstance(value, list):
                return value
    raise ServiceUnavailable("The forms registry answered in an unexpected shape.")


@dataclass
class _KeyLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    """Holders and waiters."""


class RegistryClient:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        status_ttl: float = 60.0,
        agreements_ttl: float = 30.0,
        elements_ttl: float = 300.0,
    ) -> None:
        self._client = client
        self._status_ttl = status_ttl
        self._agreements_ttl = agreements_ttl
        self._elements_ttl = elements_ttl
        self._versions: dict[tuple[str, int], FormVersion] = {}
        self._agreements: dict[str, tuple[float, list[Agreement]]] = {}
        self._sensitivity: tuple[float, dict[str, str]] | None = None
        self._element_schemas: dict[str, dict[str, Any]] = {}
        self._locks: dict[object, _KeyLock] = {}
        """One lock per thing being loaded, only while someone holds or awaits it: a key
        any caller can name (a form, a version that may not exist) must not stay behind."""

    async def aclose(self) -> None:
        await self._client.aclose()

    @asynccontextmanager
    async def _lock(self, key: object) -> AsyncIterator[None]:
        """One load of ``key`` at a time; the lock is forgotten once nobody needs it."""
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = _KeyLock()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0 and self._locks.get(key) is entry:
                del self._locks[key]

    async def _get(self, path: str, *, missing: str, **params: Any) -> Any:
        try:
            resp = await self._client.get(path, params=params or None)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The forms registry cannot be reached.") from exc
        if resp.status_code == 404:
            raise NotFound(missing)
        if resp.status_code >= 400:
            raise ServiceUnavailable(f"The forms registry answered {resp.status_code}.")
        try:
            return resp.json()
        except ValueError as exc:
            raise ServiceUnavailable("The forms registry answered with bad JSON.") from exc

    async def latest_version(self, form: str) -> int:
        doc = await self._get(
            f"/api/v1/forms/{_segment(form)}/versions/latest",
            missing=f"There is no published form {form!r}.",
        )
        version = doc.get("version") if isinstance(doc, dict) else None
        if isinstance(version, bool) or not isinstance(version, int):
            raise ServiceUnavailable("The forms registry answered in an unexpected shape.")
        return version

    async def version(self, form: str, number: int) -> FormVersion:
        key = (form, number)
        cached = self._versions.get(key)
        now = time.monotonic()
        if cached is not None and now - cached.fetched_at < self._status_ttl:
            return cached
        async with self._lock(key):
            cached = self._versions.get(key)
            if cached is not None and time.monotonic() - cached.fetched_at < self._status_ttl:
                return cached
            fresh = await self._load(form, number, cached)
            if fresh.status in (PUBLISHED, RETIRED):
                self._versions[key] = fresh
            return fresh

    async def _load(self, form: str, number: int, cached: FormVersion | None) -> FormVersion:
        missing = f"Form {form!r} has no version {number}."
        doc = await self._get(f"/api/v1/forms/{_segment(form)}/versions/{number}", missing=missing)
        status = str(doc.get("status", ""))
        fields, restricted = await self._fields(form, number, missing)
        if cached is not None:
            # The schema of a published version never changes, but its field -> element
            # mappings may grow (an auditor confirming a cluster), so the fields are re-read
            # on every status refresh and the validator recompiled only if the restricted
            # set moved.
            cached.status = status
            if fields != cached.fields:
                cached.fields = fields
                cached._shares.clear()  # worked out from the fields
            if restricted != cached.compiled.restricted:
                cached.compiled = await asyncio.to_thread(
                    CompiledSchema, cached.compiled.schema, restricted
                )
            cached.fetched_at = time.monotonic()
            return cached
        form_doc = await self._get(
            f"/api/v1/forms/{_segment(form)}", missing=f"There is no form {form!r}."
        )
        agency = form_doc.get("agency") or form_doc.get("agency_code")
        if not isinstance(agency, str):
            raise ServiceUnavailable(f"The forms registry names no owning agency for {form!r}.")
        schema = doc.get("schema")
        if not isinstance(schema, dict):
            raise ServiceUnavailable(f"Form {form!r} version {number} has no schema.")
        compiled = await asyncio.to_thread(CompiledSchema, schema, restricted)
        return FormVersion(
            form=form,
            version=number,
            status=status,
            owning_agency=agency,
            form_title=str(form_doc.get("title") or form),
            fields=fields,
            compiled=compiled,
            fetched_at=time.monotonic(),
            ui=doc.get("ui") if isinstance(doc.get("ui"), dict) else None,
        )

    async def _fields(
        self, form: str, number: int, missing: str
    ) -> tuple[list[FieldInfo], list[tuple[str, ...]]]:
        fields_doc = await self._get(
            f"/api/v1/forms/{_segment(form)}/versions/{number}/fields", missing=missing
        )
        rows = [r for r in _items(fields_doc, "fields") if isinstance(r, dict)]
        # The registry names each field's sensitivity: a mapped field's is its element's, and
        # a field with no element may be restricted all the same (an SSN the form did not
        # map). Older shapes name none, and then the element dictionary answers for mapped
        # fields.
        given = {
            str(f.get("element") or f.get("element_id")): str(f["sensitivity"])
            for f in rows
            if (f.get("element") or f.get("element_id")) and f.get("sensitivity")
        }
        elements = [f.get("element") or f.get("element_id") or None for f in rows]
        if any(e and e not in given for e in elements):
            given = {**(await self.sensitivities()), **given}
        fields = []
        for f, element in zip(rows, elements, strict=True):
            fields.append(
                FieldInfo(
                    pointer=str(f["pointer"]),
                    tokens=parse_pointer(str(f["pointer"])),
                    name=str(f.get("name") or ""),
                    title=str(f.get("title") or f.get("name") or ""),
                    element=element,
                    declared=f.get("element_source") != "audit",
                    restricted=(given.get(element) if element else f.get("sensitivity"))
                    == RESTRICTED,
                )
            )
        restricted = [f.tokens for f in fields if f.restricted]
        return fields, restricted

    async def agreements(self, form: str) -> list[Agreement]:
        cached = self._agreements.get(form)
        if cached is not None and time.monotonic() - cached[0] < self._agreements_ttl:
            return cached[1]
        async with self._lock(("agreements", form)):
            cached = self._agreements.get(form)
            if cached is not None and time.monotonic() - cached[0] < self._agreements_ttl:
                return cached[1]
            result: list[Agreement] = []
            cursor: str | None = None
            for _ in range(100):
                params: dict[str, Any] = {"form": form, "limit": 500}
                if cursor:
                    params["cursor"] = cursor
                body = await self._get(
                    "/api/v1/agreements", missing=f"There is no form {form!r}.", **params
                )
                result.extend(
                    Agreement(
                        agency=str(a.get("agency") or a.get("agency_code")),
                        fields=tuple(str(x) for x in a.get("fields") or ()),
                        purpose=str(a.get("purpose") or ""),
                    )
                    for a in _items(body, "agreements")
                    if a.get("form") in (None, form)
                )
                cursor = body.get("next_cursor") if isinstance(body, dict) else None
                if not cursor:
                    break
            self._agreements[form] = (time.monotonic(), result)
            return result

    async def element_schema(self, element: str) -> dict[str, Any] | None:
        """The element's JSON Schema from the dictionary (None when unknown or not given)."""
        if element not in await self.sensitivities():
            return None
        return self._element_schemas.get(element)

    async def sensitivities(self) -> dict[str, str]:
        """Element id -> sensitivity, for every element in the dictionary. Read again every
        ``elements_ttl`` seconds by one caller at a time (the others wait for its result, not
        a read of their own); when that read fails, the dictionary read before is used until
        a read succeeds (elements change rarely; a 503 for every submission would not help)."""
        fresh = self._fresh_elements()
        if fresh is not None:
            return fresh
        async with self._lock("elements"):
            fresh = self._fresh_elements()
            if fresh is not None:  # read by the caller this one waited for
                return fresh
            try:
                result, schemas = await self._read_elements()
            except ServiceUnavailable:
                if self._sensitivity is None:
                    raise
                log.warning("element dictionary not refreshed; using the one read before")
                kept = self._sensitivity[1]
                self._sensitivity = (time.monotonic(), kept)
                return kept
            self._element_schemas = schemas
            self._sensitivity = (time.monotonic(), result)
            return result

    def _fresh_elements(self) -> dict[str, str] | None:
        read = self._sensitivity
        if read is not None and time.monotonic() - read[0] < self._elements_ttl:
            return read[1]
        return None

    async def _read_elements(self) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
        result: dict[str, str] = {}
        schemas: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        for _ in range(1000):
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            body = await self._get("/api/v1/elements", missing="No elements.", **params)
            for e in _items(body, "elements"):
                result[str(e["id"])] = str(e.get("sensitivity") or "personal")
                if isinstance(e.get("schema"), dict):
                    schemas[str(e["id"])] = e["schema"]
            cursor = body.get("next_cursor") if isinstance(body, dict) else None
            if not cursor:
                break
        return result, schemas
