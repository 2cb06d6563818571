"""Staff, OPM and admin pages in Spanish: none of their English labels is left, the Spanish ones
show, and dates and numbers follow the locale. The gateway is the fake one with the dashboard's
performance and referral endpoints (``test_dashboard.Gateway``)."""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from .fake_gateway import PASSWORD, portal_browser
from .test_dashboard import Gateway

NAV = ["Main", "Catalog admin", "Performance", "Programs for you", "Sign out", "Find a form"]

ADMIN_EN = [
    "Catalog administration", "Agencies", "Code", "Name", "Add agency", "Forms", "Slug",
    "Agency", "Title", "Published version", "New form", "Lower-case letters", "Description",
    "Minutes to complete", "Responses a year", "Create form", "Agreements", "Form", "Fields",
    "Purpose", "New agreement", "Receiving agency", "One per line", "Legal basis",
    "Create agreement",
]  # fmt: skip
ADMIN_ES = [
    "Administración del catálogo", "Agencias", "Código", "Nombre", "Agregar agencia",
    "Formularios", "Identificador", "Título", "Versión publicada", "Nuevo formulario",
    "Letras minúsculas, números y guiones", "Descripción", "Minutos para completarlo",
    "Respuestas al año", "Crear formulario", "Acuerdos", "Formulario", "Campos", "Propósito",
    "Nuevo acuerdo", "Agencia que recibe", "Uno por línea", "Crear acuerdo",
    "Administrar el catálogo", "Desempeño",
]  # fmt: skip
FORM_EN = [
    "Back", "Versions", "Version", "Status", "Breaking", "Created", "Published", "Publish",
    "Retire", "Actions", "Import a new version", "JSON Schema file", "or 2020-12",
    "UI document", "optional", "Import as a draft version",
]  # fmt: skip
FORM_ES = [
    "Atrás", "Versiones", "Versión", "Estado", "Incompatible", "Creada", "Publicada",
    "Retirar", "versión 1", "Importar una versión nueva", "Archivo JSON Schema", "o 2020-12",
    "Documento de interfaz", "opcional", "Importar como versión en borrador",
    "31 de octubre de 2026", "1 de noviembre de 2026",
]  # fmt: skip
REPORT_EN = ["saved as", "breaking change", "Changes from the published version", "breaking"]
REPORT_ES = [
    "La versión 2 se guardó como borrador (3 campos).",
    "Es un cambio incompatible para las agencias que usan el formulario.",
    "Cambios respecto a la versión publicada", "incompatible",
]  # fmt: skip
DASHBOARD_EN = [
    "Service performance", "Period", "For example", "Group by", "Priority", "All", "Show",
    "Jobs and the economy", "From", "Groups with fewer than", "Download", "Measures by group",
    "Group", "Applications", "First response", "Decision", "Needs info", "Open",
    "Failed deliveries", "Dead letters", "Digital uptake", "Target", "Weekly trend",
    "fewer than", "amber", "Applications per week", "April", "Blue line",
    "Open applications by status and age", "Status", "Age", "In review", "8-30d",
    "Referrals across programs", "Suggested", "To", "Funnel", "suggested", "started",
    "submitted",
]  # fmt: skip
DASHBOARD_ES = [
    "Desempeño de los servicios", "Periodo", "Por ejemplo", "Agrupar por", "Prioridad",
    "Todas", "Mostrar", "Empleo y economía", "Niñez y familia",
    "Del 1 de abril de 2026 al 30 de junio de 2026.",
    "Los grupos con menos de 10 solicitudes no muestran cifras (—).", "Descargar (CSV)",
    "Medidas por grupo", "Grupo", "Solicitudes", "Primera respuesta (mediana, días)",
    "Decisión: mediana / p90 (días)", "Se pidió información", "Abiertas", "Entregas fallidas",
    "Uso digital", "Meta", "Tendencia semanal", "menos de 10", "ámbar: 80 % / 90 %",
    "12 / 31,5", "12,5 %", "1,8 %", "Solicitudes por semana: 6 de abril de 2026 30",
    "Línea azul", "Solicitudes abiertas por estado y antigüedad", "Antigüedad", "En revisión",
    "8 a 30 días", "Referencias entre programas", "Embudo", "sugeridas: 40", "iniciadas: 12",
    "enviadas: 5",
]  # fmt: skip
SYSTEMS_EN = [
    "Inbox", "Webhooks and failed deliveries", "Your webhook endpoints", "Address", "Status",
    "Active", "Rotate secret", "Delete", "Actions", "Receiver address", "Add endpoint",
    "Failed deliveries", "Your reference number", "Reference number", "Form", "Attempts",
    "Last error",
    "Deliver again", "Deliver all again",
]  # fmt: skip
SYSTEMS_ES = [
    "Bandeja de entrada", "Webhooks y entregas fallidas", "Sus direcciones de webhook",
    "Dirección", "Estado", "Activa", "Cambiar secreto", "Eliminar", "Acciones",
    "Dirección del receptor (URL)", "Agregar dirección", "Entregas fallidas",
    "Número de referencia", "Formulario", "Intentos", "1.234", "Último error",
    "Entregar de nuevo", "Entregar todas de nuevo",
]  # fmt: skip
INBOX_EN = [
    "Inbox", "Applications delivered to", "Your reference number", "Reference number", "Form",
    "Sent", "Status",
    "Delivered", "Answers erased", "under the retention rule", "November",
]  # fmt: skip
INBOX_ES = [
    "Bandeja de entrada", "Solicitudes entregadas a DSS", "Número de referencia",
    "Formulario", "Enviada", "Estado", "Entregada",
    "Respuestas borradas el 31 de octubre de 2026 según la regla de conservación",
]  # fmt: skip
AUDIT_EN = [
    "Redundancy audit", "Download", "Burden", "Burden hours a year", "Hours saved", "Form",
    "Facts asked for more than once", "Fact", "Forms", "Agencies", "Forms that overlap most",
    "Facts shared", "Pairs of forms",
]  # fmt: skip
AUDIT_ES = [
    "Auditoría de redundancia", "Descargar", "Carga de trabajo", "Horas de carga al año",
    "12.000", "3.400,5", "28,3 %", "Horas ahorradas", "Datos que se piden más de una vez",
    "Dato", "Formularios", "Agencias", "Formularios que más se solapan", "Datos compartidos",
    "0,5",
]  # fmt: skip
REFERRALS_EN = [
    "Programs you may be eligible for", "Start it with my answers filled in", "You have sent it.",
    "Programs for you",
]  # fmt: skip
REFERRALS_ES = [
    "Programas para los que podría calificar", "Comenzar con mis respuestas ya puestas",
    "Ya la envió.",
    "Programas para usted", "Ayuda con el cuidado",
]  # fmt: skip


def shown_text(page: str) -> str:
    """What a person sees or hears: the text between tags, and the accessible names and
    hints held in attributes (aria-label, title, alt, placeholder)."""
    attributes = re.findall(r'(?:aria-label|title|alt|placeholder)="([^"]*)"', page)
    body = re.sub(r"<title>.*?</title>", " ", page, flags=re.S)
    title = re.search(r"<title>(.*?)</title>", page, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", body)
    parts = [text, *attributes, title.group(1) if title else ""]
    return html_lib.unescape(" ".join(parts))


def assert_spanish(page: str, english: list[str], spanish: list[str]) -> None:
    text = shown_text(page)
    left = [w for w in english if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text)]
    assert not left, f"English left on a Spanish page: {left}"
    missing = [w for w in spanish if w not in text]
    assert not missing, f"Spanish missing: {missing}"
    assert '<html lang="es">' in page


@pytest.fixture
def fake() -> Gateway:
    gateway = Gateway()
    gateway.performance_calls = []
    gateway.started = []
    return gateway


@pytest.fixture
async def browser(fake: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_browser(fake.transport()) as client:
        yield client


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


async def in_spanish_as(client: httpx.AsyncClient, email: str) -> None:
    switched = await client.get("/language", params={"to": "es", "next": "/"})
    assert switched.status_code in (302, 303, 307)
    page = (await client.get("/sign-in")).text
    assert "Iniciar sesión" in page
    signed = await client.post(
        "/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page)}
    )
    assert signed.status_code == 303, signed.text


async def test_admin_pages_in_spanish(browser: httpx.AsyncClient, fake: Gateway) -> None:
    await in_spanish_as(browser, "admin@demo.gov")
    home = await browser.get("/admin")
    assert home.status_code == 200
    assert_spanish(home.text, ADMIN_EN + NAV, ADMIN_ES)

    wrong = await browser.post(
        "/admin/forms",
        data={"slug": "x", "agency": "DSS", "minutes": "ten", "csrf_token": csrf_of(home.text)},
    )
    assert wrong.status_code == 422
    assert_spanish(wrong.text, ["Enter a whole number", "There is a problem"], [
        "Hay un problema", "Escriba un número entero"])  # fmt: skip

    page = await browser.get("/admin/forms/snap")
    assert_spanish(page.text, FORM_EN + NAV, FORM_ES)
    token = csrf_of(page.text)
    broken = await browser.post(
        "/admin/forms/snap/versions",
        data={"csrf_token": token},
        files={"schema_file": ("bad.json", b"{not json", "application/json")},
    )
    assert broken.status_code == 422
    assert_spanish(broken.text, ["The schema file is not valid JSON"], [
        "El archivo del esquema no es un JSON válido"])  # fmt: skip
    none = await browser.post("/admin/forms/snap/versions", data={"csrf_token": token})
    assert_spanish(none.text, ["Choose a JSON Schema file"], ["Elija un archivo JSON Schema"])
    schema = {"type": "object", "properties": {"fullName": {"type": "string"}}}
    imported = await browser.post(
        "/admin/forms/snap/versions",
        data={"csrf_token": token},
        files={"schema_file": ("snap.json", json.dumps(schema).encode(), "application/json")},
    )
    assert imported.status_code == 201
    assert_spanish(imported.text, REPORT_EN + FORM_EN, REPORT_ES + FORM_ES)


async def test_dashboard_in_spanish(browser: httpx.AsyncClient) -> None:
    await in_spanish_as(browser, "auditor@demo.gov")
    page = await browser.get("/dashboard", params={"period": "2026-Q2"})
    assert page.status_code == 200
    assert_spanish(page.text, DASHBOARD_EN + NAV[:1], DASHBOARD_ES)
    assert "2026-04-01" not in shown_text(page.text), "dates are written out per locale"
    by_priority = await browser.get("/dashboard", params={"group_by": "priority"})
    assert '<option value="priority" selected>Prioridad</option>' in by_priority.text
    bad = await browser.get("/dashboard", params={"period": "DROP TABLE", "priority": "x"})
    assert_spanish(
        bad.text,
        ["Use YYYY", "Choose one of the four priorities"],
        ["Escriba el periodo como AAAA", "Elija una de las cuatro prioridades"],
    )


async def test_audit_in_spanish(browser: httpx.AsyncClient) -> None:
    await in_spanish_as(browser, "auditor@demo.gov")
    page = await browser.get("/audit")
    assert page.status_code == 200
    assert_spanish(page.text, AUDIT_EN + NAV[:3], AUDIT_ES)
    drill = await browser.get("/audit", params={"cluster": "c1"})
    assert_spanish(
        drill.text,
        ["Fields in this cluster", "Split off", "Field", "Type", "Name of the new cluster",
         "Data element", "Confirm the cluster", "Reject the ticked fields",
         "Fields to split off, reject or confirm", "Tick the fields", "Whose answer",
         "The person applying", "Confirm the ticked fields", "maps only the fields", "Yes"],
        ["Campos del grupo", "Separar", "Campo", "Tipo", "Nombre del nuevo grupo",
         "Elemento de datos", "Al confirmar el grupo, solo se asignan", "Confirmar el grupo",
         "Rechazar los campos marcados", "Campos que quiere separar, rechazar o confirmar",
         "Marque los campos", "De quién es la respuesta", "La persona que presenta la solicitud",
         'Lo asigna "Confirmar el grupo"', "Confirmar los campos marcados", "Sí"],
    )  # fmt: skip
    empty = await browser.post("/audit/clusters/c1/split", data={"csrf_token": csrf_of(drill.text)})
    assert_spanish(empty.text, ["Select the fields"], ["Seleccione los campos"])
    none = await browser.post("/audit/clusters/c1/reject", data={"csrf_token": csrf_of(drill.text)})
    assert_spanish(none.text, ["Select the fields"], ["Seleccione los campos que quiere rechazar"])
    unticked = await browser.post(
        "/audit/clusters/c1/confirm",
        data={"csrf_token": csrf_of(drill.text), "element": "person.birthDate", "scope": "ticked"},
    )
    assert_spanish(
        unticked.text, ["Select the fields"], ["Seleccione los campos que quiere confirmar"]
    )
    nobody = await browser.post(
        "/audit/clusters/c-address.street3/confirm",
        data={"csrf_token": csrf_of(drill.text), "element": "address.street3"},
    )
    assert_spanish(
        nobody.text,
        ["Nothing was confirmed", "Guardian"],
        ["No se confirmó nada: ninguno de los 2 campos del grupo", "Tutor legal"],
    )


async def test_what_a_confirmation_left_out_in_spanish(browser: httpx.AsyncClient) -> None:
    """The counts, the list's words and the known *whose* readings in Spanish; the registry's
    own words (its reason, a reading the portal has no words for) marked English."""
    await in_spanish_as(browser, "auditor@demo.gov")
    drill = await browser.get("/audit", params={"cluster": "e-address.street"})
    confirmed = await browser.post(
        "/audit/clusters/e-address.street/confirm",
        data={"csrf_token": csrf_of(drill.text), "element": "address.street"},
    )
    assert confirmed.status_code == 200
    assert_spanish(
        confirmed.text,
        ["Mapped 2 fields", "Fields left out", "Fields the confirmation left out", "Why",
         "Spouse", "The veteran", "Whose answer"],
        ["Confirmado como address.street. Se asignaron 2 campos; quedaron fuera 3.",
         "Campos que quedaron fuera", "Campos que la confirmación dejó fuera", "Motivo",
         "Cónyuge", "El veterano", "De quién es la respuesta"],
    )  # fmt: skip
    listed = confirmed.text.split("data-left-out")[1].split("</table>")[0]
    assert '<td lang="en">education program</td>' in listed
    assert '<td lang="en">whose: spouse, not the filer' in listed


async def test_webhooks_and_failed_deliveries_in_spanish(
    browser: httpx.AsyncClient, fake: Gateway
) -> None:
    fake.dead["d9"] = {
        "id": "d9", "submission_id": "s9", "reference": "CT-2026-DEAD-0001", "agency": "DSS",
        "form": "snap", "version": 1, "fields": ["*"], "status": "dead", "attempts": 1234,
        "last_error": "connect timeout", "created_at": "2026-11-22T10:00:00Z",
    }  # fmt: skip
    fake.endpoints["e1"] = {
        "id": "e1", "agency": "DSS", "url": "https://dss.example.gov/hook", "status": "active",
        "disabled_reason": None,
    }  # fmt: skip
    await in_spanish_as(browser, "staff@dss.demo.gov")
    page = await browser.get("/inbox/systems")
    assert page.status_code == 200
    assert_spanish(page.text, SYSTEMS_EN + NAV[:1], SYSTEMS_ES)
    bad = await browser.post(
        "/inbox/systems/endpoints", data={"url": "ftp://x", "csrf_token": csrf_of(page.text)}
    )
    assert bad.status_code == 422
    assert_spanish(bad.text, ["Enter the address of your receiver"], [
        "Escriba la dirección de su receptor"])  # fmt: skip


async def test_inbox_with_an_erased_delivery_in_spanish(
    browser: httpx.AsyncClient, fake: Gateway
) -> None:
    fake.delivered("s1", "CT-2026-ERAS-ED01", erased_at="2026-11-01T03:00:00Z")
    await in_spanish_as(browser, "staff@dss.demo.gov")
    page = await browser.get("/inbox")
    assert page.status_code == 200
    assert_spanish(page.text, INBOX_EN + NAV[:1], INBOX_ES)


async def test_referrals_in_spanish(browser: httpx.AsyncClient) -> None:
    await in_spanish_as(browser, "resident@demo.gov")
    page = await browser.get("/referrals")
    assert page.status_code == 200
    assert_spanish(page.text, REFERRALS_EN + NAV[:1], REFERRALS_ES)


async def test_the_same_pages_stay_english_in_english(browser: httpx.AsyncClient) -> None:
    """The check is not vacuous: in English the labels it looks for are there."""
    html = (await browser.get("/sign-in")).text
    await browser.post(
        "/sign-in",
        data={"email": "admin@demo.gov", "password": PASSWORD, "csrf_token": csrf_of(html)},
    )
    text = shown_text((await browser.get("/admin")).text)
    assert all(w in text for w in ADMIN_EN)
    text = shown_text((await browser.get("/admin/forms/snap")).text)
    assert all(w in text for w in ["Versions", "Retire", "Created"])
    assert "1 November 2026" in text
    text = shown_text((await browser.get("/dashboard", params={"period": "2026-Q2"})).text)
    assert "From 1 April 2026 to 30 June 2026." in text
    assert "In review" in text
    assert "8 to 30 days" in text
