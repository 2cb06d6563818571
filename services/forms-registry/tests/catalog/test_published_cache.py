"""The per-process cache of published versions' responses: a read that began before a drop
(publish, retire, a form edit, an audit confirmation) must not store what it read."""

from __future__ import annotations

from tellonce_registry.forms.cache import PublishedCache


def test_a_read_overtaken_by_a_drop_is_not_kept() -> None:
    cache = PublishedCache(ttl_seconds=30, max_entries=10)
    epoch = cache.epoch
    cache.put("a", "1", "fields", b"new", "e1", epoch)
    assert cache.get("a", "1", "fields") is not None

    started = cache.epoch  # a read of form "b" starts ...
    cache.drop_forms({"a"})  # ... a confirmation on form "a" commits and drops ...
    cache.put("b", "1", "fields", b"maybe old", "e2", started)  # ... the read ends
    assert cache.get("a", "1", "fields") is None
    assert cache.get("b", "1", "fields") is None  # not stored: it may predate the change

    cache.put("b", "1", "fields", b"fresh", "e3", cache.epoch)
    hit = cache.get("b", "1", "fields")
    assert hit is not None
    assert hit.body == b"fresh"
    cache.drop_form("b")
    assert cache.get("b", "1", "fields") is None


def test_drop_forms_keeps_other_forms() -> None:
    cache = PublishedCache(ttl_seconds=30, max_entries=10)
    for slug in ("a", "b", "c"):
        cache.put(slug, "latest", "fields", slug.encode(), slug, cache.epoch)
    cache.drop_forms(["a", "c"])
    assert [s for s in "abc" if cache.get(s, "latest", "fields")] == ["b"]
