"""Acceptance review of the receipt (its text as a resident reads it): the form's title, its
questions and its choices in the receipt's language (from the version's UI document, as the
portal shows them), dates in words, "Who your answers go to" with each delivery's state, and
a receipt process pool that recovers once broken."""

from __future__ import annotations

import asyncio
import copy
import os
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.answers import parse_pointer
from tellonce_submissions.models import Submission
from tellonce_submissions.receipts.render import (
    STATES,
    WARM_UP_DATA,
    ReceiptRenderer,
    receipt_html,
)
from tellonce_submissions.receipts.service import receipt_data
from tellonce_submissions.registry.client import FieldInfo, FormVersion
from tellonce_submissions.validation import CompiledSchema

from .registry_double import RegistryDouble, load
from .test_sharing_and_receipt import cg_submission, cg_version

FUEL = ["oil", "natural_gas", "electric"]
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "fullName": {"type": "string", "title": "Full name"},
        "birthDate": {"type": "string", "format": "date", "title": "Date of birth"},
        "heatingFuel": {"type": "string", "enum": FUEL, "title": "Main heating fuel"},
        "monthlyIncome": {"type": "number", "minimum": 0, "title": "Monthly income (USD)"},
        "household": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "relationship": {
                        "type": "string",
                        "enum": ["child", "spouse"],
                        "enumNames": ["Child", "Spouse"],
                        "title": "Relationship",
                    }
                },
            },
        },
    },
}
UI: dict[str, Any] = {
    "locales": ["en", "es"],
    "title": {"en": "Energy assistance", "es": "Asistencia con la energía"},
    "fields": {
        "/fullName": {"label": {"en": "Full name", "es": "Nombre completo"}},
        "/birthDate": {"label": {"en": "Date of birth", "es": "Fecha de nacimiento"}},
        "/heatingFuel": {
            "label": {"en": "Main heating fuel", "es": "Combustible principal de calefacción"},
            "options": {
                "oil": {"en": "Heating oil", "es": "Aceite de calefacción"},
                "natural_gas": {"en": "Natural gas", "es": "Gas natural"},
            },
        },
        "/household/*/relationship": {"label": {"en": "Relationship", "es": "Parentesco"}},
    },
}
ANSWERS: dict[str, Any] = {
    "fullName": "Ana Ruiz",
    "birthDate": "1985-02-03",
    "heatingFuel": "oil",
    "monthlyIncome": 2150.5,
    "household": [{"relationship": "child"}],
}


def energy_version() -> FormVersion:
    titles = {
        "/fullName": "Full name",
        "/birthDate": "Date of birth",
        "/heatingFuel": "Main heating fuel",
        "/monthlyIncome": "Monthly income (USD)",
        "/household/*/relationship": "Relationship",
    }
    return FormVersion(
        form="energy",
        version=1,
        status="published",
        owning_agency="DSS",
        form_title="Energy assistance",
        fields=[FieldInfo(p, parse_pointer(p), p, t, None) for p, t in titles.items()],
        compiled=CompiledSchema(SCHEMA, []),
    )


def energy_submission() -> Submission:
    return Submission(
        id="00000000-0000-0000-0000-000000000002",
        reference="CT-2026-ABCD-EFGH",
        form="energy",
        version=1,
        submitted_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        receivers=[
            {"agency": "DSS", "fields": ["/fullName", "/heatingFuel", "/birthDate"]},
            {"agency": "DOH", "fields": ["/heatingFuel"]},
        ],
    )


def answers_of(data: dict[str, Any]) -> dict[str, str]:
    return {r["label"]: r["value"] for r in data["answers"]}


def test_the_spanish_receipt_has_the_forms_spanish_title_questions_and_choices() -> None:
    data = receipt_data(energy_submission(), ANSWERS, energy_version(), "es", ui=UI)
    assert data["form_title"] == "Asistencia con la energía"
    shown = answers_of(data)
    assert shown["Nombre completo"] == "Ana Ruiz"
    assert shown["Combustible principal de calefacción"] == "Aceite de calefacción"
    assert shown["Fecha de nacimiento"] == "3 de febrero de 1985"
    assert shown["Parentesco"] == "Child"  # the schema's enumNames: no Spanish given
    assert shown["Monthly income (USD)"] == "2150.5"  # no Spanish label; not money-formatted
    dss = next(r for r in data["receivers"] if r["agency"] == "DSS")
    assert dss["fields"] == "Nombre completo, Combustible principal de calefacción, " + (
        "Fecha de nacimiento"
    )
    html = receipt_html(data)
    assert "Asistencia con la energía" in html
    assert "Full name" not in html
    assert "Main heating fuel" not in html
    assert "1985-02-03" not in html


def test_the_english_receipt_gives_choices_and_dates_in_words() -> None:
    data = receipt_data(energy_submission(), ANSWERS, energy_version(), ui=UI)
    assert data["form_title"] == "Energy assistance"
    shown = answers_of(data)
    assert shown["Main heating fuel"] == "Heating oil"
    assert shown["Date of birth"] == "3 February 1985"
    assert shown["Relationship"] == "Child"
    other = {**ANSWERS, "heatingFuel": "electric", "birthDate": "XXXX-02-03"}
    shown = answers_of(receipt_data(energy_submission(), other, energy_version(), ui=UI))
    assert shown["Main heating fuel"] == "electric"  # a choice with no label: as stored
    assert shown["Date of birth"] == "XXXX-02-03"  # not a whole date: as written


def test_a_va_date_pattern_is_a_date_in_both_languages() -> None:
    answers = copy.deepcopy(load("10-10CG-example.json"))  # dateOfBirth 1990-07-03
    version = cg_version()
    submission = cg_submission(version, answers)
    english = [r["value"] for r in receipt_data(submission, answers, version)["answers"]]
    spanish = [r["value"] for r in receipt_data(submission, answers, version, "es")["answers"]]
    assert "3 July 1990" in english
    assert "3 de julio de 1990" in spanish
    assert "1990-07-03" not in english + spanish


def test_who_your_answers_go_to_says_each_deliverys_state() -> None:
    deliveries = {"DSS": "acked", "DOH": "pending"}
    english = receipt_data(
        energy_submission(), ANSWERS, energy_version(), ui=UI, deliveries=deliveries
    )
    states = {r["agency"]: r["state"] for r in english["receivers"]}
    assert states == {
        "DSS": "Delivered and confirmed by the agency",
        "DOH": "Waiting to be delivered",
    }
    html = receipt_html(english)
    assert "Who received your answers" not in html  # DOH has received nothing yet
    assert "Who your answers go to" in html
    assert "Waiting to be delivered" in html
    spanish = receipt_data(
        energy_submission(), ANSWERS, energy_version(), "es", ui=UI, deliveries=deliveries
    )
    html = receipt_html(spanish)
    assert "A quién se envían sus respuestas" in html
    assert "En espera de entrega" in html


async def test_a_broken_receipt_pool_is_replaced() -> None:
    """A worker killed breaks the pool for good: each later receipt failed until a restart.
    Now the request that meets it starts a new pool and renders there."""
    renderer = ReceiptRenderer()
    broken = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    renderer._pool = broken
    loop = asyncio.get_running_loop()
    with pytest.raises(BrokenProcessPool):
        await loop.run_in_executor(broken, os._exit, 1)  # the worker dies
    try:
        pdfs = await asyncio.wait_for(
            asyncio.gather(renderer.render(WARM_UP_DATA), renderer.render(WARM_UP_DATA)), 120
        )
        assert all(pdf.startswith(b"%PDF-") for pdf in pdfs)
        assert renderer._pool is not None
        assert renderer._pool is not broken
    finally:
        renderer.close()


async def test_the_receipt_endpoint_words_it_from_the_ui_document_and_the_deliveries(
    app: FastAPI,
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    registry: RegistryDouble,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The route hands the renderer the version's UI document and the deliveries' states
    (the words themselves are checked above, without a PDF to read)."""
    registry.add_form("energy-receipt", "DSS", "Energy assistance")
    registry.add_version("energy-receipt", 1, SCHEMA, {})
    registry.versions[("energy-receipt", 1)]["ui"] = UI
    registry.agreements["energy-receipt"] = [
        {"agency": "DOH", "form": "energy-receipt", "fields": ["/heatingFuel"], "purpose": "p"}
    ]
    headers = {**tokens.headers("ana"), "Idempotency-Key": uuid.uuid4().hex}
    payload = {"form": "energy-receipt", "version": 1, "answers": ANSWERS}
    created = await client.post("/api/v1/submissions", json=payload, headers=headers)
    assert created.status_code == 201, created.text
    rendered: list[dict[str, Any]] = []

    async def render(data: dict[str, Any]) -> bytes:
        rendered.append(data)
        return b"%PDF-"

    monkeypatch.setattr(app.state.receipts, "render", render)
    resp = await client.get(
        f"/api/v1/submissions/{created.json()['id']}/receipt.pdf",
        params={"lang": "es"},
        headers=tokens.headers("ana"),
    )
    assert resp.status_code == 200
    [data] = rendered
    assert data["form_title"] == "Asistencia con la energía"
    assert answers_of(data)["Combustible principal de calefacción"] == "Aceite de calefacción"
    states = {r["agency"]: r["state"] for r in data["receivers"]}
    assert set(states) == {"DSS", "DOH"}
    assert all(state in STATES["es"].values() for state in states.values())
