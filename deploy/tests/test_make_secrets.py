"""deploy/make_secrets.py makes every Secret the manifests reference, with fresh values that
each service's own settings accept in production mode (demo values are refused there)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from typing import Any

import pytest
from deploykit import DEPLOY, env_of, of_kind, pod_spec, render, service_of, workloads

SCRIPT = str(DEPLOY / "make_secrets.py")
DATABASE_URLS = {
    "IDENTITY_DATABASE_URL": "postgresql+psycopg://identity:pw1@db.internal:5432/identity",
    "REGISTRY_DATABASE_URL": "postgresql+psycopg://registry:pw2@db.internal:5432/registry",
    "SUBMISSIONS_DATABASE_URL": "postgresql+psycopg://submissions:pw3@db.internal:5432/submissions",
}


def kubernetes_secrets(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, SCRIPT, "kubernetes"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", **extra_env},
    )


def test_refuses_to_run_without_database_urls() -> None:
    result = kubernetes_secrets({})
    assert result.returncode != 0
    assert "IDENTITY_DATABASE_URL" in result.stderr


def test_values_are_fresh_each_time() -> None:
    first = json.loads(kubernetes_secrets(DATABASE_URLS).stdout)
    second = json.loads(kubernetes_secrets(DATABASE_URLS).stdout)
    keys = {i["metadata"]["name"]: i["stringData"] for i in first["items"]}
    again = {i["metadata"]["name"]: i["stringData"] for i in second["items"]}
    for name, data in keys.items():
        for key, value in data.items():
            if not key.endswith("_DATABASE_URL"):
                assert value != again[name][key], key


def test_keyrings_hold_256_bit_keys() -> None:
    items = json.loads(kubernetes_secrets(DATABASE_URLS).stdout)["items"]
    data = {k: v for i in items for k, v in i["stringData"].items()}
    for var in ("SUBMISSIONS_ANSWER_KEYS", "SUBMISSIONS_WEBHOOK_SECRET_KEYS"):
        kid, _, key = data[var].partition(":")
        assert kid, var
        assert len(base64.b64decode(key, validate=True)) == 32, var


def test_kubernetes_secrets_are_what_production_references_and_are_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = kubernetes_secrets(DATABASE_URLS)
    assert result.returncode == 0, result.stderr
    items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
    made = {(i["metadata"]["name"], k): v for i in items for k, v in i["stringData"].items()}
    assert all(i["metadata"]["namespace"] == "tellonce" for i in items)
    rendered = render("production")
    referenced: set[tuple[str, str]] = set()
    optional: set[tuple[str, str]] = set()
    for o in workloads(rendered):
        container = pod_spec(o)["containers"][0]
        plain, secret = env_of(container, rendered)
        referenced |= set(secret.values())
        optional |= {
            (v["valueFrom"]["secretKeyRef"]["name"], v["name"])
            for v in container.get("env", [])
            if v.get("valueFrom", {}).get("secretKeyRef", {}).get("optional")
        }
        with monkeypatch.context() as patch:
            for key, value in plain.items():
                patch.setenv(key, value)
            for key, ref in secret.items():
                if ref in made or ref not in optional:  # an optional key may be absent
                    patch.setenv(key, made[ref])
            settings = service_of(o).settings()
        assert settings.mode == "production", o["metadata"]["name"]
    assert referenced - optional == set(made), "make_secrets.py makes every required Secret key"
    assert optional == {("identity-secrets", "IDENTITY_PREVIOUS_KEY_ENCRYPTION_KEYS")}
    assert of_kind(rendered, "Secret") == {}


def test_key_ids_are_unique_even_on_the_same_day() -> None:
    """Two keys made the same day once shared their id (answers-YYYYMMDD), and the services
    kept the old key for it. Ids now carry the minute and a random suffix; the `key`
    command makes one new key for a rotation."""
    made = [
        subprocess.run(
            [sys.executable, SCRIPT, "key", "answers"], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(3)
    ]
    ids = [entry.partition(":")[0] for entry in made]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"answers-\d{8}T\d{4}-[0-9a-f]{6}", kid) for kid in ids), ids
    for entry in made:
        assert len(base64.b64decode(entry.partition(":")[2], validate=True)) == 32
    items = json.loads(kubernetes_secrets(DATABASE_URLS).stdout)["items"]
    data = {k: v for i in items for k, v in i["stringData"].items()}
    assert data["SUBMISSIONS_WEBHOOK_SECRET_KEYS"].startswith("webhooks-")
