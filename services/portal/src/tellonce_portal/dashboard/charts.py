"""Chart geometry for the OPM dashboard, computed here so the template only draws: bars and
sparklines as inline SVG (no script, no external library; the tables beside them are the
text alternative)."""

from __future__ import annotations

from typing import Any

RAG_FILL = {"green": "#00a91c", "amber": "#ffbe2e", "red": "#d54309"}


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def bar_width(value: Any, most: float, width: float = 160.0) -> float:
    v = number(value)
    if v is None or most <= 0:
        return 0.0
    return round(width * max(v, 0.0) / most, 1)


def sparkline(values: list[Any], width: float = 160.0, height: float = 32.0) -> str:
    """``points`` of an SVG polyline; suppressed weeks (``None``) are skipped."""
    known = [(i, number(v)) for i, v in enumerate(values)]
    present = [(i, v) for i, v in known if v is not None]
    if len(present) < 2:
        return ""
    top = max(v for _, v in present) or 1.0
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{round(i * step, 1)},{round(height - 2 - (height - 4) * v / top, 1)}" for i, v in present
    )


def funnel_bars(row: dict[str, Any], width: float = 240.0) -> list[dict[str, Any]]:
    most = number(row.get("suggested")) or 0.0
    return [
        {"stage": stage, "count": row.get(stage), "width": bar_width(row.get(stage), most, width)}
        for stage in ("suggested", "started", "submitted")
    ]


def shape(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each group with its chart geometry."""
    groups = [g for g in report.get("groups") or [] if isinstance(g, dict)]
    most_p90 = max(
        (number((g.get("decision") or {}).get("p90_days")) or 0.0 for g in groups), default=0.0
    )
    most_volume = max((number(g.get("volume")) or 0.0 for g in groups), default=0.0)
    out = []
    for g in groups:
        decision = g.get("decision") or {}
        trend = [w for w in g.get("trend") or [] if isinstance(w, dict)]
        target = g.get("target") or {}
        out.append(
            {
                **g,
                "volume_width": bar_width(g.get("volume"), most_volume),
                "median_width": bar_width(decision.get("median_days"), most_p90),
                "p90_width": bar_width(decision.get("p90_days"), most_p90),
                "trend_volume": sparkline([w.get("volume") for w in trend]),
                "trend_median": sparkline([w.get("median_days_to_decision") for w in trend]),
                "weeks": len(trend),
                "rag_fill": RAG_FILL.get(str(target.get("rag")), ""),
                "open": open_total(g.get("backlog")),
            }
        )
    return out


def open_total(backlog: Any) -> float | None:
    """The open applications of a group: the sum of its backlog cells, or None (shown as a
    hidden figure, like a hidden cell) when a cell is hidden (small-cell suppression gives
    it ``count: null``): counting it as 0 would show a total that looks exact and is not."""
    cells = [c for c in backlog or [] if isinstance(c, dict)]
    counts = [number(c.get("count")) for c in cells]
    if any(n is None for n in counts):
        return None
    return sum(n for n in counts if n is not None)
