"""The walking skeleton as a reusable scenario: one submission told once, delivered to the
owning agency (all answers) and to a partner agency (only its two agreed fields)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from standardwebhooks import Webhook

from hubkit.receivers import start_receiver

DEMO_PASSWORD = "tell-once-demo-password"

BENEFITS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "title": "Benefits application",
    "required": ["applicant", "household"],
    "additionalProperties": False,
    "properties": {
        "applicant": {
            "type": "object",
            "required": ["fullName", "birthDate"],
            "additionalProperties": False,
            "properties": {
                "fullName": {"type": "string", "minLength": 1, "x-element": "person.fullName"},
                "birthDate": {"type": "string", "format": "date", "x-element": "person.birthDate"},
                "ssn": {"type": "string", "pattern": "^[0-9]{9}$", "x-element": "person.ssn"},
            },
        },
        "household": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "monthlyIncome": {"type": "number", "minimum": 0},
            },
        },
    },
}


ELEMENTS = [
    ("person.fullName", {"type": "string"}, "Full name", "Nombre completo", "personal"),
    (
        "person.birthDate",
        {"type": "string", "format": "date"},
        "Date of birth",
        "Fecha de nacimiento",
        "personal",
    ),
    (
        "person.ssn",
        {"type": "string", "pattern": "^[0-9]{9}$"},
        "Social Security number",
        "Número de Seguro Social",
        "restricted",
    ),
]


def token(client: httpx.Client, **form: str) -> str:
    resp = client.post("/api/v1/identity/token", data=form)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@dataclass
class Outcome:
    submission: dict[str, Any]
    deliveries: dict[str, tuple[dict[str, str], dict[str, Any]]]
    read_back: dict[str, Any]
    replay: httpx.Response


def run_skeleton(gateway_url: str, codes: tuple[str, str] = ("DSS", "DOL")) -> Outcome:
    owner, partner = codes
    slug = f"benefits-{uuid.uuid4().hex[:8]}"
    receivers = {owner: start_receiver(), partner: start_receiver()}
    try:
        with httpx.Client(base_url=gateway_url, timeout=30) as c:
            admin = bearer(
                token(
                    c,
                    grant_type="password",
                    username="admin@demo.gov",
                    password=DEMO_PASSWORD,
                    client_id="portal",
                )
            )
            for code, name in ((owner, "Social Services"), (partner, "Labor")):
                resp = c.post("/api/v1/agencies", json={"code": code, "name": name}, headers=admin)
                if resp.status_code == 409:  # made by another test sharing this hub
                    known = {a["code"] for a in c.get("/api/v1/agencies?limit=100").json()["items"]}
                    assert code in known
                    continue
                assert resp.status_code == 201, resp.text
            for element_id, schema, en, es, sensitivity in ELEMENTS:
                # the hub may be shared with other tests that already defined the element
                if c.get(f"/api/v1/elements/{element_id}").status_code == 200:
                    continue
                resp = c.post(
                    "/api/v1/elements",
                    headers=admin,
                    json={
                        "id": element_id,
                        "schema": schema,
                        "label": {"en": en, "es": es},
                        "sensitivity": sensitivity,
                    },
                )
                assert resp.status_code == 201, resp.text
            resp = c.post(
                "/api/v1/forms",
                headers=admin,
                json={
                    "slug": slug,
                    "agency": owner,
                    "title": "Benefits application",
                    "description": "Food and cash assistance",
                    "minutes": 45,
                    "yearly_volume": 120000,
                },
            )
            assert resp.status_code == 201, resp.text
            resp = c.post(
                f"/api/v1/forms/{slug}/versions", headers=admin, json={"schema": BENEFITS_SCHEMA}
            )
            assert resp.status_code == 201, resp.text
            version = resp.json()["version"]
            resp = c.post(f"/api/v1/forms/{slug}/versions/{version}/publish", headers=admin)
            assert resp.status_code == 200, resp.text
            resp = c.post(
                "/api/v1/agreements",
                headers=admin,
                json={
                    "agency": partner,
                    "form": slug,
                    "fields": ["/applicant/fullName", "/applicant/birthDate"],
                    "purpose": "Verify identity for a job-training referral",
                    "legal_basis": "State code 17b-1",
                },
            )
            assert resp.status_code == 201, resp.text

            secrets: dict[str, str] = {}
            for code, receiver in receivers.items():
                resp = c.post(
                    "/api/v1/identity/clients",
                    headers=admin,
                    json={"agency": code, "name": f"{code} case system"},
                )
                assert resp.status_code == 201, resp.text
                creds = resp.json()
                agency = bearer(
                    token(
                        c,
                        grant_type="client_credentials",
                        client_id=creds["client_id"],
                        client_secret=creds["client_secret"],
                    )
                )
                resp = c.post(
                    "/api/v1/deliveries/endpoints", headers=agency, json={"url": receiver.url}
                )
                assert resp.status_code == 201, resp.text
                assert resp.json()["secret"].startswith("whsec_")
                secrets[code] = resp.json()["secret"]

            email = f"resident-{uuid.uuid4().hex[:8]}@example.org"
            password = "lantern orbit meadow tulip 42"
            resp = c.post(
                "/api/v1/identity/residents",
                json={"email": email, "password": password, "full_name": "Ana Diaz"},
            )
            assert resp.status_code == 201, resp.text
            resident = bearer(
                token(
                    c, grant_type="password", username=email, password=password, client_id="portal"
                )
            )
            answers = {
                "applicant": {
                    "fullName": "Ana Diaz",
                    "birthDate": "1990-04-01",
                    "ssn": "123456789",
                },
                "household": {"size": 3, "monthlyIncome": 2100.5},
            }
            body = {"form": slug, "version": version, "answers": answers}
            key = str(uuid.uuid4())
            resp = c.post(
                "/api/v1/submissions", json=body, headers={**resident, "Idempotency-Key": key}
            )
            assert resp.status_code == 201, resp.text
            submission = resp.json()
            replay = c.post(
                "/api/v1/submissions", json=body, headers={**resident, "Idempotency-Key": key}
            )

            got: dict[str, tuple[dict[str, str], dict[str, Any]]] = {}
            for code, receiver in receivers.items():
                (first, *_rest) = receiver.wait_for(1)
                Webhook(secrets[code]).verify(first.body, first.headers)
                got[code] = (first.headers, orjson.loads(first.body))
            read_back = c.get(f"/api/v1/submissions/{submission['reference']}", headers=resident)
            assert read_back.status_code == 200, read_back.text
            return Outcome(submission, got, read_back.json(), replay)
    finally:
        for receiver in receivers.values():
            receiver.close()
