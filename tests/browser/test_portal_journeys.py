"""The portal in Debian's Chromium (Playwright), against the whole hub on PostgreSQL: a
resident signs up and finds their name already filled in on the first form, files it with one
deliberate error, fixes it, submits, downloads the receipt and starts a second form that comes
prefilled; staff of a partner agency see only their agreed fields and post a status the
resident then sees; an auditor opens the audit; the resident journey again in Spanish.
axe-core checks every page for WCAG 2.x A/AA violations."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hubkit.harness import Hub

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DEMO_PASSWORD = "tell-once-demo-password"
PASSWORD = "a long enough passphrase for the test resident"
AXE_SOURCE = AXE.read_text(encoding="utf-8") if AXE.exists() else ""
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
    ),
]

ELEMENTS = [
    ("person.givenName", {"type": "string", "minLength": 1, "maxLength": 100},
     {"en": "First name", "es": "Nombre"}, "personal"),
    ("person.familyName", {"type": "string", "minLength": 1, "maxLength": 100},
     {"en": "Last name", "es": "Apellido"}, "personal"),
    ("person.birthDate", {"type": "string", "format": "date"},
     {"en": "Date of birth", "es": "Fecha de nacimiento"}, "personal"),
]  # fmt: skip


def form_schema(title: str, household: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "givenName": {"type": "string", "minLength": 1, "maxLength": 100,
                      "x-element": "person.givenName"},
        "familyName": {"type": "string", "minLength": 1, "maxLength": 100,
                       "x-element": "person.familyName"},
        "birthDate": {"type": "string", "format": "date", "x-element": "person.birthDate"},
        "caseNumber": {"type": "string", "pattern": "^[0-9]{6}$"},
    }  # fmt: skip
    required = ["givenName", "familyName", "birthDate", "caseNumber"]
    if household:
        props["household"] = {
            "type": "array",
            "maxItems": 6,
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100},
                               "age": {"type": "integer", "minimum": 0, "maximum": 130}},
            },
        }  # fmt: skip
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": props,
    }


def form_ui(household: bool) -> dict[str, Any]:
    pages = [
        {"id": "about-you", "title": {"en": "About you", "es": "Sobre usted"},
         "fields": ["/givenName", "/familyName", "/birthDate", "/caseNumber"]},
    ]  # fmt: skip
    if household:
        pages.append(
            {"id": "household", "title": {"en": "Your household", "es": "Su hogar"},
             "fields": ["/household"]}
        )  # fmt: skip
    fields: dict[str, Any] = {
        "/givenName": {"label": {"en": "First name", "es": "Nombre"}},
        "/familyName": {"label": {"en": "Last name", "es": "Apellido"}},
        "/birthDate": {"label": {"en": "Date of birth", "es": "Fecha de nacimiento"}},
        "/caseNumber": {"label": {"en": "Case number", "es": "Número de caso"},
                        "help": {"en": "6 digits, from your letter", "es": "6 dígitos"}},
    }  # fmt: skip
    if household:
        fields["/household"] = {
            "label": {"en": "People you live with", "es": "Personas con las que vive"}
        }
        fields["/household/*/name"] = {"label": {"en": "Name", "es": "Nombre"}}
        fields["/household/*/age"] = {"label": {"en": "Age", "es": "Edad"}}
    return {"locales": ["en", "es"], "pages": pages, "fields": fields}


@dataclass
class Catalog:
    gateway: str
    first: str
    second: str
    owner: str
    partner: str
    staff_email: str


def _token(c: httpx.Client, username: str, password: str) -> dict[str, str]:
    resp = c.post(
        "/api/v1/identity/token",
        data={"grant_type": "password", "username": username, "password": password,
              "client_id": "portal"},
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


@pytest.fixture(scope="module")
def catalog(hub: Hub) -> Catalog:
    """Two forms sharing three data elements, a partner agency that receives two fields of
    the first, and a staff member of that partner."""
    tag = uuid.uuid4().hex[:6].upper()
    owner, partner = f"O{tag}", f"P{tag}"
    first, second = f"portal-help-{tag.lower()}", f"portal-renewal-{tag.lower()}"
    staff_email = f"staff-{tag.lower()}@partner.example.org"
    with httpx.Client(base_url=hub.gateway_url, timeout=30) as c:
        admin = _token(c, "admin@demo.gov", DEMO_PASSWORD)
        for code, name in ((owner, f"Office of Help {tag}"), (partner, f"Partner Office {tag}")):
            resp = c.post("/api/v1/agencies", json={"code": code, "name": name}, headers=admin)
            assert resp.status_code == 201, resp.text
        for element_id, schema, label, sensitivity in ELEMENTS:
            resp = c.post(
                "/api/v1/elements",
                json={"id": element_id, "schema": schema, "label": label,
                      "sensitivity": sensitivity},
                headers=admin,
            )  # fmt: skip
            assert resp.status_code in (201, 409), resp.text
        for slug, title, household in (
            (first, "Application for household help", True),
            (second, "Renewal of household help", False),
        ):
            resp = c.post(
                "/api/v1/forms",
                headers=admin,
                json={"slug": slug, "agency": owner, "title": title,
                      "description": "Help with food and heating costs.", "minutes": 10,
                      "yearly_volume": 5000, "topic": "benefits"},
            )  # fmt: skip
            assert resp.status_code == 201, resp.text
            resp = c.post(
                f"/api/v1/forms/{slug}/versions",
                headers=admin,
                json={"schema": form_schema(title, household), "ui": form_ui(household)},
            )
            assert resp.status_code == 201, resp.text
            version = resp.json()["version"]
            resp = c.post(f"/api/v1/forms/{slug}/versions/{version}/publish", headers=admin)
            assert resp.status_code == 200, resp.text
        resp = c.post(
            "/api/v1/agreements",
            headers=admin,
            json={"agency": partner, "form": first, "fields": ["/givenName", "/birthDate"],
                  "purpose": "Refer the household to job training",
                  "legal_basis": "State code 17b-1"},
        )  # fmt: skip
        assert resp.status_code == 201, resp.text
        resp = c.post(
            "/api/v1/identity/users",
            headers=admin,
            json={"email": staff_email, "password": PASSWORD, "full_name": "Pat Partner",
                  "role": "agency", "agency": partner},
        )  # fmt: skip
        assert resp.status_code == 201, resp.text
    return Catalog(hub.gateway_url, first, second, owner, partner, staff_email)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


class Visit:
    """One person's browser tab, checking every page it lands on with axe-core."""

    def __init__(self, chromium: Browser, base: str) -> None:
        self.context = chromium.new_context(base_url=base, accept_downloads=True)
        self.page = self.context.new_page()
        self.checked: list[str] = []
        self.console: list[str] = []
        self.page.on("console", lambda message: self.console.append(message.text))

    def close(self) -> None:
        self.context.close()

    def axe(self, shot: str | None = None) -> None:
        page = self.page
        blocked = [m for m in self.console if "Content Security Policy" in m]
        assert blocked == [], f"CSP refused something on {page.url}: {blocked}"
        page.evaluate(AXE_SOURCE)  # evaluated by the debugger protocol: the page's CSP stays on
        violations = page.evaluate(
            "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
            ".violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.html)}))",
            AXE_TAGS,
        )
        assert violations == [], f"axe on {page.url}: {violations}"
        self.checked.append(page.url)
        if shot and os.environ.get("TELLONCE_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)

    def goto(self, path: str, shot: str | None = None) -> None:
        self.page.goto(path)
        self.axe(shot)

    def sign_up(self, name: str, email: str, spanish: bool = False) -> None:
        page = self.page
        page.goto("/sign-up")
        self.axe()
        page.get_by_label("Nombre completo" if spanish else "Full name").fill(name)
        page.get_by_label("Correo electrónico" if spanish else "Email address").fill(email)
        page.get_by_label("Contraseña" if spanish else "Password", exact=True).fill(PASSWORD)
        page.get_by_role(
            "button", name="Crear una cuenta" if spanish else "Create an account"
        ).click()
        page.wait_for_url(re.compile(r"/forms$"))
        self.axe("catalog" if not spanish else None)

    def sign_in(self, email: str, password: str) -> None:
        page = self.page
        page.goto("/sign-in")
        self.axe()
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()

    def keep_answers(self, spanish: bool = False) -> None:
        page = self.page
        self.goto("/profile", "profile" if not spanish else None)
        box = page.get_by_label(
            "Guardar mis respuestas para llenar mis próximos formularios" if spanish
            else "Keep my answers so they can fill in my next forms"
        )  # fmt: skip
        box.check()
        page.get_by_role(
            "button", name="Guardar mi elección" if spanish else "Save my choice"
        ).click()
        page.wait_for_url(re.compile(r"/profile$"))
        assert page.get_by_label(re.compile("Keep my answers|Guardar mis respuestas")).is_checked()


def file_first_form(
    visit: Visit, catalog: Catalog, spanish: bool = False, family: str = "Diaz"
) -> str:
    """Start (the name given at sign-up, "Ana <family>", comes filled in and marked as the
    account's), one deliberate error, fix it, add a household member, check, send; returns
    the reference number shown on the confirmation."""
    page = visit.page
    es = spanish
    visit.goto(f"/forms/{catalog.first}", None if es else "start")
    assert page.get_by_role(
        "heading", name="Quién recibirá sus respuestas" if es else "Who will receive your answers"
    ).is_visible()
    assert page.get_by_text(f"Partner Office {catalog.partner[1:]}").first.is_visible()
    what = page.locator("[data-prefill-account]").inner_text()
    assert what == (
        "De su cuenta: Nombre; Apellido." if es else "From your account: First name; Last name."
    )
    assert page.get_by_label(re.compile("^(Llenar con respuestas|Fill in answers)")).is_checked()
    page.get_by_role("button", name="Comenzar ahora" if es else "Start now").click()
    page.wait_for_url(re.compile(r"/drafts/[^/]+/pages/1$"))
    visit.axe()
    # The first form: the name given at sign-up is not asked again.
    assert page.get_by_label("Nombre" if es else "First name", exact=True).input_value() == "Ana"
    assert page.get_by_label("Apellido" if es else "Last name").input_value() == family
    account_note = (
        "De su cuenta: compruebe que es correcto" if es else "From your account: check it is right"
    )
    assert page.locator("#f-givenName-prefilled").inner_text() == account_note
    assert page.locator("#f-familyName-prefilled").inner_text() == account_note
    page.get_by_label("Nombre" if es else "First name", exact=True).fill("Ana")
    page.get_by_label("Apellido" if es else "Last name").fill("Diaz")
    page.get_by_label("Fecha de nacimiento" if es else "Date of birth").fill("1990-04-02")
    page.get_by_label("Número de caso" if es else "Case number").fill("12AB")
    page.get_by_role("button", name="Continuar" if es else "Continue").click()
    summary = page.locator("[data-error-summary]")
    summary.wait_for()
    assert summary.evaluate("el => el === document.activeElement"), "focus moves to the summary"
    assert page.title().startswith("Error:")
    visit.axe(None if es else "error")
    link = summary.get_by_role("link").first
    link.click()
    case = page.get_by_label("Número de caso" if es else "Case number")
    assert case.input_value() == "12AB", "the answer is kept"
    assert page.get_by_label("Nombre" if es else "First name", exact=True).input_value() == "Ana"
    case.fill("123456")
    page.get_by_role("button", name="Continuar" if es else "Continue").click()
    page.wait_for_url(re.compile(r"/pages/2$"))
    visit.axe()
    page.get_by_role("button", name=re.compile(r"^(Add a|Agregar)")).click()
    page.wait_for_url(re.compile(r"/pages/2(#.*)?$"))
    page.get_by_label("Nombre" if es else "Name", exact=True).fill("Luis Diaz")
    page.get_by_label("Edad" if es else "Age").fill("9")
    visit.axe(None if es else "household")
    page.get_by_role("button", name="Continuar" if es else "Continue").click()
    page.wait_for_url(re.compile(r"/check$"))
    visit.axe(None if es else "check")
    assert page.get_by_text("Luis Diaz").is_visible()
    # A double click files once (the page ignores the second, the API would replay it).
    page.get_by_role("button", name="Aceptar y enviar" if es else "Accept and send").dblclick()
    page.wait_for_url(re.compile(r"/confirmation$"))
    visit.axe(None if es else "confirmation")
    heading = "Solicitud completada" if es else "Application complete"
    assert page.get_by_role("heading", name=heading).is_visible()
    reference = page.locator("[data-reference]").inner_text().strip()
    assert re.fullmatch(r"[A-Z]{2}-\d{4}-[0-9A-Z-]+", reference), reference
    return reference


def test_resident_staff_and_auditor_journeys(catalog: Catalog, chromium: Browser) -> None:
    resident = Visit(chromium, catalog.gateway)
    staff = Visit(chromium, catalog.gateway)
    auditor = Visit(chromium, catalog.gateway)
    try:
        email = f"ana-{uuid.uuid4().hex[:8]}@example.org"
        resident.sign_up("Ana Diaz", email)
        resident.keep_answers()
        reference = file_first_form(resident, catalog)
        page = resident.page

        with httpx.Client(base_url=catalog.gateway, timeout=30) as c:
            mine = c.get("/api/v1/submissions", headers=_token(c, email, PASSWORD))
            assert mine.status_code == 200, mine.text
            assert [s["reference"] for s in mine.json()["items"]] == [reference]

        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download your receipt (PDF)").click()
        receipt = Path(download_info.value.path())
        assert receipt.read_bytes().startswith(b"%PDF")

        resident.goto(f"/forms/{catalog.second}")
        page.get_by_role("button", name="Start now").click()
        page.wait_for_url(re.compile(r"/pages/1$"))
        resident.axe("prefilled")
        assert page.get_by_label("First name").input_value() == "Ana"
        assert page.get_by_label("Date of birth").input_value() == "1990-04-02"
        assert page.locator("#f-givenName-prefilled").is_visible(), "prefilled answers are marked"

        staff.sign_in(catalog.staff_email, PASSWORD)
        staff.page.wait_for_url(re.compile(r"/inbox$"))
        staff.axe("inbox")
        staff.page.get_by_role("link", name=reference).click()
        staff.page.wait_for_url(re.compile(r"/inbox/[^/?]+$"))
        staff.axe("delivery")
        delivered = staff.page.locator("[data-delivered-fields]").inner_text()
        assert "/givenName" in delivered
        assert "Ana" in delivered
        assert "/birthDate" in delivered
        assert "/caseNumber" not in delivered
        assert "123456" not in delivered
        assert "Luis Diaz" not in delivered, "only the agreed fields reach the partner"
        staff.page.get_by_label("Status").select_option("needs_info")
        staff.page.get_by_label(re.compile("^Message")).fill("Please send a recent pay slip.")
        staff.page.get_by_role("button", name="Send update").click()
        staff.page.wait_for_url(re.compile(r"posted=true"))
        staff.axe()

        resident.goto("/applications", "applications")
        page.get_by_role("link", name="Application for household help").click()
        page.wait_for_load_state()
        resident.axe("timeline")
        assert page.get_by_text("Please send a recent pay slip.").is_visible()
        assert page.get_by_text("Needs more information").first.is_visible()

        auditor.sign_in("auditor@demo.gov", DEMO_PASSWORD)
        auditor.page.wait_for_url(re.compile(r"/audit$"))
        auditor.axe("audit")
        assert auditor.page.get_by_role("heading", name="Redundancy audit").is_visible()
    finally:
        for visit in (resident, staff, auditor):
            visit.close()


def test_the_resident_journey_in_spanish(catalog: Catalog, chromium: Browser) -> None:
    visit = Visit(chromium, catalog.gateway)
    try:
        visit.goto("/forms")
        visit.page.get_by_role("link", name="Español").click()
        visit.page.wait_for_load_state()
        assert visit.page.locator("html").get_attribute("lang") == "es"
        visit.axe()
        visit.sign_up("Ana Díaz", f"ana-es-{uuid.uuid4().hex[:8]}@example.org", spanish=True)
        reference = file_first_form(visit, catalog, spanish=True, family="Díaz")
        assert reference
    finally:
        visit.close()


def test_the_demo_resident_files_a_seeded_form(demo_hub: Hub, chromium: Browser) -> None:
    """What a newcomer does after `make run`: sign in as the demo resident (the sign-in page
    lists the demo accounts) and file a form of the seeded catalog."""
    visit = Visit(chromium, demo_hub.gateway_url)
    page = visit.page
    try:
        visit.goto("/sign-in")
        assert page.locator("[data-demo-accounts]").is_visible()
        visit.sign_in("resident@demo.gov", DEMO_PASSWORD)
        page.wait_for_url(re.compile(r"/applications$"))
        visit.goto("/forms")
        page.locator('a[href="/forms/dss-energy-assistance"]').click()
        page.wait_for_url(re.compile(r"/forms/dss-energy-assistance$"))
        visit.axe()
        page.get_by_role("button", name="Start now").click()
        page.wait_for_url(re.compile(r"/pages/1$"))
        visit.axe()
        page.get_by_label("Full name").fill("Ana Diaz")
        page.get_by_label("Date of birth").fill("1990-04-02")
        page.get_by_label("Social Security number").fill("123456789")
        page.get_by_label("Phone number").fill("8605550123")
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(re.compile(r"/pages/2$"))
        visit.axe()
        page.get_by_label("Street address").fill("1 Main Street")
        page.get_by_label("City or town").fill("Hartford")
        page.get_by_label("State", exact=True).fill("CT")
        page.get_by_label("ZIP code").fill("06103")
        page.get_by_label("Main heating fuel").select_option(index=1)
        page.get_by_label("Utility account number").fill("EV-1234")
        page.get_by_role("group", name="Do you own your home?").get_by_label("No").check()
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(re.compile(r"/pages/3$"))
        visit.axe()
        page.get_by_label("Number of people in the household").fill("3")
        page.get_by_label("Total monthly household income (USD)").fill("2,100")
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(re.compile(r"/check$"))
        visit.axe()
        page.get_by_role("button", name="Accept and send").click()
        page.wait_for_url(re.compile(r"/confirmation$"))
        visit.axe()
        reference = page.locator("[data-reference]").inner_text().strip()
        assert re.fullmatch(r"[A-Z]{2}-\d{4}-[0-9A-Z-]+", reference), reference
    finally:
        visit.close()
