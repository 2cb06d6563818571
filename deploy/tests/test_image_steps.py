"""The images' build steps, run without Docker (no engine on these machines): for each
service, deploy/Dockerfile's build stage with that service's build arguments is replayed in a
temporary folder standing for /app (its ENV, its COPY of the build context as .dockerignore
filters it, its `uv sync` commands as written), then the final stage's ENTRYPOINT (as written,
with the final stage's ENV) runs from that folder: `--help`, `migrate` where the service has
a database (proving alembic.ini and migrations reach the image), and for the gateway its
default CMD, `serve`, answered by the Dockerfile's own HEALTHCHECK command.

Not covered (needs an engine): the base image itself, apt packages, file ownership, USER.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

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

from tellonce_shared.testing import free_port


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [p.strip() for p in lines if p.strip() and not p.startswith("#")]


def copy_context(source: str, dest: str, app: Path, patterns: list[str]) -> None:
    """COPY <source> <dest> from the build context (the repository root, filtered), with
    Docker's rules: a folder's contents go into dest, a file into dest/ when it ends in /."""
    src = ROOT / source
    target = app / dest
    if src.is_dir():
        for path in src.rglob("*"):
            rel = path.relative_to(ROOT).as_posix()
            if path.is_file() and not ignored(patterns, rel):
                out = target / path.relative_to(src)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, out)
        return
    assert not ignored(patterns, source), f"{source} is not in the build context"
    out = target / src.name if dest.endswith("/") else target
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, out)


def env_pairs(args: str) -> dict[str, str]:
    return dict(word.split("=", 1) for word in shlex.split(args))


def replay_build(service: ServiceInfo, app: Path) -> dict[str, str]:
    """Run the build stage into `app`; return the final stage's environment."""
    uv = uv_tool("uv")
    if uv is None:
        need_tool("uv is not on PATH")
    build, final = stages(service)[0], stages(service)[-1]
    assert build.all("WORKDIR") == ["/app"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    patterns = dockerignore()
    # The interpreter this venv was made from stands for the image's /usr/local/bin/python3.11.
    python = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    for keyword, args in build.instructions:
        if keyword == "ENV":
            for key, value in env_pairs(args).items():
                env[key] = value.replace("/app", str(app))
            env["UV_PYTHON"] = str(python)
            env["UV_LINK_MODE"] = "hardlink"  # the same files, without copying the cache
            env["UV_COMPILE_BYTECODE"] = "0"  # a speed-up of the image, not a behaviour
        elif keyword == "COPY":
            *sources, dest = args.split()
            for source in sources:
                copy_context(source, dest, app, patterns)
        elif keyword == "RUN" and "uv sync" in args:
            command = re.sub(r"--mount=\S+\s*", "", args).strip()
            assert command.startswith("uv sync"), command
            result = subprocess.run(
                [uv, *shlex.split(command)[1:]],
                cwd=app,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert result.returncode == 0, result.stderr[-3000:]
    runtime = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    for args in final.all("ENV"):
        for key, value in env_pairs(args).items():
            runtime[key] = value.replace("${PATH}", os.environ["PATH"]).replace("/app", str(app))
    runtime["HOME"] = runtime["XDG_CACHE_HOME"] = str(app.parent / "tmp")
    return runtime


def stages(service: ServiceInfo) -> list[Stage]:
    return parse(DOCKERFILE.read_text(), service.image_args)[1]


def entrypoint(service: ServiceInfo) -> list[str]:
    return json_array(stages(service)[-1].all("ENTRYPOINT")[0])


_BUILT: dict[str, tuple[Path, dict[str, str]]] = {}


def built(
    service: ServiceInfo, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """The replayed build of `service` (once per test session), and its runtime env."""
    if service.name not in _BUILT:
        root = tmp_path_factory.mktemp(f"image-{service.name}")
        (root / "tmp").mkdir()
        _BUILT[service.name] = (root, replay_build(service, root / "app"))
    root, env = _BUILT[service.name]
    return root, dict(env)


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_the_image_build_steps_make_a_working_service(
    service: ServiceInfo, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp_path, env = built(service, tmp_path_factory)
    app = tmp_path / "app"
    script = app / ".venv" / "bin" / service.script
    assert script.exists(), "the entry point is installed in /app/.venv/bin"
    assert env["PATH"].startswith(f"{app}/.venv/bin"), "the image finds its scripts first"
    assert env["TELLONCE_COMMAND"] == service.script
    run = subprocess.run(
        [*entrypoint(service), "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert f"usage: {service.script} " in run.stdout, "the entry point runs the service's script"
    assert "serve" in run.stdout
    if service.has_database:
        env = env | {
            service.prefix + "MODE": "local",
            service.prefix + "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3",
        }
        migrate = subprocess.run(
            [*entrypoint(service), "migrate"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
            timeout=300,
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        assert (tmp_path / "db.sqlite3").stat().st_size > 0


def test_the_gateway_image_serves_and_its_healthcheck_passes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    gateway = next(s for s in SERVICES if s.name == "gateway")
    tmp_path, env = built(gateway, tmp_path_factory)
    env[gateway.prefix + "PORT"] = str(free_port())
    final = stages(gateway)[-1]
    (healthcheck,) = final.all("HEALTHCHECK")
    probe = json_array(healthcheck.split(" CMD ", 1)[1])
    command = json_array(final.all("ENTRYPOINT")[0]) + json_array(final.all("CMD")[0])
    server = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            check = subprocess.run(probe, env=env, capture_output=True, check=False, timeout=30)
            if check.returncode == 0:
                break
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, check.stderr
            time.sleep(1)
    finally:
        server.terminate()
        server.wait(timeout=30)


def json_array(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list)
    return [str(v) for v in value]
