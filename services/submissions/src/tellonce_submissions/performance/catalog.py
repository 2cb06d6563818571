"""What performance management and referrals read from the forms registry over HTTP: each
form's agency, priorities and yearly volume (``GET /api/v1/forms?include=retired``: the forms
with a published or a retired version, so that a retired form's past applications keep their
priorities and yearly volume in the measures), and the referral rules of
a form (``GET /api/v1/referral-rules?form=``) or of every form (the funnel lists each enabled
rule's pair). All are public and change rarely, so they are cached for a short while
(``catalog_cache_seconds``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from tellonce_shared.problems import ServiceUnavailable


@dataclass(frozen=True)
class FormFacts:
    slug: str
    agency: str
    title: str
    priorities: tuple[str, ...]
    yearly_volume: int | None


@dataclass(frozen=True)
class ReferralRule:
    id: str
    from_form: str
    to_form: str
    condition: dict[str, Any]
    reason: dict[str, str]


class CatalogClient:
    def __init__(self, client: httpx.AsyncClient, *, ttl: float = 60.0) -> None:
        self._client = client
        self.ttl = ttl
        self._forms: tuple[float, dict[str, FormFacts]] | None = None
        self._rules: dict[str, tuple[float, list[ReferralRule]]] = {}
        self._all_rules: tuple[float, list[ReferralRule]] | None = None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            resp = await self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The forms registry cannot be reached.") from exc
        if resp.status_code >= 400:
            raise ServiceUnavailable(f"The forms registry answered {resp.status_code}.")
        try:
            body = resp.json()
        except ValueError as exc:
            raise ServiceUnavailable("The forms registry answered with bad JSON.") from exc
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise ServiceUnavailable("The forms registry answered an unexpected document.")
        return body

    async def _pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(1000):
            body = await self._get(path, {**params, **({"cursor": cursor} if cursor else {})})
            items.extend(i for i in body["items"] if isinstance(i, dict))
            cursor = body.get("next_cursor")
            if not cursor:
                return items
        raise ServiceUnavailable("The forms registry kept paging.")

    async def forms(self) -> dict[str, FormFacts]:
        now = time.monotonic()
        if self._forms is not None and now - self._forms[0] < self.ttl:
            return self._forms[1]
        rows = await self._pages("/api/v1/forms", {"limit": 500, "include": "retired"})
        facts = {
            str(r["slug"]): FormFacts(
                slug=str(r["slug"]),
                agency=str(r.get("agency") or ""),
                title=str(r.get("title") or r["slug"]),
                priorities=tuple(str(p) for p in r.get("priorities") or ()),
                yearly_volume=r["yearly_volume"]
                if isinstance(r.get("yearly_volume"), int)
                else None,
            )
            for r in rows
            if r.get("slug")
        }
        self._forms = (now, facts)
        return facts

    async def rules(self, form: str) -> list[ReferralRule]:
        now = time.monotonic()
        cached = self._rules.get(form)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        rows = await self._pages("/api/v1/referral-rules", {"form": form, "limit": 500})
        rules = [_rule(r) for r in rows if r.get("from_form") == form and _enabled(r)]
        self._rules[form] = (now, rules)
        return rules

    async def all_rules(self) -> list[ReferralRule]:
        """Every enabled rule, of every form (``GET /api/v1/referral-rules``, no filter)."""
        now = time.monotonic()
        if self._all_rules is not None and now - self._all_rules[0] < self.ttl:
            return self._all_rules[1]
        rows = await self._pages("/api/v1/referral-rules", {"limit": 500})
        rules = [_rule(r) for r in rows if r.get("from_form") and _enabled(r)]
        self._all_rules = (now, rules)
        return rules


def _enabled(row: dict[str, Any]) -> bool:
    return bool(row.get("enabled", True)) and isinstance(row.get("condition"), dict)


def _rule(row: dict[str, Any]) -> ReferralRule:
    return ReferralRule(
        id=str(row["id"]),
        from_form=str(row["from_form"]),
        to_form=str(row["to_form"]),
        condition=dict(row["condition"]),
        reason={str(k): str(v) for k, v in dict(row.get("reason") or {}).items()},
    )


async def _catalog(request: Request) -> CatalogClient:
    catalog: CatalogClient = request.app.state.catalog
    return catalog


CatalogDep = Annotated[CatalogClient, Depends(_catalog)]
