"""Loading the catalog from files: the demo seed (agencies, the element dictionary, the state's
demo forms with agreements, the VA corpus) and the ``import`` command. Both go through the same
services as the API, so every schema passes the same checks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tellonce_registry.agencies import repository as agencies
from tellonce_registry.agreements import repository as agreements_repo
from tellonce_registry.agreements import service as agreements
from tellonce_registry.agreements.schemas import AgreementCreate
from tellonce_registry.config import Settings
from tellonce_registry.db import Database
from tellonce_registry.demo_forms import build
from tellonce_registry.elements import repository as elements
from tellonce_registry.elements.service import option_key
from tellonce_registry.forms import repository as forms_repo
from tellonce_registry.forms import service as forms
from tellonce_registry.forms.schemas import FormCreate
from tellonce_registry.models import DataElement
from tellonce_registry.referral_rules.seed import seed_referral_rules
from tellonce_shared.problems import Problem

SEED = resources.files("tellonce_registry") / "seed_data"
VA_AGENCY = "DVA"
# Burden figures for the VA corpus: illustrative estimates (minutes, yearly volume), in the
# order of magnitude of the forms' OMB burden statements; replace with the agency's own figures.
VA_BURDEN: dict[str, tuple[int, int]] = {
    "21-526EZ-ALLCLAIMS": (25, 1_000_000),
    "10-10EZ": (45, 600_000),
    "21-686C": (20, 300_000),
    "22-1990": (30, 250_000),
    "20-0996": (15, 100_000),
    "21-4142": (10, 500_000),
    "21P-527EZ": (60, 40_000),
    "21P-530EZ": (30, 90_000),
}


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    failed: int = 0

    def add(self, line: str) -> None:
        self.lines.append(line)


def _json(name: str) -> Any:
    return json.loads((SEED / name).read_text(encoding="utf-8"))


def limits(settings: Settings) -> forms.Limits:
    return forms.Limits(settings.max_schema_bytes, settings.max_fields)


def _options_for(
    schema: Any, options: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]] | None:
    """The seed's option labels an element stored with ``schema`` can take: those of its
    ``enum``'s values (an element changed since, by hand, keeps only labels of values it has)."""
    enum = schema.get("enum") if isinstance(schema, dict) else None
    if not isinstance(enum, list):
        return None
    keys = {option_key(v) for v in enum}
    return {k: v for k, v in options.items() if k in keys} or None


async def seed_reference(database: Database, report: Report) -> None:
    """Agencies and the element dictionary: added when missing, never overwritten. The one
    exception: an element stored without option labels (a catalog seeded before elements had
    them) gets the seed's, and nothing else of it changes."""
    async with database.sessions() as session:
        added = 0
        for item in _json("agencies.json"):
            if await agencies.get(session, item["code"]) is None:
                agencies.add(session, item["code"], item["name"])
                added += 1
        report.add(f"agencies: {added} added")
        added = labelled = 0
        for item in _json("elements.json"):
            options = item.get("options") or None
            existing = await elements.get(session, item["id"])
            if existing is None:
                elements.add(
                    session,
                    DataElement(
                        id=item["id"],
                        schema=item["schema"],
                        label_en=item["label"]["en"],
                        label_es=item["label"]["es"],
                        sensitivity=item["sensitivity"],
                        aliases=item.get("aliases", []),
                        description=item.get("description"),
                        options=options,
                    ),
                )
                added += 1
            elif options and not existing.options:
                fitting = _options_for(existing.schema, options)
                if fitting:
                    existing.options = fitting
                    labelled += 1
        report.add(f"data elements: {added} added")
        report.add(f"data element option labels: {labelled} added")
        await session.commit()


async def _ensure_published(
    database: Database,
    settings: Settings,
    meta: FormCreate,
    schema: dict[str, Any],
    ui: dict[str, Any] | None,
) -> str:
    async with database.sessions() as session:
        form = await forms_repo.get_form(session, meta.slug)
        if form is None:
            form = await forms.create_form(session, meta)
        elif form.i18n is None and meta.i18n:  # catalogs seeded before translations existed
            form.i18n = {k: v.model_dump(exclude_none=True) for k, v in meta.i18n.items()}
            await session.commit()
        if await forms_repo.newest_version(session, form.id) is not None:
            return "kept"
        version, _ = await forms.create_version(session, meta.slug, schema, ui, limits(settings))
        await forms.publish(session, meta.slug, str(version.number))
        await session.commit()
        return "published"


async def seed_demo_forms(database: Database, settings: Settings, report: Report) -> None:
    async with database.sessions() as session:
        dictionary = {
            e.id: {
                "schema": e.schema,
                "label": {"en": e.label_en, "es": e.label_es},
                "options": e.options or {},
                "description": e.description,
            }
            for e in await elements.all_elements(session)
        }
    specs = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((SEED / "forms").iterdir(), key=lambda p: p.name)
        if p.name.endswith(".json")
    ]
    for spec in specs:
        schema, ui = build(spec, dictionary)
        meta = FormCreate(
            slug=spec["slug"],
            agency=spec["agency"],
            title=spec["title"],
            description=spec["description"],
            minutes=spec["minutes"],
            yearly_volume=spec["yearly_volume"],
            priorities=spec["priorities"],
            topic=spec["topic"],
            i18n={"es": {"title": spec["title_es"], "description": spec["description_es"]}},
        )
        try:
            outcome = await _ensure_published(database, settings, meta, schema, ui)
        except Problem as exc:
            report.failed += 1
            report.add(f"form {spec['slug']}: FAILED {exc.detail} {exc.errors or ''}")
            continue
        report.add(f"form {spec['slug']}: {outcome}")
    for spec in specs:
        for item in spec.get("agreements", []):
            async with database.sessions() as session:
                form = await forms_repo.get_form(session, spec["slug"])
                if form is None or await agreements_repo.find(session, form.id, item["agency"]):
                    continue
                try:
                    await agreements.create(session, AgreementCreate(form=spec["slug"], **item))
                except Problem as exc:
                    report.failed += 1
                    report.add(f"agreement {item['agency']} <- {spec['slug']}: FAILED {exc.errors}")
                    continue
                await session.commit()
                report.add(f"agreement {item['agency']} <- {spec['slug']}: added")


def slug_for(path: Path) -> str:
    stem = re.sub(r"-schema$", "", path.stem, flags=re.IGNORECASE)
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")


async def seed_va_corpus(database: Database, settings: Settings, report: Report) -> None:
    folder = SEED / "va-forms"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith("-schema.json"):
            continue
        schema = json.loads(entry.read_text(encoding="utf-8"))
        number = entry.name.removesuffix("-schema.json")
        minutes, volume = VA_BURDEN.get(number, (20, 20_000))
        title = str(schema.get("title") or f"VA Form {number}")[:280]
        meta = FormCreate(
            slug="va-" + slug_for(Path(entry.name)),
            agency=VA_AGENCY,
            title=f"VA {number}: {title}" if number not in title else title,
            description=f"US Department of Veterans Affairs form {number}, as published in"
            " vets-json-schema.",
            minutes=minutes,
            yearly_volume=volume,
            priorities=["community-vitality"],
            topic="veterans",
        )
        try:
            outcome = await _ensure_published(database, settings, meta, schema, None)
        except Problem as exc:
            report.failed += 1
            report.add(f"form {meta.slug}: FAILED {exc.detail} {exc.errors or ''}")
            continue
        report.add(f"form {meta.slug}: {outcome}")


async def seed(database: Database, settings: Settings) -> Report:
    report = Report()
    await seed_reference(database, report)
    if not settings.is_local:
        report.add("production mode: the demo catalog is not loaded")
        return report
    await seed_demo_forms(database, settings, report)
    await seed_va_corpus(database, settings, report)
    for line in await seed_referral_rules(database):
        report.add(line)
    return report


def schema_files(paths: Iterable[Path]) -> list[Path]:
    """The schema files named, folders expanded (``*-example.json`` answers skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p for p in sorted(path.glob("*.json")) if not p.name.endswith("-example.json")
            )
        else:
            found.append(path)
    return found


async def import_files(
    database: Database,
    settings: Settings,
    paths: Iterable[Path],
    agency: str,
    *,
    publish: bool = False,
) -> Report:
    """Import each schema file as a new draft version of the form named after the file (the
    form is made when missing), each in its own transaction."""
    report = Report()
    async with database.sessions() as session:
        if await agencies.get(session, agency) is None:
            report.failed += 1
            report.add(f"no agency {agency}: create it first (POST /api/v1/agencies)")
            return report
    for path in schema_files(paths):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            report.failed += 1
            report.add(f"{path}: FAILED cannot read JSON: {exc}")
            continue
        slug = slug_for(path)
        async with database.sessions() as session:
            try:
                form = await forms_repo.get_form(session, slug)
                if form is None:
                    title = schema.get("title") if isinstance(schema, dict) else None
                    await forms.create_form(
                        session,
                        FormCreate(
                            slug=slug,
                            agency=agency,
                            title=str(title or slug)[:300],
                        ),
                    )
                version, prepared = await forms.create_version(
                    session, slug, schema, None, limits(settings)
                )
                if publish:
                    await forms.publish(session, slug, str(version.number))
            except Problem as exc:
                report.failed += 1
                where = "; ".join(f"{e['pointer']}: {e['message']}" for e in exc.errors or [])
                report.add(f"{path}: FAILED {exc.detail} {where}".rstrip())
                continue
            await session.commit()
        report.add(
            f"{path}: {slug} version {version.number} {version.status},"
            f" {len(prepared.rows)} fields, {len(prepared.suggestions)} element suggestions"
            + (" (breaking)" if version.breaking else "")
        )
    return report
