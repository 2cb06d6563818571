"""A forms registry double: a tiny in-process ASGI app serving registry-shaped JSON built
from the VA corpus copies in ``tests/data``. It sits on the outbound-call boundary (the
service reaches it through an ``httpx`` transport); the end-to-end suite runs the real one.

Tests mutate ``RegistryDouble`` (publish, retire, agreements) to drive the service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DATA = Path(__file__).parent / "data" / "va-forms"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def flatten_fields(schema: dict[str, Any], elements: dict[str, str]) -> list[dict[str, Any]]:
    """Leaf fields of a schema as ``{pointer, name, title, type, element}`` rows."""
    definitions = schema.get("definitions") or schema.get("$defs") or {}
    rows: list[dict[str, Any]] = []

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in node and seen < 20:
            ref = node["$ref"]
            node = definitions[ref.rsplit("/", 1)[-1]]
            seen += 1
        return node

    def walk(node: dict[str, Any], pointer: str, name: str) -> None:
        node = resolve(node)
        props = node.get("properties")
        if isinstance(props, dict) and props:
            for key, child in props.items():
                walk(child, f"{pointer}/{key}", key)
            return
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            items = resolve(node["items"])
            if isinstance(items.get("properties"), dict):
                walk(items, f"{pointer}/*", name)
                return
        rows.append(
            {
                "pointer": pointer,
                "name": name,
                "title": node.get("title") or name,
                "type": node.get("type") if isinstance(node.get("type"), str) else None,
                "element": elements.get(pointer),
            }
        )

    walk(schema, "", "")
    return rows


ELEMENTS: list[dict[str, Any]] = [
    {
        "id": "person.ssn",
        "sensitivity": "restricted",
        "schema": {"type": "string", "pattern": "^[0-9]{9}$"},
    },
    {
        "id": "person.birthDate",
        "sensitivity": "personal",
        "schema": {"type": "string", "format": "date"},
    },
    {
        "id": "person.citizenshipStatus",
        "sensitivity": "restricted",
        "schema": {
            "type": "string",
            "enum": ["citizen", "permanent_resident", "qualified_noncitizen", "other"],
        },
    },
    {"id": "health.pregnant", "sensitivity": "restricted", "schema": {"type": "boolean"}},
    {
        "id": "bank.accountNumber",
        "sensitivity": "restricted",
        "schema": {"type": "string", "pattern": "^[0-9]{4,17}$"},
    },
    {"id": "person.givenName", "sensitivity": "personal"},
    {"id": "person.familyName", "sensitivity": "personal"},
    {"id": "contact.phone", "sensitivity": "personal"},
    {"id": "address.postal", "sensitivity": "personal"},
]

CG_ELEMENTS = {
    "/veteran/ssnOrTin": "person.ssn",
    "/veteran/dateOfBirth": "person.birthDate",
    "/veteran/fullName/first": "person.givenName",
    "/veteran/fullName/last": "person.familyName",
    "/veteran/primaryPhoneNumber": "contact.phone",
}

SNAP_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["applicant"],
    "properties": {
        "applicant": {
            "type": "object",
            "required": ["birthDate"],
            "properties": {
                "givenName": {"type": "string", "title": "First name"},
                "birthDate": {"type": "string", "title": "Date of birth"},
                "ssn": {"type": "string", "pattern": "^[0-9]{9}$", "title": "SSN"},
            },
        },
        "householdSize": {"type": "integer", "minimum": 1, "title": "Household size"},
    },
}
SNAP_ELEMENTS = {
    "/applicant/birthDate": "person.birthDate",
    "/applicant/givenName": "person.givenName",
    "/applicant/ssn": "person.ssn",
}


class RegistryDouble:
    def __init__(self) -> None:
        self.forms: dict[str, dict[str, Any]] = {}
        self.versions: dict[tuple[str, int], dict[str, Any]] = {}
        self.fields: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.agreements: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[str] = []
        cg = load("10-10CG-schema.json")
        self.add_form("10-10cg", "DVA", "Caregiver assistance application")
        self.add_version("10-10cg", 1, cg, CG_ELEMENTS)
        self.agreements["10-10cg"] = [
            {
                "agency": "DSS",
                "form": "10-10cg",
                "fields": ["person.birthDate", "/veteran/address"],
                "purpose": "Benefit coordination",
            },
            {
                "agency": "DOL",
                "form": "10-10cg",
                "fields": ["/primaryCaregiver/fullName"],
                "purpose": "Caregiver employment support",
            },
        ]
        self.add_form("snap", "DSS", "SNAP application")
        self.add_version("snap", 1, SNAP_SCHEMA, SNAP_ELEMENTS, with_sensitivity=True)
        self.agreements["snap"] = []

    def add_form(self, slug: str, agency: str, title: str) -> None:
        self.forms[slug] = {"slug": slug, "agency": agency, "title": title}

    def add_version(
        self,
        slug: str,
        number: int,
        schema: dict[str, Any],
        elements: dict[str, str],
        status: str = "published",
        with_sensitivity: bool = False,
    ) -> None:
        """``with_sensitivity``: rows carry each element's sensitivity, as the real registry
        does; without it the service must ask the element dictionary."""
        self.versions[(slug, number)] = {
            "version": number,
            "status": status,
            "schema": schema,
            "ui": None,
            "published_at": "2026-01-01T00:00:00Z" if status != "draft" else None,
        }
        rows = flatten_fields(schema, elements)
        if with_sensitivity:
            level = {e["id"]: e["sensitivity"] for e in ELEMENTS}
            for row in rows:
                row["sensitivity"] = level.get(row["element"]) if row["element"] else None
        self.fields[(slug, number)] = rows

    def app(self) -> Starlette:
        async def form(request: Request) -> JSONResponse:
            slug = request.path_params["slug"]
            self.calls.append(f"form {slug}")
            if slug not in self.forms:
                return JSONResponse({"status": 404}, status_code=404)
            return JSONResponse(self.forms[slug])

        async def version(request: Request) -> JSONResponse:
            slug, n = request.path_params["slug"], request.path_params["n"]
            self.calls.append(f"version {slug} {n}")
            if n == "latest":
                numbers = [
                    v
                    for (s, v), doc in self.versions.items()
                    if s == slug and doc["status"] == "published"
                ]
                if not numbers:
                    return JSONResponse({"status": 404}, status_code=404)
                n = str(max(numbers))
            doc = self.versions.get((slug, int(n))) if n.isdigit() else None
            if doc is None:
                return JSONResponse({"status": 404}, status_code=404)
            return JSONResponse(doc)

        async def fields(request: Request) -> JSONResponse:
            slug, n = request.path_params["slug"], request.path_params["n"]
            self.calls.append(f"fields {slug} {n}")
            rows = self.fields.get((slug, int(n)))
            if rows is None:
                return JSONResponse({"status": 404}, status_code=404)
            return JSONResponse({"items": rows})

        async def agreements(request: Request) -> JSONResponse:
            slug = request.query_params.get("form", "")
            self.calls.append(f"agreements {slug}")
            return JSONResponse({"items": self.agreements.get(slug, [])})

        async def elements(request: Request) -> JSONResponse:
            self.calls.append("elements")
            return JSONResponse({"items": ELEMENTS, "next_cursor": None})

        return Starlette(
            routes=[
                Route("/api/v1/forms/{slug}", form),
                Route("/api/v1/forms/{slug}/versions/{n}", version),
                Route("/api/v1/forms/{slug}/versions/{n}/fields", fields),
                Route("/api/v1/agreements", agreements),
                Route("/api/v1/elements", elements),
            ]
        )
