"""deploy/postgres/init-databases.sh, the compose stack's first-start script, run against a
throwaway PostgreSQL 15 cluster (initdb in a temporary folder, a Unix socket only, stopped
at the end), the way the postgres image runs it: as POSTGRES_USER over the local socket."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploykit import DEPLOY, SERVICES, need_tool

SCRIPT = DEPLOY / "postgres" / "init-databases.sh"
PORT = "54329"


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/15/bin/initdb"))
    if not found or shutil.which("runuser") is None or os.geteuid() != 0:
        need_tool("PostgreSQL 15 server binaries and root (runuser) are needed")
    return Path(found[0]).parent


@pytest.fixture
def cluster() -> Iterator[dict[str, str]]:
    bindir = postgres_bin()
    # Not under pytest's tmp folder: that one is private to root, and PostgreSQL runs as
    # the postgres user.
    with tempfile.TemporaryDirectory(prefix="tellonce-pg-") as folder:
        root = Path(folder)
        root.chmod(0o777)
        yield from run_cluster(bindir, root)


def run_cluster(bindir: Path, root: Path) -> Iterator[dict[str, str]]:
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    sockets.chmod(0o777)

    def as_postgres(*args: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/tmp",
        )
        assert done.returncode == 0, done.stderr

    as_postgres(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    options = f"-k {sockets} -p {PORT} -c listen_addresses=''"
    log = str(root / "postgres.log")  # also keeps the server off our pipes
    as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-l", log, "-o", options, "-w", "start")
    try:
        yield {"PGHOST": str(sockets), "PGPORT": PORT}
    finally:
        as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")


def psql(env: dict[str, str], user: str, db: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", "-U", user, "-d", db, "-tAc", sql],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_one_role_and_one_private_database_per_service(cluster: dict[str, str]) -> None:
    roles = [s.prefix.rstrip("_").lower() for s in SERVICES if s.has_database]
    passwords = {f"{r.upper()}_DB_PASSWORD": f"pw-{r}-it's" for r in roles}
    result = subprocess.run(
        ["sh", str(SCRIPT)],
        env={**os.environ, **cluster, **passwords, "POSTGRES_USER": "postgres"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    owners = psql(
        cluster,
        "postgres",
        "postgres",
        "SELECT datname || '=' || pg_get_userbyid(datdba) FROM pg_database",
    ).stdout.split()
    for role in roles:
        assert f"{role}={role}" in owners
        assert psql(cluster, role, role, "SELECT 1").stdout.strip() == "1"
    denied = psql(cluster, roles[1], roles[0], "SELECT 1")
    assert denied.returncode != 0
    assert "permission denied" in denied.stderr, denied.stderr
