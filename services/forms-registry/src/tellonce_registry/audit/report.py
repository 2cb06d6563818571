"""The redundancy report: clusters ranked by how many forms and agencies ask for them, form pairs
that overlap most (consolidation candidates), and the burden in the Paperwork Reduction Act's
terms with the hours a tell-once prefill would save. Pure functions over clustered fields."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from tellonce_registry.audit.clustering import Cluster


@dataclass(frozen=True, slots=True)
class FormFacts:
    """What the report knows about a form besides its fields."""

    slug: str
    agency: str
    title: str
    minutes: int | None
    yearly_volume: int | None
    version: int


@dataclass(frozen=True, slots=True)
class Assumptions:
    repeat_filer_share: float = 0.25
    """Share of a form's filers who have already given the same fact on another form of the
    catalog, so that a tell-once profile could prefill it for them."""
    review_fraction: float = 0.2
    """Share of the time to answer a field that a filer still spends checking a prefilled one."""


def burden_hours(minutes: int | None, yearly_volume: int | None) -> float | None:
    """The Paperwork Reduction Act's figure: minutes to complete x responses a year / 60."""
    if minutes is None or yearly_volume is None:
        return None
    return minutes * yearly_volume / 60


def form_pairs(
    clusters: Sequence[Cluster],
    *,
    limit: int = 50,
    min_shared: int = 1,
    involving: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Pairs of forms by the facts they share: ``shared`` clusters and Jaccard similarity
    (shared / facts either asks). Each form's facts are every cluster it has a field in, so
    ``clusters`` must be the whole catalog's even when only some forms are wanted: then
    ``involving`` keeps the pairs with at least one of them, before ``limit`` is applied."""
    bits: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    shared_clusters = [c for c in clusters if len(c.forms) >= 2]
    for cluster in clusters:
        for form in cluster.forms:
            counts[form] += 1
    for i, cluster in enumerate(shared_clusters):
        for form in cluster.forms:
            bits[form] |= 1 << i
    forms = sorted(bits)
    wanted = None if involving is None else set(involving)
    pairs: list[dict[str, Any]] = []
    for a, b in combinations(forms, 2):
        if wanted is not None and a not in wanted and b not in wanted:
            continue
        shared = (bits[a] & bits[b]).bit_count()
        if shared < min_shared:
            continue
        union = counts[a] + counts[b] - shared
        pairs.append(
            {"a": a, "b": b, "shared": shared, "jaccard": round(shared / union, 4) if union else 0}
        )
    pairs.sort(key=lambda p: (-p["jaccard"], -p["shared"], p["a"], p["b"]))
    return pairs[:limit]


def compute_burden(
    clusters: Sequence[Cluster],
    forms: Mapping[str, FormFacts],
    assumptions: Assumptions,
    selected: Collection[str] | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Catalog burden, per form and per cluster; with ``selected``, the per-form rows and the
    totals are those forms' (``clusters`` and ``forms`` stay the whole catalog's, so that a
    form's field count, and with it each field's answer time, is the same under a filter).

    A field's answer time is the form's minutes shared evenly over its fields. A fact asked by
    two or more forms is one a tell-once profile could prefill: for ``repeat_filer_share`` of
    each form's filers, the field's answer time less ``review_fraction`` of it is saved."""
    fields_per_form: dict[str, int] = defaultdict(int)
    for cluster in clusters:
        for member in cluster.members:
            fields_per_form[member.record.form] += 1
    per_form: list[dict[str, Any]] = []
    for slug in sorted(forms):
        facts = forms[slug]
        hours = burden_hours(facts.minutes, facts.yearly_volume)
        per_form.append(
            {
                "form": slug,
                "agency": facts.agency,
                "title": facts.title,
                "minutes": facts.minutes,
                "yearly_volume": facts.yearly_volume,
                "fields": fields_per_form.get(slug, 0),
                "burden_hours": None if hours is None else round(hours, 1),
                "prefill_hours_saved": 0.0,
            }
        )
    by_form = {row["form"]: row for row in per_form}
    per_cluster: dict[str, dict[str, Any]] = {}
    share = assumptions.repeat_filer_share * (1 - assumptions.review_fraction)
    for cluster in clusters:
        statements = 0
        saved = 0.0
        repeated = len(cluster.forms) >= 2 and cluster.kind != "rejected"
        for member in cluster.members:
            known = forms.get(member.record.form)
            if known is None or known.yearly_volume is None:
                continue
            statements += known.yearly_volume
            n_fields = fields_per_form.get(member.record.form, 0)
            if repeated and known.minutes is not None and n_fields:
                hours = known.yearly_volume * share * (known.minutes / n_fields) / 60
                saved += hours
                by_form[member.record.form]["prefill_hours_saved"] += hours
        per_cluster[cluster.id] = {
            "statements_per_year": statements,
            "prefill_hours_saved": round(saved, 1),
        }
    if selected is not None:
        per_form = [row for row in per_form if row["form"] in selected]
    total_saved = sum(row["prefill_hours_saved"] for row in per_form)
    for row in per_form:
        row["prefill_hours_saved"] = round(row["prefill_hours_saved"], 1)
    stated: list[float] = [r["burden_hours"] for r in per_form if r["burden_hours"] is not None]
    total = sum(stated)
    summary = {
        "total_burden_hours": round(total, 1),
        "prefill_hours_saved": round(total_saved, 1),
        "prefill_share_saved": round(total_saved / total, 4) if total else 0.0,
        "forms": per_form,
        "forms_without_figures": [r["form"] for r in per_form if r["burden_hours"] is None],
        "assumptions": {
            "repeat_filer_share": assumptions.repeat_filer_share,
            "review_fraction": assumptions.review_fraction,
            "text": (
                "Burden hours = minutes to complete x responses a year / 60 (Paperwork "
                "Reduction Act). A field's answer time is its form's minutes shared evenly over "
                "the form's fields. A fact asked by two or more forms can be prefilled: we assume "
                f"{assumptions.repeat_filer_share:.0%} of each form's filers have already given "
                "it on another form, and that checking a prefilled answer still takes "
                f"{assumptions.review_fraction:.0%} of the time to type it."
            ),
        },
    }
    return summary, per_cluster


def build_report(
    clusters: Sequence[Cluster],
    forms: Mapping[str, FormFacts],
    *,
    assumptions: Assumptions | None = None,
    pairs_limit: int = 50,
    min_forms: int = 2,
    selected: Collection[str] | None = None,
) -> dict[str, Any]:
    """The audit as the JSON document of DESIGN.md, plus evidence and burden per cluster.

    ``clusters`` and ``forms`` are the whole catalog's. ``selected`` (the forms a filter
    chose) keeps the clusters one of them asks for (with all their fields), their burden, the
    pairs with one of them, and totals about them: ``forms`` and ``agencies`` selected,
    ``fields`` of the selected forms, ``clusters`` listed. Jaccard, field counts and answer
    times are still measured on the whole catalog, so a pair or a form reads the same under
    any filter."""
    assumptions = assumptions or Assumptions()
    wanted = None if selected is None else set(selected)
    burden, per_cluster = compute_burden(clusters, forms, assumptions, wanted)
    out_clusters: list[dict[str, Any]] = []
    for cluster in clusters:
        if len(cluster.forms) < min_forms:
            continue
        if wanted is not None and wanted.isdisjoint(cluster.forms):
            continue
        whose: dict[str, int] = defaultdict(int)
        for m in cluster.members:
            whose[m.whose] += 1
        out_clusters.append(
            {
                "id": cluster.id,
                "label": cluster.label,
                "kind": cluster.kind,
                "element": cluster.element,
                "suggested_element": cluster.suggested_element,
                "forms": len(cluster.forms),
                "agencies": len(cluster.agencies),
                "confidence": cluster.confidence,
                "whose": dict(sorted(whose.items(), key=lambda kv: -kv[1])),
                **per_cluster.get(cluster.id, {}),
                "fields": [
                    {
                        "form": m.record.form,
                        "version": m.record.version,
                        "pointer": m.record.pointer,
                        "name": m.record.name,
                        "title": m.record.title,
                        "type": m.record.type,
                        "whose": m.whose,
                        "confidence": m.confidence,
                        "evidence": list(m.evidence),
                    }
                    for m in cluster.members
                ],
            }
        )
    chosen = dict(forms) if wanted is None else {k: v for k, v in forms.items() if k in wanted}
    return {
        "clusters": out_clusters,
        "form_pairs": form_pairs(
            [c for c in clusters if c.kind != "rejected"], limit=pairs_limit, involving=wanted
        ),
        "burden": burden,
        "totals": {
            "forms": len(chosen),
            "agencies": len({f.agency for f in chosen.values()}),
            "fields": sum(
                1 for c in clusters for m in c.members if wanted is None or m.record.form in wanted
            ),
            "clusters": len(out_clusters),
        },
    }
