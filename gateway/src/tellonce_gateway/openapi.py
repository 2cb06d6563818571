"""The merged OpenAPI document: each service's paths (only those the gateway routes to it)
and components, renamed on a collision so no service's schema silently replaces another's.
A service that is down is left out and named in ``x-unavailable-services``."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

REF_PREFIX = "#/components/"

Fetch = Callable[[str], Awaitable[dict[str, Any]]]


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    """Point every ``$ref`` at a renamed component (keys are ``section/name``)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                target = value[len(REF_PREFIX) :]
                out[key] = REF_PREFIX + renames.get(target, target)
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def merge_documents(
    docs: Mapping[str, dict[str, Any]],
    owns_path: Callable[[str, str], bool],
    *,
    title: str = "Tell-Once Forms Hub API",
    version: str = "1",
    unavailable: list[str] | None = None,
) -> dict[str, Any]:
    """Merge per-service documents; ``owns_path(service, path)`` keeps a service to its
    own prefixes, so the same path never comes from two services."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Every public route of the hub, as served through the gateway.",
        },
        "paths": {},
        "components": {},
        "tags": [],
    }
    components: dict[str, dict[str, Any]] = merged["components"]
    tag_names: set[str] = set()
    for service, raw in docs.items():
        renames: dict[str, str] = {}
        for section, entries in (raw.get("components") or {}).items():
            if not isinstance(entries, dict):
                continue
            existing = components.get(section, {})
            for name, value in entries.items():
                if name in existing and existing[name] != value:
                    renames[f"{section}/{name}"] = f"{section}/{service}.{name}"
        doc = _rewrite_refs(raw, renames) if renames else copy.deepcopy(raw)
        for section, entries in (doc.get("components") or {}).items():
            if not isinstance(entries, dict):
                continue
            target = components.setdefault(section, {})
            for name, value in entries.items():
                new_name = renames.get(f"{section}/{name}", f"{section}/{name}").split("/", 1)[1]
                target.setdefault(new_name, value)
        for path, item in (doc.get("paths") or {}).items():
            if owns_path(service, path) and path not in merged["paths"]:
                merged["paths"][path] = item
        for tag in doc.get("tags") or []:
            if isinstance(tag, dict) and tag.get("name") not in tag_names:
                tag_names.add(str(tag.get("name")))
                merged["tags"].append(tag)
    if unavailable:
        merged["x-unavailable-services"] = sorted(unavailable)
    return merged


class OpenAPICache:
    """Fetches every service's document at most every ``ttl`` seconds, again sooner while
    one of them is missing."""

    def __init__(
        self,
        services: Mapping[str, str],
        fetch: Fetch,
        owns_path: Callable[[str, str], bool],
        ttl: float = 30.0,
        retry_missing: float = 2.0,
    ) -> None:
        self.services = dict(services)
        self.fetch = fetch
        self.owns_path = owns_path
        self.ttl = ttl
        self.retry_missing = retry_missing
        self._doc: dict[str, Any] | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def document(self) -> dict[str, Any]:
        if self._doc is not None and time.monotonic() < self._expires:
            return self._doc
        async with self._lock:
            if self._doc is not None and time.monotonic() < self._expires:
                return self._doc
            names = list(self.services)
            results = await asyncio.gather(
                *(self.fetch(self.services[n] + "/openapi.json") for n in names),
                return_exceptions=True,
            )
            docs: dict[str, dict[str, Any]] = {}
            missing: list[str] = []
            for name, result in zip(names, results, strict=True):
                if isinstance(result, dict):
                    docs[name] = result
                else:
                    missing.append(name)
            self._doc = merge_documents(docs, self.owns_path, unavailable=missing)
            ttl = self.retry_missing if missing else self.ttl
            self._expires = time.monotonic() + ttl
            return self._doc


DOCS_HTML = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tell-Once Forms Hub API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

DOCS_INIT_JS = b"""window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""
