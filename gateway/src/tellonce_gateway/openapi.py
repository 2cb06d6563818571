"""The merged OpenAPI document: each service's paths (only those the gateway routes to it)
and components, renamed on a collision so no service's schema silently replaces another's.
A service that is down is left out and named in ``x-unavailable-services``. And the
``/docs`` page: Swagger UI at an exact version with Subresource Integrity."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from pathlib import Path
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
        renames = _collisions(service, raw, components)
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


def _collisions(
    service: str, raw: dict[str, Any], components: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """The components of ``service`` to rename (``section/name`` -> ``section/service.name``):
    those whose name is taken by a different definition. Compared as they will be merged,
    with their ``$ref`` already pointing at the renamed ones, and again until nothing new
    is renamed (a fixpoint): a component identical to a taken one but referring to one
    that differs is renamed too, so it never lends another service's inner schema."""
    renames: dict[str, str] = {}
    sections = {
        section: entries
        for section, entries in (raw.get("components") or {}).items()
        if isinstance(entries, dict) and section in components
    }
    while True:
        found = False
        for section, entries in sections.items():
            existing = components[section]
            for name, value in entries.items():
                key = f"{section}/{name}"
                if key in renames or name not in existing:
                    continue
                merged_as = _rewrite_refs(value, renames) if renames else value
                if existing[name] != merged_as:
                    renames[key] = f"{section}/{service}.{name}"
                    found = True
        if not found:
            return renames


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


SWAGGER_UI_VERSION = "5.35.0"
"""The exact swagger-ui-dist (npm) version /docs shows, served by the gateway itself from
``static/swagger-ui-<version>/`` (the package's two files, its LICENSE and NOTICE, as
published): no visitor's browser is sent to a third party, and /docs works where the
internet is out of reach. No PyPI package ships a current Swagger UI (swagger-ui-bundle
1.1.0 has 4.15.5, which cannot show OpenAPI 3.1)."""
SWAGGER_UI_PATH = f"/docs/swagger-ui-{SWAGGER_UI_VERSION}/"
"""Where the files are served: the version is in the path, so they can be cached for good."""
SWAGGER_UI_CSS = SWAGGER_UI_PATH + "swagger-ui.css"
SWAGGER_UI_JS = SWAGGER_UI_PATH + "swagger-ui-bundle.js"
SWAGGER_UI_FILES = Path(__file__).parent / "static" / f"swagger-ui-{SWAGGER_UI_VERSION}"
SWAGGER_UI_SRI = {
    SWAGGER_UI_CSS: "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
    SWAGGER_UI_JS: "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
}
"""Subresource Integrity of the two files, computed from the package's npm tarball (its
sha512 checked against the registry's): a browser refuses a file that differs, and a test
checks the files in the repository against them. To move to another version: ``npm pack
swagger-ui-dist@X``, copy the two files, LICENSE and NOTICE into ``static/swagger-ui-X/``,
then per file ``openssl dgst -sha384 -binary F | base64`` (docs/gateway.md, "OpenAPI")."""
SWAGGER_UI_TYPES = {
    SWAGGER_UI_CSS: b"text/css; charset=utf-8",
    SWAGGER_UI_JS: b"text/javascript; charset=utf-8",
}


@cache
def swagger_ui_file(path: str) -> bytes:
    """One of the two files, by the path it is served at (read once)."""
    return (SWAGGER_UI_FILES / path.removeprefix(SWAGGER_UI_PATH)).read_bytes()


DOCS_HTML = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tell-Once Forms Hub API</title>
<link rel="stylesheet" href="{SWAGGER_UI_CSS}"
 integrity="{SWAGGER_UI_SRI[SWAGGER_UI_CSS]}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{SWAGGER_UI_JS}"
 integrity="{SWAGGER_UI_SRI[SWAGGER_UI_JS]}"></script>
<script src="/docs/init.js"></script>
</body>
</html>
""".encode()

DOCS_INIT_JS = b"""window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  validatorUrl: null
});
"""
