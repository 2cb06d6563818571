"""The PDF receipt: reference, form and version, date, the answers with their labels
(restricted values masked: ``answers.mask``), and which agency received which
fields. Plain HTML and one font family so WeasyPrint stays fast; tagged PDF (``pdf_tags``)
with a document language and title so screen readers can read it.

``render_pdf`` runs in a worker process (CPU-bound: it must not stall the event loop)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, select_autoescape

log = logging.getLogger("tellonce.receipts")

TEMPLATE = """<!doctype html>
<html lang="{{ r.lang }}"><head><meta charset="utf-8">
<title>{{ w.receipt }} {{ r.reference }}</title>
<meta name="author" content="Tell-Once Forms Hub">
<style>
@page { size: Letter; margin: 12mm 12mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 8pt; color: #111; }
h1 { font-size: 13pt; margin: 0 0 1mm; }
.ref { font-size: 16pt; font-weight: bold; letter-spacing: 1px; margin: 0 0 2mm; }
table { width: 100%; border-collapse: collapse; margin-bottom: 2mm; table-layout: fixed; }
.answers col.q { width: 42%; } .answers col.a { width: 38%; } .answers col.s { width: 20%; }
.sent col.g { width: 15%; } .sent col.d { width: 25%; }
th, td { text-align: left; vertical-align: top; padding: 0.4mm 1.2mm;
         border-bottom: 0.3pt solid #999; }
th { background: #eee; }
h2 { font-size: 10pt; margin: 2mm 0 1mm; }
.meta td { border: none; padding: 0.5mm 1.5mm 0.5mm 0; }
</style></head>
<body>
<h1>{{ w.heading }}</h1>
<p class="ref">{{ r.reference }}</p>
<table class="meta" role="presentation">
<tr><td>{{ w.form }}</td>
<td>{{ r.form_title }} ({{ r.form }}), {{ w.version }} {{ r.version }}</td></tr>
<tr><td>{{ w.submitted }}</td><td>{{ r.submitted_at }}</td></tr>
<tr><td>{{ w.submission_id }}</td><td>{{ r.id }}</td></tr>
</table>
<h2>{{ w.who }}</h2>
<table class="sent"><colgroup><col class="g"><col><col class="d"></colgroup>
<thead><tr><th scope="col">{{ w.agency }}</th><th scope="col">{{ w.fields }}</th>
<th scope="col">{{ w.delivery }}</th></tr></thead>
<tbody>
{% for d in r.receivers %}<tr><td>{{ d.agency }}</td><td>{{ d.fields }}</td>
<td>{{ d.state }}</td></tr>
{% endfor %}</tbody></table>
<h2>{{ w.answers }}</h2>
<table class="answers"><colgroup><col class="q"><col class="a"><col class="s"></colgroup>
<thead><tr><th scope="col">{{ w.question }}</th><th scope="col">{{ w.answer }}</th>
<th scope="col">{{ w.sent_to }}</th></tr></thead>
<tbody>
{% for a in r.answers %}<tr><td>{{ a.label }}</td><td>{{ a.value }}</td>
<td>{{ a.agencies }}</td></tr>
{% endfor %}</tbody></table>
<p>{{ w.keep }}</p>
</body></html>
"""

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "receipt": "Receipt",
        "heading": "Submission receipt",
        "form": "Form",
        "version": "version",
        "submitted": "Submitted",
        "submission_id": "Submission id",
        "who": "Who your answers go to",
        "agency": "Agency",
        "fields": "Fields",
        "delivery": "Delivery",
        "answers": "Your answers",
        "question": "Question",
        "answer": "Answer",
        "sent_to": "Sent to",
        "keep": "Keep this receipt. Quote the reference number when you contact an agency.",
        "yes": "Yes",
        "no": "No",
    },
    "es": {
        "receipt": "Comprobante",
        "heading": "Comprobante de envío",
        "form": "Formulario",
        "version": "versión",
        "submitted": "Enviado",
        "submission_id": "Identificador del envío",
        "who": "A quién se envían sus respuestas",
        "agency": "Agencia",
        "fields": "Campos",
        "delivery": "Entrega",
        "answers": "Sus respuestas",
        "question": "Pregunta",
        "answer": "Respuesta",
        "sent_to": "Enviado a",
        "keep": "Guarde este comprobante. Indique el número de referencia cuando se comunique "
        "con una agencia.",
        "yes": "Sí",
        "no": "No",
    },
}
"""The receipt's own words in each language the portal offers (its ``i18n.LOCALES``). The
form's title, questions and choices come from the version's UI document in the same language
(``service.receipt_data``)."""

STATES: dict[str, dict[str, str]] = {
    "en": {
        "pending": "Waiting to be delivered",
        "delivered": "Delivered",
        "acked": "Delivered and confirmed by the agency",
        "dead": "Delivery failed",
    },
    "es": {
        "pending": "En espera de entrega",
        "delivered": "Entregada",
        "acked": "Entregada y confirmada por la agencia",
        "dead": "Entrega fallida",
    },
}
"""A delivery's state in words (the portal's ``STATUS_LABELS``): "Who your answers go to"
lists an agency whose delivery still waits, and says so."""


LANGUAGES = tuple(WORDS)

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_template = _env.from_string(TEMPLATE)


def receipt_html(data: dict[str, Any]) -> str:
    return _template.render(r=data, w=WORDS[data.get("lang") or "en"])


def render_pdf(data: dict[str, Any]) -> bytes:
    from weasyprint import HTML

    pdf: bytes = HTML(string=receipt_html(data)).write_pdf(pdf_tags=True)
    return pdf


WARM_UP_DATA: dict[str, Any] = {
    "lang": "en",
    "id": "warm-up",
    "reference": "WARM-UP",
    "form": "warm-up",
    "form_title": "Warm-up",
    "version": 1,
    "submitted_at": "",
    "receivers": [],
    "answers": [{"label": "Question", "value": "Answer", "agencies": ""}],
}
"""A tiny receipt each worker renders once when it starts: WeasyPrint's first document
loads its fonts and styles (seconds), which should not fall on a resident's first receipt."""


def _warm_up() -> None:
    """A worker's initializer: import WeasyPrint and render one tiny document. A failure is
    logged, not raised: a raising initializer would break the pool for every receipt."""
    try:
        render_pdf(WARM_UP_DATA)
    except Exception:  # pragma: no cover - the real render reports the same error itself
        log.exception("receipt worker warm-up failed")


def _worker_ready() -> bool:
    """Run in a worker after its initializer: whether WeasyPrint is loaded there."""
    import sys

    return "weasyprint" in sys.modules


def _quiet(future: asyncio.Future[bool]) -> None:
    """Take a warm-up's outcome so a pool shut down early logs no "never retrieved"."""
    if not future.cancelled():
        future.exception()


@dataclass
class ReceiptRenderer:
    """A small process pool, started by ``warm`` at the service's start-up (or on first use)
    and shut down with the app."""

    workers: int = 1
    _pool: ProcessPoolExecutor | None = field(default=None, init=False)
    warming: list[asyncio.Future[bool]] = field(default_factory=list, init=False)
    """One future a worker, done when that worker has imported WeasyPrint and rendered its
    warm-up document (``True``); for tests and logs, nothing waits for them."""

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_up,
            )
        return self._pool

    def warm(self) -> None:
        """Start the pool and every worker now, without waiting: each runs ``_warm_up`` as
        its initializer (a spawned pool starts a worker per task while none is idle), so the
        first receipt after a start finds WeasyPrint loaded instead of taking 15-36 s."""
        loop = asyncio.get_running_loop()
        pool = self._executor()
        self.warming = [loop.run_in_executor(pool, _worker_ready) for _ in range(self.workers)]
        for future in self.warming:
            future.add_done_callback(_quiet)

    async def render(self, data: dict[str, Any]) -> bytes:
        """Render in a worker. A pool broken since (a worker killed, out of memory) is
        replaced and the receipt tried once more in the new one: before, every receipt
        after a broken pool failed until the service was restarted."""
        loop = asyncio.get_running_loop()
        pool = self._executor()
        try:
            return await loop.run_in_executor(pool, render_pdf, data)
        except BrokenProcessPool:
            log.warning("receipt process pool broken; starting a new one")
            self._replace(pool)
            return await loop.run_in_executor(self._executor(), render_pdf, data)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Forget a broken pool (once: requests that met it together start one new pool)."""
        if self._pool is broken:
            self._pool = None
            broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        for future in self.warming:
            future.cancel()
        self.warming = []
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
