"""Readable names for pointers (agreements name fields by pointer or element id)."""

from __future__ import annotations

from tellonce_portal.forms.schema import FormDefinition


def field_labels(defn: FormDefinition) -> dict[str, str]:
    """Pointer (and element id) -> "Section: Question" for every question of the form; array
    items are named with ``*`` like the registry's flattened fields (worked out once per
    definition: :meth:`FormDefinition.field_labels`)."""
    return defn.field_labels()
