"""The audit report as CSV, as an HTML page with charts (inline SVG: no script needed, so the
same page prints to PDF), and as a PDF made with WeasyPrint."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

CSV_TABLES = ("fields", "clusters", "pairs", "forms")
_TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _safe(value: Any) -> Any:
    """Spreadsheets run cells that start with = + - @ as formulas: neutralise them."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def to_csv(report: dict[str, Any], table: str = "fields") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if table == "clusters":
        writer.writerow(
            [
                "cluster",
                "label",
                "element",
                "suggested_element",
                "forms",
                "agencies",
                "fields",
                "confidence",
                "statements_per_year",
                "prefill_hours_saved",
            ]
        )
        for c in report["clusters"]:
            writer.writerow(
                [
                    _safe(v)
                    for v in (
                        c["id"],
                        c["label"],
                        c["element"],
                        c["suggested_element"],
                        c["forms"],
                        c["agencies"],
                        len(c["fields"]),
                        c["confidence"],
                        c.get("statements_per_year"),
                        c.get("prefill_hours_saved"),
                    )
                ]
            )
    elif table == "pairs":
        writer.writerow(["form_a", "form_b", "shared", "jaccard"])
        for p in report["form_pairs"]:
            writer.writerow([_safe(p["a"]), _safe(p["b"]), p["shared"], p["jaccard"]])
    elif table == "forms":
        writer.writerow(
            [
                "form",
                "agency",
                "minutes",
                "yearly_volume",
                "fields",
                "burden_hours",
                "prefill_hours_saved",
            ]
        )
        for f in report["burden"]["forms"]:
            writer.writerow(
                [
                    _safe(v)
                    for v in (
                        f["form"],
                        f["agency"],
                        f["minutes"],
                        f["yearly_volume"],
                        f["fields"],
                        f["burden_hours"],
                        f["prefill_hours_saved"],
                    )
                ]
            )
    else:
        writer.writerow(
            [
                "cluster",
                "label",
                "element",
                "cluster_forms",
                "cluster_agencies",
                "form",
                "version",
                "pointer",
                "name",
                "title",
                "type",
                "whose",
                "confidence",
                "evidence",
            ]
        )
        for c in report["clusters"]:
            for f in c["fields"]:
                writer.writerow(
                    [
                        _safe(v)
                        for v in (
                            c["id"],
                            c["label"],
                            c["element"],
                            c["forms"],
                            c["agencies"],
                            f["form"],
                            f["version"],
                            f["pointer"],
                            f["name"],
                            f["title"],
                            f["type"],
                            f["whose"],
                            f["confidence"],
                            "; ".join(f["evidence"]),
                        )
                    ]
                )
    return out.getvalue()


def _bars(rows: list[tuple[str, float, float | None]], width: int = 640) -> dict[str, Any]:
    """Geometry of a horizontal bar chart: one bar per row, an optional second (overlaid)."""
    top = max((max(a, b or 0) for _, a, b in rows), default=0) or 1
    label_w, bar_h, gap = 190, 16, 6
    span = width - label_w - 70
    items = []
    for i, (label, a, b) in enumerate(rows):
        y = i * (bar_h + gap)
        items.append(
            {
                "label": label if len(label) <= 30 else label[:29] + "…",
                "y": y,
                "text_y": y + bar_h - 4,
                "w": max(1.0, a / top * span),
                "w2": None if b is None else max(0.0, b / top * span),
                "value": a,
                "value2": b,
            }
        )
    return {
        "items": items,
        "width": width,
        "height": max(bar_h, len(rows) * (bar_h + gap)),
        "label_w": label_w,
        "bar_h": bar_h,
    }


def to_html(
    report: dict[str, Any], *, for_pdf: bool = False, max_clusters: int | None = None
) -> str:
    clusters = report["clusters"]
    shown = clusters if max_clusters is None else clusters[:max_clusters]
    top = clusters[:15]
    forms = [f for f in report["burden"]["forms"] if f["burden_hours"] is not None]
    forms.sort(key=lambda f: -(f["burden_hours"] or 0))
    return _env.get_template("report.html").render(
        report=report,
        clusters=shown,
        hidden=len(clusters) - len(shown),
        cluster_chart=_bars([(c["label"], float(c["forms"]), None) for c in top]),
        burden_chart=_bars(
            [
                (f["form"], float(f["burden_hours"]), float(f["prefill_hours_saved"]))
                for f in forms[:15]
            ]
        ),
        for_pdf=for_pdf,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def to_pdf(html: str) -> bytes:
    """CPU-bound (hundreds of milliseconds): call it from a worker thread."""
    from weasyprint import HTML

    pdf = HTML(string=html, base_url=str(_TEMPLATES)).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
