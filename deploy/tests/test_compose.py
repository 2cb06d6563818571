"""deploy/compose.yaml: it parses, runs every process of the code on PostgreSQL 15 with one
database per service, starts each service only after its migration job succeeded, keeps
secrets out of the file, and gives each service only settings its code knows.

No Docker engine runs on the development machines, so the stack is not started here;
``docker compose config`` runs when the compose plugin is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from deploykit import BY_NAME, DEPLOY, DOCKERFILE, ROOT, SERVICES, WORKER, ServiceInfo

COMPOSE = DEPLOY / "compose.yaml"
VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}")


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def generated_env() -> dict[str, str]:
    """What `make_secrets.py compose` writes to deploy/.env."""
    out = subprocess.run(
        [sys.executable, str(DEPLOY / "make_secrets.py"), "compose"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pairs = [line.split("=", 1) for line in out.splitlines() if line and not line.startswith("#")]
    return {k: v for k, v in pairs}


def interpolate(value: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in env:
            return env[name]
        if op == ":-":
            return arg
        raise AssertionError(f"${{{name}}} is neither in deploy/.env nor defaulted ({arg})")

    return VARIABLE.sub(one, value)


def info_of(compose_name: str) -> ServiceInfo:
    name = compose_name.removesuffix("-migrate").removesuffix("-seed")
    return BY_NAME["submissions" if name == WORKER else name]


def test_the_file_follows_the_compose_specification() -> None:
    """Validated against the Compose Specification's JSON schema (a 2021 copy, see
    schemas/README.md), with a deliberately wrong key as the control."""
    schema = json.loads((DEPLOY / "tests" / "schemas" / "compose-spec.json").read_text())
    validator = jsonschema.Draft201909Validator(schema)
    data = load()
    assert data.pop("name") == "tellonce"  # newer than the 2021 schema
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, "\n".join(errors)
    data["services"]["gateway"]["restart_policy"] = "always"
    assert list(validator.iter_errors(data)), "the schema check is not a no-op"


def test_processes_match_the_code() -> None:
    services = set(load()["services"])
    expected = {s.name for s in SERVICES} | {WORKER, "postgres"}
    expected |= {f"{s.name}-migrate" for s in SERVICES if s.has_database}
    assert services == expected | {"identity-seed"}


def test_postgresql_15_with_a_database_per_service() -> None:
    postgres = load()["services"]["postgres"]
    assert re.fullmatch(r"postgres:15\.\d+(-\w+)?", postgres["image"]), postgres["image"]
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    init = DEPLOY / "postgres" / "init-databases.sh"
    mounted = [v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert mounted
    assert mounted[0].startswith("./postgres/init-databases.sh:")
    roles = re.search(r"for service in ([a-z ]+); do", init.read_text())
    assert roles is not None
    with_db = {s.prefix.rstrip("_").lower() for s in SERVICES if s.has_database}
    assert set(roles.group(1).split()) == with_db
    urls = {}
    for name, svc in load()["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if key.endswith("_DATABASE_URL"):
                urls[info_of(name).name] = value
    for name, url in urls.items():
        role = BY_NAME[name].prefix.rstrip("_").lower()
        assert url == (
            f"postgresql+psycopg://{role}:${{{role.upper()}_DB_PASSWORD}}@postgres:5432/{role}"
        )


def test_migrations_run_once_before_their_service() -> None:
    services = load()["services"]
    for s in SERVICES:
        app = services[s.name]
        if not s.has_database:
            assert not any(k.endswith("-migrate") for k in app.get("depends_on", {}))
            continue
        job = services[f"{s.name}-migrate"]
        assert job["command"] == ["migrate"]
        assert job["restart"] == "no"
        assert job["image"] == app["image"]
        assert job["depends_on"]["postgres"]["condition"] == "service_healthy"
        first = f"{s.name}-seed" if s.name == "identity" else f"{s.name}-migrate"
        for dependant in [s.name] + ([WORKER] if s.name == "submissions" else []):
            condition = services[dependant]["depends_on"][first]["condition"]
            assert condition == "service_completed_successfully", dependant
    seed = services["identity-seed"]
    assert seed["command"] == ["seed"]
    assert seed["depends_on"]["identity-migrate"]["condition"] == "service_completed_successfully"


def test_every_server_has_a_healthcheck_and_the_gateway_waits_for_them() -> None:
    services = load()["services"]
    for s in SERVICES:
        test = services[s.name]["healthcheck"]["test"]
        assert test[0] == "CMD", s.name
        assert f"127.0.0.1:{s.port}/" in " ".join(test), s.name
        assert services[s.name]["command"] == ["serve", "--host", "0.0.0.0"]
    worker = services[WORKER]
    assert worker["command"][0] == "worker"
    port = worker["command"][worker["command"].index("--metrics-port") + 1]
    assert f"http://127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])
    waits = services["gateway"]["depends_on"]
    for s in SERVICES:
        if s.name != "gateway":
            assert waits[s.name]["condition"] == "service_healthy"


def test_containers_are_hardened_and_only_the_gateway_is_published() -> None:
    services = load()["services"]
    for name, svc in services.items():
        if name == "postgres":
            assert "ports" not in svc
            continue
        assert svc["user"] == "10001:10001", name
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert any(t.startswith("/tmp") for t in svc["tmpfs"]), name
        assert ("ports" in svc) == (name == "gateway"), name
    networks = load()["networks"]
    assert networks["backend"]["internal"] is True
    outside = {n for n, svc in services.items() if set(svc["networks"]) - {"backend"}}
    assert outside == {"gateway", WORKER}, "only the gateway is reached, only the worker calls out"
    assert set(services["gateway"]["networks"]) == {"backend", "frontend"}


def test_images_are_built_from_the_repository_dockerfile() -> None:
    services = load()["services"]
    built = {svc["image"]: svc["build"] for svc in services.values() if "build" in svc}
    assert set(built) == {f"tellonce/{s.name}:dev" for s in SERVICES}, "each image built once"
    for s in SERVICES:
        build = built[f"tellonce/{s.name}:dev"]
        assert (COMPOSE.parent / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]) == DOCKERFILE
        assert build["args"] == s.image_args, s.name
    for name, svc in services.items():
        if name != "postgres":
            assert svc["image"] == f"tellonce/{info_of(name).name}:dev", name


def test_settings_are_known_and_secrets_are_interpolated() -> None:
    for name, svc in load()["services"].items():
        if name == "postgres":
            continue
        info = info_of(name)
        env: dict[str, str] = svc["environment"]
        unknown = set(env) - info.env_names()
        assert not unknown, f"{name}: no such setting in {info.package}.config: {unknown}"
        assert info.secret_env_names() <= set(env), f"{name}: secrets missing"
        for key in info.secret_env_names():
            assert "${" in env[key], f"{name}: {key} must come from deploy/.env, not the file"
        assert env[info.prefix + "MODE"] == "production"


def test_the_stack_starts_in_production_mode_with_generated_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each service's own Settings accept what compose gives it from a fresh deploy/.env
    (production mode refuses demo secrets and SQLite, so a missing secret fails here)."""
    dotenv = generated_env()
    for name, svc in load()["services"].items():
        if name == "postgres":
            continue
        info = info_of(name)
        with monkeypatch.context() as patch:
            for key, value in svc["environment"].items():
                patch.setenv(key, interpolate(str(value), dotenv))
            settings = info.settings()
        assert settings.mode == "production", name
    for key in dotenv:
        assert re.search(rf"\$\{{{key}[}}:]", COMPOSE.read_text()), f"{key} is generated but unused"


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "compose", "version"], capture_output=True).returncode:
        pytest.skip("the docker compose plugin is not installed (not installable on this machine)")
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(f"{k}={v}" for k, v in generated_env().items()))
    result = subprocess.run(
        [docker, "compose", "--env-file", str(env_file), "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
