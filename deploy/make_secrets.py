"""Make the secrets a deployment needs, fresh and random, so no one copies a demo value.

    python3 deploy/make_secrets.py compose > deploy/.env          # the compose stack
    python3 deploy/make_secrets.py kubernetes | kubectl apply -f -  # Kubernetes Secrets
    python3 deploy/make_secrets.py key answers                       # one new key, to rotate

``kubernetes`` reads each service's database URL from the environment
(IDENTITY_DATABASE_URL, REGISTRY_DATABASE_URL, SUBMISSIONS_DATABASE_URL)
because the platform team creates the databases (managed service or CloudNativePG). The output
is printed, never written to the repository. Standard library only: it runs on any Python 3.11.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import secrets
import sys
from collections.abc import Callable

# Values the services refuse in production mode (tellonce_shared.settings.DEMO_MARKERS).
DEMO_MARKERS = ("demo", "insecure", "change-me", "local-only")

DATABASE_SERVICES = ("identity", "registry", "submissions")
"""Services with a database, by their env prefix (lower case) and compose role name."""

SECRET_NAMES = {
    "IDENTITY_": "identity-secrets",
    "REGISTRY_": "forms-registry-secrets",
    "SUBMISSIONS_": "submissions-secrets",
    "PORTAL_": "portal-secrets",
}
"""Kubernetes Secret of each env prefix, as the manifests under deploy/k8s reference them."""

KEYRINGS = {"SUBMISSIONS_ANSWER_KEYS": "answers", "SUBMISSIONS_WEBHOOK_SECRET_KEYS": "webhooks"}
"""The AES keyrings, by variable, and the label their key ids start with."""


def _clean(make: Callable[[], str]) -> str:
    """A value without any marker that production mode would take for a demo value."""
    while True:
        value = make()
        if not any(marker in value.lower() for marker in DEMO_MARKERS):
            return value


def password() -> str:
    return _clean(lambda: secrets.token_urlsafe(32))


def key_id(label: str) -> str:
    """A key id unique to this key: the label, the UTC minute it was made and a random suffix
    (``answers-20261126T1530-3fa1c2``). Two keys made the same day (or minute) get different
    ids; a ring naming one id twice is refused by the services."""
    return f"{label}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M}-{secrets.token_hex(3)}"


def aes_keyring(label: str) -> str:
    """One AES-256-GCM key in the services' ``kid:base64key`` keyring format."""
    return _clean(lambda: f"{key_id(label)}:{base64.b64encode(secrets.token_bytes(32)).decode()}")


def service_keys() -> dict[str, str]:
    """Every key-like secret of every service, by its environment variable."""
    return {
        "IDENTITY_KEY_ENCRYPTION_KEY": _clean(lambda: secrets.token_urlsafe(48)),
        "SUBMISSIONS_ANSWER_KEYS": aes_keyring(KEYRINGS["SUBMISSIONS_ANSWER_KEYS"]),
        "SUBMISSIONS_WEBHOOK_SECRET_KEYS": aes_keyring(KEYRINGS["SUBMISSIONS_WEBHOOK_SECRET_KEYS"]),
        "PORTAL_SESSION_SECRET": _clean(lambda: secrets.token_urlsafe(48)),
    }


def compose_env() -> dict[str, str]:
    values = {"POSTGRES_PASSWORD": password()}
    for service in DATABASE_SERVICES:
        values[f"{service.upper()}_DB_PASSWORD"] = password()
    values.update(service_keys())
    return values


def kubernetes_secrets(environ: dict[str, str]) -> list[dict[str, object]]:
    data: dict[str, dict[str, str]] = {name: {} for name in SECRET_NAMES.values()}
    missing = []
    for service in DATABASE_SERVICES:
        var = f"{service.upper()}_DATABASE_URL"
        url = environ.get(var, "")
        if not url.startswith("postgresql+psycopg://"):
            missing.append(var)
        data[SECRET_NAMES[f"{service.upper()}_"]][var] = url
    if missing:
        raise SystemExit(
            "set " + ", ".join(missing) + " to postgresql+psycopg://USER:PASSWORD@HOST:5432/DB"
        )
    for var, value in service_keys().items():
        prefix = var.split("_", 1)[0] + "_"
        data[SECRET_NAMES[prefix]][var] = value
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": "tellonce",
                "labels": {"app.kubernetes.io/part-of": "tellonce"},
            },
            "stringData": values,
        }
        for name, values in data.items()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make_secrets", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="target", required=True)
    sub.add_parser("compose", help="an .env file for deploy/compose.yaml")
    sub.add_parser("kubernetes", help="Secret objects (JSON, which kubectl apply -f - reads)")
    key = sub.add_parser(
        "key", help="one new kid:base64key to put first in a keyring when rotating it"
    )
    key.add_argument("label", choices=sorted(KEYRINGS.values()), help="answers or webhooks")
    args = parser.parse_args(argv)
    if args.target == "key":
        print(aes_keyring(args.label))
    elif args.target == "compose":
        print("# Made by deploy/make_secrets.py: keep it out of git and back it up safely.")
        for name, value in compose_env().items():
            print(f"{name}={value}")
    else:
        items = kubernetes_secrets(dict(os.environ))
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
