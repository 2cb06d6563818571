"""Starts the whole hub (every service, the worker and the gateway) as real processes for
end-to-end tests, on fresh PostgreSQL databases or on SQLite files in a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tellonce_shared.testing import create_database, drop_database, free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    # name: (env prefix, cli module, has database)
    "identity": ("IDENTITY", "tellonce_identity.cli", True),
    "registry": ("REGISTRY", "tellonce_registry.cli", True),
    "submissions": ("SUBMISSIONS", "tellonce_submissions.cli", True),
    "portal": ("PORTAL", "tellonce_portal.cli", False),
    "gateway": ("GATEWAY", "tellonce_gateway.cli", False),
}


@dataclass
class Hub:
    gateway_url: str
    urls: dict[str, str]
    env: dict[str, str]
    log_dir: Path
    databases: list[str] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def logs(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, name: str, module: str, *args: str) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, name: str) -> None:
        proc = self.processes.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def stop(self) -> None:
        for name in list(self.processes):
            proc = self.processes[name]
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for name in list(self.processes):
            proc = self.processes.pop(name)
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for url in self.databases:
            drop_database(url)


def start_hub(
    *, backend: str = "postgres", workdir: Path, seed_catalog: bool = False, workers: int = 1
) -> Hub:
    """Start every process on free ports; return once every /healthz answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_dir = workdir / "logs"
    log_dir.mkdir(exist_ok=True)
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    gateway_url = urls["gateway"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(SERVICES))}
    env["PYTHONUNBUFFERED"] = "1"
    hub = Hub(gateway_url=gateway_url, urls=urls, env=env, log_dir=log_dir)
    for name, (prefix, _module, has_db) in SERVICES.items():
        env[f"{prefix}_MODE"] = "local"
        env[f"{prefix}_PORT"] = str(ports[name])
        env[f"{prefix}_IDENTITY_URL"] = urls["identity"]
        env[f"{prefix}_ISSUER"] = gateway_url
        if has_db:
            if backend == "postgres":
                url = create_database(f"e2e_{name}")
                hub.databases.append(url)
            else:
                url = f"sqlite+aiosqlite:///{workdir / (name + '.db')}"
            env[f"{prefix}_DATABASE_URL"] = url
    env["SUBMISSIONS_REGISTRY_URL"] = urls["registry"]
    env["PORTAL_GATEWAY_URL"] = gateway_url
    env["GATEWAY_IDENTITY_URL"] = urls["identity"]
    env["GATEWAY_REGISTRY_URL"] = urls["registry"]
    env["GATEWAY_SUBMISSIONS_URL"] = urls["submissions"]
    env["GATEWAY_PORTAL_URL"] = urls["portal"]
    # every test client signs in from 127.0.0.1: the sign-in limit is the gateway's own tests'
    # business, not something the journeys here should trip over
    env["GATEWAY_AUTH_RATE_LIMIT_BURST"] = "1000"
    env["GATEWAY_RATE_LIMIT_BURST"] = "5000"
    try:
        run_all(
            [[sys.executable, "-m", m, "migrate"] for _p, m, has_db in SERVICES.values() if has_db],
            env,
        )
        seeds = ["identity"] + (["registry", "submissions", "portal"] if seed_catalog else [])
        run_all([[sys.executable, "-m", SERVICES[name][1], "seed"] for name in seeds], env)
        for name, (_prefix, module, _has_db) in SERVICES.items():
            hub.start(name, module, "serve", "--port", str(ports[name]))
        for i in range(workers):
            hub.start(f"worker{i}", "tellonce_submissions.cli", "worker")
        wait_healthy(hub)
    except BaseException:
        hub.stop()
        raise
    return hub


def run_all(commands: list[list[str]], env: dict[str, str]) -> None:
    """Run one-shot commands (migrations, seeds) side by side; fail with their output."""
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for cmd in commands
    ]
    for cmd, proc in zip(commands, procs, strict=True):
        out, _ = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[2:])} failed:\n{out.decode(errors='replace')}")


def wait_healthy(hub: Hub, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(hub.urls)
    while pending:
        for name, url in list(pending.items()):
            proc = hub.processes.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{hub.logs(name)[-3000:]}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            tails = "\n".join(f"--- {n}\n{hub.logs(n)[-1500:]}" for n in pending)
            raise RuntimeError(f"not healthy in {timeout}s: {sorted(pending)}\n{tails}")
        time.sleep(0.2)
