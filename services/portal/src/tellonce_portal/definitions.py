"""The portal's form definitions, kept between requests for published form versions.

Building a :class:`FormDefinition`'s pages and choices costs milliseconds on the event loop
(tens for check your answers of a large VA form), and none of it depends on the answers: a
definition is a function of the schema, the UI document, the title and the locale, and it
keeps nothing of a request (docs/portal.md, "Form definitions kept between requests"). A
published version's schema and UI document never change (the registry refuses to edit one),
so its definition is kept per (form, version, locale, title); a draft version (an admin's,
still editable) is built afresh every time.
"""

from __future__ import annotations

from collections import OrderedDict

from tellonce_portal.api import FormVersion
from tellonce_portal.forms.schema import FormDefinition

Key = tuple[str, int, str, str]


class DefinitionCache:
    """A small LRU of :class:`FormDefinition` per (form slug, version number, locale,
    title). Only ``published`` versions are kept; a hit is used only when its schema and UI
    document are those of the version the request holds (the same objects, as the portal
    keeps published versions too, or equal ones), so a definition never answers for other
    content even if a version were changed under the same number."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[Key, FormDefinition] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, version: FormVersion, *, title: str = "", locale: str = "en") -> FormDefinition:
        """The definition of ``version`` drawn in ``locale``, titled ``title`` (the form's
        title, which the registry may change without a new version: part of the key)."""
        if self.size <= 0 or version.status != "published" or version.version <= 0:
            return FormDefinition(version.schema, version.ui, title=title, locale=locale)
        key = (version.slug, version.version, locale, title)
        found = self._items.get(key)
        if found is not None and _same(found, version):
            self._items.move_to_end(key)
            return found
        built = FormDefinition(version.schema, version.ui, title=title, locale=locale)
        self._items[key] = built
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return built


def _same(defn: FormDefinition, version: FormVersion) -> bool:
    return (defn.schema is version.schema or defn.schema == version.schema) and (
        defn.raw_ui is version.ui or defn.raw_ui == version.ui
    )
